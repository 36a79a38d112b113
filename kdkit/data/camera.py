"""Pinhole camera with per-clip viewpoint and slow drift.

Camera frame: +x right, +y down, +z forward (OpenCV convention), so a world
point projects to ``u = f * x / z + cx``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    """One frame's camera: world-to-camera rotation rows ``[right, down, fwd]``."""

    position: np.ndarray
    rotation: np.ndarray
    focal: float
    cx: float
    cy: float

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, float) - self.position) @ self.rotation.T

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points ``(N, 3)`` -> pixels ``(N, 2)`` and depth ``(N,)`` (m).

        Points behind the camera get a tiny positive depth so the arithmetic
        stays finite; callers treat ``depth <= NEAR`` as not in view.
        """
        cam = self.to_camera(points)
        z = np.maximum(cam[:, 2], NEAR)
        uv = np.stack([self.focal * cam[:, 0] / z + self.cx,
                       self.focal * cam[:, 1] / z + self.cy], axis=1)
        return uv, cam[:, 2]

    @property
    def forward(self) -> np.ndarray:
        return self.rotation[2]

    def yaw_pitch(self) -> tuple[float, float]:
        """Viewing direction angles (radians): used to pan the backdrop."""
        f = self.forward
        return float(np.arctan2(f[0], f[2])), float(np.arcsin(np.clip(f[1], -1, 1)))


NEAR = 0.05  # metres: anything closer is treated as behind the camera


def look_at(eye: np.ndarray, target: np.ndarray, roll_deg: float = 0.0) -> np.ndarray:
    """Rotation whose rows are the camera's right, down and forward axes."""
    fwd = target - eye
    fwd = fwd / np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 1.0, 0.0])
    if np.linalg.norm(right) < 1e-6:  # looking straight down/up
        right = np.array([1.0, 0.0, 0.0])
    right = right / np.linalg.norm(right)
    down = np.cross(fwd, right)
    r = np.deg2rad(roll_deg)
    right, down = (np.cos(r) * right + np.sin(r) * down,
                   -np.sin(r) * right + np.cos(r) * down)
    return np.stack([right, down, fwd])


class CameraPath:
    """A clip's camera: viewpoint drawn once, then drifting slowly.

    ``viewpoint_range`` bounds the azimuth (degrees) around the subject's
    initial facing direction: 0 = always frontal, 180 = any side.
    """

    def __init__(self, rng: np.random.Generator, *, width: int, height: int,
                 centroids: np.ndarray, extent: float, heading: float,
                 lying: bool, travelling: bool, viewpoint_range: float,
                 truncation: float):
        self.width, self.height = width, height
        self.centroids = centroids  # (T, 3) body centre per frame
        self.mean_centroid = centroids.mean(0)
        self.follow = 0.85 if travelling else 0.3
        self.focal = float(width * rng.uniform(0.9, 1.5))
        self.cx = width / 2 + rng.uniform(-2, 2)
        self.cy = height / 2 + rng.uniform(-2, 2)
        self.heading = heading
        self.az0 = rng.uniform(-viewpoint_range, viewpoint_range)
        self.daz = rng.uniform(-1, 1) * min(25.0, 5 + 0.2 * viewpoint_range)
        lo, hi = (8.0, 55.0) if lying else (-6.0, 30.0)
        self.el0 = rng.uniform(lo, hi)
        self.del_ = rng.uniform(-5, 5)
        truncated = rng.random() < truncation
        fill = rng.uniform(0.95, 1.35) if truncated else rng.uniform(0.5, 0.85)
        self.dist0 = self.focal * extent / (fill * min(width, height))
        self.ddist = rng.uniform(-0.12, 0.12)
        off = 0.25 if truncated else 0.1
        self.offset = rng.uniform(-off, off, 2) * extent
        self.roll0, self.droll = rng.normal(0, 3), rng.uniform(-3, 3)
        # handheld shake: small, smooth, in metres at the target
        self.shake = (rng.uniform(0, 0.01, 2) * extent, rng.uniform(0.5, 2.0, 2),
                      rng.uniform(0, 2 * np.pi, 2))

    def at(self, frame: float, n_frames: int, fps: float) -> Camera:
        """Camera at (possibly fractional) frame index ``frame``."""
        u = frame / max(1, n_frames - 1)  # 0..1 along the clip
        i = int(np.clip(round(frame), 0, len(self.centroids) - 1))
        target = self.mean_centroid + self.follow * (
            self.centroids[i] - self.mean_centroid)
        az = np.deg2rad(self.heading + self.az0 + self.daz * u)
        el = np.deg2rad(self.el0 + self.del_ * u)
        dist = self.dist0 * (1 + self.ddist * u)
        eye = target + dist * np.array([np.cos(el) * np.sin(az), np.sin(el),
                                        np.cos(el) * np.cos(az)])
        rot = look_at(eye, target, self.roll0 + self.droll * u)
        amp, freq, ph = self.shake
        t = frame / fps
        shake = amp * np.sin(2 * np.pi * freq * t + ph)
        # pan eye and target together: the subject sits off-centre
        shift = rot[0] * (self.offset[0] + shake[0]) - rot[1] * (
            self.offset[1] + shake[1])
        return Camera(eye + shift, rot, self.focal, self.cx, self.cy)
