"""Test (and evaluate) a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``.

Same options as MMDetection 3.3's ``tools/test.py``; the work is done by
:func:`ghostdet.runner.test`.
"""
import argparse

from ghostdet.cli import (add_onnx_runtime_arguments, add_runner_arguments, parse_runner_args,
                          runner_tool)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file, or an .onnx model from '
                        'tools/deploy.py (run with ONNX Runtime or OpenVINO)')
    add_onnx_runtime_arguments(parser)
    parser.add_argument('--out', help='dump predictions to a pickle file (.pkl)')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='save pictures of the predictions in this dir '
                        '(under work_dir/<timestamp>/)')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds per shown image')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation')
    add_runner_arguments(parser, work_dir_help='the dir to save the evaluation metrics')
    return parse_runner_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    from ghostdet.runner import test
    with runner_tool():
        test(args.config, args.checkpoint, work_dir=args.work_dir, out=args.out,
             show=args.show, show_dir=args.show_dir, wait_time=args.wait_time,
             cfg_options=args.cfg_options, launcher=args.launcher, tta=args.tta,
             skip_data_check=args.skip_data_check, runtime=args.runtime,
             precision=args.precision)


if __name__ == '__main__':
    main()
