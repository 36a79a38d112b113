import numpy as np
import pytest

from kdkit.evaluation.jitter import clip_jitter, excess_jitter, jitter


def _constant_velocity(t=6, k=3):
    steps = np.arange(t, dtype=float)[:, None, None]
    return np.broadcast_to(np.array([2., -1.]) * steps + 5., (t, k, 2)).copy()


def _zigzag(t=6, k=3, a=1.0):
    """x alternates +a/-a: every acceleration is |a - 2(-a) + a| = 4a."""
    x = a * (-1.0) ** np.arange(t)
    out = np.zeros((t, k, 2))
    out[..., 0] = x[:, None]
    return out


def test_constant_velocity_has_no_jitter():
    assert jitter(_constant_velocity()) == pytest.approx(0.0)


def test_zigzag_known_value_and_norm():
    assert jitter(_zigzag(a=1.5)) == pytest.approx(6.0)
    assert jitter(_zigzag(a=1.5), norm=12.0) == pytest.approx(0.5)
    norm = np.full(6, 12.0)
    norm[2] = 6.0  # window centred on frame 2 is divided by 6 -> 1.0
    assert jitter(_zigzag(a=1.5), norm=norm) == pytest.approx(
        (3 * 0.5 + 1.0) / 4)


def test_only_windows_valid_in_all_three_frames():
    pred = _zigzag(t=5, k=1)
    pred[2, 0] = [100., 100.]  # would be a huge spike if used
    visible = np.ones((5, 1), bool)
    visible[2] = False
    # windows centred on 1, 2, 3 all include frame 2: nothing valid is left
    assert np.isnan(jitter(pred, visible))
    visible = np.ones((6, 1), bool)
    visible[5] = False
    # 6 frames, last invalid: windows centred on 1, 2, 3 remain (each 4)
    assert jitter(_zigzag(t=6, k=1), visible) == pytest.approx(4.0)


def test_short_clip_and_nan_points():
    assert np.isnan(jitter(np.zeros((2, 3, 2))))
    pred = _constant_velocity(t=4, k=2)
    pred[0, 1] = np.nan
    assert jitter(pred) == pytest.approx(0.0)


def test_excess_jitter_is_what_the_model_adds():
    gt = _constant_velocity()
    pred = gt + _zigzag(a=0.5)
    assert excess_jitter(pred, gt) == pytest.approx(2.0)
    assert jitter(pred, gt=gt) == pytest.approx(2.0)  # jitter of the error


def test_clip_jitter_averages_clips_equally():
    gt = _constant_velocity(t=8)
    clips = {'a': dict(pred=gt, gt=gt),
             'b': dict(pred=gt + _zigzag(t=8, a=1.0), gt=gt),
             'too_short': dict(pred=gt[:2], gt=gt[:2])}
    out = clip_jitter(clips)
    assert out['num_clips'] == 2
    assert out['jitter'] == pytest.approx(2.0)
    assert out['excess_jitter'] == pytest.approx(2.0)
    no_gt = clip_jitter([dict(pred=gt)])
    assert no_gt['jitter'] == pytest.approx(0.0)
    assert no_gt['excess_jitter'] is None
    assert clip_jitter([])['jitter'] is None
