"""Hooks that make sure a fault loses nothing: checkpoints that survive a kill
or a full disk, and a stop at the first non-finite loss."""
import glob
import math
import os
import os.path as osp
import re
from contextlib import contextmanager, suppress

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import HistoryBuffer
from mmengine.registry import HOOKS

from ..checkpoint.files import replace_durably, write_text_atomically
from ..errors import TrainingError
from .rng import rng_states

RNG_STATES_KEY = 'rng_states'


def last_good_checkpoint(runner, path=None) -> str:
    """The checkpoint a failing run can be resumed from (``path``, or the last
    one written), for messages."""
    path = runner.message_hub.get_info('last_ckpt') if path is None else path
    if not path:
        return 'no checkpoint was written yet'
    return f'the last good checkpoint is {path} (last_checkpoint names it)'


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` whose files survive a kill or a full disk.

    - Every checkpoint (epoch, iteration or best) is written to a temporary
      file in the same directory, flushed and fsynced, then renamed into
      place; ``last_checkpoint`` is replaced the same way after it.
    - Old checkpoints (beyond ``max_keep_ckpts``, or the previous best) are
      deleted only after the new one is in place; they are found on disk by
      ``filename_tmpl``, so several of these hooks (per epoch and every N
      iterations) keep their own files apart.
    - A checkpoint is never written from non-finite weights.
    - The global random generators' states go into every checkpoint and are
      put back on ``--resume`` (by
      :class:`~ghostdet.engine.loop.ResumableEpochBasedTrainLoop`).
    - The message hub's ``HistoryBuffer`` s are written as plain data, so the
      checkpoint loads weights-only
      (:func:`ghostdet.checkpoint.load_checkpoint_file`).
    - A write that fails (e.g. a full disk) stops training with one line
      naming the file and the cause; the previous checkpoint stays intact.

    Arguments are those of ``CheckpointHook``.
    """

    def before_train(self, runner) -> None:
        # Retention is by the files on disk, not MMEngine's shared list of ids.
        max_keep, self.max_keep_ckpts = self.max_keep_ckpts, -1
        super().before_train(runner)
        self.max_keep_ckpts = max_keep
        if is_main_process():  # what a writer killed mid-save left behind
            for leftover in glob.glob(osp.join(self.out_dir, '.*.tmp')):
                with suppress(FileNotFoundError):
                    os.remove(leftover)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[RNG_STATES_KEY] = rng_states()
        scalars = checkpoint.get('message_hub', {}).get('log_scalars', {})
        for key, buffer in scalars.items():
            if isinstance(buffer, HistoryBuffer):  # each of these hooks sees the checkpoint
                scalars[key] = _PickledAsConstructorCall(buffer)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('meta', {}).get(RNG_STATES_KEY)
        if states is not None and getattr(runner, '_resume', False) and \
                hasattr(runner.train_loop, 'pending_rng_states'):
            runner.train_loop.pending_rng_states = states

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        filename = self.filename_tmpl.format(step)
        previous = runner.message_hub.get_info('last_ckpt')
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        # Before the save, as MMEngine does, so the checkpoint names itself.
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        try:
            with self._atomic_saves(runner, last_good=previous or ''):
                runner.save_checkpoint(
                    self.out_dir, filename, self.file_client_args,
                    save_optimizer=self.save_optimizer,
                    save_param_scheduler=self.save_param_scheduler, meta=meta,
                    by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        except TrainingError:
            runner.message_hub.update_info('last_ckpt', previous)
            raise
        if not is_main_process():
            return
        write_text_atomically(self.last_ckpt, osp.join(runner.work_dir, 'last_checkpoint'))
        self._remove_old_checkpoints()

    def _save_best_checkpoint(self, runner, metrics) -> None:
        if not self.save_best:
            return
        previous = self._best_paths()
        # MMEngine deletes the previous best before writing the new one: hide
        # it, and delete it here once the new one is in place.
        self._set_best_paths(dict.fromkeys(previous))
        with self._atomic_saves(runner):
            super()._save_best_checkpoint(runner, metrics)
        current = self._best_paths()
        for key, old in previous.items():
            if current[key] is None:  # not improved: the old one is still the best
                current[key] = old
            elif old and old != current[key] and is_main_process():
                with suppress(FileNotFoundError):
                    os.remove(old)
        self._set_best_paths(current)

    def _best_paths(self) -> dict:
        if len(self.key_indicators) == 1:
            return {None: self.best_ckpt_path}
        return dict(self.best_ckpt_path_dict)

    def _set_best_paths(self, paths: dict) -> None:
        if None in paths:
            self.best_ckpt_path = paths[None]
        else:
            self.best_ckpt_path_dict.update(paths)

    @contextmanager
    def _atomic_saves(self, runner, last_good=None):
        """Inside, ``runner.save_checkpoint`` writes atomically (see the class
        docstring) and refuses non-finite weights. Reentrant. ``last_good``
        is named if a write fails (default: the last checkpoint)."""
        if 'save_checkpoint' in vars(runner):  # already inside
            yield
            return
        save = runner.save_checkpoint

        def save_atomically(out_dir, filename, *args, **kwargs):
            _refuse_non_finite_weights(runner, filename, last_good)
            if not is_main_process():  # only the main process writes (master_only)
                return save(out_dir, filename, *args, **kwargs)
            final = osp.join(out_dir, filename)
            temporary = f'.{filename}.{os.getpid()}.tmp'
            try:
                save(out_dir, temporary, *args, **kwargs)
                with open(osp.join(out_dir, temporary), 'rb+') as f:
                    os.fsync(f.fileno())
                replace_durably(osp.join(out_dir, temporary), final)
            except OSError as error:
                with suppress(FileNotFoundError):
                    os.remove(osp.join(out_dir, temporary))
                raise TrainingError(
                    f'cannot write checkpoint {final}: {error.strerror or error} '
                    f'(errno {error.errno}); {last_good_checkpoint(runner, last_good)}. Free '
                    f'the space (or fix the cause) and go on with --resume.') from None

        runner.save_checkpoint = save_atomically
        try:
            yield
        finally:
            del runner.save_checkpoint  # the Runner's own method again

    def _remove_old_checkpoints(self) -> None:
        if self.max_keep_ckpts <= 0:
            return
        pattern = re.compile(re.escape(self.filename_tmpl).replace(r'\{\}', r'(\d+)') + '$')
        steps = sorted(int(match.group(1)) for match in map(pattern.match, os.listdir(
            self.out_dir)) if match)
        for step in steps[:-self.max_keep_ckpts]:
            with suppress(FileNotFoundError):
                os.remove(osp.join(self.out_dir, self.filename_tmpl.format(step)))


class _PickledAsConstructorCall:
    """Pickles a ``HistoryBuffer`` as a call of its constructor with its
    history. MMEngine's own pickling adds its registry of statistics
    functions, which pickle as calls of ``getattr`` and so cannot be loaded
    weights-only."""

    def __init__(self, buffer):
        self.buffer = buffer

    def __reduce__(self):
        buffer = self.buffer
        return type(buffer), (buffer._log_history, buffer._count_history, buffer.max_length)


def _refuse_non_finite_weights(runner, filename, last_good=None) -> None:
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise TrainingError(
                f'not writing {filename}: the weights are not finite ({name} has NaN or inf); '
                f'{last_good_checkpoint(runner, last_good)}.')


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop training at the first NaN or infinite loss, naming the iteration,
    the loss terms and the last good checkpoint. It runs before the
    checkpoint hooks, so no checkpoint of that iteration is written.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        values = {name: float(value.detach() if torch.is_tensor(value) else value)
                  for name, value in (outputs or {}).items() if 'loss' in name}
        if all(math.isfinite(value) for value in values.values()):
            return
        terms = ', '.join(f'{name}={value:.4g}' for name, value in values.items())
        raise TrainingError(
            f'non-finite loss at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): {terms}; '
            f'{last_good_checkpoint(runner)}. Lower the learning rate or check the data, then '
            f'resume from that checkpoint with --resume.')
