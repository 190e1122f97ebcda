"""What the command-line tools in ``tools/`` share."""
import argparse
import os
import sys
from contextlib import contextmanager
from typing import Iterator, List, Optional

from .errors import GhostdetError


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Turn a :class:`~ghostdet.errors.GhostdetError` into ``error: <message>``
    on stderr and exit status 1, without a traceback.

    Example:
        >>> with exit_on_user_error():
        ...     train(args.config, work_dir=args.work_dir)
    """
    try:
        yield
    except GhostdetError as error:
        # Printed now, not at interpreter exit: under torchrun, the first rank
        # to exit gets the others killed, maybe before their exit prints. An
        # error every rank raises together (a failed data check) also waits
        # until every rank has printed it.
        print(f'error: {user_message(error)}', file=sys.stderr, flush=True)
        if getattr(error, 'raised_by_every_rank', False):
            from mmengine.dist import barrier
            barrier()
        sys.exit(1)


@contextmanager
def distributed_run_closed() -> Iterator[None]:
    """After a run that succeeded, free what it left and destroy the process
    group while the interpreter is fully alive.

    MMEngine does neither. A finished runner lives on in reference cycles
    with its DDP wrapper, which holds the gloo process group and its worker
    threads; freed only at interpreter shutdown, they can abort a run that
    succeeded (SIGABRT, "terminate called without an active exception",
    pytorch/pytorch#190489). Not after an error: other ranks may still be in a
    collective, and destroying the group then can hang.
    """
    yield
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return  # a single-process run: nothing to free early
    import gc
    gc.collect()
    dist.destroy_process_group()


@contextmanager
def runner_tool() -> Iterator[None]:
    """What ``tools/train.py`` and ``tools/test.py`` run inside:
    :func:`exit_on_user_error` and :func:`distributed_run_closed`."""
    with exit_on_user_error(), distributed_run_closed():
        yield


def user_message(error: GhostdetError) -> str:
    """The error's own message, without the worker traceback PyTorch's
    DataLoader puts around an error raised in a worker process."""
    message = str(error)
    if 'Original Traceback' not in message:
        return message
    last = message.rstrip().splitlines()[-1]
    return last.split(f'{type(error).__name__}: ', 1)[-1]


def add_cfg_options_argument(parser: argparse.ArgumentParser) -> None:
    """Add MMDetection's ``--cfg-options key=value ...`` (config overrides,
    parsed by MMEngine's ``DictAction``)."""
    from mmengine.config import DictAction
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')


def add_runner_arguments(parser: argparse.ArgumentParser, *, work_dir_help: str) -> None:
    """Add the options MMDetection's train and test tools share
    (``--work-dir``, ``--cfg-options``, ``--launcher``, ``--local-rank``) and
    ghostdet's ``--skip-data-check``."""
    parser.add_argument('--work-dir', help=work_dir_help)
    parser.add_argument('--skip-data-check', action='store_true',
                        help='skip the checks of the dataset paths and annotation files')
    add_cfg_options_argument(parser)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def add_onnx_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--runtime`` and ``--precision``: how an exported ``.onnx``
    model runs (checked by :func:`ghostdet.deploy.runtime.check_runtime_choice`)."""
    parser.add_argument('--runtime', help="for an .onnx model: 'onnxruntime' (default) or "
                        "'openvino'")
    parser.add_argument('--precision', help="for an .onnx model: 'fp32' (default) or 'bf16' "
                        '(OpenVINO on a CPU with AVX512-BF16 or AMX)')


def parse_runner_args(parser: argparse.ArgumentParser,
                      argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the arguments; older launchers pass the rank only as
    ``--local-rank``, which MMEngine reads from ``LOCAL_RANK``."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args
