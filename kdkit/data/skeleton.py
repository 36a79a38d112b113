"""3D articulated body: COCO key-point definitions, per-subject proportions and
forward kinematics.

Body frame (before the root transform): +X is the subject's left, +Y up, +Z the
direction the subject faces. World frame: +Y up, the ground is the plane y=0.
Angles are in degrees in :class:`PoseParams` (readable motion definitions) and
converted here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# ---------------------------------------------------------------- COCO layout
COCO_KEYPOINTS = (
    'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
    'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
    'left_wrist', 'right_wrist', 'left_hip', 'right_hip',
    'left_knee', 'right_knee', 'left_ankle', 'right_ankle')
# 1-based links, exactly as in the COCO person category
COCO_SKELETON = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13),
    (6, 7), (6, 8), (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3),
    (2, 4), (3, 5), (4, 6), (5, 7))
COCO_FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12),
                   (13, 14), (15, 16))
NUM_KEYPOINTS = len(COCO_KEYPOINTS)
KP = {name: i for i, name in enumerate(COCO_KEYPOINTS)}

# Internal points computed by forward kinematics: the 17 COCO points first
# (same order), then the extra points the renderer needs.
EXTRA_POINTS = ('pelvis', 'chest', 'neck_top', 'head', 'head_top',
                'left_hand', 'right_hand', 'left_toe', 'right_toe')
POINT_NAMES = COCO_KEYPOINTS + EXTRA_POINTS
P = {name: i for i, name in enumerate(POINT_NAMES)}

SIDES = (('left', 1.0), ('right', -1.0))  # body-frame X sign of each side


# ------------------------------------------------------------------ rotations
def rot_x(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 1e-9 else v


# ------------------------------------------------------------------ the body
@dataclass(frozen=True)
class BodyShape:
    """Lengths and radii in metres, plus clothing colours (BGR 0..255)."""

    height: float
    torso: float          # pelvis -> chest (shoulder line)
    neck: float
    head_r: float
    shoulder_half: float
    hip_half: float
    upper_arm: float
    forearm: float
    hand: float
    thigh: float
    shank: float
    foot: float
    ankle_h: float        # ankle height above the sole
    r_upper_arm: float
    r_forearm: float
    r_thigh: float
    r_shank: float
    r_torso: float        # half chest depth: the torso's thickness
    skin: tuple = (150, 180, 220)
    hair: tuple = (30, 30, 40)
    shirt: tuple = (60, 60, 200)
    pants: tuple = (80, 50, 30)
    shoes: tuple = (40, 40, 40)
    long_sleeves: bool = False
    long_pants: bool = True
    side_shade: float = 0.78  # left side drawn darker: left/right cue


def sample_body_shape(rng: np.random.Generator) -> BodyShape:
    """Draw one subject: height, proportions, build and clothing."""
    h = rng.uniform(1.5, 1.95)

    def part(ratio, spread=0.06):
        return float(h * ratio * rng.uniform(1 - spread, 1 + spread))

    build = rng.uniform(0.8, 1.3)  # slim .. heavy
    skin_tones = [(200, 220, 245), (150, 185, 225), (110, 150, 200),
                  (70, 105, 160), (45, 70, 110)]
    skin = _jitter(rng, skin_tones[rng.integers(len(skin_tones))], 12)
    return BodyShape(
        height=float(h), torso=part(0.29), neck=part(0.045),
        head_r=part(0.062, 0.05), shoulder_half=part(0.1, 0.08),
        hip_half=part(0.085, 0.08), upper_arm=part(0.186),
        forearm=part(0.146), hand=part(0.09), thigh=part(0.245),
        shank=part(0.235), foot=part(0.12), ankle_h=part(0.035),
        r_upper_arm=float(h * 0.027 * build), r_forearm=float(h * 0.021 * build),
        r_thigh=float(h * 0.037 * build), r_shank=float(h * 0.027 * build),
        r_torso=float(h * 0.062 * build),
        skin=skin, hair=_jitter(rng, _pick(rng, [(20, 20, 25), (30, 50, 90),
                                                (40, 90, 160), (150, 160, 170)]), 10),
        shirt=_random_colour(rng), pants=_random_colour(rng, dark=True),
        shoes=_random_colour(rng), long_sleeves=bool(rng.random() < 0.4),
        long_pants=bool(rng.random() < 0.6),
        side_shade=float(rng.uniform(0.7, 0.82)))


def _pick(rng, items):
    return items[rng.integers(len(items))]


def _jitter(rng, colour, amount):
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255))
                 for c in colour)


def _random_colour(rng, dark=False):
    """A saturated-ish clothing colour; pants lean darker, as in real life."""
    hsv = np.array([[[rng.integers(0, 180), rng.integers(60, 255),
                      rng.integers(40, 150) if dark else rng.integers(70, 255)]]],
                   dtype=np.uint8)
    import cv2  # local: keeps the module importable for pure-geometry use
    bgr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return tuple(int(c) for c in bgr)


# ------------------------------------------------------------- pose params
@dataclass
class LimbAngles:
    """Direction of a limb from its root joint plus the hinge angle.

    ``elev``: 0 = hanging down, 90 = horizontal, 180 = straight up (negative
    swings backwards). ``plane``: 0 = in the sagittal (forward) plane, 90 = out
    to the subject's side. ``twist`` turns the hinge's bending direction about
    the limb; ``bend`` is the elbow / knee flexion.
    """

    elev: float = 0.0
    plane: float = 0.0
    twist: float = 0.0
    bend: float = 0.0


@dataclass
class PoseParams:
    """Everything that moves: joint angles (degrees) and the root."""

    lean: float = 0.0        # trunk forward bend
    side: float = 0.0        # trunk bend towards the subject's left
    twist: float = 0.0       # trunk rotation about its axis (towards left)
    head_pitch: float = 0.0  # positive looks down
    head_yaw: float = 0.0    # positive looks to the subject's left
    arms: dict = field(default_factory=lambda: {
        'left': LimbAngles(8, 10, 0, 12), 'right': LimbAngles(8, 10, 0, 12)})
    legs: dict = field(default_factory=lambda: {
        'left': LimbAngles(0, 5, 0, 4), 'right': LimbAngles(0, 5, 0, 4)})
    posture: float = 0.0     # root pitch: 0 stand, 90 prone, -90 supine
    heading: float = 0.0     # world yaw of the body
    offset: tuple = (0.0, 0.0)  # world (x, z) of the pelvis: travelling
    hop: float = 0.0         # metres above ground contact
    support: tuple = ()      # two point names that must both touch the ground


def limb_direction(a: LimbAngles, side_sign: float) -> tuple:
    """Unit direction of the limb and its hinge bending direction (body frame)."""
    th, ph = np.deg2rad(a.elev), np.deg2rad(a.plane)
    d = np.array([np.sin(th) * np.sin(ph) * side_sign, -np.cos(th),
                  np.sin(th) * np.cos(ph)])
    # derivative w.r.t. elevation: where the limb would go when raised
    b = np.array([np.cos(th) * np.sin(ph) * side_sign, np.sin(th),
                  np.cos(th) * np.cos(ph)])
    if a.twist:
        t = np.deg2rad(a.twist) * side_sign
        b = np.cos(t) * b + np.sin(t) * np.cross(d, b)
    return d, b


def _bend(d: np.ndarray, b: np.ndarray, deg: float) -> np.ndarray:
    e = np.deg2rad(deg)
    return np.cos(e) * d + np.sin(e) * b


def body_points(shape: BodyShape, pose: PoseParams) -> np.ndarray:
    """Forward kinematics in the body frame, pelvis at the origin.

    Returns ``(len(POINT_NAMES), 3)``.
    """
    pts = np.zeros((len(POINT_NAMES), 3))
    r_trunk = rot_y(pose.twist) @ rot_x(pose.lean) @ rot_z(-pose.side)
    up_t = r_trunk @ np.array([0.0, 1.0, 0.0])
    chest = up_t * shape.torso
    pts[P['chest']] = chest
    for name, sgn in SIDES:
        pts[KP[f'{name}_shoulder']] = chest + r_trunk @ np.array(
            [sgn * shape.shoulder_half, -0.02 * shape.height, 0.0])
        # pelvis follows a little of the trunk twist, as real hips do
        pts[KP[f'{name}_hip']] = rot_y(0.3 * pose.twist) @ np.array(
            [sgn * shape.hip_half, 0.0, 0.0])
    _place_head(pts, shape, pose, r_trunk)
    for name, sgn in SIDES:
        _place_arm(pts, shape, pose.arms[name], r_trunk, name, sgn)
        _place_leg(pts, shape, pose.legs[name], name, sgn)
    return pts


def _place_head(pts, shape, pose, r_trunk):
    r_head = r_trunk @ rot_y(pose.head_yaw) @ rot_x(pose.head_pitch)
    neck_top = pts[P['chest']] + r_trunk @ np.array(
        [0.0, shape.neck, 0.0]) + r_trunk @ np.array([0, 0, 0.01])
    r = shape.head_r
    head = neck_top + r_head @ np.array([0.0, 0.85 * r, 0.1 * r])
    pts[P['neck_top']] = neck_top
    pts[P['head']] = head
    pts[P['head_top']] = head + r_head @ np.array([0.0, r, 0.0])
    # face cues sit on (eyes, ears) or just outside (nose) the head sphere;
    # ears stick out sideways so that a frontal view sees both of them
    pts[KP['nose']] = head + r_head @ (1.12 * r * _unit(np.array([0, -0.2, 1.0])))
    for name, sgn in SIDES:
        pts[KP[f'{name}_eye']] = head + r_head @ (
            1.0 * r * _unit(np.array([sgn * 0.38, 0.15, 0.92])))
        pts[KP[f'{name}_ear']] = head + r_head @ (
            1.08 * r * _unit(np.array([sgn * 1.0, 0.0, -0.12])))


def _place_arm(pts, shape, a, r_trunk, name, sgn):
    d, b = limb_direction(a, sgn)
    d, b = r_trunk @ d, r_trunk @ b
    sh = pts[KP[f'{name}_shoulder']]
    elbow = sh + d * shape.upper_arm
    fore = _bend(d, b, a.bend)
    wrist = elbow + fore * shape.forearm
    pts[KP[f'{name}_elbow']] = elbow
    pts[KP[f'{name}_wrist']] = wrist
    pts[P[f'{name}_hand']] = wrist + _bend(d, b, a.bend * 1.1 + 5) * shape.hand


def _place_leg(pts, shape, a, name, sgn):
    d, b = limb_direction(a, sgn)
    hip = pts[KP[f'{name}_hip']]
    knee = hip + d * shape.thigh
    shank = _bend(d, -b, a.bend)  # knees bend backwards
    ankle = knee + shank * shape.shank
    pts[KP[f'{name}_knee']] = knee
    pts[KP[f'{name}_ankle']] = ankle
    pts[P[f'{name}_toe']] = ankle + _foot_direction(shank) * shape.foot


def _foot_direction(shank: np.ndarray) -> np.ndarray:
    """Feet point forward, perpendicular-ish to the shank; flat when standing."""
    fwd = np.array([0.0, 0.0, 1.0])
    perp = fwd - fwd.dot(shank) * shank
    if np.linalg.norm(perp) < 1e-3:  # shank points forward: toes point up
        perp = np.array([0.0, 1.0, 0.0])
    w = max(0.0, -shank[1]) ** 2  # shank straight down -> flat foot
    return _unit(w * fwd + (1 - w) * _unit(perp) + np.array([0, -0.15, 0]))


# ------------------------------------------------------------------ world
def point_radii(shape: BodyShape) -> np.ndarray:
    """Surface radius (m) around every internal point: used for ground contact
    and as the depth margin of each key point in the visibility test."""
    r = np.full(len(POINT_NAMES), 0.01)
    for name, _ in SIDES:
        r[KP[f'{name}_shoulder']] = shape.r_upper_arm
        r[KP[f'{name}_elbow']] = shape.r_forearm
        r[KP[f'{name}_wrist']] = shape.r_forearm * 0.8
        r[KP[f'{name}_hip']] = shape.r_thigh
        r[KP[f'{name}_knee']] = shape.r_shank
        r[KP[f'{name}_ankle']] = shape.r_shank * 0.8
        r[P[f'{name}_hand']] = shape.r_forearm * 0.7
        r[P[f'{name}_toe']] = shape.r_shank * 0.5
    r[P['pelvis']] = shape.r_torso
    r[P['chest']] = shape.r_torso
    r[P['head']] = shape.head_r
    return r


def posture_rotation(pose: PoseParams, pts: np.ndarray) -> np.ndarray:
    """Root pitch; with ``support`` it is tilted so both support points touch
    the ground (e.g. hands and toes in a push-up)."""
    pitch = pose.posture
    if pose.support:
        a = pts[[P[n] for n in pose.support[0]]].mean(0)
        b = pts[[P[n] for n in pose.support[1]]].mean(0)
        # world height after rot_x(beta): y*cos(beta) - z*sin(beta); equal
        # heights for a and b give tan(beta) = dy / dz
        pitch = float(np.rad2deg(np.arctan2(a[1] - b[1], a[2] - b[2])))
    return rot_y(pose.heading) @ rot_x(pitch)


def world_points(shape: BodyShape, pose: PoseParams) -> np.ndarray:
    """Body points in the world, standing on (or lying on) the ground."""
    pts = body_points(shape, pose)
    rot = posture_rotation(pose, pts)
    world = pts @ rot.T
    world += np.array([pose.offset[0], 0.0, pose.offset[1]])
    radii = point_radii(shape)
    radii[[P['left_toe'], P['right_toe']]] = 0.02
    lowest = np.min(world[:, 1] - radii)
    # ankles sit above the sole: keep the sole on the ground when standing
    sole = min(world[KP['left_ankle'], 1], world[KP['right_ankle'], 1]) - shape.ankle_h
    world[:, 1] += pose.hop - min(lowest, sole)
    return world
