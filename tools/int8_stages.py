"""Which stages of a detector gain from INT8 on this CPU:
``python tools/int8_stages.py MODEL [--size 800x1333] [--threads 2] [--runs 8]``.

Exports the benchmark's detector MODEL (random weights), quantises no stage,
each stage and sets of stages, and prints the median latency of each in ONNX
Runtime and OpenVINO; ``tools/deploy.py --int8-stages`` takes the choice. The
work is done by :func:`ghostdet.benchmark.int8_stages.time_int8_stages`.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('model', help='a detector of tools/benchmark.py, e.g. retinanet_ghostnet')
    parser.add_argument('--size', default='800x1333')
    parser.add_argument('--runtimes', nargs='+', default=['onnxruntime', 'openvino'])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--runs', type=int, default=8)
    parser.add_argument('--out', default='work_dirs/int8_stages', help='where ONNX files go')
    args = parser.parse_args(argv)
    from ghostdet.benchmark.int8_stages import time_int8_stages
    from ghostdet.cli import exit_on_user_error
    with exit_on_user_error():
        result = time_int8_stages(args.model, size=args.size, runtimes=args.runtimes,
                                  threads=args.threads, runs=args.runs, work_dir=args.out,
                                  log=lambda line: print(line, file=sys.stderr, flush=True))
    for runtime, times in result.items():
        fp32 = times['fp32']
        print(f'{runtime} ({args.model}, {args.size}, {args.threads} threads, median of '
              f'{args.runs}):')
        for name, ms in times.items():
            print(f'  {name:<20} {ms:8.1f} ms  x{fp32 / ms:.2f} over fp32')


if __name__ == '__main__':
    main()
