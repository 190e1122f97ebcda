"""RepGhostNet, GhostNetV2 and GhostNetV3: built on timm's modules, equal to
timm's forward at the stage ends, loading timm's and the authors' checkpoint
files (made here in their published formats) through the configs, with the
MMDetection backbone options and a deploy form equal to the trained one."""
import argparse
import os.path as osp

import pytest
import torch
from safetensors.torch import save_file

from conftest import CONFIGS, randomize
from ghostdet.checkpoint import PUBLIC_CHECKPOINTS
from ghostdet.config import load_config
from ghostdet.errors import InputError, PretrainedMismatchError
from ghostdet.models import GhostNetV2, GhostNetV3, RepGhostNet

pytestmark = pytest.mark.usefixtures('one_thread')

FAMILY = (RepGhostNet, GhostNetV2, GhostNetV3)
ALL_OUTPUTS = (0, 1, 2, 3, 4)


def timm_model(cls, width):
    """timm's whole classifier, built the way timm's registered models are."""
    return cls.build_timm_model(width)


def timm_stage_ends(model, x):
    """timm's own forward_features, with the outputs of blocks.2/4/6/8/9
    recorded by hooks."""
    recorded = {}
    hooks = [model.blocks[index].register_forward_hook(
        lambda module, args, out, index=index: recorded.__setitem__(index, out.clone()))
        for index in (2, 4, 6, 8, 9)]
    with torch.no_grad():
        model.forward_features(x)
    for hook in hooks:
        hook.remove()
    return [recorded[index] for index in (2, 4, 6, 8, 9)]


def pretrained(checkpoint, **kwargs):
    return dict(init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint)), **kwargs)


def save_as(state, path):
    """Write a state dict in the format its file name says: timm's
    ``model.safetensors`` / ``pytorch_model.bin``, or the authors'
    ``.pth.tar`` (a timm ``train.py`` checkpoint: DDP ``module.`` keys, EMA
    weights, the command line as an ``argparse.Namespace``)."""
    path = str(path)
    if path.endswith('.safetensors'):
        save_file({k: v.contiguous() for k, v in state.items()}, path)
    elif path.endswith('.pth.tar'):
        noise = {f'module.{k}': torch.zeros_like(v) for k, v in state.items()}
        torch.save(dict(epoch=299, arch='repghost.repghostnet_1_11x', state_dict=noise,
                        state_dict_ema=dict(state), optimizer=dict(state={}, param_groups=[]),
                        version=2, args=argparse.Namespace(model='repghost.repghostnet_1_11x',
                                                           lr=0.6, model_ema=True),
                        metric=75.07), path)
    else:
        torch.save(state, path)
    return path


@pytest.mark.parametrize('cls', FAMILY)
def test_describe_outputs_is_what_timm_builds(cls):
    """Every named width: the channels describe_outputs gives (which the
    configs' FPN inputs come from) are those of the built outputs."""
    x = torch.rand(1, 3, 64, 64)
    for width in cls.named_widths:
        model = cls(width, out_indices=ALL_OUTPUTS).eval()
        with torch.no_grad():
            outs = model(x)
        assert tuple(out.shape[1] for out in outs) == cls.stage_channels(width), width
        assert [64 // out.shape[-1] for out in outs] == [info.stride for info in
                                                          model.feature_info]
        assert [info.module for info in model.feature_info] == \
            ['blocks.2', 'blocks.4', 'blocks.6', 'blocks.8', 'blocks.9']


@pytest.mark.parametrize('cls,width,file_name', [
    (RepGhostNet, 1.11, 'pytorch_model.bin'),
    (GhostNetV2, 1.0, 'model.safetensors'),
    (GhostNetV3, 1.0, 'model.safetensors'),
])
def test_equal_to_timm_at_the_stage_ends(cls, width, file_name, tmp_path):
    """A timm state dict (classifier included) in timm's published file
    format, loaded strictly through init_cfg: every output equals timm's own
    forward at blocks.2/4/6/8/9."""
    reference = randomize(timm_model(cls, width), seed=7).eval()
    checkpoint = save_as(reference.state_dict(), tmp_path / file_name)
    ours = cls(width, out_indices=ALL_OUTPUTS, **pretrained(checkpoint))
    ours.init_weights()
    ours.eval()
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got = ours(x)
    expected = timm_stage_ends(reference, x)
    for index, (a, b) in enumerate(zip(got, expected)):
        assert a.abs().mean() > 1e-3  # not a comparison of zeros
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=f'output {index}')


def _backbone_from_config(config, cfg_options=None):
    from mmdet.registry import MODELS

    from ghostdet.models import register_all_modules
    cfg = load_config(config, cfg_options=cfg_options)
    register_all_modules()
    backbone = MODELS.build(cfg.model.backbone)
    backbone.init_weights()
    return cfg, backbone


