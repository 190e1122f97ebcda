"""An exported detector as an MMDetection model, so that ``tools/test.py
CONFIG model.onnx`` evaluates it with the config's own dataloader, data
preprocessor and metric (:func:`onnx_model_config` makes its config)."""
from typing import Optional

from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.model import BaseModel

from ..errors import DeployError
from .metadata import check_metadata_matches, read_metadata
from .runtime import OnnxDetector, with_predictions


@MODELS.register_module()
class OnnxRuntimeDetector(BaseModel):
    """An exported detector as an MMDetection model for the test loop:
    ``test_step`` runs the config's data preprocessor, then the ONNX graph
    image by image (:func:`onnx_model_config` builds its config).

    Args:
        onnx_file (str): The exported model.
        data_preprocessor (dict): The config's ``model.data_preprocessor``.
        threads (int, optional): Intra-op threads; default all cores.
    """

    def __init__(self, onnx_file, data_preprocessor=None, threads=None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.detector = OnnxDetector(onnx_file, threads=threads)

    def forward(self, inputs, data_samples=None, mode='predict'):
        if mode != 'predict':
            raise DeployError(f'an ONNX model only predicts (mode={mode!r})')
        return [with_predictions(sample, self.detector.run(
            inputs[i:i + 1], sample.img_shape, sample.scale_factor))
            for i, sample in enumerate(data_samples)]


def onnx_model_config(cfg: Config, onnx_file: str, *, threads: Optional[int] = None) -> dict:
    """The ``model`` config that evaluates an exported detector in place of
    the config's PyTorch model, after checking that the file holds this
    config's detector with its test settings.

    Raises:
        DeployError: The file is not an exported ghostdet detector, or not
            this config's.
    """
    check_metadata_matches(read_metadata(onnx_file), cfg, onnx_file)
    return dict(type='OnnxRuntimeDetector', onnx_file=onnx_file, threads=threads,
                data_preprocessor=cfg.model.data_preprocessor)
