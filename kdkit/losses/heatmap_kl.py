"""Temperature-softened KL distillation on heatmaps."""
from __future__ import annotations

from typing import Optional

from mmpose.registry import MODELS
from torch import Tensor

from .base import BaseDistillLoss
from .utils import (LABEL_TEMPERATURE, check_reduction, check_same_leading,
                    check_temperature, detach_teacher, heatmap_distribution,
                    reduce_heatmap, resize_spatial, softened_kl)


@MODELS.register_module()
class HeatmapKLDistillLoss(BaseDistillLoss):
    """KL between spatial distributions of teacher and student heatmaps.

    Each key point's map is flattened over its H*W cells. The teacher's is
    divided by its own peak before the softmax (no flat floor: a peak of 0.4
    holds as much target mass as a peak of 1.0, see
    :func:`~kdkit.losses.utils.heatmap_distribution`); the student's is not,
    so its optimum is the teacher's map rescaled to peak 1 -- the label
    heatmaps' scale, which the label loss asks for too:

    .. math::
        p^t = \\mathrm{softmax}\\Big(\\frac{h^t}{T \\max h^t}\\Big), \\quad
        p^s = \\mathrm{softmax}(h^s / T), \\quad
        l_{bk} = \\Big(\\frac{T}{T_0}\\Big)^2
                 \\mathrm{KL}(p^t_{bk} \\,\\|\\, p^s_{bk})

    Following Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a
    Neural Network": their T^2 keeps the gradient size independent of T; it
    is taken relative to T_0 = 0.1, the temperature pose heads' label losses
    train at (:func:`~kdkit.losses.utils.temperature_scale`).

    Reduction (``reduction='label'``, the default): as MMPose's
    ``KeypointMSELoss`` reduces the label term beside it, i.e. l / (H*W)
    averaged over batch and key points (masked key points count as zeros),
    so the KD / label ratio is the same at any batch size and map size.
    ``'keypoint'``: the weighted mean of l over the unmasked key points.

    Shapes: ``pred_s`` (B, K, H, W); ``pred_t`` (B, K, H', W'), resized
    bilinearly to (H, W) before the softmax when it differs; ``weight``
    (B, K) or None. Returns a scalar.
    """

    input_kind = 'heatmap'
    teacher_kind = 'heatmap'

    def __init__(self, temperature: float = LABEL_TEMPERATURE,
                 reduction: str = 'label'):
        super().__init__()
        self.temperature = check_temperature(temperature)
        self.reduction = check_reduction(reduction)

    def forward(self, pred_s: Tensor, pred_t: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        check_same_leading(pred_s, pred_t, 2, type(self).__name__)
        pred_t = resize_spatial(detach_teacher(pred_t), pred_s.shape[-2:])
        p_t = heatmap_distribution(pred_t, self.temperature)
        per_keypoint = softened_kl(pred_s.flatten(-2), p_t, self.temperature)
        if self.reduction == 'label':
            per_keypoint = per_keypoint / p_t.shape[-1]
        return reduce_heatmap(per_keypoint, weight, self.reduction)
