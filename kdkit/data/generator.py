"""Render one clip: subject, motion, camera, scene -> JPEG frames, a preview
video and per-frame annotations.

All randomness comes from ``numpy.random.default_rng`` seeded by
``(seed, split, clip index)`` (the subject by ``(seed, subject id)``), so a
clip is the same whatever order or process renders it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .camera import CameraPath
from .config import SPLIT_CODE
from .motions import MOTIONS, MotionClip
from .render import BodyPainter, apply_effects, draw_scene, sample_effects
from .scene import (Backdrop, object_geometry, sample_clutter, sample_occluders,
                    shadow_drawable)
from .skeleton import NUM_KEYPOINTS, point_radii, sample_body_shape, world_points
from .visibility import keypoint_visibility

_STREAM_SUBJECT = 7  # seed-sequence tags keep the generators independent
_STREAM_FRAME = 13


@dataclass(frozen=True)
class ClipJob:
    """Everything a worker needs to render one clip into ``root``."""

    root: str
    split: str
    index: int
    seed: int
    subject_id: int
    motion: str
    video_name: str
    cfg: dict


@dataclass
class FrameLabel:
    frame_index: int
    keypoints: list        # 51 floats, COCO (x, y, v); v = 0 -> x = y = 0
    bbox: list             # x, y, w, h
    area: float
    labelled: bool         # False: key points withheld in the train json


@dataclass
class ClipResult:
    job: ClipJob
    frames: list = field(default_factory=list)


def clip_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, SPLIT_CODE[split], index])


def subject_rng(seed: int, subject_id: int) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAM_SUBJECT, subject_id])


def labelled_frames(n_frames: int, every: int, rng: np.random.Generator,
                    split: str) -> np.ndarray:
    """Sparse labels on train (every n-th frame from a random offset, as
    PoseTrack labels a subset); val and test are fully labelled."""
    offset = int(rng.integers(every))  # drawn always: same stream for all splits
    k = np.arange(n_frames)
    if split != 'train':
        return np.ones(n_frames, bool)
    return (k - offset) % every == 0


class ClipRenderer:
    """Holds a clip's sampled world and renders its frames one by one."""

    def __init__(self, job: ClipJob):
        cfg = self.cfg = job.cfg
        self.job = job
        rng = self.rng = clip_rng(job.seed, job.split, job.index)
        self.shape = sample_body_shape(subject_rng(job.seed, job.subject_id))
        self.motion = MotionClip(job.motion, rng, cfg['motion_speed'])
        self.n, self.fps = cfg['frames_per_clip'], cfg['fps']
        self.w, self.h = cfg['width'], cfg['height']
        self.worlds = [self.world_at(k) for k in range(self.n)]
        centroids = np.stack([w.mean(0) for w in self.worlds])
        extent = max(2 * float(np.max(np.linalg.norm(w - w.mean(0), axis=1)))
                     for w in self.worlds)
        m = MOTIONS[job.motion]
        self.cam_path = CameraPath(
            rng, width=self.w, height=self.h, centroids=centroids, extent=extent,
            heading=self.motion.heading, lying=m.lying, travelling=m.travel > 0,
            viewpoint_range=cfg['viewpoint_range'], truncation=cfg['truncation'])
        cam0 = self.cam_path.at(0, self.n, self.fps)
        centre = centroids.mean(0)
        self.backdrop = Backdrop(rng, self.w, self.h, cam0, centre, cfg['clutter'])
        n_clutter = int(rng.poisson(6 * cfg['clutter']))
        n_occ = int(1 + rng.poisson(cfg['occlusion_rate'])) \
            if rng.random() < cfg['occlusion_rate'] else 0
        self.objects = (sample_clutter(rng, centre, cam0.position, n_clutter, extent)
                        + sample_occluders(rng, centre, cam0.position, n_occ, extent))
        self.effects = sample_effects(rng, self.w, self.h, lighting=cfg['lighting'],
                                      blur=cfg['blur'], noise=cfg['noise'])
        light = np.array([rng.uniform(-1, 1), -1.0])
        self.light2d = light / np.linalg.norm(light)
        self.sun = rng.uniform(-0.6, 0.6, 2)
        self.painter = BodyPainter(self.shape, self.light2d)
        self.radii = point_radii(self.shape)[:NUM_KEYPOINTS]
        self.labelled = labelled_frames(self.n, cfg['annotated_every'], rng, job.split)
        ex = self.effects.exposure
        self.n_sub = 1 if ex < 0.25 else 3  # odd: the centre time is rendered

    def frame_rng(self, k: int) -> np.random.Generator:
        """Per-frame noise: frames can be rendered in any order."""
        job = self.job
        return np.random.default_rng([job.seed, SPLIT_CODE[job.split], job.index,
                                      _STREAM_FRAME, k])

    def world_at(self, frame: float) -> np.ndarray:
        return world_points(self.shape, self.motion.pose(frame / self.fps))

    def render(self, k: int) -> tuple[np.ndarray, FrameLabel]:
        """Frame ``k``: image (BGR uint8) and its label."""
        cam = self.cam_path.at(k, self.n, self.fps)
        bg = self.backdrop.compose(cam)
        t = k / self.fps
        # motion blur: average renders over the shutter time around frame k;
        # the centre render (dt = 0) gives the silhouette and the label geometry
        offsets = np.linspace(-0.5, 0.5, self.n_sub) * self.effects.exposure \
            if self.n_sub > 1 else np.zeros(1)
        acc = np.zeros(bg.shape, np.float32)
        mask = np.zeros((self.h, self.w), np.uint8)
        for i, dt in enumerate(offsets):
            centre = i == len(offsets) // 2
            world = self.worlds[k] if centre else self.world_at(k + dt)
            drawables, c, p = self._scene(world, cam, t + dt / self.fps)
            img = bg.copy()
            draw_scene(img, mask if centre else None, drawables)
            acc += img
            if centre:
                caps, polys = c, p
        frame = apply_effects(acc / len(offsets), self.effects, t, k / max(1, self.n - 1),
                              self.frame_rng(k))
        return frame, self._label(k, self.worlds[k], cam, caps, polys, mask)

    def _scene(self, world, cam, t):
        """Drawables and occlusion geometry of the body and the objects."""
        body = self.painter.build(world, cam)
        drawables = [shadow_drawable(world, cam, self.sun)] + body.drawables
        caps, polys = list(body.capsules), list(body.polygons)
        for obj in self.objects:
            d, c, p = object_geometry(obj, cam, t, self.light2d)
            if d is not None:
                drawables.append(d)
                caps += c
                polys += p
        return drawables, caps, polys

    def _label(self, k, world, cam, caps, polys, mask) -> FrameLabel:
        uv, z = cam.project(world[:NUM_KEYPOINTS])
        v = keypoint_visibility(uv, z, (self.w, self.h), caps, polys,
                                kp_radius=self.radii)
        kps = np.zeros((NUM_KEYPOINTS, 3))
        on = v > 0
        kps[on, :2] = np.round(uv[on], 2)
        kps[:, 2] = v
        return FrameLabel(k, [float(x) for x in kps.reshape(-1)],
                          person_box(mask, uv[on], self.w, self.h),
                          float(np.count_nonzero(mask)), bool(self.labelled[k]))


