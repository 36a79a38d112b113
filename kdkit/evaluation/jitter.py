"""Temporal jitter of key points on video clips.

Jitter is the mean acceleration magnitude of the key points,

    jitter = mean_{t,k valid} || p[t+1, k] - 2 p[t, k] + p[t-1, k] || / s[t]

where a window (t-1, t, t+1) counts only if the joint is valid in all three
frames, and ``s[t]`` is the bbox size of the middle frame (1 without ``norm``).
A model that is right on average but flickers frame to frame has high jitter.
The GT of generated (synthetic) clips is smooth, so ``excess_jitter = jitter(
pred) - jitter(gt)`` is the shake the model adds on top of the true motion.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np


def _acceleration(points: np.ndarray) -> np.ndarray:
    """(T, K, 2) -> (T-2, K) second-difference magnitudes."""
    acc = points[2:] - 2 * points[1:-1] + points[:-2]
    return np.linalg.norm(acc, axis=-1)


def _valid_windows(visible: np.ndarray) -> np.ndarray:
    """(T, K) -> (T-2, K): joint valid in frames t-1, t and t+1."""
    return visible[2:] & visible[1:-1] & visible[:-2]


def _frame_norm(norm, t: int) -> np.ndarray:
    """Normaliser of each window's middle frame, (T-2, 1)."""
    if norm is None:
        return np.ones((t - 2, 1))
    norm = np.broadcast_to(np.asarray(norm, dtype=np.float64), (t,))
    return norm[1:-1, None]


def jitter(pred: np.ndarray, visible: np.ndarray | None = None,
           gt: np.ndarray | None = None, norm=None) -> float:
    """Mean acceleration magnitude of ``pred`` (T, K, 2) over valid windows.

    Args:
        pred: (T, K, 2) key points of one person track, frames in order.
        visible: (T, K) bool; None means all valid. Non-finite points are
            always invalid.
        gt: optional (T, K, 2); if given, the acceleration of the error
            ``pred - gt`` is measured (shake not explained by true motion).
        norm: scalar or (T,) bbox size per frame (see ``pck.bbox_size``);
            frames with norm <= 0 are invalid.

    Returns:
        The mean, in pixels (or bbox units with ``norm``); nan when there is
        no valid window (fewer than 3 frames, say).
    """
    pred = np.asarray(pred, dtype=np.float64)
    t, k = pred.shape[:2]
    if t < 3:
        return float('nan')
    points = pred if gt is None else pred - np.asarray(gt, dtype=np.float64)
    valid = np.ones((t, k), bool) if visible is None \
        else np.asarray(visible).astype(bool).copy()
    valid &= np.isfinite(points).all(axis=-1)
    frame_norm = _frame_norm(norm, t)
    windows = _valid_windows(valid) & (frame_norm > 0)
    if not windows.any():
        return float('nan')
    points = np.where(valid[..., None], points, 0.0)  # keep nan out of sums
    acc = _acceleration(points) / np.where(frame_norm > 0, frame_norm, 1.0)
    return float(acc[windows].mean())


def excess_jitter(pred: np.ndarray, gt: np.ndarray,
                  visible: np.ndarray | None = None, norm=None) -> float:
    """``jitter(pred) - jitter(gt)`` on the same windows (GT validity)."""
    gt = np.asarray(gt, dtype=np.float64)
    valid = np.ones(gt.shape[:2], bool) if visible is None \
        else np.asarray(visible).astype(bool)
    # the same windows for both terms: a window is used only if both are finite
    valid = valid & np.isfinite(np.asarray(pred, dtype=np.float64)).all(-1) \
        & np.isfinite(gt).all(-1)
    return jitter(pred, valid, norm=norm) - jitter(gt, valid, norm=norm)


def clip_jitter(results_by_clip: Mapping[object, Mapping] | Iterable[Mapping]
                ) -> dict:
    """Average jitter over clips, each clip weighted equally.

    Args:
        results_by_clip: mapping clip id -> dict (or an iterable of dicts)
            with ``pred`` (T, K, 2) and optional ``visible`` (T, K),
            ``gt`` (T, K, 2) and ``norm`` (T,).

    Returns:
        ``dict(jitter, excess_jitter, num_clips)``: means over the clips that
        have at least one valid window; ``excess_jitter`` is None unless
        every such clip has ``gt``; both None when no clip qualifies.
    """
    clips = results_by_clip.values() \
        if isinstance(results_by_clip, Mapping) else results_by_clip
    jit, excess, missing_gt = [], [], False
    for clip in clips:
        value = jitter(clip['pred'], clip.get('visible'), norm=clip.get('norm'))
        if not np.isfinite(value):
            continue
        jit.append(value)
        if clip.get('gt') is None:
            missing_gt = True
            continue
        excess.append(excess_jitter(clip['pred'], clip['gt'],
                                    clip.get('visible'), clip.get('norm')))
    if not jit:
        return dict(jitter=None, excess_jitter=None, num_clips=0)
    return dict(jitter=float(np.mean(jit)),
                excess_jitter=None if missing_gt else float(np.nanmean(excess)),
                num_clips=len(jit))
