"""Per-term weight schedules: value as a function of training progress.

Every schedule maps a progress ``p`` in [0, 1] (iteration / max iterations, or
epoch / max epochs) to a weight:

* ``constant``  w(p) = value
* ``linear``    w(p) = start + (end - start) * p
* ``cosine``    w(p) = end + (start - end) * (1 + cos(pi * p)) / 2
* ``warmup``    w(p) = value * min(1, p / warmup)          (linear ramp, then flat)
* ``step``      w(p) = value * gamma ** #{m in milestones : p >= m}
"""
from __future__ import annotations

import math

SCHEDULE_ARGS = {
    'constant': {'value'},
    'linear': {'start', 'end'},
    'cosine': {'start', 'end'},
    'warmup': {'value', 'warmup'},
    'step': {'value', 'milestones', 'gamma'},
}


def check_schedule(name: str, cfg: dict) -> None:
    """One-line error naming the term and the field for a bad schedule."""
    kind = cfg.get('type')
    if kind not in SCHEDULE_ARGS:
        raise ValueError(f'schedules.{name}.type: {kind!r} is not one of '
                         f'{sorted(SCHEDULE_ARGS)}')
    args = set(cfg) - {'type'}
    if args != SCHEDULE_ARGS[kind]:
        raise ValueError(f'schedules.{name}: a {kind!r} schedule takes '
                         f'{sorted(SCHEDULE_ARGS[kind])}, got {sorted(args)}')
    for key in ('value', 'start', 'end'):
        if key in cfg and (not isinstance(cfg[key], (int, float)) or cfg[key] < 0):
            raise ValueError(f'schedules.{name}.{key}: expected a number >= 0, got {cfg[key]!r}')
    if kind == 'warmup' and not 0 < cfg['warmup'] <= 1:
        raise ValueError(f'schedules.{name}.warmup: expected a fraction in (0, 1], got {cfg["warmup"]!r}')
    if kind == 'step' and not all(0 <= m <= 1 for m in cfg['milestones']):
        raise ValueError(f'schedules.{name}.milestones: expected fractions in [0, 1], got {cfg["milestones"]!r}')


def schedule_value(cfg: dict, progress: float) -> float:
    """The weight a schedule gives at ``progress`` (clipped to [0, 1])."""
    p = min(max(progress, 0.0), 1.0)
    kind = cfg['type']
    if kind == 'constant':
        return float(cfg['value'])
    if kind == 'linear':
        return cfg['start'] + (cfg['end'] - cfg['start']) * p
    if kind == 'cosine':
        return cfg['end'] + (cfg['start'] - cfg['end']) * (1 + math.cos(math.pi * p)) / 2
    if kind == 'warmup':
        return cfg['value'] * min(1.0, p / cfg['warmup'])
    if kind == 'step':
        return cfg['value'] * cfg['gamma'] ** sum(p >= m for m in cfg['milestones'])
    raise ValueError(f'unknown schedule type {kind!r}')
