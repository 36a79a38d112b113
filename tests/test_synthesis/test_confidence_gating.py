import pytest
import torch

from kdkit.synthesis import ConfidenceGating, SynthesisContext

INPUT = (8, 8)  # tolerance 0.1 -> 0.8 px; 4x4 heatmap -> stride 2


def heatmap_with_peaks(peaks):
    """peaks[b][k] = (value, row, col) -> (B, K, 4, 4)."""
    maps = torch.zeros(len(peaks), len(peaks[0]), 4, 4)
    for b, row in enumerate(peaks):
        for k, (value, r, c) in enumerate(row):
            maps[b, k, r, c] = value
    return maps


def context(teacher, gt_keypoints, gt_weights, is_labeled, kind='heatmap'):
    return SynthesisContext(
        student={}, teacher={kind: teacher},
        gt_keypoints=torch.tensor(gt_keypoints),
        gt_weights=torch.tensor(gt_weights), input_size=INPUT,
        is_labeled=torch.tensor(is_labeled))


def test_gating_on_hand_made_heatmap():
    teacher = heatmap_with_peaks([
        # labelled frame
        [(0.9, 1, 2),  # confident, argmax (4, 2) px = label -> 1
         (0.9, 0, 0),  # confident, argmax (0, 0) px, label (7, 7) -> 0
         (0.3, 1, 2),  # unconfident -> 0
         (0.9, 3, 3)],  # confident, key point not labelled -> 1
        # unlabelled frame
        [(0.9, 0, 0), (0.3, 0, 0), (0.5, 2, 2), (0.7, 3, 1)],
    ])
    gt = [[[4, 2], [7, 7], [4, 2], [0, 0]], [[7, 7]] * 4]
    ctx = context(teacher, gt, [[1, 1, 1, 0], [0, 0, 0, 0]], [True, False])
    rule = ConfidenceGating(threshold=0.5, tolerance=0.1)
    gate = rule.keypoint_weights(ctx)
    assert gate.tolist() == [[1, 0, 0, 1], [1, 0, 1, 1]]  # 0.5 >= 0.5 in
    out = rule({'gt': torch.tensor(2.0), 'kd_heatmap': torch.tensor(1.0)},
               {'gt': 1.0, 'kd_heatmap': 3.0})
    assert out['gate_ratio'].item() == pytest.approx(5 / 8)
    assert out['loss_gt'].item() == 2.0 and out['loss_kd_heatmap'] == 3.0


def test_label_within_tolerance_agrees():
    teacher = heatmap_with_peaks([[(0.9, 1, 2)]])  # argmax (4, 2) px
    ctx = context(teacher, [[[4.5, 2.5]]], [[1]], [True])  # 0.71 px away
    assert ConfidenceGating().keypoint_weights(ctx).tolist() == [[1]]
    ctx = context(teacher, [[[5.0, 2.0]]], [[1]], [True])  # 1 px away
    assert ConfidenceGating().keypoint_weights(ctx).tolist() == [[0]]


def test_simcc_confidence_is_min_of_axis_peaks():
    # 8x8 input, 16 bins per axis (split 2): bin 8 -> 4 px
    x = torch.zeros(1, 2, 16)
    y = torch.zeros(1, 2, 16)
    x[0, 0, 8], y[0, 0, 4] = 0.9, 0.8  # conf .8, argmax (4, 2) px
    x[0, 1, 8], y[0, 1, 4] = 0.9, 0.4  # conf .4 -> gated out
    ctx = context((x, y), [[[4, 2], [4, 2]]], [[1, 1]], [True], kind='simcc')
    gate = ConfidenceGating(kind='simcc').keypoint_weights(ctx)
    assert gate.tolist() == [[1, 0]]


def test_is_labeled_defaults_from_gt_weights():
    ctx = SynthesisContext({}, {}, torch.zeros(2, 1, 2),
                           torch.tensor([[1.0], [0.0]]), INPUT)
    assert ctx.is_labeled.tolist() == [True, False]


def test_missing_teacher_output_and_bad_kind():
    ctx = context(torch.zeros(1, 1, 4, 4), [[[0, 0]]], [[1]], [True])
    with pytest.raises(ValueError, match='simcc'):
        ConfidenceGating(kind='simcc').keypoint_weights(ctx)
    with pytest.raises(ValueError, match='kind'):
        ConfidenceGating(kind='feature')


def test_forward_before_gating_has_no_ratio():
    out = ConfidenceGating()({'gt': torch.tensor(1.0)}, {'gt': 1.0})
    assert 'gate_ratio' not in out
