"""Synthesis rules: how the named loss terms become the one loss MMEngine
optimises. Shared pieces: the context a rule may read, weight validation and
the weighted loss dict."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Optional

from torch import Tensor, nn


@dataclass
class SynthesisContext:
    """What a rule may look at to weight key points in one batch.

    student / teacher: kind -> head output, 'heatmap' (B, K, H, W) and/or
        'simcc' (x (B, K, Wx), y (B, K, Wy)), for the heads the model has.
    gt_keypoints: (B, K, 2) labels in model-input pixel coordinates.
    gt_weights: (B, K), 0 where a key point has no label.
    input_size: model input (w, h) in pixels.
    is_labeled: (B,) bool, frame carries annotations; None -> frames with
        any nonzero ``gt_weights``.
    """

    student: dict
    teacher: dict
    gt_keypoints: Tensor
    gt_weights: Tensor
    input_size: tuple[int, int]
    is_labeled: Optional[Tensor] = None

    def __post_init__(self):
        if self.is_labeled is None:
            self.is_labeled = (self.gt_weights > 0).any(dim=1)


def check_weights(weights: Mapping[str, float]) -> None:
    """Raise ValueError for a negative or non-finite weight (naming the term)
    or when every weight is zero (nothing would be optimised)."""
    for name, w in weights.items():
        w = float(w)
        if not math.isfinite(w):
            raise ValueError(f'weight of term {name!r} is {w}; must be finite')
        if w < 0:
            raise ValueError(f'weight of term {name!r} is {w}; must be >= 0')
    if weights and all(float(w) == 0 for w in weights.values()):
        raise ValueError(f'all term weights are zero ({", ".join(weights)}); '
                         f'at least one must be > 0')


def check_term_names(terms: Mapping[str, Tensor],
                     weights: Mapping[str, float]) -> None:
    """Every term needs a weight, and no name may contain 'loss': MMEngine
    sums every output key containing 'loss', which would then include the
    logged 'w_<name>' values."""
    for name in terms:
        if 'loss' in name:
            raise ValueError(f'term name {name!r} contains "loss"; MMEngine '
                             f'would sum its logged weight into the loss')
        if name not in weights:
            raise ValueError(f'term {name!r} has no weight (weights given: '
                             f'{sorted(weights)})')


def weighted_loss_dict(terms: Mapping[str, Tensor],
                       weights: Mapping[str, float]) -> dict[str, Tensor]:
    """'loss_<name>': w * L and 'w_<name>': w for every term."""
    out = {}
    for name, loss in terms.items():
        w = float(weights[name])
        out[f'loss_{name}'] = w * loss
        out[f'w_{name}'] = loss.new_tensor(w)
    return out


class BaseSynthesis(nn.Module):
    """A rule: key-point weights for the KD terms, then terms -> loss dict."""

    def keypoint_weights(self, ctx: SynthesisContext) -> Optional[Tensor]:
        """(B, K) weights applied to the KD terms; None means all ones."""
        return None

    def forward(self, terms: dict[str, Tensor],
                weights: dict[str, float]) -> dict[str, Tensor]:
        """terms: raw scalar losses by name ('gt', 'kd_heatmap', ...);
        weights: current per-term weights (schedule hooks / sliders edit
        them). Returns 'loss_<name>' (weighted scalars MMEngine sums) plus
        non-loss keys for logging ('w_<name>': effective weight)."""
        raise NotImplementedError

    def _validate(self, terms: Mapping[str, Tensor],
                  weights: Mapping[str, float]) -> None:
        check_weights(weights)
        check_term_names(terms, weights)
