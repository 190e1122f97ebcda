"""Convert a GhostNet ImageNet checkpoint (official, timm or MMPretrain) to
MMDetection form: ``python tools/convert_checkpoint.py SRC DST``."""
import argparse

from ghostdet.cli import exit_on_user_error


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('src', help='official state_dict_73.98.pth, timm or MMPretrain checkpoint')
    parser.add_argument('dst', help='output .pth with backbone.* keys')
    parser.add_argument('--widen-factor', type=float,
                        help='width (default: read from the tensor shapes)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing DST')
    args = parser.parse_args(argv)
    from ghostdet.checkpoint import convert_to_mmdet
    with exit_on_user_error():
        info = convert_to_mmdet(args.src, args.dst, widen_factor=args.widen_factor,
                                overwrite=args.overwrite)
    dropped = info['dropped']
    print(f"wrote {args.dst}: GhostNet {info['widen_factor']}x, {info['num_tensors']} backbone "
          f"tensors, dropped {len(dropped)} ({', '.join(dropped[:4])}"
          f"{', ...' if len(dropped) > 4 else ''})")


if __name__ == '__main__':
    main()
