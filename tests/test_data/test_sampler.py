"""ClipSampler: windows of consecutive frames, epochs, ranks, errors."""
from __future__ import annotations

import pytest

import kdkit.data.sampler as sampler_mod
from kdkit.data import ClipSampler, check_clip_batch, check_clip_loader_cfg
from kdkit.data.sampler import clip_windows


class FakeVideo:
    """Clips of the given lengths, samples stored clip after clip but with
    frames shuffled inside each clip (the sampler must sort them)."""

    def __init__(self, lengths=(8, 5, 3), clip_len=None, gap_at=None):
        self.infos = []
        for v, n in enumerate(lengths):
            frames = [t for t in range(n) if t != gap_at]
            for t in reversed(frames):
                self.infos.append({'vid_id': 100 + v, 'frame_index': t})
        if clip_len is not None:
            self.clip_len = clip_len

    def __len__(self):
        return len(self.infos)

    def get_data_info(self, i):
        return dict(self.infos[i])


def windows_of(sampler, dataset):
    idx = list(sampler)
    assert len(idx) == len(sampler)
    k = sampler.clip_len
    assert len(idx) % k == 0
    out = []
    for s in range(0, len(idx), k):
        infos = [dataset.get_data_info(i) for i in idx[s:s + k]]
        assert len({d['vid_id'] for d in infos}) == 1
        t = [d['frame_index'] for d in infos]
        assert t == list(range(t[0], t[0] + k)), t
        out.append(tuple(idx[s:s + k]))
    return out


def test_every_window_is_consecutive_frames_of_one_clip():
    ds = FakeVideo()
    s = ClipSampler(ds, clip_len=4, seed=0)
    wins = windows_of(s, ds)
    assert len(wins) == (8 - 3) + (5 - 3)  # the 3-frame clip is too short
    assert len(set(wins)) == len(wins)


def test_stride_tiles_clips_and_gaps_split_them():
    ds = FakeVideo(lengths=(8, 6))
    wins = windows_of(ClipSampler(ds, clip_len=3, stride=3, seed=0), ds)
    frames = [i for w in wins for i in w]
    assert len(frames) == len(set(frames)) == 6 + 6
    gappy = FakeVideo(lengths=(9,), gap_at=4)  # frames 0-3 and 5-8
    assert len(windows_of(ClipSampler(gappy, clip_len=3, seed=0), gappy)) == 2 + 2
    assert clip_windows([[0, 1, 2, 3, 4]], None, 2, 2) == [[0, 1], [2, 3]]


def test_epochs_reshuffle_deterministically():
    ds = FakeVideo(lengths=(12, 12))
    a, b = ClipSampler(ds, 2, seed=7), ClipSampler(ds, 2, seed=7)
    first = list(a)
    assert list(b) == first
    a.set_epoch(1)
    b.set_epoch(1)
    assert list(a) == list(b) != first
    assert sorted(list(a)) == sorted(first)
    fixed = ClipSampler(ds, 2, shuffle=False)
    fixed.set_epoch(3)
    assert list(fixed) == [i for w in fixed.windows for i in w]


@pytest.mark.parametrize('world', [2, 3])
def test_ranks_split_the_windows(monkeypatch, world):
    ds = FakeVideo(lengths=(9, 7))
    per_rank = []
    for rank in range(world):
        monkeypatch.setattr(sampler_mod, 'get_dist_info', lambda r=rank: (r, world))
        s = ClipSampler(ds, clip_len=3, seed=1)
        per_rank.append(windows_of(s, ds))
    total = (9 - 2) + (7 - 2)
    assert len({len(w) for w in per_rank}) == 1  # same length on every rank
    covered = {w for ws in per_rank for w in ws}
    assert len(covered) == total  # all windows, padding only repeats


def test_errors():
    ds = FakeVideo()
    with pytest.raises(ValueError, match='clip_len=0'):
        ClipSampler(ds, 0)
    with pytest.raises(ValueError, match='stride=0'):
        ClipSampler(ds, 2, stride=0)
    with pytest.raises(ValueError, match='no clip .* has 9 consecutive frames'):
        ClipSampler(ds, 9)
    with pytest.raises(ValueError, match='batch_size=6 is not a multiple of clip_len=4'):
        ClipSampler(ds, 4, batch_size=6)
    with pytest.raises(ValueError, match='differs from the dataset clip_len=2'):
        ClipSampler(FakeVideo(clip_len=2), 4)
    with pytest.warns(UserWarning, match='independent augmentations'):
        ClipSampler(FakeVideo(clip_len=1), 4)
    check_clip_batch(8, 4)
    with pytest.raises(ValueError, match='not a multiple'):
        check_clip_batch(10, 4)


def test_loader_config_check():
    ok = dict(batch_size=8, sampler=dict(type='ClipSampler', clip_len=4),
              dataset=dict(type='VideoPoseDataset', clip_len=4))
    check_clip_loader_cfg(ok)
    check_clip_loader_cfg(dict(batch_size=3, sampler=dict(type='DefaultSampler')))
    with pytest.raises(ValueError, match='batch_size=6'):
        check_clip_loader_cfg(dict(ok, batch_size=6))
    with pytest.raises(ValueError, match='dataset.clip_len=1 differs'):
        check_clip_loader_cfg(dict(ok, dataset=dict(type='VideoPoseDataset')))


def test_registered():
    from mmpose.registry import DATA_SAMPLERS
    s = DATA_SAMPLERS.build(dict(type='ClipSampler', clip_len=2, seed=0),
                            default_args=dict(dataset=FakeVideo()))
    assert isinstance(s, ClipSampler)
