"""Nothing lost on a fault: checkpoints survive a kill or a full disk, bad
images are skipped and named, a non-finite loss stops the run, and every
checkpoint path refuses a malicious pickle."""
import errno
import glob
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap
import urllib.error

import pytest
import torch
from mmengine.fileio.backends import local_backend

from conftest import (REPO, as_cli, call_tool, coco_config_on_small_data, make_small_dataset,
                      run_tool, small_run_options)
from ghostdet.engine import is_complete_checkpoint
from ghostdet.errors import CheckpointError, TrainingError
from ghostdet.runner import train

CONFIG = 'configs/retinanet_ghostnet_small.py'


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_small_dataset(tmp_path_factory.mktemp('data'), num_train=4, num_val=2, seed=6)


def opts(dataset, **extra):
    """2 epochs of 2 iterations; one epoch checkpoint kept; every iteration
    checkpointed, the last two kept."""
    options = small_run_options(dataset, max_epochs=2, batch_size=2, val_interval=10)
    options.update({'default_hooks.checkpoint.max_keep_ckpts': 1, 'custom_hooks.1.interval': 1})
    options.update(extra)
    return options


def checkpoint_files(work_dir):
    return sorted(osp.basename(p) for p in glob.glob(osp.join(work_dir, '*.pth')))


def test_checkpoints_are_kept_as_configured_and_never_partial(data, tmp_path, monkeypatch):
    writes, events = [], []
    put, replace, remove = local_backend.LocalBackend.put, os.replace, os.remove
    monkeypatch.setattr(local_backend.LocalBackend, 'put',
                        lambda self, obj, path: (writes.append(str(path)), put(self, obj, path)))
    monkeypatch.setattr(os, 'replace',
                        lambda a, b: (events.append(('in place', osp.basename(b))), replace(a, b)))
    monkeypatch.setattr(os, 'remove',
                        lambda p: (events.append(('removed', osp.basename(p))), remove(p)))
    train(CONFIG, work_dir=str(tmp_path), cfg_options=opts(data))
    assert checkpoint_files(tmp_path) == ['epoch_2.pth', 'iter_3.pth', 'iter_4.pth']
    assert (tmp_path / 'last_checkpoint').read_text().endswith('epoch_2.pth')
    assert not glob.glob(str(tmp_path / '.*.tmp'))
    # Checkpoints were only ever written under temporary names...
    assert [w for w in writes if w.endswith('.pth')] == []
    # ...and an old one was removed only once its successor was in place.
    assert events.index(('removed', 'epoch_1.pth')) > events.index(('in place', 'epoch_2.pth'))
    assert events.index(('removed', 'iter_1.pth')) > events.index(('in place', 'iter_3.pth'))
    # Files written through a temporary file get the mode a plain open() gives.
    (tmp_path / 'plain').write_text('')
    mode = lambda name: os.stat(tmp_path / name).st_mode & 0o777  # noqa: E731
    assert mode('last_checkpoint') == mode('epoch_2.pth') == mode('plain')


def test_best_checkpoint_is_replaced_only_once_the_new_one_is_in_place(data, tmp_path,
                                                                      monkeypatch):
    from ghostdet.engine import SafeCheckpointHook
    from ghostdet.runner import build_runner, load_config
    cfg = load_config(CONFIG, cfg_options=opts(data), work_dir=str(tmp_path))
    runner = build_runner(cfg)
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    hook = SafeCheckpointHook(interval=1, save_best='coco/bbox_mAP', rule='greater',
                              save_optimizer=False, save_param_scheduler=False)
    hook.before_train(runner)
    events = []
    replace, remove = os.replace, os.remove
    monkeypatch.setattr(os, 'replace',
                        lambda a, b: (events.append(('in place', osp.basename(b))), replace(a, b)))
    monkeypatch.setattr(os, 'remove',
                        lambda p: (events.append(('removed', osp.basename(p))), remove(p)))
    for epoch, score in enumerate((0.1, 0.3, 0.2)):  # as the training loop calls the hook
        runner.train_loop._epoch = epoch
        hook.after_train_epoch(runner)
        runner.train_loop._epoch = epoch + 1
        hook.after_val_epoch(runner, {'coco/bbox_mAP': score})
    best = [e for e in events if 'best' in e[1]]
    assert best == [('in place', 'best_coco_bbox_mAP_epoch_1.pth'),
                    ('in place', 'best_coco_bbox_mAP_epoch_2.pth'),
                    ('removed', 'best_coco_bbox_mAP_epoch_1.pth')]
    assert glob.glob(str(tmp_path / 'best_*.pth')) == [
        str(tmp_path / 'best_coco_bbox_mAP_epoch_2.pth')]
    assert hook.best_ckpt_path == str(tmp_path / 'best_coco_bbox_mAP_epoch_2.pth')
    # Each improvement re-saves the epoch checkpoint (for the best score), never in place.
    assert events.count(('in place', 'epoch_2.pth')) == 2
    assert not glob.glob(str(tmp_path / '.*.tmp'))


