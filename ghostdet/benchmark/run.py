"""The benchmark run behind ``tools/benchmark.py``: build each model, prepare
it for each backend, time it, and collect one row per (model, backend,
size)."""
import gc
import os
import platform
import statistics
import time

import torch

from ..errors import DeployError, InputError
from .backends import available_backends, prepare
from .measure import PeakMemory, interleaved_times, release_free_memory, summarize
from .models import SIZES, build_model, config_of, parse_size, select_models

#: Run counts of a full and of a ``--quick`` run.
FULL = dict(warmup=2, runs=30, batch=8, batch_runs=2, stage_runs=2)
QUICK = dict(warmup=1, runs=3, batch=2, batch_runs=1, stage_runs=1)
# One size per kind: a quick run checks that everything runs, not how time grows.
QUICK_SIZES = dict(backbone=('128', ), detector=('128', ))
STAGES = ('preprocess', 'backbone', 'neck_head', 'postprocess')


def _size_name(size):
    return str(size[0]) if size[0] == size[1] else f'{size[0]}x{size[1]}'


def _macs(spec, model, size):
    from ..analysis import count_macs, detector_complexity
    try:
        if spec.kind == 'backbone':
            with torch.no_grad():
                return count_macs(model, (torch.rand(1, 3, *size), ))
        if spec.is_mmdet:
            return detector_complexity(config_of(spec), input_shape=size)['macs']
    except Exception:  # the tracer cannot count every model (torchvision detectors)
        pass
    return None


def _plan(specs, sizes, quick):
    """Groups of (spec, size) timed together: one group per kind and size."""
    groups = {}
    for spec in specs:
        names = sizes or (QUICK_SIZES[spec.kind] if quick and not spec.native_sizes
                          else spec.sizes)
        for name in names:
            size = parse_size(name)
            if spec.native_sizes and _size_name(size) not in [
                    _size_name(parse_size(n)) for n in spec.native_sizes]:
                continue
            groups.setdefault((spec.kind, size), []).append(spec)
    return groups


def run_benchmark(*, models=('all', ), backends=None, sizes=None, threads=None, quick=False,
                  work_dir='work_dirs/benchmark', log=print, **counts):
    """Benchmark models on backends at input sizes.

    Args:
        models (Sequence[str]): Model or group names (see
            :data:`ghostdet.benchmark.models.GROUPS`). Default: all.
        backends (Sequence[str], optional): Backends; default all this
            machine has (:func:`available_backends`).
        sizes (Sequence[str], optional): Sizes ('640', '800x1333'); default
            each model's own (backbones 224, 320, 640, 800x1333; COCO
            detectors 800x1333; the demo detector 320 and 640).
        threads (int, optional): Threads for torch and ONNX Runtime alike;
            default all cores.
        quick (bool): Few runs and small inputs (:data:`QUICK_SIZES`), for
            tests.
        work_dir (str): Where ONNX files go.
        log (callable): Progress lines go here.
        **counts: Override ``warmup``, ``runs``, ``batch``, ``batch_runs``,
            ``stage_runs`` (see :data:`FULL`).

    Returns:
        dict: ``rows`` (one dict per measurement) and ``environment``.
    """
    settings = dict(QUICK if quick else FULL)
    unknown = set(counts) - set(settings)
    if unknown:
        raise InputError(f'unknown run counts {sorted(unknown)}; use {sorted(settings)}')
    settings.update({k: v for k, v in counts.items() if v is not None})
    if settings['runs'] < 1 or settings['warmup'] < 0 or settings['batch'] < 1:
        raise InputError(f'run counts must be positive: {settings}')
    backends = tuple(backends or available_backends())
    missing = [b for b in backends if b not in available_backends()]
    if missing:
        raise InputError(f'backends {missing} are not available here; this machine has '
                         f'{available_backends()}')
    threads = int(threads or os.cpu_count())
    torch.set_num_threads(threads)
    specs = select_models(models)
    groups = _plan(specs, sizes, quick)
    if not groups:
        raise InputError('no model runs at the requested sizes (torchvision detectors run at '
                         'their own size only: 800x1333 and 320)')
    os.makedirs(work_dir, exist_ok=True)
    start, load_before = time.time(), os.getloadavg()[0]
    rows = []
    total = sum(len(group) for group in groups.values()) * len(backends)
    done = 0
    # What lived before the benchmark is left out of its garbage collections (one
    # before each model's memory is measured): in a large process, such as a test
    # run's, scanning it took 0.4 s a collection, 5 s of a 44 s quick run.
    gc.freeze()
    try:
        for (kind, size), group in groups.items():
            measured = _measure_group(group, backends, size, threads, settings, work_dir, log,
                                      done, total)
            done += len(group) * len(backends)
            rows += measured
            release_free_memory()
    finally:
        gc.unfreeze()
    _add_ratios(rows)
    environment = dict(threads=threads, cpu=_cpu_name(), cpu_flags=cpu_flags(),
                       cores=os.cpu_count(), torch=torch.__version__,
                       onnxruntime=_version('onnxruntime'), openvino=_version('openvino'),
                       python=platform.python_version(), quick=quick, settings=settings,
                       seconds=round(time.time() - start, 1),
                       # Other processes' load shows here: 1-minute averages.
                       load_average=[round(load_before, 2), round(os.getloadavg()[0], 2)])
    return dict(rows=rows, environment=environment)


