"""Shared pieces of the distillation losses: teacher detaching, shape checks,
grid resampling in MMPose's coordinate convention, temperature-softened KL
and the masked weighted mean every loss reduces with.

Coordinate convention. MMPose's codecs place heatmap pixel ``j`` at input
coordinate ``j * stride`` (``MSRAHeatmap``, DARK) and SimCC bin ``i`` at
``i / split_ratio`` (``SimCCLabel``): index 0 sits on input coordinate 0 for
both. Two grids that span the same input width with ``n_in`` and ``n_out``
cells therefore line up by ``u = i * n_in / n_out``, which is neither of
``F.interpolate``'s ``align_corners`` modes; :func:`resample_linear` does that
mapping (linear interpolation, the last cell repeated past the edge).
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

Pred = Union[Tensor, Sequence[Tensor]]

EPS = 1e-8


def detach_teacher(pred_t: Pred) -> Pred:
    """Cut the teacher from the graph: only the student learns."""
    if isinstance(pred_t, Tensor):
        return pred_t.detach()
    return type(pred_t)(p.detach() for p in pred_t)


def check_same_leading(pred_s: Tensor, pred_t: Tensor, n: int,
                       what: str) -> None:
    """Raise if the first ``n`` dims (batch, key points) differ."""
    if pred_s.shape[:n] != pred_t.shape[:n]:
        raise ValueError(
            f'{what}: student {tuple(pred_s.shape)} and teacher '
            f'{tuple(pred_t.shape)} differ in their first {n} dims')


def resample_linear(x: Tensor, size: int, dim: int = -1,
                    scale: Optional[float] = None) -> Tensor:
    """Resample ``x`` along ``dim`` to ``size`` cells: cell ``i`` reads
    position ``i * scale``, by default ``scale = n_in / size`` (the same
    input extent, see module doc); :mod:`kdkit.distill.mapping` passes the
    scale between two models' grids."""
    n_in = x.shape[dim]
    if scale is None:
        if n_in == size:
            return x
        scale = n_in / size
    # positions in float32 even for half inputs: bins reach the thousands
    pos = torch.arange(size, device=x.device, dtype=torch.float32)
    pos = (pos * float(scale)).clamp(min=0, max=n_in - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=n_in - 1)
    frac_shape = [1] * x.dim()
    frac_shape[dim] = size
    frac = (pos - lo).to(x.dtype).view(frac_shape)
    return (x.index_select(dim, lo) * (1 - frac) +
            x.index_select(dim, hi) * frac)


def resize_spatial(x: Tensor, size: Sequence[int]) -> Tensor:
    """Bilinear resize of (..., H, W) maps to ``size`` = (H', W'), done as
    linear interpolation along W then H in MMPose's index convention."""
    h, w = size
    return resample_linear(resample_linear(x, w, -1), h, -2)


def resample_distribution(p: Tensor, size: int) -> Tensor:
    """Resample a distribution over the last dim to ``size`` bins and
    renormalise it to sum to 1."""
    q = resample_linear(p, size, -1)
    return q / q.sum(-1, keepdim=True).clamp_min(EPS)


def heatmap_marginals(heatmaps: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """Softmax of ``scale * h`` over each whole (H, W) map, then its axis
    marginals: (B, K, H, W) -> x (B, K, W), y (B, K, H)."""
    p = F.softmax(heatmaps.flatten(-2) * scale, dim=-1).view_as(heatmaps)
    return p.sum(-2), p.sum(-1)


def kl_to_target(log_p_s: Tensor, p_t: Tensor) -> Tensor:
    """KL(p_t || p_s) summed over the last dim; 0 log 0 counts as 0."""
    return (torch.xlogy(p_t, p_t) - p_t * log_p_s).sum(-1)


def softened_kl(logits_s: Tensor, p_t: Tensor, temperature: float) -> Tensor:
    """T^2 KL(p_t || softmax(s/T)) over the last dim, for a teacher already
    given as a distribution. The T^2 (Hinton et al. 2015) keeps gradient
    size comparable across temperatures."""
    log_p_s = F.log_softmax(logits_s / temperature, dim=-1)
    return temperature**2 * kl_to_target(log_p_s, p_t)


def softmax_kl(logits_s: Tensor, logits_t: Tensor,
               temperature: float) -> Tensor:
    """T^2 KL(softmax(t/T) || softmax(s/T)) over the last dim. A teacher
    with another bin count (same input extent) is resampled to the
    student's bins after the softmax."""
    p_t = F.softmax(logits_t / temperature, dim=-1)
    p_t = resample_distribution(p_t, logits_s.shape[-1])
    return softened_kl(logits_s, p_t, temperature)


def weighted_mean(loss: Tensor, weight: Optional[Tensor]) -> Tensor:
    """sum(w * l) / max(sum(w), eps); plain mean when ``weight`` is None.

    Masked entries (w = 0) are removed, not averaged in as zeros, so masking
    half the key points does not halve the loss. All masked gives 0.
    """
    if weight is None:
        return loss.mean()
    if weight.shape != loss.shape:
        raise ValueError(f'weight shape {tuple(weight.shape)} does not match '
                         f'the per-term loss shape {tuple(loss.shape)}')
    weight = weight.to(loss.dtype)
    return (loss * weight).sum() / weight.sum().clamp_min(EPS)


def check_temperature(temperature: float) -> float:
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    return float(temperature)