def _assert_loaded(backbone, state):
    for key, value in backbone.state_dict().items():
        if not key.endswith('num_batches_tracked'):
            assert torch.equal(value, state[key]), key


def test_official_repghost_checkpoint_through_cfg_options(tmp_path):
    """The authors' RepGhostNet checkpoint (a timm train.py file with an
    argparse.Namespace, loaded weights-only) initializes the 1.11x COCO
    config's backbone given by --cfg-options: its EMA weights, strictly."""
    state = randomize(timm_model(RepGhostNet, 1.11), seed=3).state_dict()
    checkpoint = save_as(state, tmp_path / 'repghostnet_1_11x_170M_75.07.pth.tar')
    config = osp.join(CONFIGS, 'retinanet_repghostnet_1.11x.py')
    _, backbone = _backbone_from_config(
        config, {'model.backbone.init_cfg.checkpoint': checkpoint})
    _assert_loaded(backbone, state)
    # The config's own weights are the zoo's timm file; the official one is listed too.
    official = PUBLIC_CHECKPOINTS['repghostnet_1_11x_official']
    assert (official.backbone, official.widen_factor) == ('RepGhostNet', 1.11)
    with pytest.raises(PretrainedMismatchError, match=r'RepGhostNet\(widen_factor=1.11\)'):
        wrong = save_as(randomize(timm_model(RepGhostNet, 1.0), seed=3).state_dict(),
                        tmp_path / 'repghostnet_1_0x.pth.tar')
        _backbone_from_config(config, {'model.backbone.init_cfg.checkpoint': wrong})


@pytest.mark.parametrize('config,file_name', [
    ('retinanet_ghostnetv2_1.0x.py', 'model.safetensors'),
    ('faster_rcnn_ghostnetv3_1.0x.py', 'pytorch_model.bin'),
])
def test_timm_files_through_a_child_config(config, file_name, tmp_path):
    """A user's child config of a family COCO config points at a timm file."""
    base = load_config(osp.join(CONFIGS, config))
    cls = {'GhostNetV2': GhostNetV2, 'GhostNetV3': GhostNetV3}[base.model.backbone.type]
    state = randomize(timm_model(cls, 1.0), seed=5).state_dict()
    checkpoint = save_as(state, tmp_path / file_name)
    child = tmp_path / 'my_config.py'
    child.write_text(f"_base_ = '{osp.join(CONFIGS, config)}'\n"
                     f"model = dict(backbone=dict(init_cfg=dict(checkpoint='{checkpoint}')))\n")
    _, backbone = _backbone_from_config(str(child))
    assert isinstance(backbone, cls)
    _assert_loaded(backbone, state)


def test_hub_downloads_are_cached_per_model(tmp_path, monkeypatch):
    """Hugging Face files of different models share their base names: each
    download is cached under its repository's name, and safetensors URLs
    are read without pickle (file:// URLs stand in for the network)."""
    from ghostdet.checkpoint.safety import load_from_url_weights_only, url_cache_name
    monkeypatch.setattr(torch.hub, '_hub_dir', str(tmp_path / 'hub'))
    urls = {}
    for seed, repo in enumerate(('repghostnet_111.in1k', 'ghostnetv2_100.in1k')):
        for name in ('model.safetensors', 'pytorch_model.bin'):
            path = tmp_path / 'timm' / repo / 'resolve' / 'main' / name
            path.parent.mkdir(parents=True, exist_ok=True)
            save_as({'w': torch.full((2, ), float(seed))}, path)
            urls[repo, name] = (path.as_uri(), seed)
    assert url_cache_name(urls['repghostnet_111.in1k', 'model.safetensors'][0]) == \
        'timm--repghostnet_111.in1k--model.safetensors'
    for url, seed in urls.values():
        assert load_from_url_weights_only(url)['w'].tolist() == [seed, seed]
    cached = sorted(p.name for p in (tmp_path / 'hub' / 'checkpoints').iterdir())
    assert len(cached) == 4


def test_safetensors_are_read_without_pickle(tmp_path, monkeypatch):
    """timm's model.safetensors is read by safetensors alone: no torch.load,
    hence no unpickling, whatever torch's version."""
    from ghostdet.checkpoint import load_checkpoint_file
    state = {'conv_stem.weight': torch.rand(8, 3, 3, 3)}
    path = save_as(state, tmp_path / 'model.safetensors')

    def no_pickle(*args, **kwargs):
        raise AssertionError('torch.load was called on a .safetensors file')

    monkeypatch.setattr(torch, 'load', no_pickle)
    assert torch.equal(load_checkpoint_file(path)['conv_stem.weight'], state['conv_stem.weight'])


