"""COCO visibility of key points from the drawn geometry.

Pure functions (numpy only), so the logic is testable on hand-made poses:

* out of the image (or behind the camera) -> ``v = 0`` (not labelled),
* covered by a body part or an object that is nearer to the camera than the
  key point's own surface -> ``v = 1`` (labelled, not visible),
* otherwise -> ``v = 2`` (visible).

Geometry comes in two kinds, both in image space with camera depth attached:
:class:`Capsule` (limbs, torso, head sphere when ``p0 == p1``; tapered
cylinders whose near surface depth is known at every covered pixel) and
:class:`Polygon` (flat shapes such as boxes, with one depth).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

NOT_LABELLED, OCCLUDED, VISIBLE = 0, 1, 2


@dataclass(frozen=True)
class Capsule:
    """A tapered capsule: axis ``p0 -> p1`` in pixels, radii in pixels and in
    metres at each end, axis depth (m) at each end. ``owners`` are the key
    point indices that sit on this part and so are never hidden by it."""

    p0: Sequence[float]
    p1: Sequence[float]
    r_px: tuple[float, float]
    depth: tuple[float, float]
    r_m: tuple[float, float]
    owners: frozenset = field(default_factory=frozenset)


@dataclass(frozen=True)
class Polygon:
    """A flat occluder: vertices ``(N, 2)`` in pixels at one depth (m)."""

    points: np.ndarray
    depth: float
    owners: frozenset = field(default_factory=frozenset)


def keypoint_visibility(keypoints: np.ndarray, depth: np.ndarray,
                        image_size: tuple[int, int],
                        capsules: Sequence[Capsule] = (),
                        polygons: Sequence[Polygon] = (),
                        kp_radius: np.ndarray | float = 0.0,
                        margin: float = 0.01, near: float = 0.05) -> np.ndarray:
    """COCO ``v`` (0/1/2) per key point.

    Args:
        keypoints: ``(K, 2)`` pixel coordinates.
        depth: ``(K,)`` camera depth of each key point (m).
        image_size: ``(width, height)``; a point is in frame when
            ``0 <= x < width`` and ``0 <= y < height``.
        capsules, polygons: everything drawn that may cover a key point.
        kp_radius: surface radius (m) around each key point: a joint centre
            lies inside its limb, so a cover must be nearer than the joint's
            own near surface (``depth - kp_radius``) to hide it.
        margin: extra depth tolerance (m) against numerical ties.
        near: points at or below this depth are behind the camera (v = 0).
    """
    kps = np.asarray(keypoints, float).reshape(-1, 2)
    z = np.asarray(depth, float).reshape(-1)
    if len(z) != len(kps):
        raise ValueError(f'depth: expected {len(kps)} values, got {len(z)}')
    w, h = image_size
    surface = z - np.broadcast_to(np.asarray(kp_radius, float), z.shape) - margin
    in_frame = ((kps[:, 0] >= 0) & (kps[:, 0] < w) & (kps[:, 1] >= 0)
                & (kps[:, 1] < h) & (z > near))
    hidden = np.zeros(len(kps), bool)
    for cap in capsules:
        front = capsule_front_depth(cap, kps)
        hidden |= (front < surface) & ~_owned(cap.owners, len(kps))
    for poly in polygons:
        inside = points_in_polygon(kps, poly.points)
        hidden |= inside & (poly.depth < surface) & ~_owned(poly.owners, len(kps))
    v = np.where(hidden, OCCLUDED, VISIBLE)
    return np.where(in_frame, v, NOT_LABELLED).astype(np.int64)


def _owned(owners: frozenset, k: int) -> np.ndarray:
    mask = np.zeros(k, bool)
    if owners:
        mask[[i for i in owners if i < k]] = True
    return mask


def capsule_front_depth(cap: Capsule, points: np.ndarray) -> np.ndarray:
    """Depth (m) of the capsule's near surface at each pixel; ``inf`` where the
    capsule does not cover the pixel.

    The cross-section is a circle: at a pixel ``d`` from the axis (radius
    ``R`` px, ``r`` m) the near surface is ``r * sqrt(1 - (d/R)^2)`` in front
    of the axis. Caps are hemispheres around each end.
    """
    p0, p1 = np.asarray(cap.p0, float), np.asarray(cap.p1, float)
    seg = p1 - p0
    L2 = float(seg @ seg)
    rel = points - p0
    t = np.zeros(len(points)) if L2 < 1e-12 else np.clip(rel @ seg / L2, 0, 1)
    closest = p0 + t[:, None] * seg
    d = np.linalg.norm(points - closest, axis=1)
    r_px = cap.r_px[0] + t * (cap.r_px[1] - cap.r_px[0])
    r_m = cap.r_m[0] + t * (cap.r_m[1] - cap.r_m[0])
    axis_z = cap.depth[0] + t * (cap.depth[1] - cap.depth[0])
    ratio = np.where(r_px > 0, d / np.maximum(r_px, 1e-9), np.inf)
    covered = ratio < 1
    bulge = r_m * np.sqrt(np.clip(1 - ratio ** 2, 0, 1))
    return np.where(covered, axis_z - bulge, np.inf)


def points_in_polygon(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule, vectorised over points."""
    poly = np.asarray(poly, float).reshape(-1, 2)
    x, y = points[:, 0:1], points[:, 1:2]
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    crosses = (y0 > y) != (y1 > y)
    with np.errstate(divide='ignore', invalid='ignore'):
        x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return np.count_nonzero(crosses & (x < x_at), axis=1) % 2 == 1
