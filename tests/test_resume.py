"""Exact resume: a run killed mid-epoch and resumed with --resume ends as if it
had never stopped; --resume never starts silently from scratch."""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import REPO, as_cli, call_tool, make_small_dataset, small_run_options
from ghostdet.checkpoint import load_checkpoint_file
from ghostdet.engine import find_resumable_checkpoint
from ghostdet.errors import CheckpointError

CONFIG = 'configs/retinanet_ghostnet_small.py'
ITERS_PER_EPOCH = 4  # 8 images, batch 2
EPOCHS = 3


@pytest.fixture(scope='module')
def eight(tmp_path_factory):
    return make_small_dataset(tmp_path_factory.mktemp('eight'), num_train=8, num_val=2, seed=5)


def options(dataset):
    """3 epochs of 4 iterations, a checkpoint every 3 iterations and every
    epoch, one data worker, random flips: every source of randomness on."""
    opts = small_run_options(dataset, max_epochs=EPOCHS, batch_size=2, val_interval=10)
    opts.update({'custom_hooks.1.interval': 3, 'train_dataloader.num_workers': 1,
                 'train_dataloader.persistent_workers': True})
    return as_cli(opts)


def train_command(work_dir, dataset, *extra):
    return [sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work_dir), *extra,
            '--cfg-options', *options(dataset)]


ENV = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')


def scalars_of(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def losses(work_dir):
    """Per step, the logged loss of the runs in ``work_dir``."""
    return {record['step']: record['loss']
            for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
            for record in scalars_of(path) if 'loss' in record}


def last_checkpoint_is(work_dir, name):
    try:
        return (work_dir / 'last_checkpoint').read_text().endswith(name)
    except FileNotFoundError:
        return False


def final_weights(work_dir):
    return load_checkpoint_file(osp.join(work_dir, f'epoch_{EPOCHS}.pth'))['state_dict']


@pytest.fixture(scope='module')
def uninterrupted(eight, tmp_path_factory, one_thread):
    """The reference run, in this process (one thread, as the killed run's
    processes have): the command line's train_command, through the tool's
    main."""
    work_dir = tmp_path_factory.mktemp('uninterrupted')
    result = call_tool(train_command(work_dir, eight)[1:])
    assert result.returncode == 0, result.stderr[-3000:]
    return work_dir


def test_killed_mid_epoch_and_resumed_ends_as_if_never_stopped(eight, uninterrupted, tmp_path,
                                                               one_thread):
    work_dir = tmp_path / 'killed'
    process = subprocess.Popen(train_command(work_dir, eight), cwd=REPO, env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not last_checkpoint_is(work_dir, 'iter_6.pth') and process.poll() is None:
        assert time.time() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not osp.exists(work_dir / f'epoch_{EPOCHS}.pth'), 'killed too late'
    # iter_6 is the middle of epoch 2.
    assert find_resumable_checkpoint(str(work_dir)).endswith('iter_6.pth')

    # Resumed through the tool's main in this process, as the reference ran.
    result = call_tool(train_command(work_dir, eight, '--resume')[1:])
    assert result.returncode == 0, result.stderr[-3000:]
    newest = sorted(glob.glob(str(work_dir / '*' / 'vis_data' / 'scalars.json')))[-1]
    resumed = [record for record in scalars_of(newest) if 'loss' in record]
    # No batch replayed, none skipped.
    assert [r['step'] for r in resumed] == list(range(7, EPOCHS * ITERS_PER_EPOCH + 1))
    expected = losses(str(uninterrupted))
    for record in resumed:
        assert record['loss'] == pytest.approx(expected[record['step']], rel=1e-6,
                                               abs=1e-7), record['step']
    reference, got = final_weights(uninterrupted), final_weights(work_dir)
    assert reference.keys() == got.keys()
    for name, value in reference.items():
        torch.testing.assert_close(got[name], value, rtol=0, atol=1e-6, msg=name)


def test_resume_falls_back_past_a_broken_last_checkpoint(uninterrupted, tmp_path):
    import shutil
    work_dir = tmp_path / 'run'
    shutil.copytree(uninterrupted, work_dir)
    newest = work_dir / f'epoch_{EPOCHS}.pth'
    (work_dir / 'last_checkpoint').write_text(str(newest))
    assert find_resumable_checkpoint(str(work_dir)) == str(newest)
    for broken in ('', str(work_dir / 'gone.pth')):
        (work_dir / 'last_checkpoint').write_text(broken)
        assert find_resumable_checkpoint(str(work_dir)) == str(newest)
    # A truncated newest checkpoint: the next newest complete one.
    data = newest.read_bytes()
    newest.write_bytes(data[:len(data) // 2])
    (work_dir / 'last_checkpoint').write_text(str(newest))
    found = find_resumable_checkpoint(str(work_dir))
    assert found != str(newest) and found.endswith('.pth')
    (work_dir / 'last_checkpoint').unlink()
    assert find_resumable_checkpoint(str(work_dir)) == found


def test_resume_without_any_complete_checkpoint_is_an_error(tmp_path):
    (tmp_path / 'epoch_1.pth').write_bytes(b'PK\x03\x04 cut short')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    with pytest.raises(CheckpointError) as error:
        find_resumable_checkpoint(str(tmp_path))
    assert f"names {tmp_path / 'epoch_1.pth'}, which is truncated" in str(error.value)
    assert find_resumable_checkpoint(str(tmp_path / 'new_run')) is None  # nothing yet: a start


def test_train_tool_refuses_a_truncated_resume_checkpoint(eight, tmp_path):
    (tmp_path / 'cut.pth').write_bytes(b'PK\x03\x04 cut short')
    result = call_tool(['tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'w'), '--resume',
                        str(tmp_path / 'cut.pth'), '--cfg-options', *options(eight)])
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert f"--resume checkpoint {tmp_path / 'cut.pth'} is truncated" in result.stderr
