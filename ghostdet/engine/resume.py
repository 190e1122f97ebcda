"""Which checkpoint ``--resume`` continues from."""
import glob
import os.path as osp
import zipfile
from typing import Optional

from mmengine.logging import print_log

from ..errors import CheckpointError


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a whole ``torch.save`` file: a zip archive whose
    central directory, written last, is there (a file cut short by a kill
    or a full disk has none)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return bool(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _resumable(work_dir):
    """Checkpoints of a run that hold its training state, newest first
    (``best_*`` ones hold only the weights)."""
    paths = [p for p in glob.glob(osp.join(work_dir, '*.pth'))
             if not osp.basename(p).startswith('best_')]
    return sorted(paths, key=osp.getmtime, reverse=True)


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` (without a path) continues from.

    It is the one ``work_dir/last_checkpoint`` names if that is complete;
    else (``last_checkpoint`` missing, empty, or naming a missing or
    truncated file) the newest complete checkpoint in ``work_dir``, with a
    warning that says why.

    Returns:
        str or None: The checkpoint; None (with a warning) only when
        ``work_dir`` holds neither ``last_checkpoint`` nor any checkpoint, a
        run that has not started yet.

    Raises:
        CheckpointError: ``last_checkpoint`` exists but names no complete
            checkpoint, and there is no other complete one.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(pointer):
        with open(pointer, encoding='utf-8', errors='replace') as f:
            named = f.read().strip()
        if named and is_complete_checkpoint(named):
            return named
        problem = (f'{pointer} is empty' if not named else
                   f'{pointer} names {named}, which '
                   f'{"is truncated" if osp.exists(named) else "does not exist"}')
    else:
        problem = f'there is no {pointer}'
    for candidate in _resumable(work_dir):
        if candidate != named and is_complete_checkpoint(candidate):
            print_log(f'--resume: {problem}; resuming from the newest complete checkpoint, '
                      f'{candidate}.', logger='current', level=30)
            return candidate
    if osp.isfile(pointer) or _resumable(work_dir):
        raise CheckpointError(f'cannot resume: {problem}, and {work_dir} holds no other complete '
                              f'checkpoint. Give one with --resume PATH, or start again without '
                              f'--resume.')
    print_log(f'--resume: {work_dir} holds no checkpoint yet; starting from the beginning.',
              logger='current', level=30)
    return None