DRIVER = textwrap.dedent('''
    """Train, and die by SIGKILL half-way through writing checkpoint number KILL_AT."""
    import os, runpy, signal, sys
    from mmengine.fileio.backends import local_backend
    put, count = local_backend.LocalBackend.put, [0]

    def put_then_die(self, obj, path):
        if str(path).endswith('.tmp'):
            count[0] += 1
            if count[0] == int(os.environ['KILL_AT']):
                with open(path, 'wb') as f:
                    f.write(obj[:len(obj) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
        return put(self, obj, path)

    local_backend.LocalBackend.put = put_then_die
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name='__main__')
''')


def test_a_kill_while_writing_leaves_the_previous_checkpoint(data, tmp_path):
    driver = tmp_path / 'driver.py'
    driver.write_text(DRIVER)
    work_dir = tmp_path / 'work'
    command = [sys.executable, str(driver), 'tools/train.py', CONFIG, '--work-dir', str(work_dir),
               '--cfg-options', *as_cli(opts(data))]
    # Saves: iter_1, iter_2, epoch_1, iter_3 (killed).
    result = subprocess.run(command, cwd=REPO, env=dict(os.environ, KILL_AT='4'),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == -9, result.stderr[-2000:]
    assert checkpoint_files(work_dir) == ['epoch_1.pth', 'iter_1.pth', 'iter_2.pth']
    assert all(is_complete_checkpoint(str(work_dir / name)) for name in checkpoint_files(work_dir))
    assert (work_dir / 'last_checkpoint').read_text().endswith('epoch_1.pth')
    # The stock CheckpointHook would have deleted iter_1 first and left a partial
    # iter_3.pth; here the partial file only has a temporary name.
    assert len(glob.glob(str(work_dir / '.iter_3.pth.*.tmp'))) == 1
    result = call_tool(['tools/train.py', CONFIG, '--work-dir', str(work_dir), '--resume',
                        '--cfg-options', *as_cli(opts(data))])
    assert result.returncode == 0, result.stderr[-2000:]
    assert checkpoint_files(work_dir) == ['epoch_2.pth', 'iter_3.pth', 'iter_4.pth']
    assert not glob.glob(str(work_dir / '.*.tmp'))  # the partial file is cleaned up


def test_a_full_disk_stops_with_one_line_and_keeps_the_previous_checkpoint(data, tmp_path,
                                                                          monkeypatch):
    put, count = local_backend.LocalBackend.put, [0]

    def put_until_full(self, obj, path):
        count[0] += 1
        if count[0] == 3:  # epoch_1, after iter_1 and iter_2
            with open(path, 'wb') as f:
                f.write(obj[:100])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return put(self, obj, path)

    monkeypatch.setattr(local_backend.LocalBackend, 'put', put_until_full)
    with pytest.raises(TrainingError) as error:
        train(CONFIG, work_dir=str(tmp_path), cfg_options=opts(data))
    message = str(error.value)
    assert len(message.splitlines()) == 1
    assert f"cannot write checkpoint {tmp_path / 'epoch_1.pth'}: No space left on device" in message
    assert f"the last good checkpoint is {tmp_path / 'iter_2.pth'}" in message
    assert checkpoint_files(tmp_path) == ['iter_1.pth', 'iter_2.pth']
    assert (tmp_path / 'last_checkpoint').read_text().endswith('iter_2.pth')
    assert not glob.glob(str(tmp_path / '.*.tmp'))


def test_a_non_finite_loss_stops_training_before_any_checkpoint_of_it(data, tmp_path):
    work_dir = tmp_path / 'work'
    train(CONFIG, work_dir=str(work_dir), cfg_options=opts(data, **{'train_cfg.max_epochs': 1}))
    # Go on from epoch 1 with a loss weight that overflows float32.
    options = opts(data, **{'model.bbox_head.loss_bbox.loss_weight': 1e39})
    result = call_tool(['tools/train.py', CONFIG, '--work-dir', str(work_dir), '--resume',
                        '--cfg-options', *as_cli(options)])
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    line = [ln for ln in result.stderr.splitlines() if ln.startswith('error: ')][0]
    assert 'non-finite loss at iteration 3 (epoch 2)' in line
    assert 'loss_bbox=inf' in line and 'loss_cls=' in line
    assert f"the last good checkpoint is {work_dir / 'epoch_1.pth'}" in line
    assert checkpoint_files(work_dir) == ['epoch_1.pth', 'iter_1.pth', 'iter_2.pth']


def damage(path, kind):
    data = open(path, 'rb').read()
    if kind == 'truncated':
        open(path, 'wb').write(data[:len(data) // 3])
    elif kind == 'empty':
        open(path, 'wb').write(b'')
    elif kind == 'undecodable':
        open(path, 'wb').write(b'not an image at all' * 10)
    elif kind == 'missing':
        os.remove(path)


KINDS = ('truncated', 'empty', 'undecodable', 'missing')


@pytest.fixture
def damaged(tmp_path):
    """8 training images, 4 of them damaged (one of each kind)."""
    dataset = make_small_dataset(tmp_path / 'data', num_train=8, num_val=2, seed=7)
    images = sorted(glob.glob(osp.join(dataset['train_img_dir'], '*.jpg')))
    for path, kind in zip(images[1::2], KINDS):
        damage(path, kind)
    return dataset, dict(zip(KINDS, images[1::2]))


def test_bad_training_images_are_skipped_named_and_counted(damaged, tmp_path):
    dataset, bad = damaged
    # 4 of 8 images are bad, but fewer than min_bad_images=10: training goes on.
    options = small_run_options(dataset, max_epochs=1, batch_size=4, val_interval=10)
    result = call_tool(['tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'w'),
                        '--cfg-options', *as_cli(options)])
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    for path in bad.values():
        assert log.count(f'skipped a bad training image: {path}') == 1
    # The epoch draws every index once: 8 good samples made, 4 bad images met.
    assert log.count('Epoch 1: skipped 4 bad images (4 of 12 samples so far)') == 1


def test_a_dataset_of_mostly_missing_images_stops_early(tmp_path):
    """A wrong image folder: 22 of 24 training images are not where the
    annotations say."""
    dataset = make_small_dataset(tmp_path / 'data', num_train=24, num_val=2, seed=5)
    images = sorted(glob.glob(osp.join(dataset['train_img_dir'], '*.jpg')))
    for path in images[2:]:
        os.remove(path)
    options = small_run_options(dataset, max_epochs=2, batch_size=2, val_interval=10)
    result = call_tool(['tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'w'),
                        '--cfg-options', *as_cli(options)])
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    line = [ln for ln in result.stderr.splitlines() if ln.startswith('error: ')][0]
    assert "are the dataset's data_root and data_prefix right?" in line
    assert 'tools/check_dataset.py' in line and any(path in line for path in images[2:])
    assert 'train_cfg.min_bad_images=N' in line  # how to allow it, if it is meant
    assert not osp.exists(tmp_path / 'w' / 'epoch_1.pth')  # stopped in the first epoch


def simulate_bad_images(size, bad, *, epochs, batch_size, rng, min_count=10,
                        max_fraction=0.01):
    """Run the stop rule over shuffled epochs of a dataset of ``size``
    samples whose indices in ``bad`` are bad images, each replaced by the next
    good one as ``SampleGuard`` does. Returns (epoch, batch) of the stop or
    None."""
    from ghostdet.engine.loop import too_many_bad_images
    met, seen = [], 0
    for epoch in range(epochs):
        order = rng.permutation(size)
        for batch in range(0, size, batch_size):
            for index in order[batch:batch + batch_size]:
                while index in bad:
                    met.append(f'img{index}.jpg')
                    seen += 1
                    index = (index + 1) % size
                seen += 1
            if too_many_bad_images(met, samples_seen=seen, dataset_size=size,
                                   max_fraction=max_fraction, min_count=min_count):
                return epoch, batch // batch_size
    return None


def test_a_handful_of_bad_images_never_stops_a_small_dataset():
    import numpy as np
    rng = np.random.default_rng(0)
    # One truncated JPEG among 56 images, met early in the first epoch.
    for _ in range(50):
        assert simulate_bad_images(56, {int(rng.integers(56))}, epochs=12, batch_size=4,
                                   rng=rng) is None
    # 2 bad images among 500 (0.4%, under the 1% limit), in any order.
    for _ in range(50):
        bad = set(rng.choice(500, 2, replace=False).tolist())
        assert simulate_bad_images(500, bad, epochs=3, batch_size=4, rng=rng) is None
    # 9 bad images among 100 (9%): fewer than min_bad_images, kept going.
    assert simulate_bad_images(100, set(range(0, 90, 10)), epochs=3, batch_size=4,
                               rng=rng) is None


def test_a_share_over_the_limit_stops_once_enough_bad_images_are_met():
    import numpy as np
    rng = np.random.default_rng(1)
    # 20 bad among 1,000 (2% > 1%): stops once 11 distinct ones are met.
    stop = simulate_bad_images(1000, set(range(0, 1000, 50)), epochs=2, batch_size=4, rng=rng)
    assert stop is not None and stop[0] == 0
    # Mostly missing images stop within the first batches.
    stop = simulate_bad_images(1000, set(range(1000)) - set(range(0, 1000, 10)), epochs=1,
                               batch_size=4, rng=rng)
    assert stop == (0, 0)
    from ghostdet.engine.loop import too_many_bad_images
    message = too_many_bad_images([f'{i}.jpg' for i in range(11)], samples_seen=500,
                                  dataset_size=1000, max_fraction=0.01, min_count=10)
    assert message.startswith('11 of the 1000 training images are bad (more than '
                              'max_bad_image_fraction=0.01 of them)')


def test_a_bad_image_in_testing_is_an_error_naming_it(damaged, tmp_path):
    dataset, bad = damaged
    # Testing needs weights, not good ones: the detector as the config builds it.
    from mmdet.registry import MODELS
    from mmengine.runner import save_checkpoint

    from ghostdet.config import load_config
    model = MODELS.build(load_config(CONFIG).model)
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}}, str(tmp_path / 'built.pth'))
    options = small_run_options(dataset, max_epochs=1, evaluate_on='train')
    options['test_dataloader.num_workers'] = 1
    result = call_tool(['tools/test.py', CONFIG, str(tmp_path / 'built.pth'),
                        '--work-dir', str(tmp_path), '--cfg-options', *as_cli(options)])
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    line = [ln for ln in result.stderr.splitlines() if ln.startswith('error: ')][0]
    assert any(line == f'error: {path}: ' + reason for path in bad.values()
               for reason in ('the JPEG is truncated (no end-of-image marker)',
                              'the file is empty'))


