"""Train a detector: ``python tools/train.py CONFIG [options]``.

Same options as MMDetection 3.3's ``tools/train.py``; the work is done by
:func:`ghostdet.runner.train`.
"""
import argparse

from ghostdet.cli import add_runner_arguments, parse_runner_args, runner_tool


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision (CUDA)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the real batch size')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or without a path from the latest '
        'checkpoint in the work dir')
    add_runner_arguments(parser, work_dir_help='the dir to save logs and models')
    return parse_runner_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    from ghostdet.runner import train
    with runner_tool():
        train(args.config, work_dir=args.work_dir, resume=args.resume, amp=args.amp,
              auto_scale_lr=args.auto_scale_lr, cfg_options=args.cfg_options,
              launcher=args.launcher, skip_data_check=args.skip_data_check)


if __name__ == '__main__':
    main()
