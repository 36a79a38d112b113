"""Everything around the subject: a textured backdrop (wall or far scenery
plus a floor with perspective), the subject's shadow, background clutter and
foreground occluders placed in the world so the camera sees them move.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .camera import NEAR, Camera
from .render import Drawable, fill_capsule, fill_poly, shade
from .visibility import Capsule, Polygon


# --------------------------------------------------------------- textures
def value_noise(rng: np.random.Generator, h: int, w: int,
                cells=(4, 12, 40), gains=(1.0, 0.5, 0.25)) -> np.ndarray:
    """Smooth multi-octave noise in [-1, 1], ``(h, w)`` float32."""
    out = np.zeros((h, w), np.float32)
    for c, g in zip(cells, gains):
        small = rng.random((max(2, c * h // max(h, w)), max(2, c * w // max(h, w))),
                           dtype=np.float32)
        out += g * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    out -= out.mean()
    return out / max(float(np.abs(out).max()), 1e-6)


def _colour_field(rng, h, w, base, contrast) -> np.ndarray:
    n = value_noise(rng, h, w)[..., None]
    hue = value_noise(rng, h, w, cells=(3,), gains=(1.0,))[..., None]
    tilt = rng.uniform(-1, 1, 3).astype(np.float32)
    img = np.asarray(base, np.float32) + contrast * (n * 1.0 + 0.4 * hue * tilt)
    return img


def _pattern(rng, img, kind, colour):
    h, w = img.shape[:2]
    if kind == 'bricks':
        bh = int(rng.integers(8, 20))
        for i, y in enumerate(range(0, h, bh)):
            cv2.line(img, (0, y), (w, y), colour, 1)
            off = (bh if i % 2 else 0)
            for x in range(off, w, 2 * bh):
                cv2.line(img, (x, y), (x, y + bh), colour, 1)
    elif kind == 'stripes':
        step = int(rng.integers(10, 40))
        vertical = rng.random() < 0.6
        for k in range(0, w if vertical else h, step):
            if vertical:
                cv2.rectangle(img, (k, 0), (k + step // 3, h), colour, -1)
            else:
                cv2.rectangle(img, (0, k), (w, k + step // 3), colour, -1)
    elif kind == 'planks':
        step = int(rng.integers(12, 30))
        for y in range(0, h, step):
            cv2.line(img, (0, y), (w, y + int(rng.integers(-3, 4))), colour, 1)


def _posters(rng, img, count, figure_prob):
    """Rectangles on the wall; some carry a stick-figure pictogram, a flat
    human-like distractor that is not a labelled person."""
    h, w = img.shape[:2]
    for _ in range(count):
        pw, ph = int(rng.integers(w // 12, w // 4)), int(rng.integers(h // 10, h // 3))
        x, y = int(rng.integers(0, w - pw)), int(rng.integers(0, max(1, h // 2 - ph)))
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.rectangle(img, (x, y), (x + pw, y + ph), col, -1)
        cv2.rectangle(img, (x, y), (x + pw, y + ph), shade(col, 0.5), 2)
        if rng.random() < figure_prob:
            _stick_figure(rng, img, x, y, pw, ph)


def _stick_figure(rng, img, x, y, pw, ph):
    col = tuple(int(c) for c in rng.integers(0, 256, 3))
    cx, s = x + pw / 2, ph / 5
    head = (int(cx), int(y + s))
    cv2.circle(img, head, max(2, int(s * 0.5)), col, -1)
    hip = (int(cx), int(y + 3 * s))
    cv2.line(img, (head[0], int(y + 1.5 * s)), hip, col, max(1, int(s / 4)))
    for sx in (-1, 1):
        a = rng.uniform(0.2, 1.2)
        cv2.line(img, (int(cx), int(y + 1.8 * s)),
                 (int(cx + sx * s * np.cos(a)), int(y + 1.8 * s + s * np.sin(a))),
                 col, max(1, int(s / 5)))
        cv2.line(img, hip, (int(cx + sx * s * 0.6), int(y + 4.6 * s)), col, max(1, int(s / 5)))


# --------------------------------------------------------------- backdrop
class Backdrop:
    """Static far-scene and floor textures, larger than the frame, panned with
    the camera; the floor starts at a line below the horizon set by the
    wall's distance, so it moves with camera height and pitch."""

    def __init__(self, rng: np.random.Generator, width: int, height: int,
                 ref_cam: Camera, ground_centre: np.ndarray, clutter: float):
        self.w, self.h = width, height
        H, W = 2 * height, 2 * width
        self.margin = (W - width) // 2, (H - height) // 2
        outdoor = rng.random() < 0.35
        base = rng.integers(40, 220, 3)
        wall = _colour_field(rng, H, W, base, rng.uniform(10, 45))
        if not outdoor:
            _pattern(rng, wall, rng.choice(['plain', 'bricks', 'stripes', 'planks']),
                     tuple(float(c) for c in shade(base, 0.7)))
        wall = np.clip(wall, 0, 255).astype(np.uint8)
        _posters(rng, wall, int(rng.poisson(1 + 4 * clutter)), 0.5 * clutter)
        floor_base = rng.integers(30, 200, 3)
        floor = _colour_field(rng, H, W, floor_base, rng.uniform(8, 40))
        if rng.random() < 0.3:
            _pattern(rng, floor, 'planks', tuple(float(c) for c in shade(floor_base, 0.75)))
        self.wall, self.floor = wall, np.clip(floor, 0, 255).astype(np.uint8)
        self.wall_dist = rng.uniform(25, 60) if outdoor else rng.uniform(4, 12)
        self.tiles = rng.uniform(0.4, 1.2) if (not outdoor and rng.random() < 0.5) else 0.0
        self.tile_colour = shade(floor_base, 0.6)
        self.ground_centre = ground_centre
        self.ref_yaw, self.ref_pitch = ref_cam.yaw_pitch()

    def compose(self, cam: Camera) -> np.ndarray:
        yaw, pitch = cam.yaw_pitch()
        mx, my = self.margin
        dx = int(np.clip(round(cam.focal * _wrap(self.ref_yaw - yaw)), -mx, mx))
        dy = int(np.clip(round(-cam.focal * (pitch - self.ref_pitch)), -my, my))
        x0, y0 = mx + dx, my + dy
        img = self.wall[y0:y0 + self.h, x0:x0 + self.w].copy()
        floor = self.floor[y0:y0 + self.h, x0:x0 + self.w].copy()
        if self.tiles:
            self._grid(floor, cam)
        mask = np.zeros((self.h, self.w), np.uint8)
        poly = _floor_polygon(cam, self.w, self.h, self.wall_dist)
        if len(poly) >= 3:
            fill_poly(mask, poly, 255, aa=False)
            cv2.copyTo(floor, mask, img)
        return img

    def _grid(self, floor, cam):
        s, c = self.tiles, self.ground_centre
        n = int(min(12, 6 / s))
        for k in range(-n, n + 1):
            for a, b in (((c[0] + k * s, c[2] - n * s), (c[0] + k * s, c[2] + n * s)),
                         ((c[0] - n * s, c[2] + k * s), (c[0] + n * s, c[2] + k * s))):
                seg = _clip_to_camera(cam, np.array([a[0], 0, a[1]]),
                                      np.array([b[0], 0, b[1]]))
                if seg is not None:
                    cv2.line(floor, _int(seg[0]), _int(seg[1]), self.tile_colour, 1,
                             cv2.LINE_AA)