def test_check_dataset_lists_every_bad_image(damaged):
    dataset, bad = damaged
    options = as_cli(small_run_options(dataset, max_epochs=1))
    result = run_tool(['tools/check_dataset.py', CONFIG, '--workers', '2', '--cfg-options',
                       *options])
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert '4 of 10 images are bad' in result.stderr
    for kind, path in bad.items():
        assert f'{path}: ' in result.stderr, kind
    assert 'the JPEG is truncated' in result.stderr and 'the file is empty' in result.stderr
    assert 'cannot be decoded' in result.stderr and 'cannot be read' in result.stderr
    shutil.rmtree(dataset['out_dir'])
    good = make_small_dataset(dataset['out_dir'], num_train=3, num_val=1, seed=8)
    result = call_tool(['tools/check_dataset.py', CONFIG, '--workers', '1', '--cfg-options',
                        *as_cli(small_run_options(good, max_epochs=1))])
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'ok: 2 annotation files, 4 images decoded' in result.stdout


class CreatesAFile:
    """Unpickling it runs ``open(path, 'w')``: what a malicious checkpoint does."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (self.path, 'w')


@pytest.fixture
def malicious(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'malicious.pth'
    from ghostdet.models import GhostNet
    state = {f'backbone.{k}': v for k, v in GhostNet(1.1).state_dict().items()}
    torch.save({'state_dict': state, 'meta': {'epoch': 1, 'iter': 1}, 'payload':
                CreatesAFile(str(marker))}, path)
    return path, marker


@pytest.mark.parametrize('path_kind', ['resume', 'load_from', 'init_cfg', 'test', 'convert',
                                       'infer', 'deploy'])
def test_every_checkpoint_path_refuses_a_malicious_pickle(path_kind, malicious, data, tmp_path):
    path, marker = malicious
    options = as_cli(small_run_options(data, max_epochs=1))
    work = ['--work-dir', str(tmp_path / 'w')]
    commands = {
        'resume': ['tools/train.py', CONFIG, *work, '--resume', str(path), '--cfg-options',
                   *options],
        'load_from': ['tools/train.py', CONFIG, *work, '--cfg-options', *options,
                      f'load_from={path}'],
        'init_cfg': ['tools/train.py', 'configs/retinanet_ghostnet.py', *work, '--cfg-options',
                     *as_cli(coco_config_on_small_data(data)),
                     f'model.backbone.init_cfg.checkpoint={path}'],
        'test': ['tools/test.py', CONFIG, str(path), *work, '--cfg-options', *options],
        'convert': ['tools/convert_checkpoint.py', str(path), str(tmp_path / 'out.pth')],
        'infer': ['tools/infer.py', CONFIG, str(path), data['val_img_dir'], '--out-dir',
                  str(tmp_path / 'out')],
        'deploy': ['tools/deploy.py', CONFIG, str(path), '--out', str(tmp_path / 'onnx')],
    }
    result = call_tool(commands[path_kind])
    assert result.returncode == 1, result.stderr[-2000:]
    assert 'Traceback' not in result.stderr
    assert f'error: {path} was refused: it holds pickled objects other than tensors' in \
        result.stderr
    assert 'GLOBAL io.open' in result.stderr  # what the payload calls
    assert not marker.exists()


def test_a_malicious_checkpoint_behind_a_url_is_refused(malicious, monkeypatch, tmp_path):
    import torch.hub
    from ghostdet.checkpoint import load_checkpoints_weights_only
    from ghostdet.models import GhostNet
    path, marker = malicious

    def serve(url, dst, *args, **kwargs):
        shutil.copy(path, dst)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', serve)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'hub'))
    url = 'https://example.org/weights/malicious_ghostnet.pth'
    model = GhostNet(1.1, init_cfg=dict(type='Pretrained', checkpoint=url, prefix='backbone.'))
    with pytest.raises(CheckpointError, match=f'{url} was refused'):
        model.init_weights()
    # MMEngine's own loaders (a config's load_from, --resume, another backbone's
    # Pretrained) take the same path once switched on, as ghostdet's tools do.
    load_checkpoints_weights_only()
    import mmengine.runner.checkpoint as mmengine_checkpoint
    with pytest.raises(CheckpointError, match='GLOBAL io.open'):
        mmengine_checkpoint.CheckpointLoader.load_checkpoint(url)
    monkeypatch.setattr(mmengine_checkpoint, 'get_torchvision_models', lambda: {'evil': url})
    with pytest.raises(CheckpointError, match='GLOBAL io.open'):
        mmengine_checkpoint.CheckpointLoader.load_checkpoint('torchvision://evil')
    assert not marker.exists()


def test_mmengine_loads_every_checkpoint_through_its_scheme_table():
    """Fails if MMEngine stops routing local files, URLs and named schemes
    through ``CheckpointLoader``'s table, where ghostdet registers its
    weights-only loaders."""
    import inspect

    import mmengine.runner.checkpoint as mmengine_checkpoint
    from ghostdet.checkpoint import load_checkpoints_weights_only
    from ghostdet.checkpoint.safety import (load_from_local_weights_only,
                                            load_from_named_weights_only,
                                            load_from_url_weights_only)
    assert 'CheckpointLoader.load_checkpoint(' in inspect.getsource(
        mmengine_checkpoint._load_checkpoint)
    load_checkpoints_weights_only()
    loader = mmengine_checkpoint.CheckpointLoader._get_checkpoint_loader
    assert loader('/any/file.pth') is load_from_local_weights_only
    assert loader('https://example.org/a.pth') is load_from_url_weights_only
    for name in ('torchvision://resnet50', 'open-mmlab://mmdet/mobilenet_v2',
                 'mmcls://mobilenet_v2'):
        assert loader(name) is load_from_named_weights_only, name
    # An unreachable URL is named, not a bare URLError.
    with pytest.raises(CheckpointError, match='could not be read or downloaded'):
        with_offline_download(lambda: mmengine_checkpoint.CheckpointLoader.load_checkpoint(
            'https://example.org/never/downloaded.pth'))


def with_offline_download(call):
    import torch.hub
    original = torch.hub.download_url_to_file

    def offline(*args, **kwargs):
        raise urllib.error.URLError('offline')

    torch.hub.download_url_to_file = offline
    try:
        return call()
    finally:
        torch.hub.download_url_to_file = original
