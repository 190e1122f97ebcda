"""Which detector stages gain from INT8 on this CPU (``tools/int8_stages.py``):
the detector exported once, quantised stage by stage
(:data:`ghostdet.deploy.quantize.INT8_STAGES`), each model timed in every
runtime, interleaved."""
import os.path as osp
import statistics
from typing import Dict, Sequence

from ..errors import InputError
from .backends import _calibration_feeds, _detector_policy, _export_detector, _image
from .measure import interleaved_times
from .models import build_model, parse_size, select_models

#: The quantised stage sets compared with the float model.
VARIANTS = (('backbone', ), ('neck', ), ('head', ), ('neck', 'head'),
            ('backbone', 'neck', 'head'))


def time_int8_stages(model: str,
                     *,
                     size: str = '800x1333',
                     runtimes: Sequence[str] = ('onnxruntime', 'openvino'),
                     threads: int = 2,
                     runs: int = 8,
                     work_dir: str = 'work_dirs/int8_stages',
                     log=print) -> Dict[str, Dict[str, float]]:
    """Median latency (ms) of a detector with no stage, each stage and sets
    of stages in INT8, per runtime (random weights, generated images).

    Args:
        model (str): A detector of :data:`ghostdet.benchmark.models.SPECS`.
        size (str): Input size, ``N`` or ``HxW``.
        runtimes (Sequence[str]): Runtimes to time in.
        threads (int): Inference threads.
        runs (int): Timed runs of each (interleaved in blocks).
        work_dir (str): Where the ONNX files go.
        log (callable): Progress lines.

    Returns:
        dict: ``{runtime: {'fp32' or '+'-joined stages: median ms}}``.
    """
    import os

    from ..deploy import deploy_model
    from ..deploy.preprocess import image_feed
    from ..deploy.quantize import quantize_int8
    from ..deploy.runtime import open_session
    specs = select_models([model])
    if len(specs) != 1 or specs[0].kind != 'detector' or not specs[0].is_mmdet:
        raise InputError(f'{model!r} is not one MMDetection detector of the benchmark')
    spec, hw = specs[0], parse_size(size)
    os.makedirs(work_dir, exist_ok=True)
    files = dict(fp32=osp.join(work_dir, f'{spec.name}_{size}.onnx'))
    log(f'exporting {spec.name} at {size}')
    _export_detector(spec, deploy_model(build_model(spec), target='onnxruntime'), hw,
                     files['fp32'])
    feeds = _calibration_feeds(spec, hw, None)
    for stages in VARIANTS:
        name = '+'.join(stages)
        log(f'quantising {name}')
        files[name] = quantize_int8(files['fp32'], osp.join(work_dir, f'{spec.name}_{name}.onnx'),
                                    feeds, stages=stages)
    feed = image_feed(_image(*hw), _detector_policy(spec, hw))
    sessions = {(runtime, name): open_session(path, runtime=runtime, threads=threads)
                for runtime in runtimes for name, path in files.items()}
    for session in sessions.values():
        session(feed)  # warm-up
    log(f'timing {len(sessions)} models, {runs} runs each')
    times = interleaved_times(sessions, {key: feed for key in sessions}, runs, block=2)
    result = {}
    for (runtime, name), seconds in times.items():
        result.setdefault(runtime, {})[name] = round(statistics.median(seconds) * 1e3, 1)
    return result
