"""Drawing: the body as shaded capsules with a face, painter's-order scene
composition, and the camera effects (lighting change, blur, noise).

Every drawable carries its camera depth; :func:`draw_scene` paints far to
near. The same geometry (as :mod:`~kdkit.data.visibility` capsules and
polygons) decides which key points are hidden, so labels match the pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from .camera import Camera
from .skeleton import KP, P, SIDES, BodyShape
from .visibility import Capsule, Polygon

_SHIFT = 4               # cv2 sub-pixel bits: smooth edges at small sizes
_ONE = 1 << _SHIFT


# ------------------------------------------------------------ primitives
def _fix(p) -> tuple[int, int]:
    return int(round(float(p[0]) * _ONE)), int(round(float(p[1]) * _ONE))


def shade(colour, k: float, add: float = 0.0) -> tuple:
    return tuple(int(min(255, max(0, c * k + add))) for c in colour)


def fill_circle(img, c, r, colour, aa=True):
    cv2.circle(img, _fix(c), max(1, int(round(r * _ONE))), colour, -1,
               cv2.LINE_AA if aa else cv2.LINE_8, _SHIFT)


def fill_poly(img, pts, colour, aa=True):
    pts = np.round(np.asarray(pts, float) * _ONE).astype(np.int32)
    cv2.fillConvexPoly(img, pts, colour, cv2.LINE_AA if aa else cv2.LINE_8, _SHIFT)


def fill_capsule(img, p0, p1, r0, r1, colour, aa=True):
    """Tapered capsule: a quad between the end circles' tangent lines."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    n = np.linalg.norm(d)
    if n > 1e-6:
        nrm = np.array([-d[1], d[0]]) / n
        fill_poly(img, [p0 + nrm * r0, p1 + nrm * r1, p1 - nrm * r1,
                        p0 - nrm * r0], colour, aa)
    fill_circle(img, p0, r0, colour, aa)
    fill_circle(img, p1, r1, colour, aa)


@dataclass
class Drawable:
    """Something painted at one depth: ``paint(img, mask)``; ``mask`` is the
    person silhouette (None for objects, which do not belong to it)."""

    depth: float
    paint: Callable
    body: bool = False


def draw_scene(img: np.ndarray, mask: np.ndarray, drawables: list[Drawable]) -> None:
    """Painter's algorithm: far to near; ties keep insertion order."""
    for d in sorted(drawables, key=lambda d: -d.depth):
        d.paint(img, mask if d.body else None)


# ------------------------------------------------------------------ body
@dataclass
class BodyRender:
    """What the renderer needs about one frame's body, and its outputs."""

    drawables: list = field(default_factory=list)
    capsules: list = field(default_factory=list)   # for visibility
    polygons: list = field(default_factory=list)


_OWN = {  # key points that sit on each part: it never hides them
    'upper_arm': ('shoulder', 'elbow'), 'forearm': ('elbow', 'wrist'),
    'hand': ('wrist',), 'thigh': ('hip', 'knee'), 'shank': ('knee', 'ankle'),
    'foot': ('ankle',)}


def _owners(side: str, part: str) -> frozenset:
    return frozenset(KP[f'{side}_{j}'] for j in _OWN[part])


