"""ResizedFeaLoss: MMPose's DWPose FeaLoss when the maps match, the aligned
student map resized to the teacher's when they do not (hand-computed)."""
import pytest
import torch
from mmpose.models.losses.fea_dis_loss import FeaLoss

from kdkit.losses import ResizedFeaLoss
from kdkit.losses.utils import resize_spatial


def pair_of(student_channels=8, teacher_channels=4, alpha=0.5):
    kw = dict(name='loss_fea', use_this=True, student_channels=student_channels,
              teacher_channels=teacher_channels, alpha_fea=alpha)
    torch.manual_seed(0)
    ours = ResizedFeaLoss(**kw)
    torch.manual_seed(0)
    return ours, FeaLoss(**kw)


def test_same_size_is_fealoss():
    ours, stock = pair_of()
    s, t = torch.randn(2, 8, 4, 3), torch.randn(2, 4, 4, 3)
    assert torch.allclose(ours(s, t), stock(s, t))
    same, stock_same = pair_of(4, 4)
    assert same.align is None and torch.allclose(same(t + 1, t), stock_same(t + 1, t))


def test_other_size_resizes_the_aligned_student_map():
    ours, _ = pair_of(alpha=0.5)
    s = torch.randn(2, 8, 4, 3, requires_grad=True)
    t = torch.randn(2, 4, 8, 6)  # the stride-16 teacher's map is twice the student's
    loss = ours(s, t)
    expected = ((resize_spatial(ours.align(s), (8, 6)) - t) ** 2).sum() / 2 * 0.5
    assert loss.shape == () and torch.allclose(loss, expected)
    loss.backward()
    assert s.grad.abs().sum() > 0 and ours.align.weight.grad.abs().sum() > 0
    # a constant map stays constant through the resize: hand-computed value
    same, _ = pair_of(4, 4, alpha=1.0)
    value = same(torch.full((1, 4, 2, 2), 3.0), torch.ones(1, 4, 4, 4))
    assert value.item() == pytest.approx(4 * 16 * (3.0 - 1.0) ** 2)
