"""What the annotation check adds to MMDetection's loading of an annotation file:
``python tools/time_data_check.py [ANN_FILE] [--repeats N]``.

Without ANN_FILE it writes one the size of COCO train2017 (118,287 images,
860,001 annotations, no image files) to a temporary folder and times that.
The work is done by :func:`ghostdet.data_check.timing.time_annotation_check`.
"""
import argparse
import os.path as osp
import tempfile

from ghostdet.cli import exit_on_user_error


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('ann_file', nargs='?', help='COCO annotation file (default: generate '
                        'one the size of COCO train2017)')
    parser.add_argument('--num-images', type=int, default=118287)
    parser.add_argument('--num-annotations', type=int, default=860001)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args(argv)
    from ghostdet.data_check.timing import time_annotation_check
    from ghostdet.synthetic import make_annotation_file
    with exit_on_user_error(), tempfile.TemporaryDirectory() as tmp:
        ann_file = args.ann_file
        if ann_file is None:
            ann_file = osp.join(tmp, 'instances_train_sized.json')
            print(f'writing {args.num_images} images and {args.num_annotations} annotations '
                  f'to {ann_file}', flush=True)
            make_annotation_file(ann_file, num_images=args.num_images,
                                 num_annotations=args.num_annotations)
        result = time_annotation_check(ann_file, repeats=args.repeats)
    print(f"MMDetection's CocoDataset load, no check: {result['mmdet_load_s']:.2f} s")
    print(f"with ghostdet's annotation check:         {result['checked_load_s']:.2f} s "
          f"(+{100 * result['overhead']:.1f}%)")
    print(f"the check alone, on the parsed file:      {result['check_s']:.2f} s "
          f"(medians of {args.repeats})")


if __name__ == '__main__':
    main()
