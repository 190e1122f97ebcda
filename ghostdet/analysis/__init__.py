"""Model complexity as the GhostNet paper reports it (``tools/get_flops.py``)."""
from .complexity import (TRUNKS, backbone_complexity, complexity_table, config_complexity,
                         count_macs, count_params, detector_complexity, format_count,
                         mac_analyzer, trunk_complexity)

__all__ = [
    'TRUNKS', 'backbone_complexity', 'complexity_table', 'config_complexity', 'count_macs',
    'count_params', 'detector_complexity', 'format_count', 'mac_analyzer', 'trunk_complexity'
]
