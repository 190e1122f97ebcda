"""An exported detector as an MMDetection model, so that ``tools/test.py
CONFIG model.onnx`` evaluates it with the config's own dataloader, data
preprocessor and metric (:func:`onnx_model_config` makes its config)."""
from typing import Optional

from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.model import BaseModel

from ..errors import DeployError
from .metadata import check_metadata_matches, read_metadata
from .runtime import OnnxDetector, check_runtime_choice, with_predictions


@MODELS.register_module()
class OnnxRuntimeDetector(BaseModel):
    """An exported detector as an MMDetection model for the test loop:
    ``test_step`` runs the config's data preprocessor, then the ONNX graph
    image by image in ONNX Runtime or OpenVINO (:func:`onnx_model_config`
    builds its config).

    Args:
        onnx_file (str): The exported model.
        data_preprocessor (dict): The config's ``model.data_preprocessor``.
        runtime (str): ``'onnxruntime'`` (default) or ``'openvino'``.
        precision (str): ``'fp32'`` (default) or ``'bf16'`` (OpenVINO).
        threads (int, optional): Inference threads; default all cores.
    """

    def __init__(self, onnx_file, data_preprocessor=None, runtime='onnxruntime',
                 precision='fp32', threads=None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.detector = OnnxDetector(onnx_file, runtime=runtime, precision=precision,
                                     threads=threads)

    def forward(self, inputs, data_samples=None, mode='predict'):
        if mode != 'predict':
            raise DeployError(f'an ONNX model only predicts (mode={mode!r})')
        return [with_predictions(sample, self.detector.run(
            inputs[i:i + 1], sample.img_shape, sample.scale_factor))
            for i, sample in enumerate(data_samples)]


def onnx_model_config(cfg: Config,
                      onnx_file: str,
                      *,
                      runtime: str = 'onnxruntime',
                      precision: str = 'fp32',
                      threads: Optional[int] = None) -> dict:
    """The ``model`` config that evaluates an exported detector in place of
    the config's PyTorch model, after checking that the file holds this
    config's detector with its test settings and that the runtime choice is
    valid.

    Args:
        cfg (Config): The detector's config.
        onnx_file (str): The exported model.
        runtime (str): One of :data:`ghostdet.runtime_choice.RUNTIMES`.
        precision (str): One of :data:`ghostdet.runtime_choice.PRECISIONS`.
        threads (int, optional): Inference threads; default all cores.

    Raises:
        DeployError: The file is not an exported ghostdet detector, or not
            this config's, or the runtime choice is not valid.
    """
    check_runtime_choice(runtime, precision)
    check_metadata_matches(read_metadata(onnx_file), cfg, onnx_file)
    return dict(type='OnnxRuntimeDetector', onnx_file=onnx_file, runtime=runtime,
                precision=precision, threads=threads,
                data_preprocessor=cfg.model.data_preprocessor)
