"""Temperature-softened KL distillation on SimCC logits."""
from __future__ import annotations

from typing import Optional, Sequence

from mmpose.registry import MODELS
from torch import Tensor

from .base import BaseDistillLoss
from .utils import (LABEL_TEMPERATURE, check_reduction, check_same_leading,
                    check_temperature, detach_teacher, reduce_simcc,
                    softmax_kl)


@MODELS.register_module()
class SimCCKLDistillLoss(BaseDistillLoss):
    """KL between teacher and student SimCC distributions, per axis.

    .. math::
        l^a_{bk} = \\Big(\\frac{T}{T_0}\\Big)^2
            \\mathrm{KL}(\\sigma(a^t_{bk}/T) \\,\\|\\, \\sigma(a^s_{bk}/T)),
        \\quad a \\in \\{x, y\\}

    with sigma the softmax over bins. The logit distillation of DWPose (Yang
    et al. 2023, "Effective Whole-body Pose Estimation with Two-stages
    Distillation") on RTMPose's SimCC head, with Hinton's T^2 scaling taken
    relative to T_0 = 0.1 (:func:`~kdkit.losses.utils.temperature_scale`).
    RTMPose trains its head on softmax(logits * 10) (``KLDiscretLoss``
    beta=10), so the default T = 0.1 reproduces the distributions it was
    trained on, and at weight 1 the teacher counts as much as the labels.

    Reduction (``reduction='label'``, the default) as ``KLDiscretLoss``
    reduces the label term beside it:

    .. math::
        L = \\frac{1}{K} \\sum_{b,k} w_{bk}
            \\Big(\\frac{l^x_{bk}}{W_x} + \\frac{l^y_{bk}}{W_y}\\Big)

    -- summed over the batch, averaged over bins -- so the KD / label ratio
    is the same at any batch size and bin count. ``'keypoint'``: the
    weighted mean over key points of (l^x + l^y) / 2, independent of both
    (DWPose's ``KDLoss`` reduces so; beside ``KLDiscretLoss`` its share then
    falls as the batch grows).

    Shapes: ``pred_s`` = (x (B, K, Wx), y (B, K, Wy)); ``pred_t`` the same
    kinds. If the teacher has other bin counts (another input size or split
    ratio over the same crop), its softened distributions are resampled
    linearly to the student's bins and renormalised. ``weight`` (B, K) or
    None. Returns a scalar.
    """

    input_kind = 'simcc'
    teacher_kind = 'simcc'

    def __init__(self, temperature: float = LABEL_TEMPERATURE,
                 reduction: str = 'label'):
        super().__init__()
        self.temperature = check_temperature(temperature)
        self.reduction = check_reduction(reduction)

    def forward(self, pred_s: Sequence[Tensor], pred_t: Sequence[Tensor],
                weight: Optional[Tensor] = None) -> Tensor:
        per_axis = [self._axis_kl(s, t)
                    for s, t in zip(pred_s, detach_teacher(pred_t))]
        bins = [s.shape[-1] for s in pred_s]
        return reduce_simcc(per_axis, bins, weight, self.reduction)

    def _axis_kl(self, logits_s: Tensor, logits_t: Tensor) -> Tensor:
        """Scaled KL on one axis -> (B, K)."""
        check_same_leading(logits_s, logits_t, 2, type(self).__name__)
        return softmax_kl(logits_s, logits_t, self.temperature)
