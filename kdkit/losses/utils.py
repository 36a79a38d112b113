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
# The temperature pose heads' label losses train at: RTMPose's SimCC head
# learns softmax(logits * beta) with KLDiscretLoss(beta=10). Default for every
# KL term, and the reference of their temperature scaling.
LABEL_TEMPERATURE = 0.1
# How a term is reduced over batch, key points and bins (see reduce_heatmap /
# reduce_simcc): 'label' as the student head's MMPose label loss, so the
# KD / label ratio is the same at any batch size and bin count; 'keypoint' the
# weighted mean of each key point's divergence.
REDUCTIONS = ('label', 'keypoint')


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


def log_gaussian(mu: Tensor, sigma: float, n: int) -> Tensor:
    """(...) centres in cells -> (..., n): ``-(j - mu)^2 / 2 sigma^2``, j = 0..n-1."""
    j = torch.arange(n, device=mu.device, dtype=mu.dtype)
    return -(j - mu[..., None]) ** 2 / (2 * sigma ** 2)


def gaussian_maps(loc: Tensor, size: Sequence[int],
                  sigma: Union[float, Sequence[float]]) -> Tensor:
    """(B, K, 2) centres (x, y) in cells -> (B, K, H, W) unit-peak Gaussians,
    ``g_x g_y`` (MMPose's heatmap Gaussian, centre not rounded). ``size`` is
    (H, W); ``sigma`` one number or (sigma_x, sigma_y), in cells."""
    h, w = size
    sx, sy = (sigma, sigma) if isinstance(sigma, (int, float)) else sigma
    return torch.exp(log_gaussian(loc[..., 1], sy, h)[..., :, None]
                     + log_gaussian(loc[..., 0], sx, w)[..., None, :])


def peak_normalised(heatmaps: Tensor) -> Tensor:
    """Each (H, W) map divided by its own peak (a constant: no gradient
    flows through it), so every map peaks at 1 whatever its confidence."""
    peak = heatmaps.detach().flatten(-2).amax(-1).clamp_min(EPS)
    return heatmaps / peak[..., None, None]


def heatmap_distribution(heatmaps: Tensor, temperature: float) -> Tensor:
    """A heatmap as a distribution over its cells, flattened:
    (B, K, H, W) -> (B, K, H*W).

    ``softmax(h / (T * max h))``. Softmax gives every background cell the
    weight e^(0 / T) = 1, so on the raw map a peak of height a holds mass
    only as e^(a / T) outweighs H*W of those: a low-confidence peak drowns in
    the flat floor (at 64x48, T = 0.1, peak 0.4: 17 % of the mass within
    +-3 sigma). Dividing by the map's own peak first makes the peak-to-floor
    ratio e^(1 / T) for every map (96 % at T = 0.1 for any peak height): the
    target says where the teacher looks, and how sure it is stays with the
    key-point weights (gating)."""
    return F.softmax(peak_normalised(heatmaps).flatten(-2) / temperature, dim=-1)


def heatmap_marginals(heatmaps: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """:func:`heatmap_distribution` over each whole (H, W) map, then its axis
    marginals: (B, K, H, W) -> x (B, K, W), y (B, K, H)."""
    p = heatmap_distribution(heatmaps, temperature).view_as(heatmaps)
    return p.sum(-2), p.sum(-1)


def kl_to_target(log_p_s: Tensor, p_t: Tensor) -> Tensor:
    """KL(p_t || p_s) summed over the last dim; 0 log 0 counts as 0."""
    return (torch.xlogy(p_t, p_t) - p_t * log_p_s).sum(-1)


def temperature_scale(temperature: float) -> float:
    """(T / T_label)^2: Hinton et al.'s (2015) T^2, which keeps the gradient
    size independent of T, taken relative to the temperature the label loss
    itself trains at (T_label = 0.1: RTMPose's ``KLDiscretLoss(beta=10)``).
    Hinton's T^2 assumes a label loss at T = 1; pose heads train at 0.1, so
    at T = 0.1 a KD term weighs exactly as the label loss with the teacher's
    distribution as the label, and weight 1 means "as much as the labels"."""
    return (temperature / LABEL_TEMPERATURE)**2


def softened_kl(logits_s: Tensor, p_t: Tensor, temperature: float) -> Tensor:
    """(T / T_label)^2 KL(p_t || softmax(s/T)) over the last dim, for a
    teacher already given as a distribution (see :func:`temperature_scale`)."""
    log_p_s = F.log_softmax(logits_s / temperature, dim=-1)
    return temperature_scale(temperature) * kl_to_target(log_p_s, p_t)


def softmax_kl(logits_s: Tensor, logits_t: Tensor,
               temperature: float) -> Tensor:
    """(T / T_label)^2 KL(softmax(t/T) || softmax(s/T)) over the last dim. A teacher
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
    return (_masked(loss, weight).sum() /
            weight.to(loss.dtype).sum().clamp_min(EPS))


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f'reduction must be one of {REDUCTIONS}, got {reduction!r}')
    return reduction


def _masked(loss: Tensor, weight: Optional[Tensor]) -> Tensor:
    """w * l, masked entries as zeros (MMPose's label losses' convention)."""
    if weight is None:
        return loss
    if weight.shape != loss.shape:
        raise ValueError(f'weight shape {tuple(weight.shape)} does not match '
                         f'the per-term loss shape {tuple(loss.shape)}')
    return loss * weight.to(loss.dtype)


def reduce_heatmap(per_cell: Tensor, weight: Optional[Tensor],
                   reduction: str) -> Tensor:
    """Reduce a heatmap student's per-key-point loss ``per_cell`` (B, K),
    already a mean over the map's cells.

    'label': as MMPose's ``KeypointMSELoss`` reduces the label term -- the
    mean over batch, key points and cells, masked key points counting as
    zeros -- so the KD / label ratio holds at any batch size and map size.
    'keypoint': :func:`weighted_mean` (masked key points removed)."""
    if reduction == 'keypoint':
        return weighted_mean(per_cell, weight)
    return _masked(per_cell, weight).mean()


def reduce_simcc(per_axis: Sequence[Tensor], bins: Sequence[int],
                 weight: Optional[Tensor], reduction: str) -> Tensor:
    """Reduce a SimCC student's per-key-point divergences, one (B, K) tensor
    per axis, each summed over that axis' ``bins``.

    'label': as MMPose's ``KLDiscretLoss`` reduces the label term (RTMPose's
    head loss): the mean over bins, summed over axes, key points and the
    batch, divided by K -- it grows with the batch size and shrinks with the
    bin count, and a KD term reduced the same way keeps its ratio to it.
    'keypoint': the weighted mean over key points of the axes' mean, fixed
    whatever the batch size and bins (DWPose's ``KDLoss`` reduces so)."""
    if reduction == 'keypoint':
        return weighted_mean(sum(per_axis) / len(per_axis), weight)
    per_keypoint = sum(loss / n for loss, n in zip(per_axis, bins))
    return _masked(per_keypoint, weight).sum() / per_keypoint.shape[1]


def check_temperature(temperature: float) -> float:
    if temperature <= 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    return float(temperature)
