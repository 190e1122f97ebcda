"""Export a trained detector to ONNX Runtime:
``python tools/deploy.py CONFIG CHECKPOINT --out DIR [--int8]``.

Writes ``DIR/model.onnx`` (the whole detector with its post-processing,
GhostNet in its deploy form), ``DIR/deploy.json`` (what a runtime needs:
resize policy, mean/std, classes, the test settings baked in) and with
``--int8`` ``DIR/model_int8.onnx``, statically quantised on training images
in the stages ``--int8-stages`` names (default: neck and head; written into
``deploy.json``). Evaluate either with ``python tools/test.py CONFIG
DIR/model.onnx [--runtime openvino] [--precision bf16]``. The work
is done by :func:`ghostdet.deploy.export_detector`.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    from ghostdet.cli import add_cfg_options_argument
    parser = argparse.ArgumentParser(description='Export a RetinaNet or Faster R-CNN to ONNX '
                                     '(ONNX Runtime), optionally INT8')
    parser.add_argument('config', help='detector config file')
    parser.add_argument('checkpoint', help='trained checkpoint of that config')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--int8', action='store_true',
                        help='also write model_int8.onnx (static QDQ quantisation, per-channel '
                        'weights)')
    parser.add_argument('--int8-stages', nargs='+', metavar='STAGE',
                        help='detector stages to quantise with --int8, of backbone, neck, head '
                        '(default: neck head; GhostNet\'s depthwise and small 1x1 convolutions '
                        'gain nothing from INT8 on x86 CPUs: tools/int8_stages.py measures it)')
    parser.add_argument('--calibration-images', help='folder of INT8 calibration images '
                        "(default: the config's training images)")
    parser.add_argument('--num-calibration', type=int, default=32,
                        help='calibration images (default: 32)')
    add_cfg_options_argument(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from ghostdet.cli import exit_on_user_error
    from ghostdet.deploy import export_detector
    with exit_on_user_error():
        result = export_detector(args.config, args.checkpoint, out_dir=args.out,
                                 cfg_options=args.cfg_options, int8=args.int8,
                                 calibration_images=args.calibration_images,
                                 num_calibration=args.num_calibration,
                                 int8_stages=args.int8_stages)
    meta = result['metadata']
    print(f"{meta['detector']} ({meta['backbone']}, {len(meta['classes'])} classes) exported:")
    for key in ('onnx', 'onnx_int8', 'json'):
        if key in result:
            print(f'  {result[key]} ({osp.getsize(result[key]) / 2**20:.1f} MiB)')
    if 'onnx_int8' in result:
        print(f"  INT8 stages: {', '.join(result['int8']['stages'])} (in deploy.json)")
    print(f"Evaluate: python tools/test.py {args.config} {result['onnx']} "
          '[--runtime openvino] [--precision bf16]')



if __name__ == '__main__':
    main()
