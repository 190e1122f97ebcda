"""Where the time of a training step goes: data loading, preprocessing,
forward, backward and the optimizer, and the ops that take it
(``tools/profile_training.py``)."""
import statistics
import tempfile
import time
from typing import Optional

import torch

from ..config import load_config
from ..errors import InputError
from ..runner import build_runner

PHASES = ('data', 'preprocess', 'forward', 'backward', 'optimizer')


def _largest(times, top):
    return dict(sorted(times.items(), key=lambda item: -item[1])[:top])


def _steps(loader):
    while True:
        yield from loader


def profile_train_steps(config: str,
                        *,
                        steps: int = 20,
                        warmup: int = 5,
                        profiled_steps: int = 5,
                        cfg_options: Optional[dict] = None,
                        top: int = 15) -> dict:
    """Time the training steps of a config as its runner would run them: its
    own dataloader (workers included), data preprocessor, model and optimizer
    wrapper, from the model's initial weights.

    The steps are timed first without the profiler (it slows small ops), then
    ``profiled_steps`` more run under ``torch.profiler``.

    Args:
        config (str): Config file.
        steps (int): Timed steps, after ``warmup`` untimed ones.
        warmup (int): Steps before timing (workers start, kernels warm up).
        profiled_steps (int): Steps under the profiler (0: none).
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        top (int): Ops listed, largest first.

    Returns:
        dict: ``phases_ms`` (median milliseconds of each of
        :data:`PHASES` and of the whole ``step``), ``batch_size``,
        ``threads``, ``num_workers``, ``ops_ms`` (self CPU milliseconds per
        step of each op name) and ``calls_ms`` (the same per op and input
        shapes, to find the layer).
    """
    if steps < 1 or warmup < 0 or profiled_steps < 0:
        raise InputError(f'need steps >= 1, warmup >= 0 and profiled_steps >= 0; got '
                         f'{steps}, {warmup} and {profiled_steps}')
    with tempfile.TemporaryDirectory() as work_dir:
        cfg = load_config(config, cfg_options=cfg_options, work_dir=work_dir)
        runner = build_runner(cfg)
        model = runner.model
        model.init_weights()
        model.train()
        loader = runner.build_dataloader(cfg.train_dataloader, seed=runner.seed)
        optim_wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
        batches = _steps(loader)

        def step():
            start = time.perf_counter()
            data = next(batches)
            loaded = time.perf_counter()
            # As BaseModel.train_step does: the optimizer wrapper's context
            # (autocast, gradient accumulation) around preprocessing and forward.
            with optim_wrapper.optim_context(model):
                data = model.data_preprocessor(data, True)
                preprocessed = time.perf_counter()
                loss, _ = model.parse_losses(model(**data, mode='loss'))
            forward = time.perf_counter()
            optim_wrapper.backward(loss)
            backward = time.perf_counter()
            optim_wrapper.step()
            optim_wrapper.zero_grad()
            done = time.perf_counter()
            return dict(zip(PHASES + ('step', ), (
                loaded - start, preprocessed - loaded, forward - preprocessed,
                backward - forward, done - backward, done - start)))

        for _ in range(warmup):
            step()
        timed = [step() for _ in range(steps)]
        ops, calls = {}, {}
        if profiled_steps:
            from torch.profiler import ProfilerActivity, profile
            with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
                for _ in range(profiled_steps):
                    step()
            for event in prof.key_averages(group_by_input_shape=True):
                ms = event.self_cpu_time_total / profiled_steps / 1e3
                if ms > 0:
                    ops[event.key] = ops.get(event.key, 0.0) + ms
                    calls[f'{event.key} {event.input_shapes}'] = ms
    return dict(phases_ms={name: 1e3 * statistics.median(t[name] for t in timed)
                           for name in PHASES + ('step', )},
                batch_size=cfg.train_dataloader.batch_size, threads=torch.get_num_threads(),
                num_workers=cfg.train_dataloader.get('num_workers', 0),
                ops_ms=_largest(ops, top), calls_ms=_largest(calls, top))


def format_train_profile(result: dict) -> str:
    """The phases as one line, then the largest ops and calls with their
    share of a step."""
    phases = result['phases_ms']
    step = phases['step'] or 1.0
    lines = [f"batch {result['batch_size']}, {result['threads']} threads, "
             f"{result['num_workers']} data workers: step {step:.0f} ms (median) = " +
             ', '.join(f'{name} {phases[name]:.1f}' for name in PHASES)]
    for title, key in (('ops (self CPU, ms per step)', 'ops_ms'),
                       ('calls by input shape', 'calls_ms')):
        if result[key]:
            lines.append(title + ':')
            lines += [f'  {ms:8.1f} {ms / step:5.1%}  {name}'
                      for name, ms in result[key].items()]
    return '\n'.join(lines)
