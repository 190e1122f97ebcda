"""Check a config's datasets before a long run: ``python tools/check_dataset.py CONFIG``.

The paths exist, every COCO annotation file is sound by MMDetection's rules (and
what MMDetection would skip is reported), and every image decodes whole: a
missing, empty, undecodable or truncated image is listed with its reason. Exits
with status 1 if anything is wrong. The work is done by
:func:`ghostdet.data_check.dataset.check_dataset_files`.
"""
import argparse
import os
import sys

from ghostdet.cli import add_cfg_options_argument, exit_on_user_error
from ghostdet.errors import DatasetError

_SHOW = 50


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='config file')
    parser.add_argument('--splits', nargs='+', default=['train', 'val', 'test'],
                        choices=['train', 'val', 'test'], help='dataloaders to check')
    parser.add_argument('--no-images', action='store_true', help='do not decode the images')
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                        help='processes decoding images (default: all cores)')
    add_cfg_options_argument(parser)
    args = parser.parse_args(argv)
    from ghostdet.data_check.dataset import check_dataset_files
    from ghostdet.runner import load_config

    def progress(done, total):
        print(f'\rdecoded {done}/{total} images', end='' if done < total else '\n', flush=True)

    with exit_on_user_error():
        cfg = load_config(args.config, cfg_options=args.cfg_options)
        report = check_dataset_files(
            cfg, dataloader_keys=[f'{split}_dataloader' for split in args.splits],
            decode_images=not args.no_images, workers=args.workers, progress=progress)
        for warning in report['warnings']:
            print(f'warning: {warning}')
        bad = report['bad_images']
        if bad:
            lines = [f'  {path}: {reason}' for path, reason in bad[:_SHOW]]
            more = f'\n  ... and {len(bad) - _SHOW} more' if len(bad) > _SHOW else ''
            raise DatasetError(f'{len(bad)} of {report["num_images"]} images are bad:\n'
                               + '\n'.join(lines) + more)
    print(f"ok: {len(report['annotation_files'])} annotation files, "
          f"{report['num_images']} images decoded")


if __name__ == '__main__':
    sys.exit(main())
