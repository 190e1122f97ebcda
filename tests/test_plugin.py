"""Importing ghostdet only adds registry entries: every function, method and
loader of torch, MMEngine, mmcv and MMDetection stays the same object, in a
fresh interpreter, after ``import ghostdet`` and after a user's config that
lists it in ``custom_imports`` is built and run on an image."""
import json
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent('''
    import json, sys
    import numpy as np, cv2
    import torch, torch.hub, torch.serialization, torchvision
    import mmengine.runner, mmengine.runner.checkpoint, mmengine.logging, mmengine.config
    import mmcv.transforms, mmcv.ops
    import mmdet.apis, mmdet.datasets, mmdet.models, mmdet.evaluation, mmdet.engine
    from mmengine.runner.checkpoint import CheckpointLoader

    HOSTS = ('torch', 'torchvision', 'mmengine', 'mmcv', 'mmdet')

    def functions():
        """Every callable and descriptor bound in a host module or class."""
        found = {}
        for name, module in list(sys.modules.items()):
            if module is None or name.split('.')[0] not in HOSTS:
                continue
            for attr, value in list(vars(module).items()):
                if callable(value):
                    found[f'{name}.{attr}'] = value
                if isinstance(value, type) and value.__module__ == name:
                    for member, inner in list(vars(value).items()):
                        if callable(inner) or isinstance(inner, (property, staticmethod,
                                                                 classmethod)):
                            found[f'{name}.{attr}.{member}'] = inner
        return found

    def state():
        return dict(functions=functions(),
                    schemes=dict(CheckpointLoader._schemes),
                    safe_globals=list(torch.serialization.get_safe_globals()))

    def changes(before, after):
        changed = [key for key, value in before['functions'].items()
                   if after['functions'].get(key, value) is not value]
        for what in ('schemes', 'safe_globals'):
            if before[what] != after[what]:
                changed.append(what)
        return changed

    report = {}
    before = state()
    modules_before = set(sys.modules)
    import ghostdet
    report['import'] = changes(before, state())
    report['new_top_level_modules'] = sorted(
        {name.split('.')[0] for name in set(sys.modules) - modules_before})

    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmdet.registry import MODELS, TRANSFORMS
    from mmengine.dataset import Compose
    cfg = Config.fromfile(sys.argv[1])
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    model.eval()
    pipeline = Compose(cfg.test_pipeline)
    image = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    cv2.imwrite(sys.argv[2], image)
    data = pipeline(dict(img_path=sys.argv[2], img_id=0))
    with torch.no_grad():
        model.test_step(dict(inputs=[data['inputs']], data_samples=[data['data_samples']]))
    report['config'] = changes(before, state())

    import ghostdet.weights_only  # the explicit opt-in does change MMEngine's loaders
    report['opt_in'] = changes(before, state())
    print(json.dumps(report))
''')

USER_CONFIG = '''
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['ghostdet'], allow_failed_imports=False)
model = dict(
    backbone=dict(_delete_=True, type='GhostNet', widen_factor=1.0, out_indices=(1, 2, 3)),
    neck=dict(in_channels=[40, 112, 160], start_level=0, num_outs=5))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 96), keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                          'scale_factor')),
]
'''


def run_probe(tmp_path):
    config = tmp_path / 'user_config.py'
    config.write_text(USER_CONFIG)
    result = subprocess.run([sys.executable, '-c', PROBE, str(config), str(tmp_path / 'a.jpg')],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_ghostdet_and_using_it_from_a_config_changes_nothing(tmp_path):
    report = run_probe(tmp_path)
    assert report['import'] == []
    assert report['config'] == []
    # The probe sees a change when there is one: the explicit opt-in module
    # registers MMEngine checkpoint loaders, and nothing else.
    assert report['opt_in'] == ['schemes']
    # What `import ghostdet` loads is what setup.py requires without extras.
    assert not {'onnx', 'onnxruntime', 'openvino', 'timm', 'matplotlib'} & \
        set(report['new_top_level_modules'])
