"""CPU latency benchmark: GhostNet 1.1x against its peers, in eager PyTorch,
the fused deploy form, ONNX Runtime fp32 and INT8, OpenVINO f32, bf16 (where
the CPU has it) and INT8 (and CUDA with a GPU):
``python tools/benchmark.py [--models ...] [--backends ...] [--sizes ...]
[--threads N] [--quick] [--out DIR]``.

Prints one table (latency median and p90, images/s at batch 8, peak memory,
MACs, ratios against GhostNet and ONNX Runtime fp32, the detectors' stages,
the CPU and its instruction-set flags) and writes it as CSV,
JSON and text with two plots into ``--out``. The work is done by
:func:`ghostdet.benchmark.run_benchmark`.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    from ghostdet.benchmark import BACKENDS, GROUPS, SPECS
    parser = argparse.ArgumentParser(description='CPU latency benchmark of GhostNet and its '
                                     'peers across backends')
    parser.add_argument('--models', nargs='+', default=['all'], metavar='NAME',
                        help=f"models or groups (default: all): {', '.join(GROUPS)}, "
                        f"{', '.join(spec.name for spec in SPECS)}")
    parser.add_argument('--backends', nargs='+', choices=BACKENDS,
                        help='default: all this machine has (cuda only with a GPU)')
    parser.add_argument('--sizes', nargs='+', metavar='SIZE',
                        help='input sizes, N or HxW (default: backbones 224 320 640 800x1333, '
                        'COCO detectors 800x1333, the demo detector 320 640)')
    parser.add_argument('--threads', type=int, help='threads for torch, ONNX Runtime and OpenVINO '
                        '(default: all cores)')
    parser.add_argument('--quick', action='store_true',
                        help='few runs at 128 px (a smoke test, not a measurement)')
    parser.add_argument('--runs', type=int, help='timed runs at batch 1 (default 30)')
    parser.add_argument('--profile', action='store_true',
                        help='instead of timing, print where the time goes per op type '
                        '(torch.profiler; ONNX Runtime profiling)')
    parser.add_argument('--out', default='work_dirs/benchmark', help='output directory')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from ghostdet.benchmark import format_table, run_benchmark, write_outputs
    from ghostdet.cli import exit_on_user_error
    if args.profile:
        return profile(args)
    with exit_on_user_error():
        result = run_benchmark(models=args.models, backends=args.backends, sizes=args.sizes,
                               threads=args.threads, quick=args.quick,
                               work_dir=osp.join(args.out, 'onnx'), runs=args.runs,
                               log=lambda line: print(line, file=sys.stderr, flush=True))
    files = write_outputs(result, args.out)
    print(format_table(result))
    print('\nwritten: ' + ', '.join(files.values()))


def profile(args):
    from ghostdet.benchmark import available_backends
    from ghostdet.benchmark.profile import format_profiles, profile_ops
    from ghostdet.cli import exit_on_user_error
    with exit_on_user_error():
        profiles = profile_ops(args.models, args.backends or available_backends(),
                               args.sizes or ['640'], threads=args.threads,
                               runs=args.runs or 5, work_dir=osp.join(args.out, 'onnx'))
    print(format_profiles(profiles))


if __name__ == '__main__':
    main()
