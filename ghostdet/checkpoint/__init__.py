"""Everything about checkpoint files: atomic saving (:mod:`.files`),
weights-only loading of every checkpoint and MMEngine's loaders switched to it
by name (:mod:`.safety`), strict ``Pretrained`` loading into backbones
(:mod:`.pretrained`), conversion of ImageNet checkpoints (:mod:`.convert`)
and the public checkpoints described as data (:mod:`.zoo`)."""
from .convert import convert_to_mmdet, infer_widen_factor
from .files import (is_remote, save_checkpoint_file,
                    write_bytes_atomically, write_text_atomically)
from .pretrained import (StrictPretrainedMixin, backbone_state_dict, check_fits,
                         checkpoint_state_dict, find_mismatches, load_pretrained_strict)
from .safety import load_checkpoint_file, load_checkpoints_weights_only
from .zoo import GHOSTNET_1_1X_PRETRAIN, PUBLIC_CHECKPOINTS, PublicCheckpoint

__all__ = [
    'GHOSTNET_1_1X_PRETRAIN', 'PUBLIC_CHECKPOINTS', 'PublicCheckpoint', 'StrictPretrainedMixin',
    'load_checkpoints_weights_only', 'backbone_state_dict', 'check_fits', 'checkpoint_state_dict',
    'convert_to_mmdet', 'find_mismatches', 'infer_widen_factor', 'is_remote',
    'load_checkpoint_file', 'load_pretrained_strict', 'save_checkpoint_file',
    'write_bytes_atomically', 'write_text_atomically'
]
