import math

import pytest
import torch

from kdkit.losses import TemporalMotionDistillLoss
from kdkit.losses.temporal import soft_argmax

BIG = 100.0  # beta that makes one-hot logits a hard argmax (e^-100 ~ 0)


def one_hot_heatmaps(positions, size):
    """positions: per frame (x, y) cells -> (B, 1, size, size)."""
    maps = torch.zeros(len(positions), 1, size, size)
    for b, (x, y) in enumerate(positions):
        maps[b, 0, y, x] = 1.0
    return maps


def one_hot_simcc(xs, bins):
    """per frame, per key point x bin; y fixed at bin 0 -> (B, K, bins)."""
    x = torch.zeros(len(xs), len(xs[0]), bins)
    for b, row in enumerate(xs):
        for k, i in enumerate(row):
            x[b, k, i] = 1.0
    y = torch.zeros_like(x)
    y[..., 0] = 1.0
    return x, y


def test_soft_argmax_known_values():
    # p = softmax([0, ln3]) = [.25, .75]; E[i] / n = .75 / 2 = .375
    x_logits = torch.tensor([[[0.0, math.log(3)]]])
    y_logits = torch.zeros(1, 1, 4)  # uniform: (0+1+2+3)/4/4 = .375
    loc = soft_argmax((x_logits, y_logits), 'simcc', beta=1.0)
    assert loc.flatten().tolist() == pytest.approx([0.375, 0.375])
    # (1, 1, 1, 2), divided by its peak: softmax([0, ln3]) whatever the peak
    for peak in (1.0, 0.4):
        heatmap = torch.tensor([[[[0.0, peak]]]])
        loc = soft_argmax(heatmap, 'heatmap', beta=math.log(3))
        assert loc.flatten().tolist() == pytest.approx([0.375, 0.0])


def test_same_motion_with_offset_and_other_resolution_costs_zero():
    clip_len = 3
    # student 8x8 at x = f + 1; teacher 16x16 at x = 2 (f + 3): both move
    # 1/8 of the width per frame, offset from each other
    frames = [f for _ in range(2) for f in range(clip_len)]  # N=2 clips
    s = one_hot_heatmaps([(f + 1, 2) for f in frames], 8)
    t = one_hot_heatmaps([(2 * (f + 3), 5) for f in frames], 16)
    loss = TemporalMotionDistillLoss(clip_len, kind='heatmap', beta=BIG)
    assert loss(s, t).item() == pytest.approx(0.0, abs=1e-12)


def test_known_velocity_gap():
    # Wx = 10: student moves 1 bin/frame (v = .1), teacher 2 (v = .2)
    s = one_hot_simcc([[0], [1], [2]], 10)
    t = one_hot_simcc([[0], [2], [4]], 10)
    loss = TemporalMotionDistillLoss(3, kind='simcc', beta=BIG)
    assert loss(s, t).item() == pytest.approx(0.1**2)
    # smooth-L1, delta .05: |d| = .1 >= delta -> .1 - .05 / 2
    huber = TemporalMotionDistillLoss(3, kind='simcc', beta=BIG,
                                      smooth_l1=0.05)
    assert huber(s, t).item() == pytest.approx(0.075)


def test_pair_weight_is_min_of_both_frames():
    # K=2: key point 0 has the .1 velocity gap, key point 1 matches
    s = one_hot_simcc([[0, 0], [1, 1]], 10)
    t = one_hot_simcc([[0, 0], [2, 1]], 10)
    loss = TemporalMotionDistillLoss(2, kind='simcc', beta=BIG)
    # key point 0 masked on frame 1 -> its pair drops out
    w = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    assert loss(s, t, w).item() == pytest.approx(0.0, abs=1e-12)
    assert loss(s, t, torch.ones(2, 2)).item() == pytest.approx(0.01 / 2)


def test_batch_must_hold_whole_clips():
    loss = TemporalMotionDistillLoss(3, kind='heatmap')
    s = torch.rand(4, 2, 8, 8)
    with pytest.raises(ValueError, match='clip_len'):
        loss(s, s.clone())
    with pytest.raises(ValueError, match='clip_len'):
        TemporalMotionDistillLoss(1)


def test_gradient_reaches_student_only():
    s = torch.rand(4, 2, 8, 8, requires_grad=True)
    t = torch.rand(4, 2, 8, 8, requires_grad=True)
    loss = TemporalMotionDistillLoss(2, kind='heatmap', beta=5.0)
    loss(s, t).backward()
    assert s.grad.abs().sum() > 0
    assert t.grad is None


def test_kind_sets_input_and_teacher_kind():
    loss = TemporalMotionDistillLoss(2, kind='simcc')
    assert loss.input_kind == loss.teacher_kind == 'simcc'
    with pytest.raises(ValueError, match='kind'):
        TemporalMotionDistillLoss(2, kind='feature')
