"""MobileNetV3-Large backbone for MMDetection, built from torchvision's model."""
from typing import List, Optional, Sequence, Tuple, Union

from mmdet.registry import MODELS
from torchvision.models import mobilenet_v3_large
from torchvision.models.mobilenetv3 import _mobilenet_v3_conf

from .base_backbone import BaseStagedBackbone, FeatureInfo


@MODELS.register_module()
class TVMobileNetV3(BaseStagedBackbone):
    """MobileNetV3-Large backbone (`Searching for MobileNetV3
    <https://arxiv.org/abs/1905.02244>`_), the paper's second peer of GhostNet.

    The layers are torchvision's ``mobilenet_v3_large().features`` kept under
    the same name, so torchvision's ImageNet state dict (keys ``features.*``)
    loads onto this backbone key by key; its BatchNorm layers keep
    torchvision's eps=0.001 and momentum=0.01. The arguments and outputs
    follow :class:`ghostdet.models.GhostNet`: outputs 0-3 are the stage ends
    (``features.3/6/12/15``, strides 4/8/16/32), output 4 is the final 1x1
    conv (``features.16``, stride 32). Layers after the last requested output
    are not built.

    Args:
        widen_factor (float): Width multiplier, torchvision's ``width_mult``.
            Default: 1.0.
        out_indices (Sequence[int]): Outputs to return: 0-3 are the stage ends
            at strides 4/8/16/32, 4 is ``features.16``. Default: (0, 1, 2, 3).
        frozen_stages (int): Stages whose parameters are frozen and norm layers
            kept in eval mode: 0 is the stem (``features.0``), ``i`` in 1-5
            freezes the stem and the stages up to the one giving output
            ``i - 1``. Default: -1, nothing frozen.
        norm_eval (bool): Keep the BatchNorm layers in eval mode (frozen
            running statistics) while training. Default: False.
        with_cp (bool): Use gradient checkpointing in each block, saving
            memory at the cost of speed. Default: False.
        init_cfg (dict or list[dict], optional): Initialization config. Use
            ``dict(type='Pretrained', checkpoint=PATH)`` with torchvision's
            ImageNet weights; every tensor must match. Default: Kaiming for
            convs, constant 1 for norms.

    Registered as ``TVMobileNetV3``, not under MMDetection's generic name
    ``MobileNetV3``, so it cannot clash with another plug-in's MobileNetV3.

    Example:
        >>> import torch
        >>> from ghostdet.models import TVMobileNetV3
        >>> model = TVMobileNetV3().eval()
        >>> for out in model(torch.rand(1, 3, 224, 224)):
        ...     print(tuple(out.shape))
        (1, 24, 56, 56)
        (1, 40, 28, 28)
        (1, 112, 14, 14)
        (1, 160, 7, 7)
    """

    # The ``features`` layers whose outputs are outputs 0-3 (strides 4/8/16/32).
    stage_end_layers = (3, 6, 12, 15)
    named_widths = (1.0, )

    def __init__(self,
                 widen_factor: float = 1.0,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(widen_factor, out_indices, frozen_stages, norm_eval, with_cp,
                         init_cfg)
        # Build only up to the last requested output.
        last = int(self.last_stage_needed.split('.')[1])
        features = mobilenet_v3_large(weights=None, width_mult=self.widen_factor).features
        self.features = features[:last + 1]

        self._freeze_stages()

    @classmethod
    def describe_outputs(cls, widen_factor: float = 1.0) -> Tuple[FeatureInfo, ...]:
        """The five outputs at a width, from torchvision's own layer table and
        without building the model: the ends of ``features.3/6/12/15``
        (strides 4/8/16/32), then the final 1x1 conv ``features.16``, which
        torchvision makes 6x as wide as the last stage.

        Example:
            >>> TVMobileNetV3.stage_channels(1.0)
            (24, 40, 112, 160, 960)
        """
        settings, _ = _mobilenet_v3_conf('mobilenet_v3_large', width_mult=widen_factor)
        stride, layers = 2, {}  # features.0, the stem, has stride 2
        for index, setting in enumerate(settings, start=1):
            stride *= setting.stride
            layers[index] = FeatureInfo(setting.out_channels, stride, f'features.{index}')
        final = FeatureInfo(6 * settings[-1].out_channels, stride,
                            f'features.{len(settings) + 1}')
        return tuple(layers[index] for index in cls.stage_end_layers) + (final, )

    def _stem(self, x):
        return self.features[0](x)

    def _stem_modules(self):
        return (self.features[0], )

    def _stages(self):
        for index, layer in enumerate(self.features[1:], start=1):
            yield f'features.{index}', (layer, )
