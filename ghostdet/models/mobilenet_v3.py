"""MobileNetV3-Large backbone for MMDetection, built from torchvision's model."""
from mmdet.registry import MODELS
from torchvision.models import mobilenet_v3_large

from .base_backbone import BaseStagedBackbone
from .ghost_blocks import make_divisible


@MODELS.register_module()
class MobileNetV3(BaseStagedBackbone):
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

    Example:
        >>> import torch
        >>> from ghostdet.models import MobileNetV3
        >>> model = MobileNetV3().eval()
        >>> for out in model(torch.rand(1, 3, 224, 224)):
        ...     print(tuple(out.shape))
        (1, 24, 56, 56)
        (1, 40, 28, 28)
        (1, 112, 14, 14)
        (1, 160, 7, 7)
    """

    # ``features`` index that ends the stage giving each output index.
    stage_ends = (3, 6, 12, 15, 16)
    named_widths = (1.0, )
    # Channels at those indices for width 1.0; torchvision rounds each to a
    # multiple of 8 and makes the final 1x1 conv 6x the last stage.
    base_channels = (24, 40, 112, 160)
    strides = (4, 8, 16, 32, 32)

    def __init__(self,
                 widen_factor=1.0,
                 out_indices=(0, 1, 2, 3),
                 frozen_stages=-1,
                 norm_eval=False,
                 with_cp=False,
                 init_cfg=None):
        super().__init__(widen_factor, out_indices, frozen_stages, norm_eval, with_cp,
                         init_cfg)

        # Build only up to the last requested output.
        last = self.stage_ends[max(self.out_indices)]
        features = mobilenet_v3_large(weights=None, width_mult=self.widen_factor).features
        self.features = features[:last + 1]
        channels = self.stage_channels(self.widen_factor)
        self.out_channels = tuple(channels[i] for i in self.out_indices)

        self._freeze_stages()

    @classmethod
    def stage_channels(cls, widen_factor=1.0):
        """Channels of the five outputs (strides 4/8/16/32 and ``features.16``)
        at a width, without building the model.

        Example:
            >>> MobileNetV3.stage_channels(1.0)
            (24, 40, 112, 160, 960)
        """
        channels = tuple(make_divisible(c * widen_factor, 8) for c in cls.base_channels)
        return channels + (6 * channels[-1], )

    def _frozen_modules(self):
        if self.frozen_stages == 0:
            return self.features[:1]
        if self.frozen_stages >= 1:
            return self.features[:self.stage_ends[self.frozen_stages - 1] + 1]
        return []

    def forward(self, x):
        """Return the requested feature maps as a tuple."""
        outputs = {}
        wanted = {self.stage_ends[i] for i in self.out_indices}
        for index, layer in enumerate(self.features):
            x = self._run_block(layer, x)
            if index in wanted:
                outputs[index] = x
        return tuple(outputs[self.stage_ends[i]] for i in self.out_indices)
