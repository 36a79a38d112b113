"""Head output kinds and capturing head.forward during head.loss."""
import pytest
import torch
from torch import nn

from kdkit.distill.outputs import capture_head_forward, head_output_kind


def test_kinds():
    assert head_output_kind(torch.zeros(1, 17, 8, 6)) == 'heatmap'
    assert head_output_kind((torch.zeros(1, 17, 12), torch.zeros(1, 17, 16))) == 'simcc'
    with pytest.raises(TypeError, match='heatmap heads'):
        head_output_kind(torch.zeros(1, 17))


class Head(nn.Module):
    def forward(self, x):
        return x * 2

    def loss(self, x):
        return self.forward(x).sum()


def test_capture_sees_the_output_and_restores():
    head = Head()
    with capture_head_forward(head) as cap:
        assert head.loss(torch.ones(3)).item() == 6.0
    assert torch.equal(cap['out'], torch.full((3,), 2.0))
    assert 'forward' not in head.__dict__