def _measure_group(group, backends, size, threads, settings, work_dir, log, done, total):
    """Prepare every (model, backend) of one size, then time them
    interleaved."""
    prepared, rows, exported = {}, {}, set()
    for spec in group:
        model = build_model(spec)
        macs = _macs(spec, model, size)
        for backend in backends:
            done += 1
            key = (spec.name, backend)
            row = dict(model=spec.name, label=spec.label, kind=spec.kind, backend=backend,
                       size=_size_name(size), height=size[0], width=size[1], macs=macs,
                       reference=spec.reference, threads=threads)
            rows[key] = row
            log(f'[{done}/{total}] {spec.name} {backend} {_size_name(size)}: preparing')
            try:
                started = time.time()
                runner = prepare(spec, model, backend, size, threads=threads, work_dir=work_dir,
                                 exported=exported)
                row['prepare_s'] = round(time.time() - started, 2)
                inputs = runner.inputs(1)
                with PeakMemory() as memory:
                    for _ in range(max(settings['warmup'], 1)):
                        runner.run(inputs)
                row['peak_mib'] = round(memory.peak_mib, 1)
                row['note'] = runner.note
                prepared[key] = (runner, inputs)
            except DeployError as error:
                row['note'] = f'not run: {error}'
        del model
    runners = {key: runner.run for key, (runner, _) in prepared.items()}
    inputs = {key: inputs for key, (_, inputs) in prepared.items()}

    def progress(done):
        log(f'    {_size_name(size)}: {done}/{settings["runs"]} timed runs of each of '
            f'{len(runners)} runners')

    times = interleaved_times(runners, inputs, settings['runs'], progress)
    del runners, inputs
    # Throughput and stages one runner at a time, each freed after: a batch of 8 at
    # 800x1333 grows every runtime's arena by ~0.5 GB, which 42 live runners (six
    # backbones on seven backends) did not fit in 24 GB.
    for key in list(prepared):
        runner, single = prepared.pop(key)
        row = rows[key]
        row.update(summarize(times[key]))
        batch = runner.inputs(settings['batch'])
        batch_times = interleaved_times({key: runner.run}, {key: batch}, settings['batch_runs'],
                                        block=1)[key]
        row['images_per_s'] = round(settings['batch'] / statistics.median(batch_times), 2)
        row['batch'] = settings['batch']
        if runner.stage_times is not None:
            stages = [runner.stage_times(single) for _ in range(settings['stage_runs'])]
            for stage in stages[0]:
                row[f'{stage}_ms'] = round(statistics.median(s[stage] for s in stages) * 1e3, 2)
        log(f"    {row['model']} {row['backend']} {row['size']}: {row['median_ms']:.1f} ms "
            f"(p90 {row['p90_ms']:.1f}), {row['images_per_s']} img/s at batch {row['batch']}")
        del runner, single, batch
        release_free_memory()
    return list(rows.values())


def _add_ratios(rows):
    """``vs_ghostnet``: latency over the GhostNet 1.1x reference's (same
    backend and size); ``vs_eager`` and ``vs_ort``: the eager and the ONNX
    Runtime fp32 latency over this one (the speed-up of the backend)."""
    index = {(r['model'], r['backend'], r['size']): r for r in rows if 'median_ms' in r}
    for row in rows:
        if 'median_ms' not in row:
            continue
        reference = index.get((row['reference'], row['backend'], row['size']))
        if reference is not None:
            row['vs_ghostnet'] = round(row['median_ms'] / reference['median_ms'], 3)
        for key, backend in (('vs_eager', 'eager'), ('vs_ort', 'ort')):
            base = index.get((row['model'], backend, row['size']))
            if base is not None:
                row[key] = round(base['median_ms'] / row['median_ms'], 3)


#: The instruction sets that decide which runtime and precision is fastest,
#: as /proc/cpuinfo names them.
CPU_FLAGS = ('avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_bf16', 'amx_int8')


def cpu_flags():
    """Which of :data:`CPU_FLAGS` this CPU has (``{flag: bool}``; None where
    /proc/cpuinfo cannot be read)."""
    try:
        with open('/proc/cpuinfo') as f:
            flags = next((line.split(':', 1)[1].split() for line in f
                          if line.startswith('flags')), [])
    except OSError:
        return None
    return {flag: flag in flags for flag in CPU_FLAGS}


def _cpu_name():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _version(package):
    try:
        from importlib.metadata import version
        return version(package)
    except Exception:
        return None


__all__ = ['CPU_FLAGS', 'FULL', 'QUICK', 'SIZES', 'STAGES', 'cpu_flags', 'run_benchmark']
