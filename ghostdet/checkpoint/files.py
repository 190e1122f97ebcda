"""Reading and writing checkpoint files: weights-only loading with errors that
name the file, and atomic writes that never leave a partial file under a final
name."""
import os
import os.path as osp
import pickle
import tempfile
import zipfile
from contextlib import contextmanager, suppress
from typing import IO, Any, Callable, Iterator

import torch

from ..errors import CheckpointError, CheckpointNotFoundError


def is_remote(filename: str) -> bool:
    """Whether a checkpoint name is a URL or an MMEngine scheme
    (``https://``, ``open-mmlab://``, ``torchvision://``, ...)."""
    return '://' in str(filename)


@contextmanager
def named_load_errors(filename: str) -> Iterator[None]:
    """Turn what ``torch.load`` and downloads raise on a bad checkpoint into a
    :class:`CheckpointError` that names the file and the fix."""
    try:
        yield
    except CheckpointError:
        raise
    except pickle.UnpicklingError as error:
        if 'GLOBAL' in str(error):
            raise CheckpointError(unsafe_checkpoint_message(filename, error)) from None
        raise CheckpointError(unreadable_checkpoint_message(filename, error)) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile) as error:
        raise CheckpointError(unreadable_checkpoint_message(filename, error)) from None
    except OSError as error:  # URLError, HTTPError, ConnectionError, disk errors
        raise CheckpointNotFoundError(
            f'{filename} could not be read or downloaded ({_detail(error)}). Check the '
            f'path or URL (and the network for a URL), or download the file yourself and '
            f'give its path.') from None


def _detail(error: Exception) -> str:
    """The informative line of a ``torch.load`` error (its first line is a
    generic preamble about ``weights_only``)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    for line in lines:
        if 'GLOBAL' in line or line.startswith('Unsupported') or 'zip archive' in line:
            return line
    return lines[0] if lines else type(error).__name__


def unsafe_checkpoint_message(filename: str, error: Exception) -> str:
    """The message for a checkpoint refused by weights-only loading."""
    return (f'{filename} was refused: it holds pickled objects other than tensors and plain '
            f'data ({_detail(error)}), which could run code when loaded. Checkpoints written by '
            f'ghostdet, MMEngine, torchvision or timm never need that; do not load this '
            f'file unless you made it yourself.')


def unreadable_checkpoint_message(filename: str, error: Exception) -> str:
    """The message for a file that is no readable PyTorch checkpoint."""
    return (f'{filename} is not a readable PyTorch checkpoint ({_detail(error)}); it may be '
            f'empty, truncated or not a checkpoint at all: re-create or re-download it.')


def write_atomically(path: str, write: Callable[[IO[bytes]], None], *,
                     durable: bool = True) -> None:
    """Write ``path`` atomically: ``write(f)`` writes into a temporary file
    in the same directory, which is flushed, fsynced and renamed over
    ``path`` (:func:`replace_durably`). On any failure the temporary file is
    removed and ``path`` is untouched.

    Every file ghostdet writes whole goes through here (checkpoints, exported
    models, ``last_checkpoint``, the synthetic datasets); MMEngine's own
    checkpoint writes end with :func:`replace_durably`
    (:class:`ghostdet.engine.hooks.SafeCheckpointHook`).

    Args:
        path (str): The file; its directory is created if missing.
        write (callable): Writes the content into the binary file object it
            is given.
        durable (bool): fsync the file and the directory, so that the new
            content survives a power loss. False still never shows a partly
            written file, for files cheap to make again (an fsync costs
            milliseconds). Default: True.
    """
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=directory)
    try:
        os.fchmod(fd, _new_file_mode())  # mkstemp's is 0600, not what open() gives
        with os.fdopen(fd, 'wb') as f:
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        (replace_durably if durable else os.replace)(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def replace_durably(tmp: str, path: str) -> None:
    """Rename a complete, fsynced file ``tmp`` over ``path`` (in the same
    directory) and fsync the directory so that the rename survives a crash."""
    os.replace(tmp, path)
    fsync_directory(osp.dirname(osp.abspath(path)))


def _new_file_mode() -> int:
    """The mode ``open(path, 'w')`` gives a new file: 0666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` survive a crash (where the file system
    lets a directory be fsynced)."""
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save_checkpoint_file(checkpoint: Any, path: str) -> None:
    """``torch.save`` a checkpoint to ``path`` atomically."""
    write_atomically(path, lambda f: torch.save(checkpoint, f))


def write_bytes_atomically(data: bytes, path: str) -> None:
    """Write ``data`` to ``path`` atomically (an exported model, say)."""
    write_atomically(path, lambda f: f.write(data))


def write_text_atomically(text: str, path: str) -> None:
    """Write a small text file (e.g. ``last_checkpoint``) atomically."""
    write_bytes_atomically(text.encode('utf-8'), path)
