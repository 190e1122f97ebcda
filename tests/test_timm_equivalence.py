"""Our GhostNet computes what timm's (the reference implementation) computes
when given the same weights."""
import pytest
import torch
from timm.models import ghostnet as timm_ghostnet

from conftest import randomize
from ghostdet.models import GhostNet


def timm_stage_ends(model, x):
    x = model.act1(model.bn1(model.conv_stem(x)))
    outs = []
    for index, block in enumerate(model.blocks):
        x = block(x)
        if index in (2, 4, 6, 8, 9):
            outs.append(x)
    return outs


@pytest.mark.parametrize('width', [1.0, 1.1])
def test_same_weights_same_features(width, tmp_path):
    reference = timm_ghostnet._create_ghostnet('ghostnet_100', width=width).eval()
    randomize(reference, seed=int(width * 10))
    checkpoint = tmp_path / 'timm_ghostnet.pth'
    torch.save(reference.state_dict(), checkpoint)
    ours = GhostNet(width, out_indices=(0, 1, 2, 3, 4),
                    init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint)))
    ours.init_weights()  # strict: every tensor must be found in timm's state dict
    ours.eval()
    x = torch.randn(2, 3, 96, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = timm_stage_ends(reference, x)
        got = ours(x)
    assert [t.shape[1] for t in got] == list(GhostNet.stage_channels(width))
    for index, (a, b) in enumerate(zip(got, expected)):
        assert a.abs().mean() > 1e-3  # the comparison is not between zeros
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=f'output {index}')
