"""Training samples that can be replayed exactly and survive bad images.

MMEngine's data loading makes a resumed run differ from an uninterrupted one:
a half-done epoch restarts from its first batch, and the random augmentations
of a sample depend on which worker process loads it and what that worker
loaded before. Here:

- :class:`ResumableBatchSampler` yields each sample index as a
  :class:`SampleKey` (the index, the epoch and the seed) and can skip the
  batches of an epoch done before a resume, without loading them;
- :class:`SampleGuard` (the outermost dataset wrapper) seeds Python's,
  NumPy's and PyTorch's random generators from that key before a sample is
  made, so its augmentations are a function of (seed, epoch, index) alone;
  and it replaces a sample whose image is bad
  (:class:`~ghostdet.errors.BadImageError`) by the next good one, recording
  the bad file in the sample's metainfo (``bad_images``) for the training
  loop to log and count.

:class:`~ghostdet.engine.loop.ResumableEpochBasedTrainLoop` puts both in place.
"""
from typing import Iterator, List, Optional

import numpy as np
from mmengine.registry import DATA_SAMPLERS, DATASETS
from mmengine.runner import set_random_seed
from torch.utils.data import BatchSampler, Dataset

from ..errors import BadImageError, DatasetError

#: Metainfo key of a sample's data sample listing the bad images it replaced.
BAD_IMAGES_KEY = 'bad_images'


class SampleKey(int):
    """A dataset index that also carries the epoch and seed it is drawn in."""

    epoch: int
    seed: int

    def __new__(cls, index: int, epoch: int, seed: int):
        key = super().__new__(cls, index)
        key.epoch, key.seed = epoch, seed
        return key

    def __reduce__(self):  # to worker processes
        return SampleKey, (int(self), self.epoch, self.seed)

    def rng_seed(self) -> int:
        """One 32-bit seed from (seed, epoch, index)."""
        sequence = np.random.SeedSequence([self.seed % 2**32, self.epoch, int(self)])
        return int(sequence.generate_state(1)[0])


@DATA_SAMPLERS.register_module()
class ResumableBatchSampler:
    """Wrap a batch sampler: yield :class:`SampleKey` s, and skip batches.

    Args:
        sampler (Sampler): The index sampler (e.g. ``DefaultSampler``).
        batch_size (int): Samples per batch.
        batch_sampler (dict, optional): Config of the wrapped batch sampler
            (e.g. ``AspectRatioBatchSampler``). Default: PyTorch's
            ``BatchSampler``.
        drop_last (bool): For the default batch sampler. Default: False.
    """

    def __init__(self, sampler, batch_size: int, batch_sampler: Optional[dict] = None,
                 drop_last: bool = False):
        if batch_sampler is None:
            self.batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        else:
            self.batch_sampler = DATA_SAMPLERS.build(
                batch_sampler, default_args=dict(sampler=sampler, batch_size=batch_size))
        self.sampler = sampler
        self.epoch, self.skip = 0, 0

    def start_epoch(self, epoch: int, *, skip: int = 0) -> None:
        """The next pass is epoch ``epoch`` and leaves out its first
        ``skip`` batches."""
        self.epoch, self.skip = epoch, skip

    def __iter__(self) -> Iterator[List[SampleKey]]:
        seed = getattr(self.sampler, 'seed', None) or 0
        batches = iter(self.batch_sampler)
        for _ in range(self.skip):
            next(batches, None)
        self.skip = 0
        for batch in batches:
            yield [SampleKey(index, self.epoch, seed) for index in batch]

    def __len__(self) -> int:
        return len(self.batch_sampler)


@DATASETS.register_module()
class SampleGuard(Dataset):
    """Make each training sample from its own seed, and replace samples
    whose image is bad by the next good one (see the module docstring).

    Args:
        dataset (Dataset or dict): The training dataset or its config.
    """

    def __init__(self, dataset):
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def __getattr__(self, name):
        # The wrapped dataset's other attributes (``get_data_info``, ...).
        if name == 'dataset':
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index):
        bad = []
        for offset in range(len(self.dataset)):
            candidate = (int(index) + offset) % len(self.dataset)
            if isinstance(index, SampleKey):
                set_random_seed(SampleKey(candidate, index.epoch, index.seed).rng_seed())
            try:
                data = self.dataset[candidate]
            except BadImageError as error:
                bad.append(error.path if error.reason else str(error))
                continue
            if bad:
                _record_bad_images(data, bad)
            return data
        raise DatasetError(f'every image of the training set is bad, e.g. {bad[:5]}')


def _record_bad_images(data, paths):
    samples = data.get('data_samples') if isinstance(data, dict) else None
    if samples is not None and hasattr(samples, 'set_metainfo'):
        samples.set_metainfo({BAD_IMAGES_KEY: list(paths)})


def bad_images_of(data_batch) -> List[str]:
    """The bad image files the samples of a collated batch replaced."""
    samples = data_batch.get('data_samples') if isinstance(data_batch, dict) else None
    return [path for sample in samples or [] for path in
            (sample.metainfo.get(BAD_IMAGES_KEY, []) if hasattr(sample, 'metainfo') else [])]

