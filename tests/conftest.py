import contextlib
import glob
import importlib.util
import io
import json
import os
import os.path as osp
import subprocess
import sys
import traceback

import pytest

# Under pytest-xdist (`make test` runs two workers) each worker gets its share of
# the cores, and so do the processes its tests start (launchers, kills), instead
# of every one of them spinning a thread per core on cores the others use.
_WORKERS = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
if _WORKERS > 1:
    os.environ.setdefault('OMP_NUM_THREADS', str(max(1, (os.cpu_count() or 1) // _WORKERS)))

    import torch  # after OMP_NUM_THREADS
    torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))
# Otherwise torch and ghostdet are imported where used: xdist's controlling process
# loads this file too, and importing them there cost 8 s before any worker started.

from filelock import FileLock  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'configs')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


# `make test` hands each file whole to one of two workers (--dist loadfile, in collection
# order: --no-loadscope-reorder). The longest files go first, so that no worker is still in
# a long one at the end while the other idles; test_end_to_end.py first of all, as it
# trains the detector test_mmdet_tools.py shares (`learned`), which then comes much later and
# does not wait for it. Order within a file is kept.
LONGEST_FIRST = (
    'test_end_to_end.py', 'test_benchmark.py', 'test_deploy_detectors.py',
    'test_reliability.py', 'test_launchers.py', 'test_resume.py', 'test_flops.py',
    'test_configs.py', 'test_coco_check.py', 'test_mmdet_tools.py', 'test_ghost_family_deploy.py',
    'test_user_dataset.py', 'test_coco_path.py', 'test_ghost_family.py', 'test_pretrained.py',
    'test_backbones.py', 'test_pretrain.py', 'test_plugin.py', 'test_runner_inputs.py',
    'test_deploy_fuse.py')


def pytest_collection_modifyitems(items):
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch):
    """Configs use paths relative to the repo root, as the README's commands do."""
    monkeypatch.chdir(REPO)


@pytest.fixture(scope='module')
def one_thread():
    """Small models run ~100x faster on one thread when the cores are busy."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_tool(args, timeout=600, cwd=REPO, env=None):
    """Run a script with this interpreter in a new process; return the
    CompletedProcess. For what needs a real process: one run per tool, kills,
    launchers, MMDetection's own tools."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def call_tool(args, cwd=REPO):
    """Run ``tools/<name>.py ARGS`` in this process, through the tool's own
    ``main(argv)``: what the command line does, without starting an
    interpreter and importing torch and MMDetection again. Returns a
    CompletedProcess as :func:`run_tool` does: exit status 1 and the message on
    stderr for ``sys.exit('error: ...')``; an uncaught exception's traceback on
    stderr, as the interpreter would print it."""
    import torch
    script, argv = args[0], [str(arg) for arg in args[1:]]
    name = osp.splitext(osp.basename(script))[0]
    spec = importlib.util.spec_from_file_location(f'tools_{name}', osp.join(REPO, script))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out, err, threads = io.StringIO(), io.StringIO(), torch.get_num_threads()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), contextlib.chdir(cwd):
        try:
            code = tool.main(argv) or 0
        except SystemExit as exit:
            code = 0 if exit.code is None else exit.code if isinstance(exit.code, int) else 1
            if isinstance(exit.code, str):
                print(exit.code, file=sys.stderr)
        except Exception:
            code = 1
            traceback.print_exc()
        finally:
            torch.set_num_threads(threads)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def randomize(model, seed):
    """Random weights and non-trivial BatchNorm statistics."""
    import torch
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.dtype.is_floating_point:
                values = torch.randn(tensor.shape, generator=generator) * 0.1
                if name.endswith('running_var'):
                    values = values.abs() + 0.5
                tensor.copy_(values)
    return model


def make_small_dataset(root, *, num_train, num_val, seed):
    """A generated shapes dataset of small images (128-160 px, 1-3 objects)."""
    from ghostdet.synthetic import make_coco_dataset
    return make_coco_dataset(root, num_train=num_train, num_val=num_val, seed=seed,
                             min_size=128, max_size=160, max_objects=3)


