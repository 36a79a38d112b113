"""FitNets-style feature distillation through a learned 1x1 connector."""
from __future__ import annotations

from typing import Optional

import torch
from mmpose.registry import MODELS
from torch import Tensor, nn

from .base import BaseDistillLoss
from .utils import (check_same_leading, detach_teacher, resize_spatial,
                    weighted_mean)


@MODELS.register_module()
class FeatureMSEDistillLoss(BaseDistillLoss):
    """MSE between the connected student feature and the teacher feature.

    .. math::
        l_b = \\frac{1}{C_t H_t W_t} \\sum_{c,h,w}
              (\\mathrm{resize}(r(F^s))_{bchw} - F^t_{bchw})^2, \\quad
        L = \\frac{\\sum_b w_b l_b}{\\max(\\sum_b w_b, \\epsilon)}

    ``r`` is a trainable 1x1 conv (student_channels -> teacher_channels),
    the "regressor" of FitNets (Romero et al., ICLR 2015, "FitNets: Hints
    for Thin Deep Nets"). It starts as the identity when the channel counts
    match (the loss is then plain feature MSE until it learns otherwise) and
    otherwise with Kaiming-normal weights (fan-in, linear gain, so the output
    keeps the input's variance) and zero bias. The connected student map is
    resized bilinearly to the teacher's (H_t, W_t) when they differ.

    The connector is trained with the student, so this loss has parameters
    (``has_params = True``): it must sit inside the model (the Distiller's
    model wrapper), not in a parameter-free hook.

    Shapes: ``pred_s`` (B, C_s, H, W); ``pred_t`` (B, C_t, H_t, W_t);
    ``weight`` (B,) per-sample weights or None. Returns a scalar.
    """

    input_kind = 'feature'
    teacher_kind = 'feature'
    has_params = True

    def __init__(self, student_channels: int, teacher_channels: int):
        super().__init__()
        self.connector = nn.Conv2d(student_channels, teacher_channels, 1)
        self._init_connector()

    def _init_connector(self) -> None:
        weight = self.connector.weight
        with torch.no_grad():
            if weight.shape[0] == weight.shape[1]:
                weight.copy_(torch.eye(weight.shape[0]).view_as(weight))
            else:
                nn.init.kaiming_normal_(weight, nonlinearity='linear')
            self.connector.bias.zero_()

    def forward(self, pred_s: Tensor, pred_t: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        pred_t = detach_teacher(pred_t)
        connected = self.connector(pred_s)
        check_same_leading(connected, pred_t, 2, type(self).__name__)
        connected = resize_spatial(connected, pred_t.shape[-2:])
        per_sample = (connected - pred_t).pow(2).mean(dim=(1, 2, 3))
        return weighted_mean(per_sample, weight)
