"""Write the synthetic shapes dataset: ``python tools/make_dataset.py [OUT_DIR] [options]``.

The work is done by :func:`ghostdet.synthetic.make_coco_dataset`.
"""
import argparse
import time

from ghostdet.cli import exit_on_user_error


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write a synthetic COCO-format shapes detection dataset')
    parser.add_argument('out_dir', nargs='?', default='data/small',
                        help='output directory (default: data/small)')
    parser.add_argument('--num-train', type=int, default=800, help='training images')
    parser.add_argument('--num-val', type=int, default=200, help='validation images')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--overwrite', action='store_true',
                        help='write into a non-empty directory not made by this tool')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from ghostdet.synthetic import make_coco_dataset
    start = time.perf_counter()
    with exit_on_user_error():
        info = make_coco_dataset(args.out_dir, num_train=args.num_train,
                                 num_val=args.num_val, seed=args.seed,
                                 overwrite=args.overwrite)
    print(f"wrote {info['num_train_images']} train images "
          f"({info['num_train_annotations']} boxes) and {info['num_val_images']} val "
          f"images ({info['num_val_annotations']} boxes) of {len(info['classes'])} "
          f"classes to {info['out_dir']} in {time.perf_counter() - start:.1f} s")


if __name__ == '__main__':
    main()
