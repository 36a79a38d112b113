import math

import pytest
import torch

from kdkit.losses import HeatmapKLDistillLoss

LN3 = math.log(3)
# softmax([0, 1] / T_Q) = [.25, .75]: the peak-normalised 1x2 map [0, a]
T_Q = 1 / LN3
SCALE_Q = (T_Q / 0.1)**2  # (T / T_label)^2
# KL([.25, .75] || [.5, .5])
KL_QUARTER = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)


def test_zero_when_student_equals_the_peak_normalised_teacher():
    t = torch.rand(2, 3, 4, 5) * 0.5
    s = t / t.flatten(-2).amax(-1)[..., None, None]
    for reduction in ('label', 'keypoint'):
        loss = HeatmapKLDistillLoss(temperature=0.5, reduction=reduction)
        assert loss(s, t).item() == pytest.approx(0.0, abs=1e-6)
        assert loss(s, s.clone()).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize('peak', [1.0, 0.6, 0.4])
def test_known_value_whatever_the_teacher_peak(peak):
    s = torch.zeros(1, 1, 1, 2)  # softmax -> [.5, .5]
    t = torch.tensor([[[[0.0, peak]]]])  # / peak, / T_Q -> [.25, .75]
    # label reduction: / (H * W) = / 2
    label = HeatmapKLDistillLoss(temperature=T_Q)(s, t).item()
    assert label == pytest.approx(SCALE_Q * KL_QUARTER / 2)
    keypoint = HeatmapKLDistillLoss(temperature=T_Q, reduction='keypoint')
    assert keypoint(s, t).item() == pytest.approx(SCALE_Q * KL_QUARTER)


def test_label_reduction_counts_masked_keypoints_as_zeros():
    s = torch.zeros(1, 2, 1, 2)
    t = torch.tensor([[[[0.0, 0.5]], [[5.0, 0.0]]]])
    w = torch.tensor([[1.0, 0.0]])
    kl = SCALE_Q * KL_QUARTER
    assert HeatmapKLDistillLoss(temperature=T_Q)(s, t, w).item() == \
        pytest.approx(kl / 2 / 2)  # / cells, / (B * K)
    keypoint = HeatmapKLDistillLoss(temperature=T_Q, reduction='keypoint')
    assert keypoint(s, t, w).item() == pytest.approx(kl)


def test_gradient_reaches_student_only():
    s = torch.zeros(1, 1, 1, 2, requires_grad=True)
    t = torch.tensor([[[[0.0, 0.3]]]], requires_grad=True)
    HeatmapKLDistillLoss(temperature=T_Q)(s, t).backward()
    # d/ds of scale * KL(p_t || softmax(s / T)) / 2 = scale (p_s - p_t) / T / 2
    expected = SCALE_Q * torch.tensor([0.25, -0.25]) / T_Q / 2
    assert torch.allclose(s.grad.flatten(), expected)
    assert t.grad is None


def test_teacher_map_resized_to_student():
    # teacher (2, 4): student cell (0, j) reads teacher (0, 2j) -> [1, 3],
    # peak-normalised [1/3, 1]
    s = torch.tensor([[[[1 / 3, 1.0]]]])
    t = torch.tensor([[[[1.0, 9.0, 3.0, 9.0], [9.0, 9.0, 9.0, 9.0]]]])
    assert HeatmapKLDistillLoss()(s, t).item() == pytest.approx(0.0, abs=1e-6)


def test_default_reduction_keeps_the_ratio_to_the_label_loss_at_any_batch_size():
    """KeypointMSELoss averages over the batch: so does the KD term."""
    torch.manual_seed(0)
    s, t = torch.rand(2, 3, 8, 6), torch.rand(2, 3, 8, 6)
    loss = HeatmapKLDistillLoss()
    doubled = loss(torch.cat([s, s]), torch.cat([t, t]))
    assert doubled.item() == pytest.approx(loss(s, t).item(), rel=1e-6)


def test_temperature_and_reduction_checked():
    with pytest.raises(ValueError, match='temperature'):
        HeatmapKLDistillLoss(temperature=0)
    with pytest.raises(ValueError, match='reduction'):
        HeatmapKLDistillLoss(reduction='sum')
