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
    - A sample whose image is missing, empty, undecodable or truncated
      (named by the pipeline's ``CheckedLoadImageFromFile``) is replaced by
      the next good one; each epoch's log names and counts them. Training
      stops with their list once the distinct bad images exceed
      ``max_bad_image_fraction`` of the training set and also number
      ``min_bad_images`` or more, so a handful never stops a small dataset;
      and it stops at once when ``min_bad_images`` or more were met and most
      of the samples seen so far were bad (a wrong ``data_prefix``, say).

    Args:
        runner (Runner): The runner.
        dataloader (dict or DataLoader): The training dataloader (config).
        max_epochs (int): Epochs to train.
        max_bad_image_fraction (float): Largest tolerated share of bad
            images in the training set. Default: 0.01.
        min_bad_images (int): Fewer bad images than this never stop
            training. Default: 10.
        **kwargs: ``val_begin``, ``val_interval``, ``dynamic_intervals``.
    """

    def __init__(self, runner, dataloader, max_epochs: int, *,
                 max_bad_image_fraction: float = 0.01, min_bad_images: int = 10, **kwargs):
        if isinstance(dataloader, dict):
            dataloader = _guarded(dataloader)
        super().__init__(runner, dataloader, max_epochs, **kwargs)
        self.max_bad_image_fraction = max_bad_image_fraction
        self.min_bad_images = min_bad_images
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
        problem = too_many_bad_images(
            self.bad_images, samples_seen=self.samples_seen,
            dataset_size=len(self.dataloader.dataset),
            max_fraction=self.max_bad_image_fraction, min_count=self.min_bad_images)
        if problem is not None:
            raise TrainingError(
                f'{problem}. List them all with `python tools/check_dataset.py CONFIG`, then fix '
                f'or remove them; or allow more with --cfg-options '
                f'train_cfg.max_bad_image_fraction=F (a share of the training set) or '
                f'train_cfg.min_bad_images=N (fewer never stop training).')


def too_many_bad_images(bad_images: List[str], *, samples_seen: int, dataset_size: int,
                        max_fraction: float, min_count: int) -> Optional[str]:
    """Why training must stop for its bad images, or None.

    Fewer than ``min_count`` distinct bad images never stop it. Past that it
    stops when most samples seen so far were bad (a wrong image folder shows
    within the first batches), or when the distinct bad images are more than
    ``max_fraction`` of the dataset.

    Args:
        bad_images (list[str]): The bad images met so far, with repeats.
        samples_seen (int): Samples drawn so far, bad ones included.
        dataset_size (int): Samples in the training set.
        max_fraction (float): Largest tolerated share of bad images.
        min_count (int): Fewer distinct bad images never stop training.
    """
    distinct = sorted(set(bad_images))
    if len(distinct) < min_count:
        return None
    listed = f'{distinct[:_SHOW]}{" ..." if len(distinct) > _SHOW else ""}'
    if 2 * len(bad_images) > samples_seen:
        return (f'{len(bad_images)} of the {samples_seen} training samples seen so far had a '
                f"bad image, e.g. {listed}: are the dataset's data_root and data_prefix right?")
    if len(distinct) > max_fraction * dataset_size:
        return (f'{len(distinct)} of the {dataset_size} training images are bad (more than '
                f'max_bad_image_fraction={max_fraction} of them): {listed}')
    return None


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
