"""The benchmark's outputs: a text table, CSV, JSON and PNG plots."""
import csv
import json
import os
import os.path as osp

COLUMNS = [
    ('model', 'model'), ('backend', 'backend'), ('size', 'size'), ('GMACs', 'macs'),
    ('median ms', 'median_ms'), ('p90 ms', 'p90_ms'), ('img/s', 'images_per_s'),
    ('peak MiB', 'peak_mib'), ('x GhostNet', 'vs_ghostnet'), ('x eager', 'vs_eager'),
    ('x ORT', 'vs_ort'),
    ('pre', 'preprocess_ms'), ('backbone', 'backbone_ms'), ('neck+head', 'neck_head_ms'),
    ('post', 'postprocess_ms'),
]


def _cell(row, key):
    value = row.get(key)
    if value is None:
        return '-'
    if key == 'macs':
        return f'{value / 1e9:.2f}'
    if key in ('vs_ghostnet', 'vs_eager', 'vs_ort'):
        return f'{value:.2f}'
    if isinstance(value, float):
        return f'{value:.1f}' if value >= 10 else f'{value:.2f}'
    return str(value)


def format_table(result):
    """The rows as a text table, with the machine and the meaning of the
    columns under it."""
    rows = result['rows']
    header = [title for title, _ in COLUMNS]
    body = [[_cell(row, key) for _, key in COLUMNS] for row in rows if 'median_ms' in row]
    widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]
    lines = ['  '.join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
             for line in [header] + body]
    lines.insert(1, '  '.join('-' * width for width in widths))
    env = result['environment']
    batch = env['settings']['batch']
    flags = env.get('cpu_flags')
    flags = ('flags: ' + ' '.join(f"{name}{'' if has else ' no'}" for name, has in flags.items())
             if flags else 'flags unknown')
    lines += ['', f"{env['cpu']} ({flags}), {env['threads']} threads (torch, ONNX Runtime and "
              f"OpenVINO), torch {env['torch']}, onnxruntime {env['onnxruntime']}, openvino "
              f"{env.get('openvino')}; {env['settings']['runs']} "
              f"timed runs at batch 1 after {env['settings']['warmup']} warm-up; run took "
              f"{env['seconds'] / 60:.1f} min; load average {env['load_average'][0]} at the "
              f"start, {env['load_average'][1]} at the end.",
              f'img/s: at batch {batch}. peak MiB: resident memory added while running batch 1. '
              'x GhostNet: latency over the GhostNet 1.1x model of the same kind, backend and '
              'size (>1: slower than GhostNet). x eager, x ORT: speed-up over eager PyTorch, '
              'over ONNX Runtime fp32. pre/backbone/neck+head/post: median ms per stage '
              '(detectors; ONNX Runtime stage shares from its profiler, none for OpenVINO).']
    skipped = [row for row in rows if 'median_ms' not in row]
    lines += [f"not run: {row['model']} {row['backend']} {row['size']}: "
              f"{row.get('note', '')[len('not run: '):]}" for row in skipped]
    return '\n'.join(lines)


def write_outputs(result, out_dir):
    """Write ``benchmark.csv``, ``benchmark.json``, ``benchmark.txt`` and the
    plots into ``out_dir``.

    Returns:
        dict: name -> path of each file written.
    """
    os.makedirs(out_dir, exist_ok=True)
    files = dict(csv=osp.join(out_dir, 'benchmark.csv'), json=osp.join(out_dir, 'benchmark.json'),
                 table=osp.join(out_dir, 'benchmark.txt'))
    keys = sorted({key for row in result['rows'] for key in row})
    with open(files['csv'], 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(result['rows'])
    with open(files['json'], 'w') as f:
        json.dump(result, f, indent=1)
    with open(files['table'], 'w') as f:
        f.write(format_table(result) + '\n')
    files.update(plot_latency(result['rows'], out_dir))
    return files


def plot_latency(rows, out_dir):
    """Two figures, one panel per backend: latency against MACs for the
    backbones (one line per backbone through its sizes), and latency
    against input size for every model measured at two sizes or more."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter
    measured = [row for row in rows if 'median_ms' in row]
    backends = list(dict.fromkeys(row['backend'] for row in measured))
    files = {}
    figures = dict(
        latency_vs_macs=(lambda r: r['kind'] == 'backbone' and r.get('macs'),
                         lambda r: r['macs'] / 1e9, 'backbone GMACs'),
        latency_vs_size=(lambda r: True, lambda r: r['height'] * r['width'] / 1e6,
                         'input megapixels'))
    for name, (keep, x_of, x_label) in figures.items():
        series = {}
        for row in measured:
            if keep(row):
                series.setdefault((row['backend'], row['label']), []).append(
                    (x_of(row), row['median_ms']))
        series = {k: sorted(v) for k, v in series.items() if len(v) >= 2}
        if not series:
            continue
        fig, axes = plt.subplots(1, len(backends), figsize=(4.5 * len(backends), 4), squeeze=False)
        for ax, backend in zip(axes[0], backends):
            for (series_backend, label), points in sorted(series.items()):
                if series_backend == backend:
                    xs, ys = zip(*points)
                    ax.plot(xs, ys, marker='o', label=label)
            ax.set(title=backend, xlabel=x_label, ylabel='median latency, ms (batch 1)',
                   xscale='log', yscale='log')
            ax.grid(True, which='both', alpha=0.3)
            for axis in (ax.xaxis, ax.yaxis):  # plain numbers, no crowded minor labels
                axis.set_major_formatter(ScalarFormatter())
                axis.set_minor_formatter(NullFormatter())
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        files[name] = osp.join(out_dir, f'{name}.png')
        fig.savefig(files[name], dpi=110)
        plt.close(fig)
    return files