def test_zoo_and_configs_agree():
    """Each family COCO config loads the zoo's public weights of its
    backbone and width, and its FPN inputs are describe_outputs'."""
    expected = {'repghostnet_1.11x': 'repghostnet_111.in1k',
                'ghostnetv2_1.0x': 'ghostnetv2_100.in1k',
                'ghostnetv3_1.0x': 'ghostnetv3_100.in1k'}
    classes = {cls.__name__: cls for cls in FAMILY}
    for stem, weights in expected.items():
        for detector in ('retinanet', 'faster_rcnn'):
            cfg = load_config(osp.join(CONFIGS, f'{detector}_{stem}.py'))
            backbone, entry = cfg.model.backbone, PUBLIC_CHECKPOINTS[weights]
            assert backbone.init_cfg == dict(type='Pretrained', checkpoint=entry.url)
            assert (backbone.type, backbone.widen_factor) == (entry.backbone,
                                                              entry.widen_factor)
            assert list(cfg.model.neck.in_channels) == list(
                classes[backbone.type].stage_channels(backbone.widen_factor)[:4])
            assert backbone.frozen_stages == 1 and backbone.norm_eval is True
            assert cfg.train_cfg.max_epochs == 12
    for entry in PUBLIC_CHECKPOINTS.values():
        assert entry.source and entry.imagenet_top1 > 0


@pytest.mark.parametrize('kwargs,match', [
    (dict(widen_factor=0), 'widen_factor must be a positive number'),
    (dict(widen_factor='1.0x'), 'widen_factor must be a positive number'),
    (dict(out_indices=(0, 5)), r'out_indices must be in range\(0, 5\)'),
    (dict(frozen_stages=6), 'frozen_stages'),
    (dict(frozen_stages=1), 'would train from random weights'),
    (dict(norm_eval=True), 'would train from random weights'),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(InputError, match=match):
        RepGhostNet(**kwargs)


def test_frozen_stages_norm_eval_and_with_cp(tmp_path):
    """frozen_stages freezes the stem and the stages up to its output;
    norm_eval keeps every BatchNorm in eval mode in train(); with_cp gives
    the same outputs and gradients."""
    state = randomize(timm_model(GhostNetV3, 0.5), seed=1).state_dict()
    checkpoint = save_as(state, tmp_path / 'v3.pth')
    model = GhostNetV3(0.5, frozen_stages=2, norm_eval=True, **pretrained(checkpoint))
    model.init_weights()
    model.train()
    frozen = {name.split('.')[0] + ('.' + name.split('.')[1] if name.startswith('blocks') else '')
              for name, param in model.named_parameters() if not param.requires_grad}
    assert frozen == {'conv_stem', 'bn1', 'blocks.0', 'blocks.1', 'blocks.2', 'blocks.3',
                      'blocks.4'}
    assert all(not m.training for m in model.modules()
               if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))
    assert model.blocks[5].training

    x = torch.rand(2, 3, 64, 64)  # DFC attention pools /64: batch 2 for train-mode BN
    weights = randomize(GhostNetV2(0.5), seed=2).state_dict()
    outputs, grads = [], []
    for with_cp in (False, True):
        net = GhostNetV2(0.5, with_cp=with_cp).train()
        net.load_state_dict(weights)
        out = net(x.clone().requires_grad_())
        sum(o.sum() for o in out).backward()
        outputs.append([o.detach() for o in out])
        grads.append(net.conv_stem.weight.grad.clone())
    for a, b in zip(*outputs):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(grads[0], grads[1])


@pytest.mark.parametrize('cls', FAMILY)
def test_deploy_form_equals_the_trained_one(cls):
    """Re-parameterised (timm's reparameterize_model) and BN-folded: no
    BatchNorm left, fewer convs where branches fold, same outputs."""
    from ghostdet.deploy import deploy_model
    model = randomize(cls(0.5, out_indices=ALL_OUTPUTS), seed=4).eval()
    x = torch.rand(1, 3, 64, 96)
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    for target in ('torch', 'onnxruntime'):
        deploy = deploy_model(model, target=target)
        assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                       for m in deploy.modules())
        deploy_convs = sum(isinstance(m, torch.nn.Conv2d) for m in deploy.modules())
        assert deploy_convs < convs if cls is GhostNetV3 else deploy_convs == convs
        with torch.no_grad():
            for a, b in zip(model(x), deploy(x)):
                assert a.abs().mean() > 1e-3
                torch.testing.assert_close(b, a, rtol=0, atol=1e-4)


def test_trunk_macs_match_the_official_figure():
    """tools/get_flops.py's ImageNet trunk of RepGhostNet 1.11x (blocks.0-9,
    re-parameterised) plus the classifier head the official table also
    counts (conv_head 1064->1280, Linear 1280->1000) is its 170 MFLOPs."""
    from ghostdet.analysis.complexity import trunk_complexity
    backbone = load_config(osp.join(CONFIGS, 'retinanet_repghostnet_1.11x.py')).model.backbone
    trunk = trunk_complexity(backbone)
    head = 1064 * 1280 + 1280 * 1000
    assert abs(trunk['macs'] + head - 170e6) < 1e6, trunk['macs']
