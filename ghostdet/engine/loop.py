"""An epoch-based training loop that resumes exactly where it stopped and
survives bad images."""
import copy
from typing import List, Optional

from mmengine.logging import print_log
from mmengine.registry import LOOPS
from mmengine.runner import EpochBasedTrainLoop

from ..errors import TrainingError
from .rng import restore_rng_states
from .samples import bad_images_of

_SHOW = 10


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """MMEngine's ``EpochBasedTrainLoop``, made exact to resume and robust to
    bad images.

    - A checkpoint written in the middle of an epoch resumes at the next
      batch: the batches already trained on are skipped without being loaded,
      none is replayed or left out.
    - Every sample's augmentations are a function of (seed, epoch, index),
      and the global random generators are restored as they were when the
      checkpoint was written (:class:`~ghostdet.engine.hooks.SafeCheckpointHook`
      saves them), so a resumed run goes on as if it had never stopped.
    - A sample whose image is missing, empty, undecodable or truncated is
      replaced by the next good one; each epoch's log names and counts them,
      and training stops with their list once more than
      ``max_bad_image_fraction`` of the samples seen were bad.

    Args:
        runner (Runner): The runner.
        dataloader (dict or DataLoader): The training dataloader (config).
        max_epochs (int): Epochs to train.
        max_bad_image_fraction (float): Largest tolerated share of bad
            images among the samples seen. Default: 0.01.
        **kwargs: ``val_begin``, ``val_interval``, ``dynamic_intervals``.
    """

    def __init__(self, runner, dataloader, max_epochs: int, *,
                 max_bad_image_fraction: float = 0.01, **kwargs):
        if isinstance(dataloader, dict):
            dataloader = _guarded(dataloader)
        super().__init__(runner, dataloader, max_epochs, **kwargs)
        self.max_bad_image_fraction = max_bad_image_fraction
        self.bad_images: List[str] = []
        self.samples_seen = 0
        self.pending_rng_states: Optional[dict] = None

    def run_epoch(self) -> None:
        """Iterate one epoch, or what is left of it after a resume."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        done = self._iter - self._epoch * len(self.dataloader)
        batch_sampler = self.dataloader.batch_sampler
        if hasattr(batch_sampler, 'start_epoch'):
            batch_sampler.start_epoch(self._epoch, skip=done)
        elif done:
            raise TrainingError(f'cannot skip the {done} batches of epoch {self._epoch + 1} done '
                                'before the resume: the dataloader was not built by this loop')
        if done and hasattr(self.dataloader.sampler, 'seed'):
            self.dataloader.sampler.seed = self.runner.seed  # the checkpoint's seed
        batches = iter(self.dataloader)  # may draw from the global generators
        if self.pending_rng_states is not None:
            restore_rng_states(self.pending_rng_states)
            self.pending_rng_states = None
        bad_before = len(self.bad_images)
        for index, data_batch in enumerate(batches, start=done):
            self._note_bad_images(data_batch)
            self.run_iter(index, data_batch)
        bad = self.bad_images[bad_before:]
        if bad:
            print_log(f'Epoch {self._epoch + 1}: skipped {len(bad)} bad images '
                      f'({len(self.bad_images)} of {self.samples_seen} samples so far): '
                      f'{bad[:_SHOW]}{" ..." if len(bad) > _SHOW else ""}', logger='current',
                      level=30)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def _note_bad_images(self, data_batch) -> None:
        bad = bad_images_of(data_batch)
        samples = data_batch.get('data_samples') if isinstance(data_batch, dict) else None
        self.samples_seen += len(samples or []) + len(bad)
        if not bad:
            return
        self.bad_images += bad
        for path in bad:
            print_log(f'skipped a bad training image: {path}', logger='current', level=30)
        if len(self.bad_images) > self.max_bad_image_fraction * self.samples_seen:
            raise TrainingError(
                f'{len(self.bad_images)} of the {self.samples_seen} training samples seen so far '
                f'had a bad image (more than max_bad_image_fraction='
                f'{self.max_bad_image_fraction}): {self.bad_images[:_SHOW]}'
                f'{" ..." if len(self.bad_images) > _SHOW else ""}. List them all with '
                f'`python tools/check_dataset.py CONFIG`, then fix or remove them; or allow more '
                f'with --cfg-options train_cfg.max_bad_image_fraction=F.')


def _guarded(dataloader: dict) -> dict:
    """The dataloader config with the dataset in a ``SampleGuard`` and the
    batch sampler in a ``ResumableBatchSampler``."""
    dataloader = copy.deepcopy(dataloader)
    dataloader['dataset'] = dict(type='SampleGuard', dataset=dataloader['dataset'])
    inner = dataloader.pop('batch_sampler', None)
    wrapper = dict(type='ResumableBatchSampler', batch_sampler=inner)
    if inner is None:
        wrapper['drop_last'] = dataloader.pop('drop_last', False)
    dataloader['batch_sampler'] = wrapper
    return dataloader
