"""Temperature-softened KL distillation on SimCC logits."""
from __future__ import annotations

from typing import Optional, Sequence

from mmpose.registry import MODELS
from torch import Tensor

from .base import BaseDistillLoss
from .utils import (check_same_leading, check_temperature, detach_teacher,
                    softmax_kl, weighted_mean)


@MODELS.register_module()
class SimCCKLDistillLoss(BaseDistillLoss):
    """KL between teacher and student SimCC distributions, x and y averaged.

    .. math::
        l_{bk} = \\frac{T^2}{2} \\left[
            \\mathrm{KL}(\\sigma(x^t/T) \\,\\|\\, \\sigma(x^s/T)) +
            \\mathrm{KL}(\\sigma(y^t/T) \\,\\|\\, \\sigma(y^s/T)) \\right],
        \\quad
        L = \\frac{\\sum_{bk} w_{bk} l_{bk}}
                 {\\max(\\sum_{bk} w_{bk}, \\epsilon)}

    with sigma the softmax over bins. The logit distillation of DWPose (Yang
    et al. 2023, "Effective Whole-body Pose Estimation with Two-stages
    Distillation") on RTMPose's SimCC head, with Hinton's T^2 scaling; DWPose
    sums the axes, here they are averaged so the scale matches the heatmap
    KL. RTMPose trains its head on softmax(logits * 10) (KLDiscretLoss
    beta=10), so T = 0.1 reproduces the distributions it was trained on.

    Shapes: ``pred_s`` = (x (B, K, Wx), y (B, K, Wy)); ``pred_t`` the same
    kinds. If the teacher has other bin counts (another input size or split
    ratio over the same crop), its softened distributions are resampled
    linearly to the student's bins and renormalised. ``weight`` (B, K) or
    None. Returns a scalar.
    """

    input_kind = 'simcc'
    teacher_kind = 'simcc'

    def __init__(self, temperature: float = 1.0):
        super().__init__()
        self.temperature = check_temperature(temperature)

    def forward(self, pred_s: Sequence[Tensor], pred_t: Sequence[Tensor],
                weight: Optional[Tensor] = None) -> Tensor:
        (x_s, y_s), (x_t, y_t) = pred_s, detach_teacher(pred_t)
        per_keypoint = 0.5 * (self._axis_kl(x_s, x_t) +
                              self._axis_kl(y_s, y_t))
        return weighted_mean(per_keypoint, weight)

    def _axis_kl(self, logits_s: Tensor, logits_t: Tensor) -> Tensor:
        """T^2 KL on one axis -> (B, K)."""
        check_same_leading(logits_s, logits_t, 2, type(self).__name__)
        return softmax_kl(logits_s, logits_t, self.temperature)
