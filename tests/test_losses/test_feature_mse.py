import pytest
import torch

from kdkit.losses import FeatureMSEDistillLoss


def test_identity_connector_when_channels_match():
    loss = FeatureMSEDistillLoss(3, 3)
    f = torch.randn(2, 3, 4, 4)
    assert loss(f, f.clone()).item() == pytest.approx(0.0, abs=1e-10)
    assert FeatureMSEDistillLoss.has_params and loss.has_params


def test_known_value_and_per_sample_weight():
    loss = FeatureMSEDistillLoss(1, 1)
    s = torch.tensor([[[[1.0, 2.0]]], [[[5.0, 5.0]]]])  # (2, 1, 1, 2)
    t = torch.tensor([[[[0.0, 0.0]]], [[[5.0, 5.0]]]])
    # sample 0: (1 + 4) / 2 = 2.5; sample 1: 0
    assert loss(s, t).item() == pytest.approx(1.25)
    assert loss(s, t, torch.tensor([1.0, 0.0])).item() == pytest.approx(2.5)
    assert loss(s, t, torch.tensor([0.0, 1.0])).item() == pytest.approx(0.0)


def test_kaiming_connector_when_channels_differ():
    torch.manual_seed(0)
    loss = FeatureMSEDistillLoss(64, 128)
    w = loss.connector.weight
    assert w.shape == (128, 64, 1, 1)
    assert torch.all(loss.connector.bias == 0)
    # fan-in, linear gain: std = 1 / sqrt(64)
    assert w.std().item() == pytest.approx(1 / 8, rel=0.1)
    s, t = torch.randn(2, 64, 4, 4), torch.randn(2, 128, 4, 4)
    assert loss(s, t).dim() == 0


def test_student_resized_to_teacher_size():
    loss = FeatureMSEDistillLoss(1, 1)
    # student (2, 4) -> teacher's (1, 2): cell (0, j) reads student (0, 2j)
    s = torch.tensor([[[[1.0, 9.0, 3.0, 9.0], [9.0, 9.0, 9.0, 9.0]]]])
    t = torch.tensor([[[[1.0, 3.0]]]])
    assert loss(s, t).item() == pytest.approx(0.0, abs=1e-10)


def test_gradient_reaches_student_and_connector_not_teacher():
    loss = FeatureMSEDistillLoss(2, 3)
    s = torch.randn(1, 2, 2, 2, requires_grad=True)
    t = torch.randn(1, 3, 2, 2, requires_grad=True)
    loss(s, t).backward()
    assert s.grad.abs().sum() > 0
    assert loss.connector.weight.grad.abs().sum() > 0
    assert t.grad is None
