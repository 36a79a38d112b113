import math

import pytest
import torch

from kdkit.losses import SimCCKLDistillLoss

LN3 = math.log(3)
# KL([.25, .75] || [.5, .5])
KL_QUARTER = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)


def simcc(x, y):
    return torch.tensor([[x]]), torch.tensor([[y]])  # (B=1, K=1, bins)


def test_zero_when_student_equals_teacher():
    s = (torch.randn(2, 3, 8), torch.randn(2, 3, 6))
    t = tuple(p.clone() for p in s)
    loss = SimCCKLDistillLoss(temperature=0.1)(s, t)
    assert loss.item() == pytest.approx(0.0, abs=1e-5)


def test_known_value_axes_averaged_and_temperature_squared():
    s = simcc([0.0, 0.0], [0.0, 0.0])
    t = simcc([0.0, LN3], [0.0, 0.0])
    # x: KL_QUARTER, y: 0 -> averaged
    assert SimCCKLDistillLoss()(s, t).item() == pytest.approx(KL_QUARTER / 2)
    t2 = simcc([0.0, 2 * LN3], [0.0, 0.0])
    loss_t2 = SimCCKLDistillLoss(temperature=2.0)(s, t2)
    assert loss_t2.item() == pytest.approx(4 * KL_QUARTER / 2)


def test_teacher_with_more_bins_is_resampled():
    s = simcc([0.0, 0.0], [0.0, 0.0])
    # teacher softmax ∝ [1, e^5, 3, e^5]; student bin i reads teacher bin 2i
    # -> [1, 3] renormalised = [.25, .75]
    t = simcc([0.0, 5.0, LN3, 5.0], [0.0, 5.0, 0.0, 5.0])
    assert SimCCKLDistillLoss()(s, t).item() == pytest.approx(KL_QUARTER / 2)


def test_masked_keypoint_changes_nothing():
    s = (torch.zeros(1, 2, 2), torch.zeros(1, 2, 2))
    t = (torch.tensor([[[0.0, LN3], [9.0, 0.0]]]), torch.zeros(1, 2, 2))
    w = torch.tensor([[1.0, 0.0]])
    assert SimCCKLDistillLoss()(s, t, w).item() == pytest.approx(
        KL_QUARTER / 2)


def test_gradient_reaches_student_only():
    s = tuple(p.requires_grad_(True) for p in simcc([0.0, 0.0], [0.0, 0.0]))
    t = tuple(p.requires_grad_(True) for p in simcc([0.0, LN3], [1.0, 0.0]))
    SimCCKLDistillLoss()(s, t).backward()
    # x: (p_s - p_t) / 2 = [.25, -.25] / 2
    assert torch.allclose(s[0].grad.flatten(), torch.tensor([0.125, -0.125]))
    assert s[1].grad.abs().sum() > 0
    assert all(p.grad is None for p in t)
