import pytest
import torch
from mmpose.registry import MODELS

from kdkit.losses import BaseDistillLoss
from kdkit.losses import __all__ as LOSSES
from kdkit.losses.utils import (LABEL_TEMPERATURE, detach_teacher, gaussian_maps,
                                heatmap_distribution, log_gaussian,
                                resample_distribution, resample_linear,
                                resize_spatial, weighted_mean)


def gaussian_heatmap(peak, h=64, w=48, sigma=2.0, centre=(30, 20)):
    """(1, 1, h, w): MMPose's MSRA target scaled to ``peak``, as a teacher
    unsure of a key point outputs it."""
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    d2 = (ys - centre[0])**2 + (xs - centre[1])**2
    return (peak * torch.exp(-d2 / (2 * sigma**2))).float()[None, None]


def mass_within_3_sigma(p, h=64, w=48, sigma=2.0, centre=(30, 20)):
    p = p.view(h, w)
    r = int(3 * sigma)
    return p[centre[0] - r:centre[0] + r + 1,
             centre[1] - r:centre[1] + r + 1].sum().item()


@pytest.mark.parametrize('peak', [1.0, 0.6, 0.4])
def test_a_low_confidence_peak_still_holds_most_of_the_target_mass(peak):
    """At 64x48 and the default T = 0.1 the target is peaked at every peak
    height; softmax(h / T) on the raw map, as before, drowns a low peak in
    the flat floor of 3,072 background cells (0.96 / 0.44 / 0.17)."""
    target = heatmap_distribution(gaussian_heatmap(peak), LABEL_TEMPERATURE)
    assert target.sum().item() == pytest.approx(1.0, rel=1e-5)
    assert mass_within_3_sigma(target) > 0.95
    raw = torch.softmax(gaussian_heatmap(peak).flatten(-2) / LABEL_TEMPERATURE, -1)
    if peak < 1.0:
        assert mass_within_3_sigma(raw) < 0.5


def test_heatmap_distribution_ignores_the_peak_height():
    a = heatmap_distribution(gaussian_heatmap(1.0), 0.1)
    b = heatmap_distribution(gaussian_heatmap(0.4), 0.1)
    assert torch.allclose(a, b, atol=1e-7)


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
    dict(type='HeatmapKLDistillLoss', temperature=0.5, reduction='keypoint'),
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


def test_gaussian_maps_peak_at_centre_with_per_axis_sigma():
    loc = torch.tensor([[[2.0, 1.0]]])                       # x = 2, y = 1 (cells)
    maps = gaussian_maps(loc, (3, 5), (1.0, 2.0))           # H 3, W 5; sigma_x 1, sigma_y 2
    assert maps.shape == (1, 1, 3, 5)
    assert maps[0, 0, 1, 2] == 1.0
    assert torch.isclose(maps[0, 0, 1, 3], torch.exp(torch.tensor(-0.5)))   # one sigma_x
    assert torch.isclose(maps[0, 0, 0, 2], torch.exp(torch.tensor(-1 / 8)))  # half a sigma_y
    assert torch.isclose(log_gaussian(torch.tensor([0.5]), 0.5, 2),
                         torch.tensor([[-0.5, -0.5]])).all()
