"""Train a detector: ``python tools/train.py CONFIG [options]``.

Same options as MMDetection 3.3's ``tools/train.py``; the work is done by
:func:`ghostdet.runner.train`.
"""
import argparse
import os
import sys

from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision (CUDA)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the real batch size')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or without a path from the latest '
        'checkpoint in the work dir')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    from ghostdet.data_check import DatasetNotFoundError
    from ghostdet.datasets import DatasetError
    from ghostdet.models.pretrained import PretrainedMismatchError
    from ghostdet.runner import InputError, train
    try:
        train(args.config, work_dir=args.work_dir, resume=args.resume, amp=args.amp,
              auto_scale_lr=args.auto_scale_lr, cfg_options=args.cfg_options,
              launcher=args.launcher)
    except (InputError, DatasetNotFoundError, DatasetError, PretrainedMismatchError) as error:
        sys.exit(f'error: {error}')


if __name__ == '__main__':
    main()
