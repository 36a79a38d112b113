"""``CombinedVideoDataset``: MMPose's ``CombinedDataset`` that knows about clips.

Issue #15 trains on a mix of generated, labelled frames and real,
pseudo-labelled ones through MMPose's ``CombinedDataset``. A temporal
distillation term on that mix needs, at the combined level where the pipeline
runs, what :class:`~kdkit.data.VideoPoseDataset` gives a single dataset:

* :meth:`CombinedVideoDataset.clip_indices` in global indices, never mixing
  sub-datasets (their ``vid_id``s collide): with ``clip_len`` 1 one person
  track of one video of one sub-dataset, split by
  :class:`~kdkit.data.ClipSampler` at missing frames (``get_data_info(i)``
  answers the sub-dataset's ``frame_index``); with ``clip_len > 1`` one slot
  holding a window of ``clip_len`` consecutive frames of one track;
* ``sample_ratio_factor`` draws whole windows, not single frames (see the
  class doc), so subsampling keeps windows intact;
* with ``clip_len > 1`` one augmentation draw per window (the same
  :class:`~kdkit.data.dataset.WindowKeys` and
  :class:`~kdkit.data.dataset.WindowSeededPipeline` as VideoPoseDataset).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
from mmpose.datasets import CombinedDataset
from mmpose.registry import DATASETS

from .dataset import WindowKeys, WindowSeededPipeline, clip_groups, window_seeded
from .sampler import clip_windows, group_by_clip

NAME = 'CombinedVideoDataset'
# salt of the slot draw's seed, apart from the transforms' (key + (i,), i small)
_SLOT_SALT = 0x5107


@dataclass
class _Part:
    """How one sub-dataset fills its share of the global indices: as is
    (``windows`` None, clip_len 1: global ``offset + i`` is sample ``i``), or
    as ``slots`` of ``clip_len`` samples, each one window drawn from a stratum
    of ``windows`` (n, clip_len) sub-indices."""
    clips: list
    frames: list
    windows: Optional[np.ndarray]
    slots: int

    def __len__(self) -> int:
        if self.windows is None:
            return sum(len(c) for c in self.clips)
        return self.slots * self.windows.shape[1]


@DATASETS.register_module()
class CombinedVideoDataset(CombinedDataset):
    """MMPose's ``CombinedDataset`` of video datasets, clip-aware (module doc).

    Args:
        metainfo, datasets, pipeline, sample_ratio_factor: as MMPose's
            ``CombinedDataset``; the sub-datasets have ``pipeline=[]`` and
            ``clip_len`` 1 (the window is the combined dataset's).
        clip_len: frames per temporal window, the ``clip_len`` of
            :class:`~kdkit.data.ClipSampler`; > 1 shares one augmentation
            draw among the frames of a window. Default 1: exactly
            ``CombinedDataset`` (:meth:`clip_indices` then needs no
            ``sample_ratio_factor``).
        clip_seed: base of the per-window augmentation and window-draw seeds.

    Windows and ``sample_ratio_factor`` with ``clip_len > 1``: MMPose maps
    global sample ``j`` of a resampled sub-dataset to a random frame of its
    ``j``-th stratum of ``1 / ratio`` frames, redrawn at every access, so
    consecutive global indices are frames far apart, never a window. Here
    each sub-dataset becomes ``round(ratio * len / clip_len)`` slots of
    ``clip_len`` samples (ratio 1 without ``sample_ratio_factor``); slot ``s``
    holds one window (``clip_len`` consecutive frames of one clip) drawn from
    the ``s``-th stratum of all the sub-dataset's windows (every start, in
    clip and frame order). The draw is seeded by the window's augmentation
    key: the same for its frames, new at every visit (epoch), so over epochs
    every window is seen, as MMPose sees every frame. So an epoch has
    ``ratio * len`` samples per sub-dataset as in MMPose, rounded to whole
    windows, whatever ClipSampler's ``stride`` (a slot is one window).
    Outside training (``get_data_info``) a slot shows its stratum's middle
    window.
    """

    def __init__(self, metainfo: dict, datasets: list, pipeline: Optional[list] = None,
                 sample_ratio_factor: Optional[list] = None, clip_len: int = 1,
                 clip_seed: int = 0, **kwargs):
        _check_args(datasets, sample_ratio_factor, clip_len)
        self.clip_len, self.clip_seed = int(clip_len), int(clip_seed)
        self._ratios = [float(r) for r in sample_ratio_factor or [1.0] * len(datasets)]
        self._keys = WindowKeys(self.clip_len, clip_seed, NAME)
        self._draw = 0.5  # where in its stratum a slot's window is: the middle outside training
        self._parts: Optional[list] = None
        super().__init__(metainfo, datasets, pipeline=pipeline or [],
                         sample_ratio_factor=sample_ratio_factor, **kwargs)
        self.pipeline = WindowSeededPipeline(self.pipeline)
        _check_sub_datasets(self.datasets)
        if self.clip_len > 1:
            self._layout()

    # --------------------------------------------------------------- layout
    def _layout(self) -> None:
        """Lay the sub-datasets out in global indices (class doc)."""
        self._parts = [self._part(i, d, r)
                       for i, (d, r) in enumerate(zip(self.datasets, self._ratios))]
        self._lens = [len(p) for p in self._parts]
        self._len = sum(self._lens)
        self._offsets = np.cumsum([0] + self._lens)
        self._clip, self._fidx = self._window_arrays()

    def _part(self, i: int, dataset, ratio: float) -> _Part:
        clips, frames = group_by_clip(dataset)
        n = self.clip_len
        if n == 1:
            return _Part(clips, frames, None, 0)
        windows = np.asarray(clip_windows(clips, frames, n, 1), np.int64).reshape(-1, n)
        slots = round(ratio * len(dataset) / n)
        if slots and not len(windows):
            raise ValueError(f'{NAME}: datasets[{i}] has no run of clip_len={n} consecutive '
                             'frames to draw windows from (a sparsely labelled video set '
                             'needs keep_unlabeled=True)')
        return _Part(clips, frames, windows, slots)

    def _window_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Per global index: its clip id (unique over sub-datasets, one per
        slot) and its frame (index in the video, position in a slot)."""
        clip, fidx = np.zeros(self._len, np.int64), np.zeros(self._len, np.int64)
        next_id = 0
        for part, off in zip(self._parts, self._offsets):
            if part.windows is None:
                for c, f in zip(part.clips, part.frames):
                    clip[off + np.asarray(c, np.int64)] = next_id
                    fidx[off + np.asarray(c, np.int64)] = f
                    next_id += 1
            else:
                pos = np.arange(len(part))
                clip[off:off + len(part)] = next_id + pos // self.clip_len
                fidx[off:off + len(part)] = pos % self.clip_len
                next_id += part.slots
        return clip, fidx

    # ---------------------------------------------------------------- clips
    def clip_indices(self) -> list[list[int]]:
        """Global indices grouped by clip (one person track of one video of
        one sub-dataset, or one slot), sub-datasets in order, each list in
        frame order."""
        if self._parts is None:
            if self.resample:
                raise ValueError(f'{NAME}: clip_indices() with sample_ratio_factor needs '
                                 'clip_len > 1 (the subset is drawn per window); set clip_len')
            self._layout()
        return clip_groups(self._clip, self._fidx)

    def _get_subset_index(self, index: int) -> tuple[int, int]:
        if self.clip_len == 1:
            return super()._get_subset_index(index)
        if not -self._len <= index < self._len:
            raise ValueError(f'index({index}) is out of bounds for dataset with '
                             f'length({self._len}).')
        index %= self._len
        d = int(np.searchsorted(self._offsets, index, side='right')) - 1
        local, part = index - int(self._offsets[d]), self._parts[d]
        slot, j = divmod(local, self.clip_len)
        n = len(part.windows)
        w = min(int(n / part.slots * (slot + self._draw)), n - 1)
        return d, int(part.windows[w, j])

    # ---------------------------------------------------------- augmentation
    def prepare_data(self, idx: int) -> Any:
        if self.clip_len <= 1:
            return super().prepare_data(idx)
        key = self._keys.key(idx, int(self._clip[idx]), int(self._fidx[idx]))
        self._draw = _uniform(key + (_SLOT_SALT,))
        try:
            with window_seeded(self.pipeline, key):
                return super().prepare_data(idx)
        finally:
            self._draw = 0.5


