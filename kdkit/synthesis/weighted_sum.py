"""The plain weighted sum of loss terms."""
from __future__ import annotations

from mmpose.registry import MODELS
from torch import Tensor

from .base import BaseSynthesis, weighted_loss_dict


@MODELS.register_module()
class WeightedSum(BaseSynthesis):
    """L = sum_i w_i L_i.

    Emits 'loss_<name>' = w_i L_i (MMEngine sums them) and 'w_<name>' = w_i.
    Scheduled weights (warm-up, decay) come from a hook that edits
    ``weights`` between iterations; the rule itself has no state.
    """

    def forward(self, terms: dict[str, Tensor],
                weights: dict[str, float]) -> dict[str, Tensor]:
        self._validate(terms, weights)
        return weighted_loss_dict(terms, weights)
