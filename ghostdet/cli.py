"""What the command-line tools in ``tools/`` share."""
import sys
from contextlib import contextmanager
from typing import Iterator

from .errors import GhostdetError


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Turn a :class:`~ghostdet.errors.GhostdetError` into ``error: <message>``
    on stderr and exit status 1, without a traceback.

    Example:
        >>> with exit_on_user_error():
        ...     train(args.config, work_dir=args.work_dir)
    """
    try:
        yield
    except GhostdetError as error:
        sys.exit(f'error: {error}')