class BodyPainter:
    """Builds the drawables and occlusion geometry of one subject's body."""

    def __init__(self, shape: BodyShape, light2d: np.ndarray):
        self.s = shape
        self.light = light2d  # unit image-space direction of the key light

    def build(self, world: np.ndarray, cam: Camera) -> BodyRender:
        uv, z = cam.project(world)
        out = BodyRender()
        self._torso(out, world, uv, z, cam)
        self._neck_head(out, world, uv, z, cam)
        for side, _ in SIDES:
            self._arm(out, side, uv, z, cam)
            self._leg(out, side, uv, z, cam)
        return out

    # -- helpers
    def _px(self, cam: Camera, r_m: float, depth: float) -> float:
        return cam.focal * r_m / max(depth, 0.05)

    def _limb(self, out, i0, i1, uv, z, cam, r0_m, r1_m, colour, owners,
              sleeve=None):
        """One limb segment; ``sleeve=(fraction, colour)`` covers its start."""
        r0, r1 = self._px(cam, r0_m, z[i0]), self._px(cam, r1_m, z[i1])
        p0, p1 = uv[i0].copy(), uv[i1].copy()
        light = self.light

        def paint(img, mask, p0=p0, p1=p1, r0=r0, r1=r1):
            fill_capsule(img, p0, p1, r0, r1, shade(colour, 0.78))
            off = light * 0.3
            fill_capsule(img, p0 + off * r0, p1 + off * r1, 0.5 * r0, 0.5 * r1,
                         shade(colour, 1.05, 12))
            if sleeve is not None:
                frac, sc = sleeve
                pm = p0 + frac * (p1 - p0)
                rm = 1.12 * (r0 + frac * (r1 - r0))
                fill_capsule(img, p0, pm, 1.12 * r0, rm, shade(sc, 0.85))
            if mask is not None:
                fill_capsule(mask, p0, p1, r0, r1, 255, aa=False)

        out.drawables.append(Drawable(float(z[i0] + z[i1]) / 2, paint, True))
        out.capsules.append(Capsule(p0, p1, (r0, r1), (float(z[i0]), float(z[i1])),
                                    (r0_m, r1_m), owners))

    def _arm(self, out, side, uv, z, cam):
        s = self.s
        k = s.side_shade if side == 'left' else 1.0
        shirt, skin = shade(s.shirt, k), shade(s.skin, k)
        sh, el, wr = (KP[f'{side}_{j}'] for j in ('shoulder', 'elbow', 'wrist'))
        hand = P[f'{side}_hand']
        if s.long_sleeves:
            self._limb(out, sh, el, uv, z, cam, s.r_upper_arm, s.r_forearm * 1.05,
                       shirt, _owners(side, 'upper_arm'))
            self._limb(out, el, wr, uv, z, cam, s.r_forearm, s.r_forearm * 0.8,
                       shirt, _owners(side, 'forearm'))
        else:
            self._limb(out, sh, el, uv, z, cam, s.r_upper_arm, s.r_forearm * 1.05,
                       skin, _owners(side, 'upper_arm'), sleeve=(0.45, shirt))
            self._limb(out, el, wr, uv, z, cam, s.r_forearm, s.r_forearm * 0.8,
                       skin, _owners(side, 'forearm'))
        self._limb(out, wr, hand, uv, z, cam, s.r_forearm * 0.75, s.r_forearm * 0.6,
                   skin, _owners(side, 'hand'))

    def _leg(self, out, side, uv, z, cam):
        s = self.s
        k = s.side_shade if side == 'left' else 1.0
        pants, skin = shade(s.pants, k), shade(s.skin, k)
        hip, kn, an = (KP[f'{side}_{j}'] for j in ('hip', 'knee', 'ankle'))
        self._limb(out, hip, kn, uv, z, cam, s.r_thigh, s.r_shank * 1.05, pants,
                   _owners(side, 'thigh'))
        if s.long_pants:
            self._limb(out, kn, an, uv, z, cam, s.r_shank, s.r_shank * 0.75, pants,
                       _owners(side, 'shank'))
        else:
            self._limb(out, kn, an, uv, z, cam, s.r_shank, s.r_shank * 0.75, skin,
                       _owners(side, 'shank'), sleeve=(0.15, pants))
        self._limb(out, an, P[f'{side}_toe'], uv, z, cam, s.r_shank * 0.6,
                   s.r_shank * 0.5, shade(s.shoes, k), _owners(side, 'foot'))

    def _torso(self, out, world, uv, z, cam):
        """Torso = shirt and pants quads plus capsules that give it volume
        from the side; a chest logo marks the front."""
        s = self.s
        ls, rs, lh, rh = (KP[n] for n in ('left_shoulder', 'right_shoulder',
                                          'left_hip', 'right_hip'))
        corners = uv[[ls, rs, rh, lh]].copy()
        waist = [uv[lh] + 0.22 * (uv[ls] - uv[lh]), uv[rh] + 0.22 * (uv[rs] - uv[rh])]
        pelvis_w = (world[lh] + world[rh]) / 2
        chest_w = (world[ls] + world[rs]) / 2
        spine0_w = pelvis_w + 0.3 * (chest_w - pelvis_w)
        spine_uv, spine_z = cam.project(np.stack([spine0_w, chest_w]))
        pel_uv, pel_z = cam.project(pelvis_w[None])
        rt = self._px(cam, s.r_torso, float(spine_z.mean()))
        rp = self._px(cam, s.r_torso * 0.9, float(pel_z[0]))
        rsd = self._px(cam, s.r_upper_arm * 1.2, float(z[[ls, lh]].mean()))
        front = np.cross(world[ls] - world[rs], chest_w - pelvis_w)
        logo_w = chest_w - 0.28 * (chest_w - pelvis_w) + 0.25 * (
            world[ls] - world[rs]) + s.r_torso * front / max(np.linalg.norm(front), 1e-9)
        logo_uv, logo_z = cam.project(logo_w[None])
        facing = float(front @ (cam.position - logo_w)) > 0
        logo_r = self._px(cam, s.r_torso * 0.28, float(logo_z[0]))
        shirt, pants = s.shirt, s.pants
        light = self.light

        def paint(img, mask):
            fill_capsule(img, spine_uv[0], spine_uv[1], rt, rt, shade(shirt, 0.8))
            fill_capsule(img, pel_uv[0], pel_uv[0], rp, rp, shade(pants, 0.8))
            fill_capsule(img, corners[0], corners[3], rsd, rsd, shade(shirt, 0.8))
            fill_capsule(img, corners[1], corners[2], rsd, rsd, shade(shirt, 0.85))
            fill_poly(img, [corners[0], corners[1], waist[1], waist[0]], shade(shirt, 0.9))
            fill_poly(img, [waist[0], waist[1], corners[2], corners[3]], shade(pants, 0.9))
            fill_capsule(img, spine_uv[0] + light * rt * 0.3, spine_uv[1] + light * rt * 0.3,
                         rt * 0.45, rt * 0.45, shade(shirt, 1.05, 10))
            if facing:
                fill_circle(img, logo_uv[0], logo_r, shade(shirt, 0.4, 150))
            if mask is not None:
                for a, b, r in ((spine_uv[0], spine_uv[1], rt), (pel_uv[0], pel_uv[0], rp),
                                (corners[0], corners[3], rsd), (corners[1], corners[2], rsd)):
                    fill_capsule(mask, a, b, r, r, 255, aa=False)
                fill_poly(mask, corners, 255, aa=False)

        depth = float(z[[ls, rs, lh, rh]].mean())
        out.drawables.append(Drawable(depth, paint, True))
        sh_hip = frozenset((ls, rs, lh, rh))
        out.capsules += [
            Capsule(spine_uv[0], spine_uv[1], (rt, rt), tuple(map(float, spine_z)),
                    (s.r_torso, s.r_torso)),
            Capsule(pel_uv[0], pel_uv[0], (rp, rp), (float(pel_z[0]),) * 2,
                    (s.r_torso * 0.9,) * 2, frozenset((lh, rh))),
            Capsule(corners[0], corners[3], (rsd, rsd), (float(z[ls]), float(z[lh])),
                    (s.r_upper_arm * 1.2,) * 2, frozenset((ls, lh))),
            Capsule(corners[1], corners[2], (rsd, rsd), (float(z[rs]), float(z[rh])),
                    (s.r_upper_arm * 1.2,) * 2, frozenset((rs, rh)))]
        out.polygons.append(Polygon(corners, depth - 0.8 * s.r_torso, sh_hip))

    def _neck_head(self, out, world, uv, z, cam):
        s = self.s
        chest_w = (world[KP['left_shoulder']] + world[KP['right_shoulder']]) / 2
        neck_uv, neck_z = cam.project(np.stack([chest_w, world[P['neck_top']]]))
        rn = [self._px(cam, s.head_r * 0.42, float(d)) for d in neck_z]
        skin = s.skin

        def paint_neck(img, mask):
            fill_capsule(img, neck_uv[0], neck_uv[1], rn[0], rn[1], shade(skin, 0.8))
            if mask is not None:
                fill_capsule(mask, neck_uv[0], neck_uv[1], rn[0], rn[1], 255, aa=False)

        out.drawables.append(Drawable(float(neck_z.mean()), paint_neck, True))
        out.capsules.append(Capsule(neck_uv[0], neck_uv[1], tuple(rn),
                                    tuple(map(float, neck_z)), (s.head_r * 0.42,) * 2))
        head = world[P['head']]
        fwd = world[KP['nose']] - head
        fwd /= np.linalg.norm(fwd)
        up = world[P['head_top']] - head
        up /= np.linalg.norm(up)
        r = s.head_r
        hd_uv, hd_z = cam.project(head[None])
        r_px = self._px(cam, r, float(hd_z[0]))
        out.capsules.append(Capsule(hd_uv[0], hd_uv[0], (r_px, r_px),
                                    (float(hd_z[0]),) * 2, (r, r)))
        out.drawables.append(Drawable(float(hd_z[0]), HeadPainter(
            s, cam, head, fwd, up, world).paint, True))


