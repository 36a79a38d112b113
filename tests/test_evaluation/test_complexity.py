import pytest
from torch import nn

from kdkit.evaluation.complexity import model_complexity


def test_conv_hand_computed():
    conv = nn.Conv2d(3, 8, kernel_size=3, padding=1)
    out = model_complexity(conv, (1, 3, 16, 16))
    assert out['params'] == 8 * 3 * 3 * 3 + 8
    # one multiply-add per weight per output pixel; bias is not counted
    assert out['flops_raw'] == 8 * 16 * 16 * 3 * 3 * 3
    assert out['flops'] == pytest.approx(out['flops_raw'] / 1e9)


def test_batch_dim_optional_and_linear_in_batch():
    conv = nn.Conv2d(3, 4, kernel_size=1, bias=False)
    assert model_complexity(conv, (3, 8, 8))['flops_raw'] == 4 * 3 * 64
    assert model_complexity(conv, (2, 3, 8, 8))['flops_raw'] == 2 * 4 * 3 * 64


def test_stock_pose_model(mobilenetv2_64):
    out = model_complexity(mobilenetv2_64, (1, 3, 64, 64))
    assert out['params'] > 1_000_000
    assert out['flops'] > 0
    assert not mobilenetv2_64.training  # left as it was (eval)
