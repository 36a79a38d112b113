"""DWPose's feature loss for a teacher whose feature map has another size."""
from __future__ import annotations

from mmpose.models.losses.fea_dis_loss import FeaLoss
from mmpose.registry import MODELS
from torch import Tensor

from .utils import resize_spatial


@MODELS.register_module()
class ResizedFeaLoss(FeaLoss):
    """MMPose's ``FeaLoss`` (DWPose, Yang et al. 2023) with the aligned student
    map resized to the teacher's when their spatial sizes differ.

    .. math::
        L = \\frac{\\alpha}{N} \\sum_{n,c,h,w}
            (\\mathrm{resize}(a(F^s))_{nchw} - F^t_{nchw})^2

    ``a`` is FeaLoss's 1x1 align conv (student_channels -> teacher_channels,
    absent when they match); ``resize`` is bilinear, to the teacher's
    (H_t, W_t), as in :class:`FeatureMSEDistillLoss`. With equal sizes this is
    FeaLoss exactly (same arguments, same parameters, so a DWPose config
    switches by its ``type``). It lets ``DWPoseDistiller`` distil from a
    teacher that reads a finer feature map than the student (the stride-16
    RTMPose-s of ``configs/teacher/rtmpose-s-s16_*``: 6x8 vs the RTMPose-t
    student's 3x4 at 96x128); the sum runs over the teacher's H_t W_t cells.

    Shapes: ``preds_S`` (N, C_s, H, W); ``preds_T`` (N, C_t, H_t, W_t).
    Returns a scalar.
    """

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        outs = preds_S if self.align is None else self.align(preds_S)
        if outs.shape[-2:] != preds_T.shape[-2:]:
            outs = resize_spatial(outs, preds_T.shape[-2:])
        return self.get_dis_loss(outs, preds_T)
