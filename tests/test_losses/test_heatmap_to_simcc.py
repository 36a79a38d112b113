import math

import pytest
import torch
from mmpose.registry import MODELS

from kdkit.losses import HeatmapToSimCCDistillLoss
from kdkit.losses.utils import heatmap_marginals, resample_distribution

LN3 = math.log(3)
T_Q = 1 / LN3  # the peak-normalised [0, 1] rows soften to [1, 3] / 4
SCALE_Q = (T_Q / 0.1)**2  # (T / T_label)^2


def teacher_map(peak=LN3):
    # (1, 1, 2, 2), / peak, softmax at T_Q -> [[1, 3], [1, 3]] / 8
    # x marginal [.25, .75], y marginal [.5, .5]
    return torch.tensor([[[[0.0, peak], [0.0, peak]]]])


@pytest.mark.parametrize('peak', [1.0, 0.4])
def test_marginals_resampled_to_bins_give_zero_for_matching_student(peak):
    # 2x2 map, 4 bins per axis at split_ratio 2 -> 2x2 input, stride 1.
    # bin i reads marginal position i * 2 / 4 = 0, .5, 1, 1 (clamped):
    # x: [.25, .5, .75, .75] / 2.25 = [1, 2, 3, 3] / 9; y: uniform
    s_x = T_Q * torch.log(torch.tensor([[[1.0, 2.0, 3.0, 3.0]]]))
    s_y = torch.zeros(1, 1, 4)
    loss = HeatmapToSimCCDistillLoss(temperature=T_Q, split_ratio=2.0)
    assert loss((s_x, s_y), teacher_map(peak)).item() == pytest.approx(
        0.0, abs=1e-5)  # float32 x (T / 0.1)^2 = 83


def test_known_value_and_reductions():
    s = (torch.zeros(1, 1, 4), torch.zeros(1, 1, 4))  # uniform .25
    q = [1 / 9, 2 / 9, 3 / 9, 3 / 9]
    kl_x = SCALE_Q * sum(qi * math.log(qi / 0.25) for qi in q)
    label = HeatmapToSimCCDistillLoss(temperature=T_Q)
    assert label(s, teacher_map()).item() == pytest.approx(kl_x / 4, rel=1e-5)
    keypoint = HeatmapToSimCCDistillLoss(temperature=T_Q, reduction='keypoint')
    assert keypoint(s, teacher_map()).item() == pytest.approx(kl_x / 2, rel=1e-5)


def test_masked_keypoint():
    s = (torch.zeros(1, 2, 2), torch.zeros(1, 2, 2))
    t = torch.cat([teacher_map(), 9 * torch.rand(1, 1, 2, 2)], dim=1)
    w = torch.tensor([[1.0, 0.0]])
    # equal bins: x KL([.25, .75] || [.5, .5]), y 0
    kl_x = SCALE_Q * (0.25 * math.log(0.5) + 0.75 * math.log(1.5))
    loss = HeatmapToSimCCDistillLoss(temperature=T_Q, split_ratio=1.0)
    assert loss(s, t, w).item() == pytest.approx(kl_x / 2 / 2)  # / Wx, / K
    keypoint = HeatmapToSimCCDistillLoss(temperature=T_Q, split_ratio=1.0,
                                         reduction='keypoint')
    assert keypoint(s, t, w).item() == pytest.approx(kl_x / 2)


def test_gradient_reaches_student_only():
    s = (torch.zeros(1, 1, 4, requires_grad=True),
         torch.zeros(1, 1, 4, requires_grad=True))
    t = teacher_map().requires_grad_(True)
    HeatmapToSimCCDistillLoss()(s, t).backward()
    assert s[0].grad.abs().sum() > 0
    assert t.grad is None


@pytest.mark.parametrize('batch', [2, 5])
def test_default_is_mmpose_label_loss_with_the_teacher_marginals_as_label(batch):
    """At the default T = 0.1 the term is RTMPose's KLDiscretLoss(beta=10)
    with the teacher's marginals as labels, at any batch size."""
    torch.manual_seed(batch)
    s = (torch.randn(batch, 3, 16), torch.randn(batch, 3, 16))
    t = torch.rand(batch, 3, 4, 4) * 0.7
    w = (torch.rand(batch, 3) > 0.3).float()
    q = [resample_distribution(m, 16) for m in heatmap_marginals(t, 0.1)]
    label_loss = MODELS.build(dict(type='KLDiscretLoss', beta=10.,
                                   label_softmax=False, use_target_weight=True))
    loss = HeatmapToSimCCDistillLoss(split_ratio=4.0)
    assert loss(s, t, w).item() == pytest.approx(label_loss(s, q, w).item(),
                                                 rel=1e-5)


def test_different_crop_shape_rejected():
    s = (torch.zeros(1, 1, 4), torch.zeros(1, 1, 8))  # 2x4 input at ratio 2
    with pytest.raises(ValueError, match='same crop'):
        HeatmapToSimCCDistillLoss()(s, teacher_map())  # 2x2 map


def test_kinds():
    assert HeatmapToSimCCDistillLoss.input_kind == 'simcc'
    assert HeatmapToSimCCDistillLoss.teacher_kind == 'heatmap'
