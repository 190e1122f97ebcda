"""`make demo`: train RetinaNet-GhostNet on the generated small dataset, evaluate
COCO bbox mAP on its held-out split and draw predictions (ghostdet.demo)."""
import argparse
import os.path as osp

from ghostdet.cli import exit_on_user_error

DEFAULT_CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs',
                          'retinanet_ghostnet_small.py')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', help="where to generate the dataset (default: the "
                        "config's data_root)")
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    from ghostdet.demo import run_demo
    with exit_on_user_error():
        result = run_demo(args.config, work_dir=args.work_dir, data_root=args.data_root,
                          seed=args.seed)
    print(f"\nDemo finished in {result['total_s'] / 60:.1f} min "
          f"(dataset {result['dataset_s']:.0f} s, training {result['train_s'] / 60:.1f} min, "
          f"evaluation {result['test_s']:.0f} s).")
    print(f"Predictions drawn on held-out images: {result['picture']} "
          f"({result['num_boxes_drawn']} boxes)")
    print(f"Checkpoint: {result['checkpoint']}")
    print(f"bbox_mAP: {result['bbox_mAP']:.3f}")
    print(f"bbox_mAP_50: {result['bbox_mAP_50']:.3f}")
    print(f"Held-out objects given two or more labels (score >= 0.3, IoU >= 0.5): "
          f"{result['num_multi_label']} of {result['num_objects']} "
          f"({result['multi_label_share']:.0%})")


if __name__ == '__main__':
    main()
