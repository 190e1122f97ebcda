"""The configs run under MMDetection's own tools and under torchrun (DDP)."""
import glob
import os
import os.path as osp
import sys

import mmdet
import pytest

from conftest import REPO, call_tool, run_tool
from ghostdet.synthetic import make_coco_dataset

MMDET_TOOLS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools')


@pytest.fixture(scope='module')
def tiny_options(tmp_path_factory):
    """One epoch of 4 images at 160 px (one iteration of each of two DDP
    ranks), evaluated on 2."""
    dataset = make_coco_dataset(tmp_path_factory.mktemp('tiny'), num_train=4, num_val=2,
                                seed=2, min_size=128, max_size=160, max_objects=3)
    root = osp.join(dataset['out_dir'], '')
    options = ['train_cfg.max_epochs=1', 'train_dataloader.batch_size=2',
               'param_scheduler.0.end=1', 'default_hooks.logger.interval=1',
               'model.test_cfg.score_thr=0.0',
               'train_dataloader.dataset.pipeline.2.scale=(160,160)',  # Resize
               'val_dataloader.dataset.pipeline.1.scale=(160,160)',
               'test_dataloader.dataset.pipeline.1.scale=(160,160)',
               f"val_evaluator.ann_file={dataset['val_ann_file']}",
               f"test_evaluator.ann_file={dataset['val_ann_file']}"]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={root}', f'{loader}.num_workers=0',
                    f'{loader}.persistent_workers=False']
    return options


def test_stock_mmdet_tools_run_the_configs(tiny_options, tmp_path):
    config = 'configs/retinanet_ghostnet_small.py'
    result = run_tool([osp.join(MMDET_TOOLS, 'train.py'), config, '--work-dir', str(tmp_path),
                       '--cfg-options', *tiny_options])
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = tmp_path / 'epoch_1.pth'
    assert checkpoint.is_file()
    result = run_tool([osp.join(MMDET_TOOLS, 'test.py'), config, str(checkpoint),
                       '--work-dir', str(tmp_path), '--cfg-options', *tiny_options])
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'coco/bbox_mAP' in result.stdout + result.stderr


def test_dist_train_runs_ddp_with_two_processes(tiny_options, tmp_path):
    import subprocess
    env = dict(os.environ, PYTHON=sys.executable, PORT='29517', OMP_NUM_THREADS='1')
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', 'configs/retinanet_ghostnet_small.py', '2',
         '--work-dir', str(tmp_path), '--cfg-options', *tiny_options],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert 'Distributed launcher: pytorch' in output
    assert 'GPU number: 2' in output  # MMEngine's name for the world size
    assert "backend': 'gloo'" in output or 'backend=gloo' in output or "'gloo'" in output
    assert (tmp_path / 'epoch_1.pth').is_file()
    assert glob.glob(str(tmp_path / '*' / 'vis_data' / 'scalars.json'))


def test_a_distributed_run_frees_its_process_group(tiny_options, tmp_path, monkeypatch):
    # A finished runner's DDP wrapper and gloo group, left to interpreter
    # shutdown, can abort a run that succeeded (SIGABRT, pytorch/pytorch#190489):
    # the tools free both before they return. One rank in this process, as
    # torchrun would start it; no garbage collection runs meanwhile, as if none
    # happened to run before shutdown.
    import gc
    import warnings

    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    for name, value in dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0', MASTER_ADDR='127.0.0.1',
                            MASTER_PORT='29518', OMP_NUM_THREADS='1',
                            MKL_NUM_THREADS='1').items():
        monkeypatch.setenv(name, value)

    def wrappers():
        with warnings.catch_warnings():  # isinstance on torch's deprecated aliases warns
            warnings.simplefilter('ignore', FutureWarning)
            return sum(isinstance(o, DistributedDataParallel) for o in gc.get_objects())

    config = 'configs/retinanet_ghostnet_small.py'
    common = ['--launcher', 'pytorch', '--work-dir', str(tmp_path), '--cfg-options',
              *tiny_options]
    gc.disable()
    try:
        result = call_tool(['tools/train.py', config, *common])
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        assert not dist.is_initialized() and wrappers() == 0
        result = call_tool(['tools/test.py', config, str(tmp_path / 'epoch_1.pth'), *common])
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        assert not dist.is_initialized() and wrappers() == 0
    finally:
        gc.enable()
        if dist.is_initialized():  # the tool failed to: leave the next tests a clean process
            dist.destroy_process_group()
