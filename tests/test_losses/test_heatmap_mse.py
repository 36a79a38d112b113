import pytest
import torch

from kdkit.losses import HeatmapMSEDistillLoss


def make_pair():
    # (B=1, K=2, H=1, W=2)
    s = torch.tensor([[[[1.0, 3.0]], [[0.0, 0.0]]]])
    t = torch.tensor([[[[0.0, 1.0]], [[2.0, 2.0]]]])
    return s, t


def test_zero_when_student_equals_teacher():
    s = torch.rand(2, 3, 4, 5)
    assert HeatmapMSEDistillLoss()(s, s.clone()).item() == 0.0


def test_known_value():
    s, t = make_pair()
    # kp0: (1^2 + 2^2) / 2 = 2.5; kp1: (2^2 + 2^2) / 2 = 4
    loss = HeatmapMSEDistillLoss()
    assert loss(s, t).item() == pytest.approx((2.5 + 4) / 2)
    # label reduction, as KeypointMSELoss: mean over B * K of w * l
    assert loss(s, t, torch.tensor([[2.0, 1.0]])).item() == pytest.approx(
        (2 * 2.5 + 4) / 2)
    keypoint = HeatmapMSEDistillLoss(reduction='keypoint')
    assert keypoint(s, t, torch.tensor([[2.0, 1.0]])).item() == pytest.approx(
        (2 * 2.5 + 4) / 3)


def test_masked_keypoint_changes_nothing():
    s, t = make_pair()
    w = torch.tensor([[1.0, 0.0]])
    for reduction, expected in (('label', 2.5 / 2), ('keypoint', 2.5)):
        loss = HeatmapMSEDistillLoss(reduction=reduction)
        before = loss(s, t, w)
        s[0, 1] += 100
        assert loss(s, t, w).item() == pytest.approx(before.item())
        assert before.item() == pytest.approx(expected)


def test_gradient_reaches_student_only():
    s, t = make_pair()
    s.requires_grad_(True)
    t.requires_grad_(True)
    HeatmapMSEDistillLoss()(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_teacher_map_resized_to_student():
    s = torch.tensor([[[[1.0, 3.0]]]])  # (1, 1, 1, 2)
    # teacher (2, 4): student cell (0, j) reads teacher (0, 2j)
    t = torch.tensor([[[[1.0, 9.0, 3.0, 9.0], [9.0, 9.0, 9.0, 9.0]]]])
    assert HeatmapMSEDistillLoss()(s, t).item() == pytest.approx(0.0)


def test_mismatched_keypoints_rejected():
    with pytest.raises(ValueError, match='first 2 dims'):
        HeatmapMSEDistillLoss()(torch.rand(1, 2, 4, 4), torch.rand(1, 3, 4, 4))
