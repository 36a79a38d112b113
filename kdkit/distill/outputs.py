"""What a pose head returns, named by kind, and capturing it during ``head.loss``."""
from __future__ import annotations

import contextlib

import torch


def head_output_kind(out) -> str:
    """'heatmap' for a (B,K,H,W) tensor, 'simcc' for an (x, y) pair of (B,K,W) logits."""
    if isinstance(out, torch.Tensor) and out.dim() == 4:
        return 'heatmap'
    if (isinstance(out, (tuple, list)) and len(out) == 2
            and all(isinstance(t, torch.Tensor) and t.dim() == 3 for t in out)):
        return 'simcc'
    raise TypeError(
        'kdkit distils heatmap heads ((B,K,H,W) output) and SimCC heads '
        f'((x, y) logits); this head returned {type(out).__name__}')


def split_head_outputs(head_out, feats) -> dict:
    out = {head_output_kind(head_out): head_out}
    out['feature'] = feats[-1]
    return out


@contextlib.contextmanager
def capture_head_forward(head):
    """Record the output of ``head.forward`` while the head computes its own loss.

    MMPose heads call ``self.forward(feats)`` inside ``loss``; shadowing the
    bound method on the instance lets the distiller reuse that output instead
    of running the head twice.
    """
    captured = {}
    shadowed = head.__dict__.get('forward')
    original = head.forward

    def forward(*args, **kwargs):
        captured['out'] = original(*args, **kwargs)
        return captured['out']

    head.forward = forward
    try:
        yield captured
    finally:
        if shadowed is None:
            del head.forward  # back to the class method
        else:
            head.forward = shadowed
