import math

import pytest
import torch

from kdkit.losses import HeatmapKLDistillLoss

LN3 = math.log(3)
# KL([.25, .75] || [.5, .5])
KL_QUARTER = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)


def test_zero_when_student_equals_teacher():
    s = torch.randn(2, 3, 4, 5)
    loss = HeatmapKLDistillLoss(temperature=0.5)(s, s.clone())
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_known_value_and_temperature_squared():
    s = torch.zeros(1, 1, 1, 2)  # softmax -> [.5, .5]
    t = torch.tensor([[[[0.0, LN3]]]])  # softmax -> [.25, .75]
    assert HeatmapKLDistillLoss()(s, t).item() == pytest.approx(KL_QUARTER)
    # at T=2 the teacher map 2*t softens to the same [.25, .75]; T^2 = 4
    loss_t2 = HeatmapKLDistillLoss(temperature=2.0)(s, 2 * t)
    assert loss_t2.item() == pytest.approx(4 * KL_QUARTER)


def test_masked_keypoint_changes_nothing():
    s = torch.zeros(1, 2, 1, 2)
    t = torch.tensor([[[[0.0, LN3]], [[5.0, 0.0]]]])
    w = torch.tensor([[1.0, 0.0]])
    assert HeatmapKLDistillLoss()(s, t, w).item() == pytest.approx(KL_QUARTER)


def test_gradient_reaches_student_only():
    s = torch.zeros(1, 1, 1, 2, requires_grad=True)
    t = torch.tensor([[[[0.0, LN3]]]], requires_grad=True)
    HeatmapKLDistillLoss()(s, t).backward()
    # d KL / d s = p_s - p_t = [.25, -.25]
    assert torch.allclose(s.grad.flatten(), torch.tensor([0.25, -0.25]))
    assert t.grad is None


def test_teacher_map_resized_to_student():
    s = torch.tensor([[[[1.0, 3.0]]]])
    t = torch.tensor([[[[1.0, 9.0, 3.0, 9.0], [9.0, 9.0, 9.0, 9.0]]]])
    assert HeatmapKLDistillLoss()(s, t).item() == pytest.approx(0.0, abs=1e-6)


def test_temperature_must_be_positive():
    with pytest.raises(ValueError, match='temperature'):
        HeatmapKLDistillLoss(temperature=0)
