"""Weight schedules on hand-computed points."""
import math

import pytest

from kdkit.engine.schedules import check_schedule, schedule_value


@pytest.mark.parametrize('cfg,p,expected', [
    (dict(type='constant', value=0.7), 0.3, 0.7),
    (dict(type='linear', start=1.0, end=0.0), 0.25, 0.75),
    (dict(type='cosine', start=1.0, end=0.0), 0.5, 0.5),
    (dict(type='cosine', start=2.0, end=1.0), 1 / 3, 1.0 + (1 + math.cos(math.pi / 3)) / 2),
    (dict(type='warmup', value=2.0, warmup=0.5), 0.25, 1.0),
    (dict(type='warmup', value=2.0, warmup=0.5), 0.75, 2.0),
    (dict(type='step', value=1.0, milestones=[0.5, 0.8], gamma=0.1), 0.6, 0.1),
    (dict(type='step', value=1.0, milestones=[0.5, 0.8], gamma=0.1), 0.9, 0.01),
    (dict(type='linear', start=1.0, end=0.0), 1.7, 0.0),  # clipped
])
def test_schedule_values(cfg, p, expected):
    check_schedule('kd', cfg)
    assert schedule_value(cfg, p) == pytest.approx(expected)


@pytest.mark.parametrize('cfg,match', [
    (dict(type='exp', value=1.0), r"schedules.kd.type: 'exp'"),
    (dict(type='linear', start=1.0), r"takes \['end', 'start'\]"),
    (dict(type='constant', value=-1.0), r'schedules.kd.value: expected a number >= 0'),
    (dict(type='warmup', value=1.0, warmup=0.0), r'schedules.kd.warmup'),
    (dict(type='step', value=1.0, milestones=[2], gamma=0.1), r'schedules.kd.milestones'),
])
def test_bad_schedules_name_the_field(cfg, match):
    with pytest.raises(ValueError, match=match):
        check_schedule('kd', cfg)
