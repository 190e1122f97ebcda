"""The states of the global random generators, as checkpoint data."""
import random

import numpy as np
import torch


def rng_states() -> dict:
    """Python's, NumPy's and PyTorch's (CPU and CUDA) generator states, in
    types weights-only loading accepts."""
    version, state, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    states = dict(python=dict(version=version, state=list(state), gauss=gauss),
                  numpy=dict(kind=kind, keys=torch.from_numpy(keys.astype(np.int64)), pos=pos,
                             has_gauss=has_gauss, cached=cached),
                  torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    """Put back what :func:`rng_states` returned."""
    python = states['python']
    random.setstate((python['version'], tuple(python['state']), python['gauss']))
    numpy = states['numpy']
    np.random.set_state((numpy['kind'], numpy['keys'].numpy().astype(np.uint32), numpy['pos'],
                         numpy['has_gauss'], numpy['cached']))
    torch.set_rng_state(states['torch'])
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])
