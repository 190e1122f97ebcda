"""The benchmark's backends: how a model is prepared for one runtime, and a
callable that runs one batch on it.

- ``eager``: the model as trained, PyTorch eager on CPU.
- ``fused``: its deploy form for PyTorch (:func:`ghostdet.deploy.deploy_model`:
  BN folded, GhostNet's fused form, in-place activations, channels_last).
- ``ort``: ONNX Runtime fp32 on the deploy form for ONNX Runtime, exported at
  the benchmark's input size and batch (static shapes let ONNX Runtime prove
  tensors equal in shape and fuse more).
- ``ort_int8``: the ``ort`` model statically quantised (QDQ, per-channel
  weights), calibrated on generated images: a backbone whole, a detector
  in the stages ``tools/deploy.py --int8`` quantises by default.
- ``openvino``, ``openvino_bf16``, ``openvino_int8``, ``openvino_int8_bf16``:
  OpenVINO's CPU plugin on the ``ort`` model in f32 and in bf16, and on the
  ``ort_int8`` model with the layers left in float computed in f32 and in
  bf16 (only with OpenVINO installed; bf16 only where the CPU has bfloat16
  instructions).
- ``cuda``: eager on the GPU, synchronised timing (only with a GPU).

A runner is built by :func:`prepare` and offers ``run(batch)`` and
``inputs(batch)``; detectors are timed from a ``uint8`` image through their
whole predict path, preprocessing included.
"""
import functools
import os.path as osp
import tempfile
from collections import Counter
from typing import Dict, Optional

import numpy as np
import torch

from ..errors import DeployError

BACKENDS = ('eager', 'fused', 'ort', 'ort_int8', 'openvino', 'openvino_bf16', 'openvino_int8',
            'openvino_int8_bf16', 'cuda')
#: The exported-model backends: (runtime, precision, INT8 model) of each
#: (:func:`ghostdet.deploy.runtime.open_session`).
ONNX_BACKENDS = dict(ort=('onnxruntime', 'fp32', False), ort_int8=('onnxruntime', 'fp32', True),
                     openvino=('openvino', 'fp32', False),
                     openvino_bf16=('openvino', 'bf16', False),
                     openvino_int8=('openvino', 'fp32', True),
                     openvino_int8_bf16=('openvino', 'bf16', True))


def available_backends():
    """The backends this machine can run: ``cuda`` with a GPU, the OpenVINO
    ones with OpenVINO installed, its bf16 ones on CPUs with bfloat16
    instructions."""
    import importlib.util
    available = [b for b in BACKENDS if b != 'cuda' and not b.startswith('openvino')]
    if importlib.util.find_spec('openvino') is not None:
        from ..deploy.runtime import openvino_supports_bf16
        bf16 = openvino_supports_bf16()
        available += [b for b in BACKENDS if b.startswith('openvino')
                      and (bf16 or not b.endswith('bf16'))]
    if torch.cuda.is_available():
        available.append('cuda')
    return tuple(available)


class Runner:
    """A model prepared for one backend at one input size.

    Attributes:
        run (callable): ``run(inputs)`` runs one batch, returns when done.
        inputs (callable): ``inputs(batch)`` makes a batch to run.
        stage_times (callable, optional): ``stage_times(inputs)`` runs once
            and returns ``{stage: seconds}`` (detectors).
        note (str): What differs from the other backends, if anything.
        profile_target (callable, optional): ONNX Runtime backends:
            ``profile_target(inputs)`` gives the model file and one feed.
    """

    def __init__(self, run, inputs, stage_times=None, note='', profile_target=None):
        self.run = run
        self.inputs = inputs
        self.stage_times = stage_times
        self.note = note
        self.profile_target = profile_target


