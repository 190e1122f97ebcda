"""The COCO path as a user walks it: ImageNet weights given through the config
system (the command line's --cfg-options, a child config), and clear stops
when they are missing."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from timm.models import ghostnet as timm_ghostnet

from conftest import CONFIGS, as_cli, call_tool, coco_config_on_small_data
from ghostdet.errors import CheckpointNotFoundError
from ghostdet.runner import load_config

PAPER_CONFIGS = ['retinanet_ghostnet.py', 'faster_rcnn_ghostnet.py', 'retinanet_ghostnet_1.0x.py',
                 'faster_rcnn_ghostnet_1.0x.py', 'retinanet_mobilenetv2.py',
                 'faster_rcnn_mobilenetv2.py', 'retinanet_mobilenetv3.py',
                 'faster_rcnn_mobilenetv3.py']


def parsed_cfg_options(*pairs):
    """``--cfg-options`` as tools/train.py parses them (MMEngine's DictAction)."""
    from tools.train import parse_args
    return parse_args(['any.py', '--cfg-options', *pairs]).cfg_options


@pytest.mark.parametrize('config', PAPER_CONFIGS)
def test_cfg_options_give_the_weights(config):
    options = parsed_cfg_options('model.backbone.init_cfg.type=Pretrained',
                                 'model.backbone.init_cfg.checkpoint=/weights/in1k.pth')
    cfg = load_config(osp.join(CONFIGS, config), cfg_options=options)
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained',
                                               checkpoint='/weights/in1k.pth')
    options = parsed_cfg_options('model.backbone.init_cfg.checkpoint=/weights/other.pth')
    cfg = load_config(osp.join(CONFIGS, config), cfg_options=options)
    assert cfg.model.backbone.init_cfg.checkpoint == '/weights/other.pth'


@pytest.mark.parametrize('config', PAPER_CONFIGS)
def test_a_child_config_gives_the_weights(config, tmp_path):
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = '{osp.join(CONFIGS, config)}'\n"
                     "model = dict(backbone=dict(init_cfg=dict(type='Pretrained', "
                     "checkpoint='/weights/in1k.pth')))\n")
    cfg = Config.fromfile(str(child))
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained',
                                               checkpoint='/weights/in1k.pth')
    assert cfg.model.backbone.type == Config.fromfile(osp.join(CONFIGS, config)).model.backbone.type


def official_1_1x_checkpoint(path):
    """An official-layout GhostNet 1.1x ImageNet checkpoint (timm's ghostnet
    module and key names, classifier included), random but sound values."""
    state = timm_ghostnet._create_ghostnet('ghostnet_100', width=1.1).state_dict()
    generator = torch.Generator().manual_seed(0)
    for name, value in state.items():
        if value.dtype.is_floating_point:
            values = torch.randn(value.shape, generator=generator) * 0.1
            value.copy_(values.abs() + 0.5 if name.endswith('running_var') else values)
    torch.save(state, path)
    return state


def a_child_loading(checkpoint, tmp_path):
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = '{osp.join(CONFIGS, 'retinanet_ghostnet.py')}'\n"
                     "model = dict(backbone=dict(init_cfg=dict(type='Pretrained', "
                     f"checkpoint='{checkpoint}')))\n")
    return str(child)


def test_a_child_config_loads_the_weights_into_the_detector(tmp_path):
    from mmdet.registry import MODELS
    state = official_1_1x_checkpoint(tmp_path / 'in1k.pth')
    model = MODELS.build(Config.fromfile(a_child_loading(tmp_path / 'in1k.pth', tmp_path)).model)
    model.init_weights()
    for name, value in model.backbone.state_dict().items():
        torch.testing.assert_close(value, state[name], msg=name)


def test_train_tool_starts_a_coco_config_from_given_weights(dataset, tmp_path):
    official_1_1x_checkpoint(tmp_path / 'in1k.pth')
    options = coco_config_on_small_data(dataset)
    options['model.backbone.init_cfg.checkpoint'] = str(tmp_path / 'in1k.pth')
    result = call_tool(['tools/train.py', 'configs/retinanet_ghostnet.py', '--work-dir',
                        str(tmp_path / 'work'), '--cfg-options', *as_cli(options)])
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    from ghostdet.models import GhostNet
    tensors = len(GhostNet(1.1).state_dict())
    assert f"GhostNet(widen_factor=1.1): loaded all {tensors} tensors from " \
        f"{tmp_path / 'in1k.pth'}" in output
    assert osp.isfile(tmp_path / 'work' / 'epoch_1.pth')


def test_train_tool_stops_when_the_weights_are_missing(dataset, tmp_path):
    result = call_tool(['tools/train.py', 'configs/retinanet_ghostnet.py', '--work-dir',
                        str(tmp_path / 'work'), '--cfg-options',
                        *as_cli(coco_config_on_small_data(dataset))])
    assert result.returncode == 1
    assert 'Traceback' not in result.stderr
    message = result.stderr
    assert 'checkpoint not found: work_dirs/ghostnet-1.1x_8xb128_in1k/epoch_400.pth' in message
    assert 'python tools/train.py configs/pretrain/ghostnet-1.1x_8xb128_in1k.py' in message
    assert ('--cfg-options model.backbone.init_cfg=None model.backbone.frozen_stages=-1 '
            'model.backbone.norm_eval=False') in message
    assert not osp.exists(tmp_path / 'work' / 'epoch_1.pth')


def test_from_scratch_as_the_message_says_trains(dataset, tmp_path):
    options = coco_config_on_small_data(dataset)
    options.update({'model.backbone.init_cfg': None, 'model.backbone.frozen_stages': -1,
                    'model.backbone.norm_eval': False})
    result = call_tool(['tools/train.py', 'configs/retinanet_ghostnet.py', '--work-dir',
                        str(tmp_path / 'work'), '--cfg-options', *as_cli(options)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert osp.isfile(tmp_path / 'work' / 'epoch_1.pth')


def test_frozen_stages_without_weights_stop_the_tool(dataset, tmp_path):
    options = coco_config_on_small_data(dataset)
    options['model.backbone.init_cfg'] = None
    result = call_tool(['tools/train.py', 'configs/retinanet_ghostnet.py', '--work-dir',
                        str(tmp_path / 'work'), '--cfg-options', *as_cli(options)])
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert 'frozen_stages=1, norm_eval=True' in result.stderr
    assert 'random weights' in result.stderr


def test_unreachable_weights_url_is_a_clear_error(monkeypatch):
    import urllib.error

    import torch.hub
    from ghostdet.models import GhostNet

    def offline(*args, **kwargs):
        raise urllib.error.URLError('no route to host')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', offline)
    url = 'https://example.org/weights/never_downloaded_here.pth'
    model = GhostNet(1.0, frozen_stages=1, init_cfg=dict(type='Pretrained', checkpoint=url))
    with pytest.raises(CheckpointNotFoundError) as error:
        model.init_weights()
    message = str(error.value)
    assert url in message and 'no route to host' in message
    assert 'configs/pretrain/ghostnet-1.1x_8xb128_in1k.py' in message
    assert 'model.backbone.init_cfg=None' in message