def _wrap(a: float) -> float:
    return (a + np.pi) % (2 * np.pi) - np.pi


def _int(p):
    return int(np.clip(round(p[0]), -10000, 10000)), int(np.clip(round(p[1]), -10000, 10000))


def _clip_to_camera(cam: Camera, a: np.ndarray, b: np.ndarray):
    """Project a world segment, clipped to the part in front of the camera."""
    ca, cb = cam.to_camera(np.stack([a, b]))
    near = 0.2
    if ca[2] < near and cb[2] < near:
        return None
    if ca[2] < near or cb[2] < near:
        t = (near - ca[2]) / (cb[2] - ca[2])
        cut = ca + t * (cb - ca)
        ca, cb = (cut, cb) if ca[2] < near else (ca, cut)
    pts = np.stack([ca, cb])
    return np.stack([cam.focal * pts[:, 0] / pts[:, 2] + cam.cx,
                     cam.focal * pts[:, 1] / pts[:, 2] + cam.cy], axis=1)


def _floor_polygon(cam: Camera, w: int, h: int, wall_dist: float) -> np.ndarray:
    """Image region of floor: the half-plane below the line where the floor
    meets the wall (horizon lowered by camera height / wall distance)."""
    R = cam.rotation
    fwd = R[2]
    hz = np.array([fwd[0], 0.0, fwd[2]])
    if np.linalg.norm(hz) < 1e-6:
        return np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    hz /= np.linalg.norm(hz)
    side = np.cross(hz, [0.0, 1.0, 0.0])
    drop = np.array([0.0, -max(cam.position[1], 0.05) / wall_dist, 0.0])
    pts = []
    for d in (hz - side + drop, hz + side + drop):
        c = R @ d
        pts.append([cam.focal * c[0] / max(c[2], 1e-6) + cam.cx,
                    cam.focal * c[1] / max(c[2], 1e-6) + cam.cy])
    (x0, y0), (x1, y1) = pts
    # keep the side that contains the image of a point straight below the
    # camera's forward ground hit (the floor); clip the frame rectangle
    probe_c = R @ (hz + 4 * drop - np.array([0, 0.5, 0]))
    probe = np.array([cam.focal * probe_c[0] / max(probe_c[2], 1e-6) + cam.cx,
                      cam.focal * probe_c[1] / max(probe_c[2], 1e-6) + cam.cy])

    def f(p):
        return (x1 - x0) * (p[1] - y0) - (y1 - y0) * (p[0] - x0)

    sign = np.sign(f(probe)) or 1.0
    rect = [np.array(p, float) for p in ((0, 0), (w, 0), (w, h), (0, h))]
    out = []
    for i, a in enumerate(rect):
        b = rect[(i + 1) % 4]
        fa, fb = sign * f(a), sign * f(b)
        if fa >= 0:
            out.append(a)
        if (fa >= 0) != (fb >= 0):
            out.append(a + (b - a) * fa / (fa - fb))
    return np.array(out, float)


