"""CPU (and GPU) latency benchmark of GhostNet against its peers, in eager
PyTorch, the fused deploy form, ONNX Runtime fp32 and INT8
(``tools/benchmark.py``)."""
from .backends import BACKENDS, available_backends
from .models import GROUPS, SIZES, SPECS, select_models
from .report import format_table, write_outputs
from .run import run_benchmark

__all__ = ['BACKENDS', 'GROUPS', 'SIZES', 'SPECS', 'available_backends', 'format_table',
           'run_benchmark', 'select_models', 'write_outputs']
