"""Where the time goes, per op type: torch.profiler for the PyTorch
backends, ONNX Runtime's own profiler for the ONNX Runtime ones
(``tools/benchmark.py --profile``)."""
import collections

import torch

from ..errors import DeployError
from .backends import ort_node_times, prepare
from .models import build_model, parse_size, select_models


def _torch_profile(runner, inputs, runs):
    from torch.profiler import ProfilerActivity, profile
    runner.run(inputs)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(runs):
            runner.run(inputs)
    return {event.key: event.self_cpu_time_total / runs / 1e3 for event in prof.key_averages()
            if event.self_cpu_time_total > 0}


def _ort_profile(model_file, feed, threads, runs):
    # One run more: the first one (graph warm-up) is in the profile too.
    spent = collections.Counter()
    for (_, op_type), ms in ort_node_times(model_file, feed, threads=threads,
                                           runs=runs + 1).items():
        spent[op_type] += ms
    return dict(spent)


def profile_ops(models, backends, sizes, *, threads=None, runs=5,
                work_dir='work_dirs/profile'):
    """Milliseconds per run spent in each op type, for each model, backend
    and size (backbones and detectors; ONNX Runtime's detectors per node of
    the whole graph).

    Args:
        models (Sequence[str]): Model or group names.
        backends (Sequence[str]): Backends.
        sizes (Sequence[str]): Input sizes.
        threads (int, optional): Threads; default all cores (PyTorch picks
            other conv kernels on one thread than on several).
        runs (int): Profiled runs after one warm-up. Default: 5.
        work_dir (str): Where ONNX files go.

    Returns:
        list[dict]: ``model``, ``backend``, ``size``, ``total_ms`` and
        ``ops`` (op type -> ms per run, largest first).
    """
    import os
    os.makedirs(work_dir, exist_ok=True)
    threads = int(threads or os.cpu_count())
    torch.set_num_threads(threads)
    profiles = []
    for spec in select_models(models):
        model = build_model(spec)
        for name in sizes:
            size = parse_size(name)
            exported = set()
            for backend in backends:
                if backend.startswith('openvino'):
                    continue  # per-op times come from PyTorch's and ONNX Runtime's profilers
                try:
                    runner = prepare(spec, model, backend, size, threads=threads,
                                     work_dir=work_dir, exported=exported)
                except DeployError:
                    continue
                inputs = runner.inputs(1)
                if backend.startswith('ort'):
                    model_file, feed = runner.profile_target(inputs)
                    ops = _ort_profile(model_file, feed, threads, runs)
                else:
                    ops = _torch_profile(runner, inputs, runs)
                ops = dict(sorted(ops.items(), key=lambda item: -item[1]))
                profiles.append(dict(model=spec.name, backend=backend, size=name,
                                     total_ms=sum(ops.values()), ops=ops))
    return profiles


def format_profiles(profiles, top=8):
    """One line per profile: total, then the largest op types with their
    share."""
    lines = []
    for profile in profiles:
        total = profile['total_ms'] or 1.0
        ops = ', '.join(f'{op} {ms / total:.0%}' for op, ms in list(profile['ops'].items())[:top])
        lines.append(f"{profile['model']} {profile['backend']} {profile['size']}: "
                     f"{profile['total_ms']:.1f} ms in ops; {ops}")
    return '\n'.join(lines)
