"""The one family of errors ghostdet raises for a user's input.

Every error that names a problem the user can fix (a wrong option, a missing or
corrupt file, a malformed annotation, a checkpoint that does not fit) derives
from :class:`GhostdetError`; the command-line tools print its message and exit
with status 1, without a traceback (:func:`ghostdet.cli.exit_on_user_error`).
Where Python callers may rely on a built-in base (``ValueError``,
``FileNotFoundError``), the class keeps it as a second base.
"""


class GhostdetError(Exception):
    """Base of the errors ghostdet raises for a user's input; its message names
    the problem and the fix."""


class InputError(GhostdetError, ValueError):
    """A wrong argument, option or config value."""


class DatasetNotFoundError(GhostdetError, FileNotFoundError):
    """A dataset file or folder named by a config does not exist."""


class DatasetError(GhostdetError, ValueError):
    """A dataset or annotation file that cannot be used as it is."""


class CheckpointError(GhostdetError, ValueError):
    """A checkpoint that is missing, unreadable, unsafe to load or of another
    model."""


class PretrainedMismatchError(CheckpointError):
    """A checkpoint does not fit the backbone it is loaded into."""
