"""PCK (Percentage of Correct Keypoints), normalised by the person's bbox size.

Normalisation is MMPose's ``PCKAccuracy(norm_item='bbox')``: a key point is
correct when ``||pred - gt|| / max(bbox_w, bbox_h) < thr``, with the bbox the
ground-truth box of the person (COCO ``xywh``). The overall PCK is MMPose's:
the mean over joints of each joint's accuracy (joints never visible are left
out), not the pooled fraction of all key points.
"""
from __future__ import annotations

import numpy as np


def bbox_size(bboxes_xywh: np.ndarray) -> np.ndarray:
    """``max(w, h)`` of each ``xywh`` box: (N, 4) -> (N,)."""
    bboxes_xywh = np.asarray(bboxes_xywh, dtype=np.float64).reshape(-1, 4)
    return bboxes_xywh[:, 2:4].max(axis=1)


def _norm_factor(norm: np.ndarray | float, n: int) -> np.ndarray:
    """Broadcast a (N,), (N, 2) or scalar normaliser to MMPose's (N, 2)."""
    norm = np.asarray(norm, dtype=np.float64)
    if norm.ndim == 0:
        norm = np.full(n, float(norm))
    if norm.ndim == 1:
        norm = np.stack([norm, norm], axis=1)
    if norm.shape != (n, 2):
        raise ValueError(f'norm must be (N,) or (N, 2) with N={n}, '
                         f'got {norm.shape}')
    return norm.copy()  # mmpose rewrites non-positive entries in place


def pck_accuracy(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray,
                 norm: np.ndarray | float, thr: float = 0.2) -> dict:
    """PCK@thr of ``pred`` against ``gt``.

    Args:
        pred, gt: (N, K, 2) key points, same (image) coordinates.
        visible: (N, K) bool, joints to score (GT visibility).
        norm: (N,) bbox size per instance (see :func:`bbox_size`), or (N, 2)
            per-axis normalisers; instances with norm <= 0 are ignored.
        thr: threshold on the normalised distance (strict ``<``, as MMPose).

    Returns:
        ``dict(pck=float, per_joint=(K,) float, count=(K,) int)``; ``pck`` is
        the mean over joints with at least one visible instance (nan if none),
        ``per_joint`` is nan for joints never visible.
    """
    from mmpose.evaluation.functional import keypoint_pck_accuracy

    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    visible = np.asarray(visible).astype(bool)
    n, k = gt.shape[:2]
    if pred.shape != gt.shape or visible.shape != (n, k):
        raise ValueError(f'shape mismatch: pred {pred.shape}, gt {gt.shape}, '
                         f'visible {visible.shape}')
    norm = _norm_factor(norm, n)
    if n == 0:
        return dict(pck=float('nan'), per_joint=np.full(k, np.nan),
                    count=np.zeros(k, dtype=int))
    # mmpose drops norm == 0 but would divide by 1e6 for norm < 0: drop both
    visible = visible & (norm > 0).all(axis=1)[:, None]
    acc, _, _ = keypoint_pck_accuracy(pred, gt, visible, thr, norm)
    per_joint = np.where(acc < 0, np.nan, acc).astype(np.float64)
    count = visible.sum(axis=0)
    pck = float(np.nanmean(per_joint)) if np.isfinite(per_joint).any() \
        else float('nan')
    return dict(pck=pck, per_joint=per_joint, count=count)