class HeadPainter:
    """Head sphere with hair, ears, eyes, nose and mouth: face cues that make
    the nose, eyes and ears learnable and tell front from back."""

    def __init__(self, s: BodyShape, cam: Camera, head, fwd, up, world):
        r = s.head_r
        pts = {'head': head, 'hair': head - 0.24 * r * fwd + 0.12 * r * up,
               'face': head + 0.12 * r * fwd, 'mouth': head + r * (0.89 * fwd - 0.45 * up)}
        for name in ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear'):
            pts[name] = world[KP[name]]
        names = list(pts)
        uv, z = cam.project(np.stack([pts[n] for n in names]))
        self.uv = dict(zip(names, uv))
        self.z = dict(zip(names, z))
        self.px = lambda r_m, name: cam.focal * r_m / max(self.z[name], 0.05)
        # a surface point faces the camera when its normal points at the eye
        self.facing = {n: float((pts[n] - head) @ (cam.position - pts[n])) > 0
                       for n in ('nose', 'left_eye', 'right_eye', 'mouth')}
        self.s, self.r = s, r

    def paint(self, img, mask):
        s, r, uv = self.s, self.r, self.uv
        skin, hair = s.skin, s.hair
        ears = [(self.z[e], e) for e in ('left_ear', 'right_ear')]
        back_ears = [e for d, e in ears if d > self.z['head']]
        front_ears = [e for d, e in ears if d <= self.z['head']]
        for e in back_ears:
            fill_circle(img, uv[e], self.px(0.26 * r, e), shade(skin, 0.7))
        discs = sorted([(self.z['hair'], 'hair', hair, 0.97),
                        (self.z['face'], 'face', skin, 0.9)], key=lambda t: -t[0])
        for _, name, colour, k in discs:
            fill_circle(img, uv[name], self.px(k * r, name), shade(colour, 0.9))
        for e in front_ears:
            fill_circle(img, uv[e], self.px(0.26 * r, e), shade(skin, 0.75))
        for eye in ('left_eye', 'right_eye'):
            if self.facing[eye]:
                fill_circle(img, uv[eye], max(0.9, self.px(0.2 * r, eye)), (235, 235, 235))
                fill_circle(img, uv[eye], max(0.7, self.px(0.12 * r, eye)), (25, 20, 20))
        if self.facing['mouth']:
            fill_circle(img, uv['mouth'], max(0.7, self.px(0.13 * r, 'mouth')), (60, 50, 150))
        if self.facing['nose']:
            fill_circle(img, uv['nose'], max(0.8, self.px(0.15 * r, 'nose')), shade(skin, 0.65))
        if mask is not None:
            for name, k in (('hair', 0.97), ('face', 0.9)):
                fill_circle(mask, uv[name], self.px(k * r, name), 255, aa=False)


