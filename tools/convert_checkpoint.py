"""Convert a GhostNet ImageNet checkpoint (official, timm or MMPretrain) to
MMDetection form: ``python tools/convert_checkpoint.py SRC DST``."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('src', help='official state_dict_73.98.pth, timm or MMPretrain checkpoint')
    parser.add_argument('dst', help='output .pth with backbone.* keys')
    parser.add_argument('--widen-factor', type=float, help='width (default: inferred)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing DST')
    args = parser.parse_args(argv)
    from ghostdet.checkpoint_convert import convert_to_mmdet
    from ghostdet.models.pretrained import PretrainedMismatchError
    try:
        info = convert_to_mmdet(args.src, args.dst, args.widen_factor, args.overwrite)
    except (PretrainedMismatchError, FileExistsError, FileNotFoundError, ValueError) as error:
        sys.exit(f'error: {error}')
    print(f"wrote {args.dst}: GhostNet {info['widen_factor']}x, {info['num_tensors']} backbone "
          f"tensors, dropped {len(info['dropped'])} ({', '.join(info['dropped'][:4])}"
          f"{', ...' if len(info['dropped']) > 4 else ''})")


if __name__ == '__main__':
    main()
