"""Heatmap MSE distillation."""
from __future__ import annotations

from typing import Optional

from mmpose.registry import MODELS
from torch import Tensor

from .base import BaseDistillLoss
from .utils import (check_reduction, check_same_leading, detach_teacher,
                    reduce_heatmap, resize_spatial)


@MODELS.register_module()
class HeatmapMSEDistillLoss(BaseDistillLoss):
    """Mean squared error between student and teacher heatmaps.

    .. math::
        l_{bk} = \\frac{1}{HW} \\sum_{h,w} (S_{bkhw} - T_{bkhw})^2, \\quad
        L = \\frac{1}{BK} \\sum_{bk} w_{bk} l_{bk}

    The heatmap-regression objective of SimpleBaseline (Xiao et al., ECCV
    2018) with the teacher's heatmaps as targets, i.e. plain response-based
    distillation (as in Fast Pose Distillation, Zhang et al., CVPR 2019).

    Reduction (``reduction='label'``, the default) as MMPose's
    ``KeypointMSELoss`` reduces the label term: the mean over batch, key
    points and cells, masked key points counting as zeros (above);
    ``'keypoint'`` divides by the sum of the weights instead.

    Shapes: ``pred_s`` (B, K, H, W); ``pred_t`` (B, K, H', W'), resized
    bilinearly to (H, W) when it differs (grids aligned as MMPose's codecs
    place them, see :mod:`kdkit.losses.utils`); ``weight`` (B, K) or None.
    Returns a scalar.
    """

    input_kind = 'heatmap'
    teacher_kind = 'heatmap'

    def __init__(self, reduction: str = 'label'):
        super().__init__()
        self.reduction = check_reduction(reduction)

    def forward(self, pred_s: Tensor, pred_t: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        check_same_leading(pred_s, pred_t, 2, type(self).__name__)
        pred_t = resize_spatial(detach_teacher(pred_t), pred_s.shape[-2:])
        per_keypoint = (pred_s - pred_t).pow(2).mean(dim=(-2, -1))
        return reduce_heatmap(per_keypoint, weight, self.reduction)