def shadow_drawable(world: np.ndarray, cam: Camera, sun: np.ndarray) -> Drawable:
    """Soft-edged dark shape on the ground: body points pushed along the sun
    direction onto y=0. Drawn right after the backdrop (infinitely far)."""
    ground = world.copy()
    ground[:, 0] -= ground[:, 1] * sun[0]
    ground[:, 2] -= ground[:, 1] * sun[1]
    ground[:, 1] = 0.0
    uv, z = cam.project(ground)
    keep = z > NEAR
    hull = cv2.convexHull(uv[keep].astype(np.float32)) if keep.sum() >= 3 else None

    def paint(img, mask):
        if hull is None:
            return
        layer = img.copy()
        fill_poly(layer, hull.reshape(-1, 2), (0, 0, 0))
        cv2.addWeighted(layer, 0.3, img, 0.7, 0, dst=img)

    return Drawable(float('inf'), paint)


# ---------------------------------------------------------------- objects
@dataclass(frozen=True)
class SceneObject:
    """A world object: ``capsule`` (p0-p1, radius), ``sphere`` (p0, radius) or
    ``box`` (p0 = centre of the base, size = (w, h, d), yaw). Moving ones have
    a velocity (m/s)."""

    kind: str
    p0: np.ndarray
    p1: np.ndarray | None = None
    radius: float = 0.0
    size: tuple = (0.0, 0.0, 0.0)
    yaw: float = 0.0
    colour: tuple = (128, 128, 128)
    velocity: np.ndarray | None = None


_SKIN_LIKE = [(150, 180, 220), (110, 150, 200), (70, 105, 160)]


def _object_colour(rng):
    if rng.random() < 0.25:  # skin-like or clothing-like objects confuse
        c = _SKIN_LIKE[rng.integers(len(_SKIN_LIKE))]
    else:
        c = rng.integers(20, 240, 3)
    return tuple(int(v) for v in c)


