"""Cross-representation KD: a heatmap teacher supervising a SimCC student."""
from __future__ import annotations

import math
from typing import Optional, Sequence

from mmpose.registry import MODELS
from torch import Tensor

from .base import BaseDistillLoss
from .utils import (LABEL_TEMPERATURE, check_reduction, check_same_leading,
                    check_temperature, detach_teacher, heatmap_marginals,
                    reduce_simcc, resample_distribution, softened_kl)


@MODELS.register_module()
class HeatmapToSimCCDistillLoss(BaseDistillLoss):
    """KL from a teacher heatmap's axis marginals to student SimCC logits.

    The teacher map, divided by its own peak (no flat floor, see
    :func:`~kdkit.losses.utils.heatmap_distribution`), is softened over the
    whole grid, its marginals taken per axis and resampled to the student's
    bins (linear, renormalised):

    .. math::
        P = \\mathrm{softmax}_{hw}\\Big(\\frac{h^t}{T \\max h^t}\\Big), \\quad
        q_x = \\mathcal{R}_{W_x}\\Big(\\sum_h P_{h\\cdot}\\Big), \\quad
        q_y = \\mathcal{R}_{W_y}\\Big(\\sum_w P_{\\cdot w}\\Big)

    .. math::
        l^a_{bk} = \\Big(\\frac{T}{T_0}\\Big)^2
            \\mathrm{KL}(q_a \\,\\|\\, \\sigma(a^s/T)), \\quad
        L = \\frac{1}{K} \\sum_{b,k} w_{bk}
            \\Big(\\frac{l^x_{bk}}{W_x} + \\frac{l^y_{bk}}{W_y}\\Big)

    The logit-distillation of DWPose (Yang et al. 2023) with the SimCC target
    built from a heatmap (SimCC's 1-D marginal view of the 2-D map, Li et
    al., ECCV 2022), T^2-scaled as in Hinton et al. 2015, relative to T_0 =
    0.1 (:func:`~kdkit.losses.utils.temperature_scale`).

    Reduction: ``'label'`` (the default, above) as RTMPose's label loss
    ``KLDiscretLoss`` reduces, so the KD / label ratio holds at any batch
    size and bin count; ``'keypoint'`` the weighted mean over key points
    of (l^x + l^y) / 2 (see :class:`SimCCKLDistillLoss`).

    Bin mapping. Both grids span the same input crop, so it is derived from
    the shapes: MMPose puts heatmap pixel j at input x = j * stride and SimCC
    bin i at x = i / split_ratio, hence bin i reads the marginal at heatmap
    position i * W / Wx (see :mod:`kdkit.losses.utils`). ``split_ratio`` is
    the student codec's; it gives the student's input size Wx / split_ratio,
    used to check that the teacher map covers the same crop shape (equal
    x and y strides) and to say so when it does not.

    The default T = 0.1 is the temperature RTMPose's head trains at
    (``KLDiscretLoss`` beta=10) and gives a peaked target.

    Shapes: ``pred_s`` = (x (B, K, Wx), y (B, K, Wy)); ``pred_t`` (B, K, H,
    W); ``weight`` (B, K) or None. Returns a scalar.
    """

    input_kind = 'simcc'
    teacher_kind = 'heatmap'

    def __init__(self, temperature: float = LABEL_TEMPERATURE,
                 split_ratio: float = 2.0, reduction: str = 'label'):
        super().__init__()
        self.temperature = check_temperature(temperature)
        self.reduction = check_reduction(reduction)
        if split_ratio <= 0:
            raise ValueError(f'split_ratio must be > 0, got {split_ratio}')
        self.split_ratio = float(split_ratio)

    def forward(self, pred_s: Sequence[Tensor], pred_t: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        x_s, y_s = pred_s
        check_same_leading(x_s, pred_t, 2, type(self).__name__)
        self._check_same_crop(x_s.shape[-1], y_s.shape[-1], pred_t.shape[-2:])
        q_x, q_y = heatmap_marginals(detach_teacher(pred_t),
                                     self.temperature)
        q_x = resample_distribution(q_x, x_s.shape[-1])
        q_y = resample_distribution(q_y, y_s.shape[-1])
        per_axis = [softened_kl(x_s, q_x, self.temperature),
                    softened_kl(y_s, q_y, self.temperature)]
        bins = [x_s.shape[-1], y_s.shape[-1]]
        return reduce_simcc(per_axis, bins, weight, self.reduction)

    def _check_same_crop(self, bins_x: int, bins_y: int,
                         heatmap_hw: Sequence[int]) -> None:
        """Teacher and student must see the same crop: equal x/y strides."""
        in_w, in_h = bins_x / self.split_ratio, bins_y / self.split_ratio
        stride_x, stride_y = in_w / heatmap_hw[1], in_h / heatmap_hw[0]
        if not math.isclose(stride_x, stride_y, rel_tol=0.02):
            raise ValueError(
                f'SimCC bins ({bins_x}, {bins_y}) at split_ratio '
                f'{self.split_ratio} mean a {in_w:g}x{in_h:g} input, but the '
                f'teacher heatmap is {heatmap_hw[1]}x{heatmap_hw[0]}: strides '
                f'{stride_x:g} (x) and {stride_y:g} (y) differ, so the two '
                f'models do not see the same crop shape')
