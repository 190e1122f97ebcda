"""Multiply-adds and parameters of detectors, their backbones and ImageNet
trunks, as the GhostNet paper counts FLOPs, one row per config:
``python tools/get_flops.py CONFIG [CONFIG ...] [--shape H W]``.

Needs no dataset and no GPU: each model runs once on a random tensor on the
CPU. The work is done by :func:`ghostdet.analysis.complexity_table`.
"""
import argparse
import os.path as osp

from ghostdet.cli import exit_on_user_error
from ghostdet.errors import InputError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Count the MACs and parameters of detectors, their backbones (224x224) '
        'and their ImageNet trunks as the GhostNet paper does (convs and linear layers)')
    parser.add_argument('configs', nargs='+', help='detector config files')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1333],
                        metavar=('H', 'W'), help='input of the whole detector '
                        '(default: 800 1333)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from ghostdet.analysis import complexity_table
    with exit_on_user_error():
        for config in args.configs:
            if not osp.isfile(config):
                raise InputError(f'config file "{config}" does not exist')
        print(complexity_table(args.configs, detector_shape=tuple(args.shape)))


if __name__ == '__main__':
    main()
