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


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """A checkpoint file that does not exist or cannot be downloaded."""


class PretrainedMismatchError(CheckpointError):
    """A checkpoint does not fit the backbone it is loaded into."""


class OutputExistsError(GhostdetError, FileExistsError):
    """An output file or folder exists and would be overwritten."""


class BadImageError(DatasetError):
    """An image file that is missing, empty, undecodable or truncated.

    Args:
        path (str): The image file (or, given alone, the whole message, as
            PyTorch's DataLoader re-raises a worker's error).
        reason (str, optional): What is wrong with it.
    """

    def __init__(self, path: str, reason: str = None):
        super().__init__(path if reason is None else f'{path}: {reason}')
        self.path, self.reason = path, reason


class TrainingError(GhostdetError, RuntimeError):
    """Training cannot go on (a non-finite loss, too many bad images, a
    checkpoint that cannot be written); the message names the iteration or
    file and what to do."""


class DeployError(GhostdetError, ValueError):
    """A model, config or ONNX file that cannot be exported or run as asked
    (``tools/deploy.py``, ``tools/benchmark.py``, an ``.onnx`` model given to
    ``tools/test.py``)."""
