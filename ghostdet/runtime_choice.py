"""Which runtime and precision an exported ``.onnx`` model runs with: the
names and the choice, importing nothing heavy, so that the tools decide
before they know whether :mod:`ghostdet.deploy` is needed at all."""
from typing import Optional, Tuple

from .errors import InputError

#: Runtimes an exported model runs in; the first is the default.
RUNTIMES = ('onnxruntime', 'openvino')
#: Precisions of the float computations; ``bf16`` needs OpenVINO and a CPU
#: with bfloat16 instructions (AVX512-BF16 or AMX).
PRECISIONS = ('fp32', 'bf16')


def onnx_runtime_choice(model_file: str, *, runtime: Optional[str],
                        precision: Optional[str]) -> Optional[Tuple[str, str]]:
    """The runtime and precision an exported ``.onnx`` model runs with
    (default: the first of :data:`RUNTIMES` and of :data:`PRECISIONS`); None
    for a PyTorch checkpoint, which takes neither.

    Raises:
        InputError: A runtime or precision given for a PyTorch checkpoint.
    """
    if model_file.endswith('.onnx'):
        return runtime or RUNTIMES[0], precision or PRECISIONS[0]
    if runtime is not None or precision is not None:
        raise InputError('--runtime and --precision choose how an exported .onnx model runs; '
                         f'{model_file} is a PyTorch checkpoint (export it with '
                         'tools/deploy.py)')
    return None
