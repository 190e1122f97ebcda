"""Multiply-adds and parameters of detectors, their backbones and ImageNet
trunks, as the GhostNet paper counts FLOPs, one row per config:
``python tools/get_flops.py CONFIG [CONFIG ...] [--shape H W]``.

Needs no dataset and no GPU: each model runs once on a random tensor on the
CPU. The work is done by :func:`ghostdet.analysis.complexity_table`.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


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
    for config in args.configs:
        if not osp.isfile(config):
            sys.exit(f'error: config file "{config}" does not exist')
    from ghostdet.analysis import complexity_table
    try:
        print(complexity_table(args.configs, detector_shape=tuple(args.shape)))
    except ValueError as error:
        sys.exit(f'error: {error}')


if __name__ == '__main__':
    main()
