"""Temporal distillation: the teacher's key points, smoothed along each clip,
as sharp heatmap targets."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from torch import Tensor

from .base import BaseDistillLoss
from .utils import (EPS, check_reduction, check_same_leading, detach_teacher,
                    gaussian_maps, reduce_heatmap, resize_spatial)

# fit weights below this are raised to it, so a clip whose teacher is unsure
# everywhere still has a well-posed least-squares fit (its loss weight stays ~0)
MIN_FIT_WEIGHT = 1e-3
FIT_TO = ('teacher', 'student')


@MODELS.register_module()
class TemporalSmoothedHeatmapDistillLoss(BaseDistillLoss):
    """Heatmap KD toward the teacher's key points smoothed along the clip.

    The batch holds N clips of ``clip_len`` consecutive frames in order
    (B = N * clip_len), as for
    :class:`~kdkit.losses.TemporalMotionDistillLoss`. Per frame t and key
    point k, on the student's grid (the teacher's map resized to it):

    1. the teacher's location :math:`p_{tk}` in cells: its arg-max cell
       refined per axis by DARK's Taylor step on :math:`L = \\log h`
       (Zhang et al., "Distribution-Aware Coordinate Representation for
       Human Pose Estimation", CVPR 2020),
       :math:`\\delta = -\\frac{L_{+1} - L_{-1}}{2 (L_{+1} - 2 L_0 + L_{-1})}`,
       clamped to half a cell; its confidence :math:`c_{tk}` is the map's
       peak, clamped to [0, 1];
    2. the smoothed location :math:`\\hat p_{tk}`: the least-squares
       polynomial of degree ``degree`` in t through :math:`p_{0..T-1,k}`,
       weighted by :math:`c`, per axis (a Savitzky-Golay fit over the whole
       window; ``degree=None``: no smoothing, each frame's own :math:`p`);
    3. the target: the codec's Gaussian of width :math:`\\sigma` (cells)
       centred on :math:`\\hat p`, peak 1,
       :math:`G_{tkhw} = \\exp(-((w - \\hat x)^2 + (h - \\hat y)^2) / 2\\sigma^2)`;

    .. math::
        l_{tk} = \\frac{1}{HW} \\sum_{h,w} (S_{tkhw} - G_{tkhw})^2, \\quad
        \\omega_{tk} = w_{tk} c_{tk}

    reduced as the label loss (``reduction='label'``: the mean over batch,
    key points and cells of :math:`\\omega l`; ``'keypoint'``: divided by
    :math:`\\sum \\omega`).

    Why not match motion through a soft-argmax
    (:class:`~kdkit.losses.TemporalMotionDistillLoss`)? Its gradient can move
    a soft-argmax by flattening the map, which does not move the arg-max the
    decoder reads (measured on real clips: peaks fell from 0.36 to 0.24).
    Here the target is a sharp Gaussian, as a label is, and only its place
    carries the clip: the teacher's frame-to-frame shake, which frame KD
    hands on to the student, is fitted away, the motion itself is kept (a
    degree-1 fit keeps constant velocity over the window). In the spirit of
    the temporal filtering of pseudo-labels for video pose (e.g. Bertasius
    et al., "Learning Temporal Pose Estimation from Sparsely-Labeled
    Videos", NeurIPS 2019, propagate poses across frames for labels).

    ``fit_to='student'`` fits the student's own (detached) key points
    instead, with its own peaks as :math:`c`: no teacher, a smoothness
    prior on every frame of the clip, labelled or not.

    Shapes: ``pred_s`` (B, K, H, W); ``pred_t`` (B, K, H', W'), resized to
    (H, W) as :class:`~kdkit.losses.HeatmapMSEDistillLoss` does; ``weight``
    (B, K) or None. Returns a scalar.
    """

    input_kind = 'heatmap'
    teacher_kind = 'heatmap'

    def __init__(self, clip_len: int, sigma: float, degree: Optional[int] = 1,
                 fit_to: str = 'teacher', reduction: str = 'label'):
        super().__init__()
        if fit_to not in FIT_TO:
            raise ValueError(f'fit_to must be one of {FIT_TO}, got {fit_to!r}')
        self.fit_to = fit_to
        if clip_len < 1:
            raise ValueError(f'clip_len must be >= 1, got {clip_len}')
        if degree is not None and not 0 <= degree < clip_len:
            raise ValueError(f'degree must be None or 0 .. clip_len - 1 = {clip_len - 1} '
                             f'(a fit through {clip_len} frames), got {degree}')
        if sigma <= 0:
            raise ValueError(f'sigma must be > 0 (the student codec\'s, in cells), got {sigma}')
        self.clip_len, self.degree, self.sigma = int(clip_len), degree, float(sigma)
        self.reduction = check_reduction(reduction)

    def forward(self, pred_s: Tensor, pred_t: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        check_same_leading(pred_s, pred_t, 2, type(self).__name__)
        source = (resize_spatial(detach_teacher(pred_t), pred_s.shape[-2:])
                  if self.fit_to == 'teacher' else pred_s.detach())
        loc, conf = refined_argmax(source.float())
        target = gaussian_maps(self.smooth(loc, conf), pred_s.shape[-2:], self.sigma)
        per_keypoint = (pred_s - target.to(pred_s.dtype)).pow(2).mean(dim=(-2, -1))
        omega = conf if weight is None else weight.to(conf.dtype) * conf
        return reduce_heatmap(per_keypoint, omega.to(pred_s.dtype), self.reduction)

    def smooth(self, loc: Tensor, conf: Tensor) -> Tensor:
        """(B, K, 2) locations -> the clip-wise weighted polynomial fit."""
        if self.degree is None:
            return loc
        if loc.shape[0] % self.clip_len:
            raise ValueError(
                f'batch size {loc.shape[0]} is not a multiple of clip_len='
                f'{self.clip_len}: the batch must hold whole clips of '
                f'consecutive frames')
        clips = loc.reshape(-1, self.clip_len, *loc.shape[1:])        # N T K 2
        w = conf.reshape(-1, self.clip_len, conf.shape[1]).clamp_min(MIN_FIT_WEIGHT)
        return polyfit(clips, w, self.degree).reshape_as(loc)


def refined_argmax(heatmaps: Tensor) -> tuple[Tensor, Tensor]:
    """(B, K, H, W) -> locations (B, K, 2) as (x, y) in cells, and the peak
    value clamped to [0, 1]: the arg-max cell plus DARK's per-axis Taylor
    offset on the log map (clamped to +-1/2 cell; 0 on the border). MMPose's
    ``refine_keypoints_dark`` does this in numpy, one instance at a time; the
    loss needs it on the batch's tensors, on their device."""
    h, w = heatmaps.shape[-2:]
    flat = heatmaps.flatten(-2)
    peak, idx = flat.max(-1)
    y, x = (idx // w), (idx % w)
    log_map = F.pad(heatmaps.clamp_min(EPS).log(), (1, 1, 1, 1), mode='replicate')

    def at(dy: int, dx: int) -> Tensor:   # log map at (y + dy, x + dx), padded
        flat_idx = (y + 1 + dy) * (w + 2) + (x + 1 + dx)
        return log_map.flatten(-2).gather(-1, flat_idx[..., None])[..., 0]

    centre = at(0, 0)
    offsets = []
    for (lo, hi), pos, n in (((at(0, -1), at(0, 1)), x, w), ((at(-1, 0), at(1, 0)), y, h)):
        curvature = hi - 2 * centre + lo
        step = -(hi - lo) / (2 * curvature.clamp(max=-EPS))   # a maximum curves down
        inner = (pos > 0) & (pos < n - 1)
        offsets.append(torch.where(inner, step.clamp(-0.5, 0.5), torch.zeros_like(step)))
    loc = torch.stack((x.to(heatmaps.dtype) + offsets[0], y.to(heatmaps.dtype) + offsets[1]), -1)
    return loc, peak.clamp(0, 1)


def polyfit(clips: Tensor, weight: Tensor, degree: int) -> Tensor:
    """Weighted least-squares polynomial of ``degree`` in t, per key point and
    axis: clips (N, T, K, 2), weight (N, T, K) > 0 -> fitted (N, T, K, 2)."""
    t = clips.shape[1]
    time = torch.linspace(-1, 1, t, device=clips.device, dtype=clips.dtype)
    basis = torch.stack([time**i for i in range(degree + 1)], -1)              # T D
    normal = torch.einsum('ti,ntk,tj->nkij', basis, weight, basis)            # N K D D
    rhs = torch.einsum('ti,ntk,ntka->nkai', basis, weight, clips)             # N K 2 D
    coef = torch.linalg.solve(normal[:, :, None], rhs[..., None])[..., 0]     # N K 2 D
    return torch.einsum('ti,nkai->ntka', basis, coef)