# ----------------------------------------------------------- camera effects
@dataclass(frozen=True)
class Effects:
    """Per-clip photometric settings, drawn from the clip generator."""

    base_gain: float     # overall exposure of the clip
    gain_amp: float      # global brightness swing (lighting change)
    gain_freq: float
    gain_phase: float
    gradient: np.ndarray  # (H, W) spatial light falloff, mean 0
    grad_amp: float
    tint: np.ndarray     # BGR multiplier
    tint_drift: np.ndarray
    defocus: float       # Gaussian sigma in pixels
    noise: float         # sensor noise sigma (0..255 scale)
    exposure: float      # shutter open fraction of a frame: motion blur


def sample_effects(rng: np.random.Generator, width: int, height: int, *,
                   lighting: float, blur: float, noise: float) -> Effects:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    g = (np.cos(a) * (xx - width / 2) + np.sin(a) * (yy - height / 2)) / max(width, height)
    return Effects(
        base_gain=1.0 + lighting * rng.uniform(-0.45, 0.25),
        gain_amp=lighting * rng.uniform(0.1, 0.35), gain_freq=rng.uniform(0.1, 0.5),
        gain_phase=rng.uniform(0, 2 * np.pi), gradient=g.astype(np.float32),
        grad_amp=lighting * rng.uniform(0.0, 0.8),
        tint=rng.uniform(0.85, 1.15, 3).astype(np.float32),
        tint_drift=lighting * rng.uniform(-0.12, 0.12, 3).astype(np.float32),
        defocus=blur * rng.uniform(0.0, 1.4),
        noise=noise * rng.uniform(2.0, 12.0),
        exposure=blur * rng.uniform(0.0, 1.0))


def apply_effects(frame: np.ndarray, fx: Effects, t: float, u: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Lighting change over time ``t`` (s; ``u`` in 0..1 along the clip),
    defocus and sensor noise; returns uint8."""
    gain = fx.base_gain + fx.gain_amp * np.sin(2 * np.pi * fx.gain_freq * t + fx.gain_phase)
    light = gain * (1.0 + fx.grad_amp * fx.gradient * np.cos(np.pi * u))
    tint = fx.tint * (1.0 + fx.tint_drift * u)
    img = frame.astype(np.float32) * light[..., None] * tint
    if fx.defocus > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), fx.defocus)
    if fx.noise > 0.5:
        img += rng.standard_normal(img.shape, dtype=np.float32) * fx.noise
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)