def sample_clutter(rng, centre: np.ndarray, cam_pos: np.ndarray, count: int,
                   extent: float) -> list[SceneObject]:
    """Background objects around the subject, kept out of its way."""
    objs = []
    away = np.arctan2(centre[0] - cam_pos[0], centre[2] - cam_pos[2])
    for _ in range(count):
        ang = away + rng.uniform(-1.3, 1.3)  # mostly beside / behind the subject
        r = rng.uniform(0.7, 2.5) * extent
        base = centre * np.array([1, 0, 1]) + r * np.array([np.sin(ang), 0, np.cos(ang)])
        objs.append(_random_object(rng, base, extent, _object_colour(rng)))
    return objs


def sample_occluders(rng, centre: np.ndarray, cam_pos: np.ndarray, count: int,
                     extent: float) -> list[SceneObject]:
    """Objects between the camera and the subject, offset sideways so they
    cover part of the body; some move across the view."""
    objs = []
    to_cam = (cam_pos - centre) * np.array([1, 0, 1])
    dist = np.linalg.norm(to_cam)
    to_cam /= max(dist, 1e-6)
    side = np.cross(to_cam, [0, 1, 0])
    for _ in range(count):
        lam = rng.uniform(0.15, 0.4)
        base = centre * np.array([1, 0, 1]) + to_cam * lam * dist \
            + side * rng.uniform(-0.4, 0.4) * extent
        obj = _occluder_object(rng, base, extent, _object_colour(rng), to_cam, side)
        if rng.random() < 0.3:
            v = side * rng.uniform(-1, 1) * extent * 0.6
            obj = SceneObject(**{**obj.__dict__, 'velocity': v})
        objs.append(obj)
    return objs


def _occluder_object(rng, base, ext, colour, to_cam, side) -> SceneObject:
    """Big enough to hide a body part: crates, panels, balls, poles, rails."""
    kind = rng.choice(['box', 'box', 'panel', 'sphere', 'pole', 'bar'])
    if kind in ('box', 'panel'):
        tall = kind == 'panel'
        size = (rng.uniform(0.1, 0.22) * ext if tall else rng.uniform(0.2, 0.55) * ext,
                rng.uniform(0.7, 1.2) * ext if tall else rng.uniform(0.15, 0.5) * ext,
                rng.uniform(0.05, 0.15) * ext if tall else rng.uniform(0.15, 0.4) * ext)
        # box faces the camera, give or take: yaw of its local z axis
        yaw = np.rad2deg(np.arctan2(to_cam[0], to_cam[2])) + rng.uniform(-30, 30)
        return SceneObject('box', base, size=size, yaw=yaw, colour=colour)
    if kind == 'sphere':
        r = rng.uniform(0.05, 0.12) * ext
        return SceneObject('sphere', base + np.array([0, rng.uniform(r, 0.8 * ext), 0]),
                           radius=r, colour=colour)
    if kind == 'pole':
        return SceneObject('capsule', base, base + np.array([0, 1.5 * ext, 0]),
                           radius=rng.uniform(0.03, 0.08) * ext, colour=colour)
    y = rng.uniform(0.2, 0.7) * ext
    a = rng.uniform(-0.4, 0.4)  # a rail running across the view
    half = rng.uniform(0.4, 1.0) * ext * (np.cos(a) * side + np.sin(a) * to_cam)
    return SceneObject('capsule', base + [0, y, 0] - half, base + [0, y, 0] + half,
                       radius=rng.uniform(0.02, 0.05) * ext, colour=colour)


