"""Detect objects in images: ``python tools/infer.py CONFIG CHECKPOINT INPUT --out-dir DIR``.

INPUT is an image or a folder of images. Writes DIR/vis/ (pictures with the
boxes scoring at least --score-thr) and DIR/preds/ (JSON per image). CHECKPOINT
may be a ``model.onnx`` from ``tools/deploy.py``, run with ``--runtime
onnxruntime`` (default) or ``openvino`` and ``--precision fp32`` (default) or
``bf16``. The work is done by MMDetection's ``DetInferencer`` through
:func:`ghostdet.inference.infer`.
"""
import argparse

from ghostdet.cli import add_onnx_runtime_arguments, exit_on_user_error


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='config file of the detector')
    parser.add_argument('checkpoint', help='its checkpoint, or a model.onnx from tools/deploy.py')
    parser.add_argument('input', help='an image or a folder of images')
    parser.add_argument('--out-dir', required=True, help='where pictures and JSON results go')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='score threshold of the drawn boxes (default: 0.3)')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda:0', ...")
    parser.add_argument('--batch-size', type=int, default=1)
    add_onnx_runtime_arguments(parser)
    args = parser.parse_args(argv)
    from ghostdet.inference import infer
    with exit_on_user_error():
        predictions = infer(args.config, args.checkpoint, args.input, out_dir=args.out_dir,
                            score_thr=args.score_thr, device=args.device,
                            batch_size=args.batch_size, runtime=args.runtime,
                            precision=args.precision)
    print(f'{len(predictions)} images: pictures in {args.out_dir}/vis, '
          f'results in {args.out_dir}/preds')


if __name__ == '__main__':
    main()
