"""Movement library: sports and exercise motions as smooth functions of time.

Each motion maps a phase (radians, 2*pi per repetition) and an amplitude scale
to :class:`~kdkit.data.skeleton.PoseParams`. A clip adds per-clip smooth
perturbations (:class:`MotionClip`) so that no two repetitions look alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .skeleton import LimbAngles, PoseParams


def _down(ph: float) -> float:
    """0 at the start of a repetition, 1 at its deepest point, smooth."""
    return 0.5 * (1.0 - np.cos(ph))


def _pair(left: LimbAngles, right: LimbAngles) -> dict:
    return {'left': left, 'right': right}


def squat(ph, a):
    s = _down(ph) * a
    return PoseParams(
        lean=38 * s, head_pitch=-15 * s,
        arms=_pair(*[LimbAngles(8 + 80 * s, 8, 0, 12 - 5 * s)] * 2),
        legs=_pair(*[LimbAngles(100 * s, 14, 0, 4 + 120 * s)] * 2))


def lunge(ph, a):
    s = _down(ph) * a
    # alternate the front leg every repetition; switching happens at s = 0
    front, back = ('left', 'right') if np.floor(ph / (2 * np.pi)) % 2 == 0 \
        else ('right', 'left')
    legs = {front: LimbAngles(80 * s, 5, 0, 4 + 88 * s),
            back: LimbAngles(-22 * s, 5, 0, 4 + 95 * s)}
    arms = _pair(LimbAngles(10, 40, 60, 90 * s + 15), LimbAngles(10, 40, 60, 90 * s + 15))
    return PoseParams(lean=5 * s, arms=arms, legs=legs)


def jumping_jack(ph, a):
    s = _down(ph) * a
    return PoseParams(
        arms=_pair(*[LimbAngles(12 + 150 * s, 88, 0, 10)] * 2),
        legs=_pair(*[LimbAngles(3 + 22 * s, 90, 0, 5 + 8 * s)] * 2),
        hop=0.07 * np.sin(ph) ** 2 * a)


def arm_circles(ph, a):
    return PoseParams(
        arms=_pair(*[LimbAngles(88 + 28 * a * np.sin(ph), 85 + 28 * a * np.cos(ph),
                                0, 6)] * 2),
        legs=_pair(*[LimbAngles(6, 90, 0, 8)] * 2))


def walk(ph, a):
    sw = np.sin(ph)
    knee_l = 8 + 55 * max(0.0, np.sin(ph + 1.3)) * a
    knee_r = 8 + 55 * max(0.0, np.sin(ph + 1.3 + np.pi)) * a
    return PoseParams(
        twist=6 * sw * a, head_pitch=5,
        arms=_pair(LimbAngles(-22 * sw * a, 5, 0, 18), LimbAngles(22 * sw * a, 5, 0, 18)),
        legs=_pair(LimbAngles(26 * sw * a, 3, 0, knee_l),
                   LimbAngles(-26 * sw * a, 3, 0, knee_r)),
        hop=0.025 * abs(np.cos(ph)))


def punch(ph, a):
    # boxing guard, alternating straight punches
    left_out = max(0.0, np.sin(ph)) * a
    right_out = max(0.0, -np.sin(ph)) * a
    arms = _pair(LimbAngles(55 + 35 * left_out, -10, 0, 120 - 110 * left_out),
                 LimbAngles(55 + 35 * right_out, -10, 0, 120 - 110 * right_out))
    return PoseParams(
        twist=-14 * np.sin(ph) * a, head_pitch=8, arms=arms,
        legs=_pair(LimbAngles(14, 12, 0, 18), LimbAngles(-10, 12, 0, 22)))


def toe_touch(ph, a):
    s = _down(ph) * a
    return PoseParams(
        lean=95 * s, head_pitch=-10 * s,
        arms=_pair(*[LimbAngles(20 + 75 * s, 10, 0, 8)] * 2),
        legs=_pair(*[LimbAngles(8 * s, 6, 0, 4)] * 2))


def pushup(ph, a):
    s = _down(ph) * a
    arm = LimbAngles(86 - 60 * s, 28, 0, 4 + 62 * s)
    return PoseParams(
        head_pitch=-20, arms=_pair(arm, arm),
        legs=_pair(*[LimbAngles(0, 5, 0, 2)] * 2), posture=80.0,
        support=(('left_hand', 'right_hand'), ('left_toe', 'right_toe')))


def leg_raise(ph, a):
    s = _down(ph) * a
    return PoseParams(
        head_pitch=15, posture=-90.0,
        arms=_pair(*[LimbAngles(8, 35, 0, 5)] * 2),
        legs=_pair(*[LimbAngles(5 + 75 * s, 4, 0, 4 + 10 * s)] * 2))


def situp(ph, a):
    s = _down(ph) * a
    return PoseParams(
        lean=8 + 50 * s, head_pitch=20 * s, posture=-90.0,
        arms=_pair(*[LimbAngles(150, 60, 0, 135)] * 2),
        legs=_pair(*[LimbAngles(50, 6, 0, 95)] * 2))


@dataclass(frozen=True)
class Motion:
    """A motion and its tempo: ``period`` seconds per repetition at speed 1."""

    fn: Callable
    period: float
    lying: bool = False
    travel: float = 0.0  # metres per second along the heading at speed 1


MOTIONS: dict[str, Motion] = {
    'squat': Motion(squat, 2.2),
    'lunge': Motion(lunge, 2.4),
    'jumping_jack': Motion(jumping_jack, 1.1),
    'arm_circles': Motion(arm_circles, 1.0),
    'walk': Motion(walk, 1.1, travel=1.1),
    'punch': Motion(punch, 1.0),
    'toe_touch': Motion(toe_touch, 2.6),
    'pushup': Motion(pushup, 1.8, lying=True),
    'leg_raise': Motion(leg_raise, 2.4, lying=True),
    'situp': Motion(situp, 2.0, lying=True),
}

# every angle a clip perturbs smoothly, with its amplitude in degrees
_JITTER_TRUNK = {'lean': 4, 'side': 4, 'twist': 6, 'head_pitch': 8, 'head_yaw': 20}
_JITTER_LIMB = {'elev': 8, 'plane': 10, 'twist': 10, 'bend': 8}


class MotionClip:
    """One clip's motion: tempo, amplitude, start phase and smooth per-angle
    perturbations, all drawn from the clip's generator."""

    def __init__(self, name: str, rng: np.random.Generator, speed: float):
        if name not in MOTIONS:
            raise ValueError(f'motion: unknown {name!r}; expected one of '
                             f'{sorted(MOTIONS)}')
        self.name = name
        self.motion = MOTIONS[name]
        self.freq = speed * rng.uniform(0.8, 1.25) / self.motion.period
        self.amp = rng.uniform(0.7, 1.1)
        self.phase0 = rng.uniform(0, 2 * np.pi)
        self.heading = rng.uniform(-180, 180)
        self.turn_rate = rng.uniform(-25, 25) if self.motion.travel else 0.0
        self.travel = self.motion.travel * speed * rng.uniform(0.8, 1.2)
        self.pose_bias = {'head_yaw': rng.uniform(-25, 25),
                          'head_pitch': rng.uniform(-10, 10)}
        names = list(_JITTER_TRUNK) + [f'{limb}.{side}.{k}' for limb in ('arms', 'legs')
                                       for side in ('left', 'right')
                                       for k in _JITTER_LIMB]
        # two sinusoids per angle: smooth, never repeating within a clip
        self.jitter = {n: (rng.uniform(-1, 1, 2), rng.uniform(0.1, 0.6, 2) * speed,
                           rng.uniform(0, 2 * np.pi, 2)) for n in names}

    def _wobble(self, name: str, t: float, scale: float) -> float:
        amp, freq, ph = self.jitter[name]
        return float(scale * np.sum(amp * np.sin(2 * np.pi * freq * t + ph)) / 2)

    def pose(self, t: float) -> PoseParams:
        """Pose parameters at time ``t`` seconds."""
        p = self.motion.fn(self.phase0 + 2 * np.pi * self.freq * t, self.amp)
        for k, scale in _JITTER_TRUNK.items():
            setattr(p, k, getattr(p, k) + self.pose_bias.get(k, 0.0)
                    + self._wobble(k, t, scale))
        for limb in ('arms', 'legs'):
            for side in ('left', 'right'):
                la = getattr(p, limb)[side]
                new = LimbAngles(**{k: getattr(la, k) + self._wobble(
                    f'{limb}.{side}.{k}', t, s) for k, s in _JITTER_LIMB.items()})
                new.bend = max(0.0, new.bend)  # hinges do not hyper-extend
                getattr(p, limb)[side] = new
        p.heading = self.heading + self.turn_rate * t
        p.offset = self._path(t)
        return p

    def _path(self, t: float) -> tuple:
        """World (x, z) after walking ``t`` s along a turning heading: the
        closed-form integral of the velocity (sin h, cos h) * travel."""
        h0, w = np.deg2rad(self.heading), np.deg2rad(self.turn_rate)
        v = self.travel
        if abs(w) < 1e-6:
            return (v * t * np.sin(h0), v * t * np.cos(h0))
        return (v / w * (np.cos(h0) - np.cos(h0 + w * t)),
                v / w * (np.sin(h0 + w * t) - np.sin(h0)))
