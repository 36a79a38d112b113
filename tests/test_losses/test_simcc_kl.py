import math

import pytest
import torch
from mmpose.registry import MODELS

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


def test_known_value_per_axis_and_temperature_scale():
    s = simcc([0.0, 0.0], [0.0, 0.0])
    t = simcc([0.0, 0.1 * LN3], [0.0, 0.0])  # softmax(t / 0.1) = [.25, .75]
    # label reduction: (KL_x / Wx + KL_y / Wy) summed over B, K, / K
    assert SimCCKLDistillLoss()(s, t).item() == pytest.approx(KL_QUARTER / 2)
    keypoint = SimCCKLDistillLoss(reduction='keypoint')
    assert keypoint(s, t).item() == pytest.approx(KL_QUARTER / 2)  # axes mean
    # at T = 0.2 the teacher 2t softens the same; (T / 0.1)^2 = 4
    t2 = simcc([0.0, 0.2 * LN3], [0.0, 0.0])
    loss_t2 = SimCCKLDistillLoss(temperature=0.2)(s, t2)
    assert loss_t2.item() == pytest.approx(4 * KL_QUARTER / 2)


def test_teacher_with_more_bins_is_resampled():
    s = simcc([0.0, 0.0], [0.0, 0.0])
    # teacher softmax ∝ [1, e^5, 3, e^5]; student bin i reads teacher bin 2i
    # -> [1, 3] renormalised = [.25, .75]
    t = simcc([0.0, 0.5, 0.1 * LN3, 0.5], [0.0, 0.5, 0.0, 0.5])
    assert SimCCKLDistillLoss()(s, t).item() == pytest.approx(KL_QUARTER / 2)


def test_masked_keypoint():
    s = (torch.zeros(1, 2, 2), torch.zeros(1, 2, 2))
    t = (torch.tensor([[[0.0, 0.1 * LN3], [0.9, 0.0]]]), torch.zeros(1, 2, 2))
    w = torch.tensor([[1.0, 0.0]])
    # label: a zero in the sum over key points, / K = 2
    assert SimCCKLDistillLoss()(s, t, w).item() == pytest.approx(
        KL_QUARTER / 2 / 2)
    keypoint = SimCCKLDistillLoss(reduction='keypoint')
    assert keypoint(s, t, w).item() == pytest.approx(KL_QUARTER / 2)


def test_gradient_reaches_student_only():
    s = tuple(p.requires_grad_(True) for p in simcc([0.0, 0.0], [0.0, 0.0]))
    t = tuple(p.requires_grad_(True)
              for p in simcc([0.0, 0.1 * LN3], [0.1, 0.0]))
    SimCCKLDistillLoss()(s, t).backward()
    # x: (p_s - p_t) / T / Wx = [.25, -.25] / 0.1 / 2
    assert torch.allclose(s[0].grad.flatten(), torch.tensor([1.25, -1.25]))
    assert s[1].grad.abs().sum() > 0
    assert all(p.grad is None for p in t)


@pytest.mark.parametrize('batch,bins', [(2, (8, 6)), (5, (8, 6)), (2, (32, 24))])
def test_default_is_mmpose_label_loss_with_the_teacher_as_label(batch, bins):
    """At T = 0.1 the KD term is RTMPose's own KLDiscretLoss(beta=10) with the
    teacher's softmax(logits * 10) as the label: their ratio is the weight,
    whatever the batch size and bin count."""
    torch.manual_seed(batch)
    s = tuple(torch.randn(batch, 3, n) for n in bins)
    t = tuple(torch.randn(batch, 3, n) for n in bins)
    w = (torch.rand(batch, 3) > 0.3).float()
    label_loss = MODELS.build(dict(type='KLDiscretLoss', beta=10., label_softmax=True,
                                   label_beta=10., use_target_weight=True))
    expected = label_loss(s, t, w).item()
    assert SimCCKLDistillLoss()(s, t, w).item() == pytest.approx(expected,
                                                                rel=1e-5)
