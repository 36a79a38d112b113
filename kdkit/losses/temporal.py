"""Temporal distillation: match the teacher's frame-to-frame motion."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from torch import Tensor

from .base import BaseDistillLoss
from .utils import (Pred, check_same_leading, detach_teacher,
                    heatmap_marginals, weighted_mean)

KINDS = ('heatmap', 'simcc')
# softmax sharpening per kind: MSE heatmaps peak near 1, so beta = 20 keeps
# the expectation on the peak's 3x3 neighbourhood; RTMPose SimCC logits are
# trained as softmax(logits * 10) (KLDiscretLoss beta=10).
DEFAULT_BETA = {'heatmap': 20.0, 'simcc': 10.0}


def _expectation(p: Tensor) -> Tensor:
    """E[i] / n for a distribution p over the last dim of size n."""
    n = p.shape[-1]
    grid = torch.arange(n, device=p.device, dtype=p.dtype) / n
    return (p * grid).sum(-1)


def soft_argmax(pred: Pred, kind: str, beta: Optional[float] = None) -> Tensor:
    """Differentiable key-point location, (B, K, 2) as (x, y) in [0, 1).

    heatmap (B, K, H, W): expectation of (j / W, i / H) under
    softmax(beta * h / max h) over the whole map (peak-normalised, so a
    low-confidence peak is not pulled toward the map's centre by the flat
    background, see :func:`~kdkit.losses.utils.heatmap_distribution`). simcc (x (B, K, Wx), y (B, K, Wy)):
    expectation of i / Wx (resp. / Wy) under softmax(beta * logits) per
    axis. Index i / n is the fraction of the input width in MMPose's codec
    convention (cell i at input coordinate i * stride), so heatmaps and SimCC
    of any resolution give comparable numbers. ``beta`` None -> the kind's
    default (heatmap 20, simcc 10).
    """
    beta = DEFAULT_BETA[_check_kind(kind)] if beta is None else beta
    if kind == 'simcc':
        p_x, p_y = (F.softmax(logits * beta, dim=-1) for logits in pred)
    else:
        p_x, p_y = heatmap_marginals(pred, 1 / beta)
    return torch.stack((_expectation(p_x), _expectation(p_y)), dim=-1)


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f'kind must be one of {KINDS}, got {kind!r}')
    return kind


@MODELS.register_module()
class TemporalMotionDistillLoss(BaseDistillLoss):
    """Match student key-point velocities to the teacher's, within clips.

    The batch holds N clips of ``clip_len`` consecutive frames in order
    (B = N * clip_len). With soft-argmax locations p (see
    :func:`soft_argmax`, in fractions of the input size) and
    v_t = p_{t+1} - p_t inside each clip:

    .. math::
        l_{ntk} = \\lVert v^s_{ntk} - v^t_{ntk} \\rVert^2, \\quad
        \\omega_{ntk} = \\min(w_{n,t,k}, w_{n,t+1,k}), \\quad
        L = \\frac{\\sum \\omega\\, l}{\\max(\\sum \\omega, \\epsilon)}

    over t = 0 .. clip_len - 2. With ``smooth_l1`` = delta, each coordinate
    difference d costs smooth-L1 instead (0.5 d^2 / delta if |d| < delta
    else |d| - delta / 2, delta in the same normalised units). Needs no
    labels: only the teacher's motion is the target. It transfers the
    teacher's temporal behaviour in the spirit of motion/temporal-consistency
    distillation for video pose (e.g. Nie et al., "Dynamic Kernel
    Distillation for Efficient Pose Estimation in Videos", ICCV 2019); a
    student that is offset from the teacher but moves like it costs 0.

    Velocities are fractions of the input size per frame, so the raw value
    is typically small (1e-5 .. 1e-3); scale it with the synthesis weight.

    Shapes: ``pred_s``/``pred_t`` as ``kind`` ('heatmap' (B, K, H, W), the
    teacher may differ in H, W; 'simcc' (x (B, K, Wx), y (B, K, Wy)));
    ``weight`` (B, K) or None. Returns a scalar.
    """

    def __init__(self, clip_len: int, kind: str = 'heatmap',
                 beta: Optional[float] = None,
                 smooth_l1: Optional[float] = None):
        super().__init__()
        if clip_len < 2:
            raise ValueError(f'clip_len must be >= 2 to have motion, got '
                             f'{clip_len}')
        self.clip_len = int(clip_len)
        self.input_kind = self.teacher_kind = _check_kind(kind)
        self.beta = DEFAULT_BETA[kind] if beta is None else float(beta)
        if smooth_l1 is not None and smooth_l1 < 0:
            raise ValueError(f'smooth_l1 must be >= 0, got {smooth_l1}')
        self.smooth_l1 = smooth_l1

    def forward(self, pred_s: Pred, pred_t: Pred,
                weight: Optional[Tensor] = None) -> Tensor:
        loc_s = soft_argmax(pred_s, self.input_kind, self.beta)
        loc_t = soft_argmax(detach_teacher(pred_t), self.input_kind,
                            self.beta)
        check_same_leading(loc_s, loc_t, 2, type(self).__name__)
        diff = self.velocity(loc_s) - self.velocity(loc_t)
        if self.smooth_l1 is None:
            per_pair = diff.pow(2).sum(-1)
        else:
            per_pair = F.smooth_l1_loss(
                diff, torch.zeros_like(diff), reduction='none',
                beta=self.smooth_l1).sum(-1)
        return weighted_mean(per_pair, self.pair_weight(weight))

    def velocity(self, loc: Tensor) -> Tensor:
        """(B, K, 2) -> (N, clip_len - 1, K, 2) frame differences."""
        clips = self._as_clips(loc)
        return clips[:, 1:] - clips[:, :-1]

    def pair_weight(self, weight: Optional[Tensor]) -> Optional[Tensor]:
        """(B, K) -> (N, clip_len - 1, K): a pair counts as its weaker end."""
        if weight is None:
            return None
        clips = self._as_clips(weight)
        return torch.minimum(clips[:, 1:], clips[:, :-1])

    def _as_clips(self, x: Tensor) -> Tensor:
        if x.shape[0] % self.clip_len:
            raise ValueError(
                f'batch size {x.shape[0]} is not a multiple of clip_len='
                f'{self.clip_len}: the batch must hold whole clips of '
                f'consecutive frames')
        return x.reshape(-1, self.clip_len, *x.shape[1:])