def person_box(mask: np.ndarray, points: np.ndarray, width: int, height: int,
               pad: float = 2.0) -> list:
    """Tight box (x, y, w, h) around the in-frame silhouette and the labelled
    key points, padded a little and clipped to the image: what a good person
    detector would return."""
    xs, ys = [], []
    if mask.any():
        x, y, w, h = cv2.boundingRect(mask)
        xs += [x, x + w]
        ys += [y, y + h]
    if len(points):
        xs += [float(points[:, 0].min()), float(points[:, 0].max())]
        ys += [float(points[:, 1].min()), float(points[:, 1].max())]
    if not xs:
        return [0.0, 0.0, 0.0, 0.0]
    x0, x1 = max(0.0, min(xs) - pad), min(float(width), max(xs) + pad)
    y0, y1 = max(0.0, min(ys) - pad), min(float(height), max(ys) + pad)
    return [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]


def render_clip(job: ClipJob) -> ClipResult:
    """Render a clip, write its JPEGs (and preview) under ``job.root``."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # parallelism is across clips
    try:
        return _render_clip(job)
    finally:
        cv2.setNumThreads(threads)


def _render_clip(job: ClipJob) -> ClipResult:
    r = ClipRenderer(job)
    img_dir = Path(job.root, 'images', job.split, job.video_name)
    img_dir.mkdir(parents=True, exist_ok=True)
    q = [cv2.IMWRITE_JPEG_QUALITY, int(job.cfg['jpeg_quality'])]
    result, frames = ClipResult(job), []
    for k in range(r.n):
        img, label = r.render(k)
        ok, buf = cv2.imencode('.jpg', img, q)
        if not ok:
            raise RuntimeError(f'{img_dir}/{k:06d}.jpg: JPEG encoding failed')
        (img_dir / f'{k:06d}.jpg').write_bytes(buf.tobytes())
        result.frames.append(label)
        frames.append(img)
    write_preview(Path(job.root, 'videos', job.split), job.video_name, frames,
                  job.cfg['fps'], job.cfg['video_format'])
    return result


def write_preview(folder: Path, name: str, frames: list, fps: int, fmt: str,
                  max_side: int = 128) -> None:
    """A small looping GIF (byte-reproducible: fixed-size, fast-octree
    palette per frame) or an MP4 of the clip, for viewing only."""
    if fmt == 'none':
        return
    folder.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    scale = min(1.0, max_side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    rgb = [cv2.resize(f, size, interpolation=cv2.INTER_AREA)[..., ::-1] for f in frames]
    if fmt == 'gif':
        from PIL import Image
        ims = [Image.fromarray(np.ascontiguousarray(f)).quantize(
            64, method=Image.Quantize.FASTOCTREE) for f in rgb]
        ims[0].save(folder / f'{name}.gif', save_all=True, append_images=ims[1:],
                    duration=int(round(1000 / fps)), loop=0, optimize=False)
    else:
        import imageio.v3 as iio
        even = [f[:f.shape[0] // 2 * 2, :f.shape[1] // 2 * 2] for f in rgb]
        iio.imwrite(folder / f'{name}.mp4', np.stack(even), extension='.mp4', fps=fps,
                    codec='libx264', macro_block_size=1)