def small_run_options(dataset, *, max_epochs, batch_size=4, val_interval=1,
                      evaluate_on='val'):
    """``--cfg-options`` for a quick run of a ``*_small.py`` config on a
    :func:`make_small_dataset` dataset: 160 px inputs, no workers, every
    iteration logged unsmoothed, every checkpoint kept, every detection kept
    for evaluation. ``evaluate_on='train'`` validates and tests on the
    training images (for checks that need a model that found something)."""
    split = evaluate_on
    root = osp.join(dataset['out_dir'], '')
    options = {
        'train_cfg.max_epochs': max_epochs,
        'train_cfg.val_interval': val_interval,
        'train_dataloader.batch_size': batch_size,
        'default_hooks.logger.interval': 1,
        'log_processor.window_size': 1,
        'default_hooks.checkpoint.max_keep_ckpts': -1,
        'param_scheduler.0.end': 2,
        'model.test_cfg.score_thr': 0.0,
        'val_evaluator.ann_file': dataset[f'{split}_ann_file'],
        'test_evaluator.ann_file': dataset[f'{split}_ann_file'],
        'train_dataloader.dataset.pipeline.2.scale': (160, 160),  # Resize
    }
    for loader in LOADERS:
        options[f'{loader}.dataset.data_root'] = root
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
    for loader in LOADERS[1:]:
        options[f'{loader}.dataset.pipeline.1.scale'] = (160, 160)  # Resize
        options[f'{loader}.dataset.ann_file'] = f'annotations/instances_{split}.json'
        options[f'{loader}.dataset.data_prefix.img'] = f'{split}/'
    options['train_dataloader.dataset.ann_file'] = 'annotations/instances_train.json'
    options['train_dataloader.dataset.data_prefix.img'] = 'train/'
    return options


def export_run_options(dataset, *, two_stage=False):
    """``--cfg-options`` for exporting and evaluating a barely trained
    ``*_small.py`` detector: one training iteration (batch 4) without
    validation, a test loop over the dataset's val split that keeps every
    detection (such a model scores everything low, and many boxes make a
    better comparison)."""
    root = osp.join(dataset['out_dir'], '')
    options = {'train_cfg.max_epochs': 1, 'train_dataloader.batch_size': 4,
               'param_scheduler.0.end': 1, 'default_hooks.logger.interval': 1,
               'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None,
               'test_evaluator.ann_file': dataset['val_ann_file']}
    for loader in ('train_dataloader', 'test_dataloader'):
        options[f'{loader}.dataset.data_root'] = root
        options[f'{loader}.num_workers'] = 0
        options[f'{loader}.persistent_workers'] = False
    options['model.test_cfg.rcnn.score_thr' if two_stage else 'model.test_cfg.score_thr'] = 0.0
    return options


def coco_config_on_small_data(dataset, *, two_stage=False):
    """``--cfg-options`` that run a COCO config on the generated dataset:
    its six classes, 160 px images, one epoch of two iterations."""
    from ghostdet.synthetic import CLASSES
    options = small_run_options(dataset, max_epochs=1, batch_size=2, val_interval=2)
    if two_stage:
        options['model.test_cfg.rcnn.score_thr'] = options.pop('model.test_cfg.score_thr')
    head = 'model.roi_head.bbox_head' if two_stage else 'model.bbox_head'
    options.update({f'{head}.num_classes': len(CLASSES),
                    'default_hooks.checkpoint.interval': 1})
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options[f'{loader}.dataset.metainfo.classes'] = CLASSES
    return options


def as_cli(options):
    """The same options as ``--cfg-options`` arguments."""
    return [f'{key}={value}' for key, value in options.items()]


# A small detector that learned something, shared by the tests of what uses one.

CONFIG = 'configs/retinanet_ghostnet_small.py'
EPOCHS = 48  # 4 training images, batch 4: one iteration per epoch
HALF = EPOCHS // 2


def made_once(tmp_path_factory, name, make):
    """``make(folder)`` once per test run, even when pytest-xdist splits the
    run over workers: the first worker to ask makes it, under a lock, in the
    folder all workers' temporary folders share; the others read its JSON
    result."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'):
        root = root.parent
    result_file = root / f'{name}.json'
    with FileLock(str(root / f'{name}.lock')):
        if not result_file.is_file():
            result_file.write_text(json.dumps(make(str(root / name))))
        return json.loads(result_file.read_text())


@pytest.fixture(scope='session')
def dataset(tmp_path_factory):
    made = made_once(tmp_path_factory, 'small', lambda root: make_small_dataset(
        root, num_train=4, num_val=4, seed=1))
    return dict(made, classes=tuple(made['classes']))


def learning_options(dataset):
    """Overfit the 4 training images (and evaluate on them) with a constant
    learning rate after warm-up, checkpointing and validating at half time
    and at the end."""
    return dict(small_run_options(dataset, max_epochs=EPOCHS, val_interval=HALF,
                                  evaluate_on='train'),
                **{'optim_wrapper.optimizer.lr': 0.004,
                   'param_scheduler.1.eta_min_ratio': 1.0,
                   'default_hooks.checkpoint.interval': HALF})


def scalars(work_dir):
    """Records of the newest run's vis_data/scalars.json."""
    newest = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))[-1]
    with open(newest) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope='session')
def learned(dataset, tmp_path_factory):
    """The work dir of RetinaNet-GhostNet trained for 48 iterations on 4
    images."""
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ

    def train_it(work_dir):
        from ghostdet.runner import train
        train(CONFIG, work_dir=work_dir, cfg_options=learning_options(dataset))
        return work_dir
    return made_once(tmp_path_factory, 'retinanet', train_it)