def _random_object(rng, base, scale, colour, tall_ok=False) -> SceneObject:
    kind = rng.choice(['box', 'box', 'sphere', 'pole', 'bar', 'rod'])
    if kind == 'box':
        size = (rng.uniform(0.2, 0.5) * scale, rng.uniform(0.15, 0.6) * scale,
                rng.uniform(0.15, 0.4) * scale)
        return SceneObject('box', base, size=size, yaw=rng.uniform(0, 90), colour=colour)
    if kind == 'sphere':
        r = rng.uniform(0.06, 0.18) * scale
        lift = r + (rng.uniform(0, 0.5) * scale if tall_ok else 0)
        return SceneObject('sphere', base + np.array([0, lift, 0]), radius=r, colour=colour)
    if kind == 'pole':
        r = rng.uniform(0.02, 0.06) * scale
        top = rng.uniform(0.6, 1.6) * scale
        return SceneObject('capsule', base, base + np.array([0, top, 0]), radius=r,
                           colour=colour)
    if kind == 'bar':  # railing / bench: horizontal at some height
        y = rng.uniform(0.15, 0.75) * scale
        a = rng.uniform(0, np.pi)
        half = rng.uniform(0.3, 0.9) * scale * np.array([np.cos(a), 0, np.sin(a)])
        return SceneObject('capsule', base + [0, y, 0] - half, base + [0, y, 0] + half,
                           radius=rng.uniform(0.015, 0.04) * scale, colour=colour)
    # rod: limb-like stick lying or leaning: a strong arm/leg distractor
    a = rng.uniform(0, 2 * np.pi)
    length = rng.uniform(0.15, 0.35) * scale
    tip = base + np.array([np.cos(a) * length, rng.uniform(0, 0.3) * scale,
                           np.sin(a) * length])
    return SceneObject('capsule', base + [0, 0.03 * scale, 0], tip,
                       radius=rng.uniform(0.02, 0.035) * scale, colour=colour)


def object_geometry(obj: SceneObject, cam: Camera, t: float, light2d: np.ndarray):
    """Drawable plus visibility geometry (capsules, polygons) at time ``t``."""
    shift = obj.velocity * t if obj.velocity is not None else 0.0
    if obj.kind == 'box':
        return _box(obj, cam, shift)
    p0 = obj.p0 + shift
    p1 = (obj.p1 + shift) if obj.p1 is not None else p0
    uv, z = cam.project(np.stack([p0, p1]))
    if np.any(z <= NEAR):
        return None, [], []
    r = [cam.focal * obj.radius / d for d in z]
    col = obj.colour

    def paint(img, mask):
        fill_capsule(img, uv[0], uv[1], r[0], r[1], shade(col, 0.75))
        off = light2d * 0.3
        fill_capsule(img, uv[0] + off * r[0], uv[1] + off * r[1], 0.5 * r[0],
                     0.5 * r[1], shade(col, 1.05, 15))

    cap = Capsule(uv[0], uv[1], (r[0], r[1]), (float(z[0]), float(z[1])),
                  (obj.radius, obj.radius))
    return Drawable(float(z.mean()), paint), [cap], []


def _box(obj: SceneObject, cam: Camera, shift):
    w, h, d = obj.size
    a = np.deg2rad(obj.yaw)
    ux, uz = np.array([np.cos(a), 0, -np.sin(a)]), np.array([np.sin(a), 0, np.cos(a)])
    c = obj.p0 + shift
    corners = np.array([c + sx * w / 2 * ux + sz * d / 2 * uz + [0, y, 0]
                        for y in (0.0, h) for sx in (-1, 1) for sz in (-1, 1)])
    uv, z = cam.project(corners)
    if np.any(z <= NEAR):
        return None, [], []
    centre = c + np.array([0, h / 2, 0])
    # faces: (corner indices, outward normal, shade)
    # corner index = 4 * top + 2 * (x side) + (z side)
    faces = [((4, 5, 7, 6), np.array([0, 1, 0]), 1.1), ((0, 2, 6, 4), -uz, 0.8),
             ((1, 3, 7, 5), uz, 0.8), ((0, 1, 5, 4), -ux, 0.65), ((2, 3, 7, 6), ux, 0.65)]
    seen = [(idx, k) for idx, nrm, k in faces
            if float(nrm @ (cam.position - (centre + nrm * 0.01))) > 0]
    col = obj.colour
    hull = cv2.convexHull(uv.astype(np.float32)).reshape(-1, 2)

    def paint(img, mask):
        for idx, k in seen:
            fill_poly(img, uv[list(idx)], shade(col, k))

    depth = float(cam.to_camera(centre[None])[0, 2])
    return Drawable(depth, paint), [], [Polygon(hull, depth)]


__all__ = ['Backdrop', 'SceneObject', 'sample_clutter', 'sample_occluders',
           'object_geometry', 'shadow_drawable', 'value_noise']