def _uniform(key: tuple) -> float:
    """A float in [0, 1) determined by ``key``."""
    state = np.random.SeedSequence([int(e) % (1 << 63) for e in key]).generate_state(1)
    return float(state[0]) / 2.0 ** 32


def _check_args(datasets, ratios, clip_len) -> None:
    if isinstance(clip_len, bool) or not isinstance(clip_len, (int, np.integer)) or clip_len < 1:
        raise ValueError(f'{NAME}: clip_len={clip_len!r} invalid: expected an int >= 1')
    if ratios is None:
        return
    if len(ratios) != len(datasets):
        raise ValueError(f'{NAME}: sample_ratio_factor={list(ratios)} has {len(ratios)} '
                         f'entries, expected one per dataset ({len(datasets)})')
    if any(isinstance(r, bool) or not isinstance(r, (int, float, np.number)) or r < 0
           for r in ratios):
        raise ValueError(f'{NAME}: sample_ratio_factor={list(ratios)} invalid: expected '
                         'numbers >= 0')


def _check_sub_datasets(datasets) -> None:
    for i, d in enumerate(datasets):
        if getattr(d, 'clip_len', 1) > 1:
            raise ValueError(f'{NAME}: datasets[{i}].clip_len={d.clip_len}: set clip_len on '
                             f'{NAME} only (its pipeline draws the window augmentation)')
