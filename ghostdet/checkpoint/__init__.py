"""Everything about checkpoint files: weights-only loading and atomic saving
(:mod:`.files`), the ``weights_only`` allow-list for MMEngine's checkpoints
(:mod:`.safety`), strict ``Pretrained`` loading into backbones
(:mod:`.pretrained`), conversion of ImageNet checkpoints (:mod:`.convert`)
and the public checkpoints described as data (:mod:`.zoo`)."""
from .convert import convert_to_mmdet, infer_widen_factor
from .files import (is_remote, load_checkpoint_file, save_checkpoint_file,
                    write_bytes_atomically, write_text_atomically)
from .pretrained import (StrictPretrainedMixin, backbone_state_dict, check_fits,
                         checkpoint_state_dict, find_mismatches, load_pretrained_strict)
from .safety import allow_mmengine_checkpoints
from .zoo import GHOSTNET_1_1X_PRETRAIN, PUBLIC_CHECKPOINTS, PublicCheckpoint

__all__ = [
    'GHOSTNET_1_1X_PRETRAIN', 'PUBLIC_CHECKPOINTS', 'PublicCheckpoint', 'StrictPretrainedMixin',
    'allow_mmengine_checkpoints', 'backbone_state_dict', 'check_fits', 'checkpoint_state_dict',
    'convert_to_mmdet', 'find_mismatches', 'infer_widen_factor', 'is_remote',
    'load_checkpoint_file', 'load_pretrained_strict', 'save_checkpoint_file',
    'write_bytes_atomically', 'write_text_atomically'
]
