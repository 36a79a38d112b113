import math

import pytest
import torch

from kdkit.losses import HeatmapToSimCCDistillLoss

LN3 = math.log(3)


def teacher_map():
    # (1, 1, 2, 2): softmax -> [[1, 3], [1, 3]] / 8
    # x marginal [.25, .75], y marginal [.5, .5]
    return torch.tensor([[[[0.0, LN3], [0.0, LN3]]]])


def test_marginals_resampled_to_bins_give_zero_for_matching_student():
    # 2x2 map, 4 bins per axis at split_ratio 2 -> 2x2 input, stride 1.
    # bin i reads marginal position i * 2 / 4 = 0, .5, 1, 1 (clamped):
    # x: [.25, .5, .75, .75] / 2.25 = [1, 2, 3, 3] / 9; y: uniform
    s_x = torch.log(torch.tensor([[[1.0, 2.0, 3.0, 3.0]]]))
    s_y = torch.zeros(1, 1, 4)
    loss = HeatmapToSimCCDistillLoss(split_ratio=2.0)
    assert loss((s_x, s_y), teacher_map()).item() == pytest.approx(
        0.0, abs=1e-6)


def test_known_value_and_temperature_squared():
    s = (torch.zeros(1, 1, 4), torch.zeros(1, 1, 4))  # uniform .25
    q = [1 / 9, 2 / 9, 3 / 9, 3 / 9]
    kl_x = sum(qi * math.log(qi / 0.25) for qi in q)
    loss = HeatmapToSimCCDistillLoss()
    assert loss(s, teacher_map()).item() == pytest.approx(kl_x / 2, rel=1e-5)
    # T=2 with the map doubled softens to the same marginals; T^2 = 4
    loss_t2 = HeatmapToSimCCDistillLoss(temperature=2.0)
    assert loss_t2(s, 2 * teacher_map()).item() == pytest.approx(
        2 * kl_x, rel=1e-5)


def test_masked_keypoint_changes_nothing():
    s = (torch.zeros(1, 2, 2), torch.zeros(1, 2, 2))
    t = torch.cat([teacher_map(), 9 * torch.rand(1, 1, 2, 2)], dim=1)
    w = torch.tensor([[1.0, 0.0]])
    # equal bins: x KL([.25, .75] || [.5, .5]), y 0
    kl_x = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    loss = HeatmapToSimCCDistillLoss(split_ratio=1.0)
    assert loss(s, t, w).item() == pytest.approx(kl_x / 2)


def test_gradient_reaches_student_only():
    s = (torch.zeros(1, 1, 4, requires_grad=True),
         torch.zeros(1, 1, 4, requires_grad=True))
    t = teacher_map().requires_grad_(True)
    HeatmapToSimCCDistillLoss()(s, t).backward()
    assert s[0].grad.abs().sum() > 0
    assert t.grad is None


def test_different_crop_shape_rejected():
    s = (torch.zeros(1, 1, 4), torch.zeros(1, 1, 8))  # 2x4 input at ratio 2
    with pytest.raises(ValueError, match='same crop'):
        HeatmapToSimCCDistillLoss()(s, teacher_map())  # 2x2 map


def test_kinds():
    assert HeatmapToSimCCDistillLoss.input_kind == 'simcc'
    assert HeatmapToSimCCDistillLoss.teacher_kind == 'heatmap'
