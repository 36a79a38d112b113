import pytest
import torch
from mmpose.registry import MODELS

from kdkit.losses import BaseDistillLoss
from kdkit.losses import __all__ as LOSSES
from kdkit.losses.utils import (detach_teacher, resample_distribution,
                                resample_linear, resize_spatial,
                                weighted_mean)


def test_weighted_mean_removes_masked_terms_instead_of_diluting():
    loss = torch.tensor([[2.0, 4.0], [6.0, 100.0]])
    weight = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    # (2 + 4 + 6) / 3, not / 4
    assert weighted_mean(loss, weight).item() == pytest.approx(4.0)
    assert weighted_mean(loss, None).item() == pytest.approx(28.0)


def test_weighted_mean_all_masked_is_zero_and_shape_checked():
    loss = torch.tensor([[2.0, 4.0]])
    assert weighted_mean(loss, torch.zeros(1, 2)).item() == 0.0
    with pytest.raises(ValueError, match='weight shape'):
        weighted_mean(loss, torch.ones(2))


def test_resample_linear_uses_mmpose_index_convention():
    x = torch.tensor([10.0, 20.0])
    # upsample x2: cell i reads position i * 2 / 4 = 0, .5, 1, 1.5 (clamped)
    assert resample_linear(x, 4).tolist() == [10.0, 15.0, 20.0, 20.0]
    # downsample /2: cell i reads position i * 4 / 2 = 0, 2
    y = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert resample_linear(y, 2).tolist() == [1.0, 3.0]


def test_resize_spatial_both_axes():
    x = torch.tensor([[1.0, 9.0, 3.0, 9.0], [9.0, 9.0, 9.0, 9.0]])
    assert resize_spatial(x, (1, 2)).tolist() == [[1.0, 3.0]]


def test_resample_distribution_renormalises():
    p = torch.tensor([0.25, 0.75])
    q = resample_distribution(p, 4)  # [.25, .5, .75, .75] / 2.25
    assert torch.allclose(q, torch.tensor([1.0, 2.0, 3.0, 3.0]) / 9)


def test_detach_teacher_handles_tuples():
    a = torch.ones(2, requires_grad=True)
    out = detach_teacher((a, a * 2))
    assert isinstance(out, tuple)
    assert not any(t.requires_grad for t in out)


@pytest.mark.parametrize('cfg', [
    dict(type='HeatmapMSEDistillLoss'),
    dict(type='HeatmapKLDistillLoss', temperature=0.5),
    dict(type='SimCCKLDistillLoss', temperature=0.1),
    dict(type='FeatureMSEDistillLoss', student_channels=8,
         teacher_channels=16),
    dict(type='HeatmapToSimCCDistillLoss', temperature=0.1, split_ratio=2.0),
    dict(type='TemporalMotionDistillLoss', clip_len=4, kind='simcc'),
])
def test_losses_build_from_config(cfg):
    loss = MODELS.build(cfg)
    assert isinstance(loss, BaseDistillLoss)
    assert type(loss).__name__ in LOSSES
    assert loss.has_params == (cfg['type'] == 'FeatureMSEDistillLoss')


def test_resample_linear_with_an_explicit_scale():
    """Cell i reads position i * scale (two models' grids, kdkit.distill.mapping)."""
    x = torch.tensor([0.0, 10.0, 20.0, 30.0])
    assert resample_linear(x, 3, scale=0.5).tolist() == [0.0, 5.0, 10.0]
    assert resample_linear(x, 3, scale=1.25).tolist() == [0.0, 12.5, 25.0]
    assert resample_linear(x, 4, scale=1.0).tolist() == x.tolist()
