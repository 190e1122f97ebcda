"""Where a config's training step spends its time:
``python tools/profile_training.py CONFIG [--steps N] [--cfg-options ...]``.

Prints the median milliseconds of data loading, preprocessing, forward,
backward and the optimizer over the timed steps, then the ops (and the ops by
input shape, to find the layer) that take the most self CPU time per step.
The work is done by :func:`ghostdet.benchmark.train_step.profile_train_steps`.
"""
import argparse

from ghostdet.cli import add_cfg_options_argument, exit_on_user_error


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Profile the training steps of a config')
    parser.add_argument('config', help='config file')
    parser.add_argument('--steps', type=int, default=20, help='timed steps (default 20)')
    parser.add_argument('--warmup', type=int, default=5,
                        help='untimed steps first (default 5)')
    parser.add_argument('--profiled-steps', type=int, default=5,
                        help='steps under torch.profiler after the timed ones (default 5; '
                        '0: no op table)')
    parser.add_argument('--top', type=int, default=15, help='ops listed (default 15)')
    add_cfg_options_argument(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from ghostdet.benchmark.train_step import format_train_profile, profile_train_steps
    with exit_on_user_error():
        result = profile_train_steps(args.config, steps=args.steps, warmup=args.warmup,
                                     profiled_steps=args.profiled_steps,
                                     cfg_options=args.cfg_options, top=args.top)
    print(format_train_profile(result))


if __name__ == '__main__':
    main()
