"""Temperature-softened KL distillation on heatmaps."""
from __future__ import annotations

from typing import Optional

from mmpose.registry import MODELS
from torch import Tensor

from .base import BaseDistillLoss
from .utils import (check_same_leading, check_temperature, detach_teacher,
                    resize_spatial, softmax_kl, weighted_mean)


@MODELS.register_module()
class HeatmapKLDistillLoss(BaseDistillLoss):
    """KL between spatial softmax distributions of teacher and student.

    Each key point's map is flattened over H*W and softened with T:

    .. math::
        p = \\mathrm{softmax}(h / T), \\quad
        l_{bk} = T^2\\, \\mathrm{KL}(p^t_{bk} \\,\\|\\, p^s_{bk}), \\quad
        L = \\frac{\\sum_{bk} w_{bk} l_{bk}}
                 {\\max(\\sum_{bk} w_{bk}, \\epsilon)}

    Following Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a
    Neural Network" (the T^2 factor keeps gradient size independent of T).

    Heatmaps from MSE-trained heads hold values in [0, 1], so at T = 1 the
    softmax is nearly flat; a T well below 1 (e.g. 0.1) gives peaked targets.

    Shapes: ``pred_s`` (B, K, H, W); ``pred_t`` (B, K, H', W'), resized
    bilinearly to (H, W) before the softmax when it differs; ``weight``
    (B, K) or None. Returns a scalar.
    """

    input_kind = 'heatmap'
    teacher_kind = 'heatmap'

    def __init__(self, temperature: float = 1.0):
        super().__init__()
        self.temperature = check_temperature(temperature)

    def forward(self, pred_s: Tensor, pred_t: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        check_same_leading(pred_s, pred_t, 2, type(self).__name__)
        pred_t = resize_spatial(detach_teacher(pred_t), pred_s.shape[-2:])
        per_keypoint = softmax_kl(pred_s.flatten(-2), pred_t.flatten(-2),
                                  self.temperature)
        return weighted_mean(per_keypoint, weight)
