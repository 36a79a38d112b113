"""The IoU tracker: ids stay with people who cross, survive short gaps,
restart after long ones; Hungarian and greedy matching agree on clear cases."""
from __future__ import annotations

import numpy as np
import pytest

from kdkit.data import tracking
from kdkit.data.tracking import assign_tracks, iou_matrix


def crossing(n=13, noise=1.5, seed=0):
    """Two people walking towards each other, crossing at frame 6 (their
    boxes overlap heavily for several frames), noisy boxes; per frame the
    boxes in a shuffled order, with who is who."""
    rng = np.random.default_rng(seed)
    frames, who = [], []
    for t in range(n):
        a = [4 + 8 * t, 20, 24, 60]
        b = [100 - 8 * t, 32, 18, 42]  # further away: smaller
        boxes = [np.add(a, rng.normal(0, noise, 4)), np.add(b, rng.normal(0, noise, 4))]
        order = rng.permutation(2)
        frames.append([boxes[i].tolist() for i in order])
        who.append(['a' if i == 0 else 'b' for i in order])
    return frames, who


def ids_by_person(ids, who):
    out = {'a': set(), 'b': set()}
    for frame_ids, frame_who in zip(ids, who):
        for tid, w in zip(frame_ids, frame_who):
            out[w].add(tid)
    return out


def test_iou_matrix():
    a = [[0, 0, 10, 10]]
    b = [[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]]
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0]])
    assert iou_matrix([], b).shape == (0, 3)


@pytest.mark.parametrize('seed', range(20))
def test_crossing_people_keep_their_ids(seed):
    frames, who = crossing(seed=seed)
    ids = assign_tracks(frames)
    assert ids_by_person(ids, who) == {'a': {0}, 'b': {1}} or \
        ids_by_person(ids, who) == {'a': {1}, 'b': {0}}


def twins(n=12):
    """Two people of the same size on the same line crossing between frames
    5 and 6: on the last boxes alone each frame-6 box is nearer the other
    person's frame-5 box."""
    return [[[4 + 8 * t, 20, 24, 60], [96 - 8 * t, 20, 24, 60]] for t in range(n)]


def test_same_size_crossing_needs_the_motion_prediction(monkeypatch):
    ids = assign_tracks(twins())
    assert all(frame == [0, 1] for frame in ids)
    monkeypatch.setattr(tracking._Track, 'predict', lambda self, t: self.box)
    assert any(frame != [0, 1] for frame in assign_tracks(twins()))


def test_gap_within_max_gap_keeps_the_id_longer_gap_starts_a_new_one():
    box = [10, 10, 30, 60]
    frames = [[box]] * 3 + [[]] * 4 + [[box]] * 2
    assert assign_tracks(frames, max_gap=4) == [[0]] * 3 + [[]] * 4 + [[0]] * 2
    assert assign_tracks(frames, max_gap=3) == [[0]] * 3 + [[]] * 4 + [[1]] * 2
    # the gap is counted in the video's frames when frame indices are given
    two = [[box], [box]]
    assert assign_tracks(two, max_gap=3, frame_indices=[0, 5]) == [[0], [1]]
    assert assign_tracks(two, max_gap=4, frame_indices=[0, 5]) == [[0], [0]]


def test_fade_out_fade_in_elsewhere_is_a_new_person():
    frames = [[[10, 10, 20, 50]], [[10, 10, 20, 50], [70, 10, 20, 50]], [[70, 10, 20, 50]]]
    assert assign_tracks(frames) == [[0], [0, 1], [1]]


def test_greedy_fallback_matches_hungarian_on_clear_cases(monkeypatch):
    frames, who = crossing(noise=0.5, seed=1)
    hungarian = assign_tracks(frames)
    monkeypatch.setattr(tracking, 'linear_sum_assignment', None)
    assert assign_tracks(frames) == hungarian


def test_bad_arguments_are_one_line():
    with pytest.raises(ValueError, match=r'^iou_thr: expected a number in \(0, 1\]'):
        assign_tracks([], iou_thr=0)
    with pytest.raises(ValueError, match=r'^max_gap: expected an int >= 0'):
        assign_tracks([], max_gap=-1)