def _image(height, width, seed=0):
    """A natural-looking uint8 BGR test image (smooth gradients and shapes)
    so that detectors see varied inputs."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([(x * 255 // max(width - 1, 1)), (y * 255 // max(height - 1, 1)),
                      ((x + y) * 127 // max(height + width - 2, 1))], axis=-1)
    noise = rng.integers(0, 40, size=(height, width, 3))
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _backbone_input(batch, size, channels_last=False, device='cpu'):
    """A normalised batch in NCHW (or channels_last) memory format."""
    x = torch.from_numpy(np.stack([_image(*size, seed=i) for i in range(batch)])).permute(
        0, 3, 1, 2).float().div(255).sub(0.45).div(0.225)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    return x.to(device).contiguous(memory_format=memory_format)


def prepare(spec, model, backend, size, *, threads, work_dir, exported=None,
            calibration=None):
    """Prepare a built model for a backend at a size (``(h, w)``).

    Args:
        spec (ModelSpec): What the model is.
        model (nn.Module): The built model (eval mode, random weights).
        backend (str): One of :data:`BACKENDS`.
        size (tuple[int]): Input height and width.
        threads (int): Threads for ONNX Runtime (torch's are set globally).
        work_dir (str): Where ONNX files go.
        exported (set, optional): ONNX files already exported by this run,
            reused (``ort_int8`` quantises the ``ort`` model); updated.
        calibration (list[ndarray], optional): uint8 images for INT8.

    Returns:
        Runner: The runner.

    Raises:
        DeployError: The backend cannot run this model.
    """
    if backend in ('eager', 'fused', 'cuda'):
        return _torch_runner(spec, model, backend, size)
    if spec.source.startswith('torchvision:'):
        raise DeployError('torchvision detectors are benchmarked in PyTorch only: ghostdet '
                          'exports MMDetection models')
    return _ort_runner(spec, model, backend, size, threads, work_dir,
                       set() if exported is None else exported, calibration)


# ----------------------------------------------------------------------------- PyTorch


def _torch_runner(spec, model, backend, size):
    from ..deploy import deploy_model
    device = 'cuda' if backend == 'cuda' else 'cpu'
    channels_last = backend == 'fused'
    if backend == 'fused':
        model = deploy_model(model, target='torch')
    model = model.to(device)
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    if spec.kind == 'backbone':
        def run(x):
            with torch.inference_mode():
                model(x)
            sync()
        return Runner(run, lambda batch: _backbone_input(batch, size, channels_last, device))
    if spec.is_mmdet:
        return _mmdet_detector_runner(model, size, device, sync)
    return _torchvision_detector_runner(model, size, device, sync)


def _mmdet_detector_runner(detector, size, device, sync):
    from mmdet.structures import DetDataSample

    def inputs(batch):
        images = [torch.from_numpy(_image(*size, seed=i)).permute(2, 0, 1).contiguous()
                  for i in range(batch)]
        samples = [DetDataSample(metainfo=dict(img_shape=size, ori_shape=size,
                                               scale_factor=(1., 1.))) for _ in range(batch)]
        return dict(inputs=images, data_samples=samples)

    def run(data):
        with torch.inference_mode():
            data = detector.data_preprocessor(_to(data, device), False)
            detector.predict(data['inputs'], data['data_samples'], rescale=True)
        sync()

    stages = dict(preprocess=[detector.data_preprocessor], backbone=[detector.backbone],
                  neck_head=_mmdet_head_modules(detector))
    return Runner(run, inputs, _stage_timer(run, stages, sync))


def _to(data, device):
    if device == 'cpu':
        return data
    return dict(inputs=[x.to(device) for x in data['inputs']], data_samples=data['data_samples'])


def _mmdet_head_modules(detector):
    """The modules of an MMDetection detector that compute features and
    head outputs; what runs outside them (decoding, NMS) is
    post-processing."""
    modules = [detector.neck] if getattr(detector, 'neck', None) is not None else []
    if hasattr(detector, 'bbox_head'):
        return modules + [detector.bbox_head]
    roi = detector.roi_head
    return modules + [detector.rpn_head, roi.bbox_roi_extractor, roi.bbox_head]


def _torchvision_detector_runner(model, size, device, sync):

    def inputs(batch):
        return [torch.from_numpy(_image(*size, seed=i)).permute(2, 0, 1).float().div(255).to(
            device).contiguous() for i in range(batch)]

    def run(images):
        with torch.inference_mode():
            model(images)
        sync()

    if hasattr(model, 'rpn'):  # Faster R-CNN
        backbone, heads = [model.backbone.body], [model.backbone.fpn, model.rpn.head,
                                                  model.roi_heads.box_roi_pool,
                                                  model.roi_heads.box_head,
                                                  model.roi_heads.box_predictor]
    else:  # SSD
        backbone, heads = [model.backbone.features], [model.backbone.extra, model.head]
    stages = dict(preprocess=[model.transform], backbone=backbone, neck_head=heads)
    return Runner(run, inputs, _stage_timer(run, stages, sync), note='resizes internally')


def _stage_timer(run, stages, sync):
    """``stage_times(inputs)``: one run, with the time spent inside each
    stage's modules (forward hooks) and the rest as post-processing."""
    import time

    def stage_times(inputs):
        spent = {name: 0.0 for name in stages}
        handles, starts = [], {}
        for name, modules in stages.items():
            for module in modules:
                def pre(mod, args, name=name):
                    starts[id(mod)] = time.perf_counter()

                def post(mod, args, output, name=name):
                    sync()
                    spent[name] += time.perf_counter() - starts.pop(id(mod))
                handles += [module.register_forward_pre_hook(pre),
                            module.register_forward_hook(post)]
        try:
            start = time.perf_counter()
            run(inputs)
            total = time.perf_counter() - start
        finally:
            for handle in handles:
                handle.remove()
        return dict(spent, postprocess=max(total - sum(spent.values()), 0.0))

    return stage_times


# ----------------------------------------------------------------------------- ONNX Runtime


def _ort_runner(spec, model, backend, size, threads, work_dir, exported, calibration):
    from ..deploy import deploy_model
    deployed = None

    def model_file(batch=1):
        """The ONNX file for this backend and batch, exported (and
        quantised) on first use. Shapes are static: with a symbolic
        dimension ONNX Runtime cannot prove shapes equal and fuses less."""
        nonlocal deployed
        name = f'{spec.name}_{size[0]}x{size[1]}' + (f'_b{batch}' if batch > 1 else '')
        fp32_file = osp.join(work_dir, f'{name}.onnx')
        if fp32_file not in exported:
            deployed = deployed or deploy_model(model, target='onnxruntime')
            if spec.kind == 'backbone':
                _export_backbone(deployed, _backbone_input(batch, size), fp32_file)
            else:
                _export_detector(spec, deployed, size, fp32_file)
            exported.add(fp32_file)
        if not ONNX_BACKENDS[backend][2]:
            return fp32_file
        int8_file = osp.join(work_dir, f'{name}_int8.onnx')
        if int8_file not in exported:
            from ..deploy.quantize import DEFAULT_INT8_STAGES, quantize_int8
            # Detectors: the stages tools/deploy.py quantises; backbones: all.
            quantize_int8(fp32_file, int8_file, _calibration_feeds(spec, size, calibration,
                                                                    batch),
                          stages=DEFAULT_INT8_STAGES if spec.kind == 'detector' else None)
            exported.add(int8_file)
        return int8_file

    runtime, precision, _ = ONNX_BACKENDS[backend]

    def session(model_file):
        from ..deploy.runtime import open_session
        return open_session(model_file, runtime=runtime, precision=precision, threads=threads)

    if spec.kind == 'detector':
        return _ort_detector_runner(spec, session(model_file()), model_file(), size, threads,
                                    runtime)
    sessions = {}

    def inputs(batch):
        if batch not in sessions:
            sessions[batch] = session(model_file(batch))
        return _backbone_input(batch, size).numpy()

    def run(x):
        sessions[x.shape[0]]({'input': x})

    profile_target = None
    if runtime == 'onnxruntime':
        def profile_target(x):
            return model_file(x.shape[0]), {'input': x}

    return Runner(run, inputs, profile_target=profile_target)


def _session(model_file, threads, options=None):
    import onnxruntime as ort

    from ..deploy.runtime import session_options
    options = session_options(threads) if options is None else options
    return ort.InferenceSession(model_file, options,
                                providers=['CPUExecutionProvider'])


def _export_backbone(model, example, onnx_file):
    import warnings
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(model, (example, ), onnx_file, dynamo=False, opset_version=17,
                          input_names=['input'])


@functools.cache
def _config_preprocess(config: str) -> dict:
    """The deploy metadata's preprocessing of a detector config (loaded once:
    each backend and size asks for it)."""
    from ..deploy.export import load_detector_config
    from ..deploy.metadata import deploy_metadata
    return deploy_metadata(load_detector_config(config))['preprocess']


def _detector_policy(spec, size):
    """The deploy metadata's preprocessing, resizing to the benchmark size."""
    return dict(_config_preprocess(spec.source), scale=[size[1], size[0]])


def _export_detector(spec, deployed, size, onnx_file):
    from ..deploy.detector_graphs import INPUT_NAMES, detector_graph
    from ..deploy.export import export_onnx
    from ..deploy.preprocess import image_feed
    feed = image_feed(_image(*size), _detector_policy(spec, size))
    export_onnx(detector_graph(deployed), onnx_file,
                tuple(torch.as_tensor(feed[name]) for name in INPUT_NAMES))


def _calibration_feeds(spec, size, images, batch=1):
    from ..deploy.preprocess import image_feed
    images = images or [_image(*size, seed=i) for i in range(4)]
    if spec.kind == 'backbone':
        x = torch.from_numpy(np.stack(_resized(images, size))).permute(0, 3, 1, 2).float()
        x = x.div(255).sub(0.45).div(0.225).numpy()
        # The images in as few batches as hold them all (repeated to fill the
        # last): ONNX Runtime's calibrator keeps every feed's intermediate
        # tensors, and four feeds of 8 copies each at 800x1333 took 14 GB.
        count = -(-len(x) // batch) * batch
        return [{'input': np.ascontiguousarray(chunk)}
                for chunk in np.split(np.resize(x, (count, ) + x.shape[1:]), count // batch)]
    policy = _detector_policy(spec, size)
    return [image_feed(image, policy) for image in images]


def _resized(images, size):
    import cv2
    return [cv2.resize(image, (size[1], size[0])) for image in images]


def _ort_detector_runner(spec, session, model_file, size, threads, runtime):
    import time

    from ..deploy.preprocess import image_feed
    policy = _detector_policy(spec, size)

    def inputs(batch):
        return [_image(*size, seed=i) for i in range(batch)]

    def run(images):
        for image in images:  # the graph takes one image
            session(image_feed(image, policy))

    shares = {}

    def stage_times(images):
        if not shares:
            shares.update(_ort_stage_shares(model_file, image_feed(images[0], policy), threads))
        start = time.perf_counter()
        feed = image_feed(images[0], policy)
        preprocess = time.perf_counter() - start
        start = time.perf_counter()
        session(feed)
        graph = time.perf_counter() - start
        return dict(preprocess=preprocess, **{k: v * graph for k, v in shares.items()})

    def profile_target(images):
        return model_file, image_feed(images[0], policy)

    if runtime != 'onnxruntime':  # stage shares come from ONNX Runtime's profiler
        return Runner(run, inputs, note='one image per run of the graph')
    return Runner(run, inputs, stage_times, note='one image per run of the graph',
                  profile_target=profile_target)


def ort_node_times(model_file: str, feed: Dict[str, np.ndarray], *, threads: Optional[int],
                   runs: int) -> Counter:
    """Milliseconds per run spent in each node of an ONNX model, from ONNX
    Runtime's own profiler (``runs`` profiled runs, the first one included).

    Returns:
        Counter: ``(node name, op type)`` -> milliseconds per run.
    """
    import json

    from ..deploy.runtime import session_options
    options = session_options(threads)
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = osp.join(tmp, 'profile')
        session = _session(model_file, threads, options)
        for _ in range(runs):
            session.run(None, feed)
        with open(session.end_profiling()) as f:
            events = json.load(f)
    spent = Counter()
    for event in events:
        if event.get('cat') == 'Node' and event['name'].endswith('_kernel_time'):
            spent[event['name'], event['args'].get('op_name', '?')] += event['dur'] / 1e3 / runs
    return spent


def _ort_stage_shares(model_file, feed, threads):
    """Shares of the graph's time per stage, from ONNX Runtime's per-node
    profile: nodes under ``/backbone/`` are the backbone; under ``/neck/``,
    ``/head/``, ``/rpn/``, ``/roi/``, ``/bbox_head/`` (Faster R-CNN's box
    head, as traced) and RoiAlign the neck and heads; the
    rest (top-k, decoding, NMS) post-processing."""
    spent = dict(backbone=0.0, neck_head=0.0, postprocess=0.0)
    for (name, op_type), ms in ort_node_times(model_file, feed, threads=threads,
                                              runs=3).items():
        spent[_stage_of_node(name, op_type)] += ms
    total = sum(spent.values()) or 1.0
    return {k: v / total for k, v in spent.items()}


def _stage_of_node(name, op_type):
    if name.startswith('/backbone/'):
        return 'backbone'
    if name.startswith(('/neck/', '/head/', '/rpn/', '/roi/', '/bbox_head/')) or \
            op_type == 'RoiAlign':
        return 'neck_head'
    return 'postprocess'
