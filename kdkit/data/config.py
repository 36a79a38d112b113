"""Generation profiles and knobs, with range checks that fail in one line."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .motions import MOTIONS

GENERATOR_VERSION = '1.0'
SPLITS = ('train', 'val', 'test')
SPLIT_CODE = {'train': 1, 'val': 2, 'test': 3}  # ints: no hash() of strings


@dataclass(frozen=True)
class Knob:
    kind: type
    lo: Any = None
    hi: Any = None
    help: str = ''


KNOBS: dict[str, Knob] = {
    'width': Knob(int, 64, 1024, 'frame width (px)'),
    'height': Knob(int, 64, 1024, 'frame height (px)'),
    'n_train_clips': Knob(int, 1, 9999, 'clips in the train split'),
    'n_val_clips': Knob(int, 1, 9999, 'clips in the val split'),
    'n_test_clips': Knob(int, 1, 9999, 'clips in the test split'),
    'frames_per_clip': Knob(int, 2, 9999, 'frames per clip'),
    'fps': Knob(int, 1, 120, 'frame rate of the clips'),
    'clips_per_subject': Knob(int, 1, 9999, 'clips sharing one subject'),
    'occlusion_rate': Knob(float, 0.0, 1.0, 'chance and number of foreground occluders'),
    'clutter': Knob(float, 0.0, 1.0, 'background distractor density'),
    'blur': Knob(float, 0.0, 1.0, 'defocus and motion-blur strength'),
    'noise': Knob(float, 0.0, 1.0, 'sensor noise strength'),
    'lighting': Knob(float, 0.0, 1.0, 'lighting change within a clip'),
    'truncation': Knob(float, 0.0, 1.0, 'chance a clip is framed tight (parts out of frame)'),
    'motion_speed': Knob(float, 0.1, 4.0, 'tempo multiplier of every motion'),
    'viewpoint_range': Knob(float, 0.0, 180.0, 'camera azimuth range around the subject (deg)'),
    'annotated_every': Knob(int, 1, 9999,
                            'label every n-th train frame (sparse, as PoseTrack)'),
    'jpeg_quality': Knob(int, 50, 100, 'JPEG quality of the frames'),
    'motions': Knob(tuple, help='motions to draw from: ' + ','.join(MOTIONS)),
    'video_format': Knob(str, help="clip previews: 'gif', 'mp4' or 'none'"),
}

_COMMON = dict(width=192, height=192, fps=15, jpeg_quality=90,
               motions=tuple(MOTIONS), video_format='gif', motion_speed=1.0,
               viewpoint_range=180.0)
PROFILES: dict[str, dict] = {
    # small and fast: generated inside `make test` and by notebook 01
    'quick': dict(_COMMON, n_train_clips=24, n_val_clips=6, n_test_clips=6,
                  frames_per_clip=24, clips_per_subject=2, occlusion_rate=0.3,
                  clutter=0.3, blur=0.2, noise=0.2, lighting=0.3, truncation=0.1,
                  annotated_every=2),
    # several thousand training frames, hard: occluders, clutter, blur
    'full': dict(_COMMON, n_train_clips=200, n_val_clips=30, n_test_clips=30,
                 frames_per_clip=32, clips_per_subject=3, occlusion_rate=0.6,
                 clutter=0.7, blur=0.5, noise=0.5, lighting=0.6, truncation=0.2,
                 annotated_every=2),
}

VIDEO_FORMATS = ('gif', 'mp4', 'none')


def resolve_config(profile: str, knobs: dict) -> dict:
    """The profile's values overridden by ``knobs``, each range-checked."""
    if profile not in PROFILES:
        raise ValueError(f'profile {profile!r} unknown; expected one of '
                         f'{sorted(PROFILES)}')
    cfg = dict(PROFILES[profile])
    for name, value in knobs.items():
        cfg[name] = check_knob(name, value)
    if cfg['annotated_every'] > cfg['frames_per_clip']:
        raise ValueError(f"knob annotated_every={cfg['annotated_every']} out of range: "
                         f"expected int in [1, frames_per_clip={cfg['frames_per_clip']}]")
    return cfg


def check_knob(name: str, value: Any) -> Any:
    """Coerce and range-check one knob; ``ValueError`` names the knob."""
    if name not in KNOBS:
        raise ValueError(f'unknown knob {name!r}; expected one of {sorted(KNOBS)}')
    k = KNOBS[name]
    if name == 'motions':
        names = tuple(value.split(',')) if isinstance(value, str) else tuple(value)
        names = tuple(n.strip() for n in names if n.strip())
        bad = [n for n in names if n not in MOTIONS]
        if not names or bad:
            raise ValueError(f'knob motions={value!r} invalid: expected a non-empty '
                             f'subset of {sorted(MOTIONS)}')
        return names
    if name == 'video_format':
        if value not in VIDEO_FORMATS:
            raise ValueError(f'knob video_format={value!r} invalid: expected one of '
                             f'{list(VIDEO_FORMATS)}')
        return value
    try:
        if k.kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        v = k.kind(value)
    except (TypeError, ValueError):
        raise ValueError(f'knob {name}={value!r} invalid: expected {k.kind.__name__} '
                         f'in [{k.lo}, {k.hi}]') from None
    if isinstance(value, bool) or not (k.lo <= v <= k.hi):
        raise ValueError(f'knob {name}={value!r} out of range: expected '
                         f'{k.kind.__name__} in [{k.lo}, {k.hi}]')
    return v


def parse_knob_assignments(items: list[str]) -> dict:
    """``['blur=0.3', 'n_train_clips=10']`` -> dict (values still strings,
    coerced by :func:`check_knob`)."""
    out = {}
    for item in items or []:
        if '=' not in item:
            raise ValueError(f'--set {item!r}: expected knob=value')
        k, v = item.split('=', 1)
        k = k.strip()
        check_knob(k, _number(v.strip()) if k not in ('motions', 'video_format') else v)
        out[k] = _number(v.strip()) if k not in ('motions', 'video_format') else v.strip()
    return out


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text
