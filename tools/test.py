"""Test (and evaluate) a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``.

Same options as MMDetection 3.3's ``tools/test.py``; the work is done by
:func:`ghostdet.runner.test`.
"""
import argparse
import os
import sys

from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument('--out', help='dump predictions to a pickle file (.pkl)')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='save pictures of the predictions in this dir '
                        '(under work_dir/<timestamp>/)')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds per shown image')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    from ghostdet.data_check import DatasetNotFoundError
    from ghostdet.datasets import DatasetError
    from ghostdet.models.pretrained import PretrainedMismatchError
    from ghostdet.runner import InputError, test
    try:
        test(args.config, args.checkpoint, work_dir=args.work_dir, out=args.out,
             show=args.show, show_dir=args.show_dir, wait_time=args.wait_time,
             cfg_options=args.cfg_options, launcher=args.launcher, tta=args.tta)
    except (InputError, DatasetNotFoundError, DatasetError, PretrainedMismatchError) as error:
        sys.exit(f'error: {error}')


if __name__ == '__main__':
    main()
