"""``ClipSampler``: yields windows of consecutive frames of one clip.

Every run of ``clip_len`` indices it yields is one window: frames
``t .. t + clip_len - 1`` of one video, in order. Windows are shuffled per
epoch (``set_epoch``) from ``seed``, and split over distributed ranks like
MMEngine's ``DefaultSampler`` (padded so every rank gets as many windows).
With a batch size that is a multiple of ``clip_len`` each batch holds whole
windows; :func:`check_clip_batch` checks a dataloader config for that.
"""
from __future__ import annotations

import math
import warnings
from typing import Iterator, Optional, Sized

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

try:  # MMPose's child registry (looked up under default_scope='mmpose')
    from mmpose.registry import DATA_SAMPLERS
except ImportError:  # pragma: no cover - MMPose always has it since 1.0
    from mmengine.registry import DATA_SAMPLERS


def clip_windows(clips: list[list[int]], frame_index: list[list[int]] | None,
                 clip_len: int, stride: int) -> list[list[int]]:
    """Windows of ``clip_len`` consecutive frames, starting every ``stride``
    frames within each run of consecutive frame indices (a missing frame
    splits a clip into runs)."""
    windows = []
    for c, idx in enumerate(clips):
        t = frame_index[c] if frame_index is not None else list(range(len(idx)))
        breaks = [0] + [i for i in range(1, len(idx)) if t[i] != t[i - 1] + 1] + [len(idx)]
        for a, b in zip(breaks[:-1], breaks[1:]):
            for s in range(a, b - clip_len + 1, stride):
                windows.append(idx[s:s + clip_len])
    return windows


def group_by_clip(dataset) -> tuple[list[list[int]], list[list[int]]]:
    """Indices per clip in frame order, and their frame indices. Uses
    ``dataset.clip_indices()`` when present, else the ``vid_id`` and
    ``frame_index`` of every ``get_data_info``."""
    if hasattr(dataset, 'clip_indices'):
        clips = dataset.clip_indices()
        infos = {i: dataset.get_data_info(i)['frame_index'] for c in clips for i in c}
        return clips, [[infos[i] for i in c] for c in clips]
    by_vid: dict = {}
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if 'vid_id' not in info or 'frame_index' not in info:
            raise ValueError(f'{type(dataset).__name__}: sample {i} has no vid_id / '
                             'frame_index; use kdkit.data.VideoPoseDataset')
        key = (info['vid_id'], info.get('track_id', 0))  # one person of one video
        by_vid.setdefault(key, []).append((info['frame_index'], i))
    clips = [sorted(v) for _, v in sorted(by_vid.items())]
    return [[i for _, i in c] for c in clips], [[t for t, _ in c] for c in clips]


@DATA_SAMPLERS.register_module()
class ClipSampler(Sampler):
    """Shuffled windows of consecutive frames, DDP-aware.

    Args:
        dataset: a video dataset (``VideoPoseDataset``).
        clip_len: frames per window.
        shuffle: shuffle the windows every epoch.
        seed: shuffling seed, the same on every rank (default: synced random).
        stride: frames between the starts of two windows of a clip; 1 takes
            every window (overlapping), ``clip_len`` tiles each clip.
        round_up: pad with repeated windows so every rank gets as many.
        batch_size: optional; checked to be a multiple of ``clip_len``.
    """

    def __init__(self, dataset: Sized, clip_len: int, shuffle: bool = True,
                 seed: Optional[int] = None, stride: int = 1, round_up: bool = True,
                 batch_size: Optional[int] = None) -> None:
        for name, v in (('clip_len', clip_len), ('stride', stride)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f'ClipSampler: {name}={v!r} invalid: expected an int >= 1')
        if batch_size is not None:
            check_clip_batch(batch_size, clip_len)
        _check_dataset_clip_len(dataset, clip_len)
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.clip_len, self.stride = int(clip_len), int(stride)
        self.shuffle, self.round_up = shuffle, round_up
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.epoch = 0
        clips, frames = group_by_clip(dataset)
        self.windows = clip_windows(clips, frames, self.clip_len, self.stride)
        if not self.windows:
            raise ValueError(f'ClipSampler: no clip of {type(dataset).__name__} has '
                             f'{clip_len} consecutive frames; lower clip_len')
        n = len(self.windows)
        if round_up:
            self.num_windows = math.ceil(n / self.world_size)
            self.total_windows = self.num_windows * self.world_size
        else:
            self.num_windows = math.ceil((n - self.rank) / self.world_size)
            self.total_windows = n

    def __iter__(self) -> Iterator[int]:
        n = len(self.windows)
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=g).tolist()
        else:
            order = list(range(n))
        if self.round_up:
            order = (order * (self.total_windows // n + 1))[:self.total_windows]
        for w in order[self.rank:self.total_windows:self.world_size]:
            yield from self.windows[w]

    def __len__(self) -> int:
        """Indices this rank yields per epoch."""
        return self.num_windows * self.clip_len

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


def check_clip_batch(batch_size: int, clip_len: int) -> None:
    """A batch must hold whole windows."""
    if batch_size % clip_len:
        raise ValueError(f'batch_size={batch_size} is not a multiple of clip_len='
                         f'{clip_len}: every batch must hold whole clip windows')


def check_clip_loader_cfg(dataloader_cfg: dict) -> None:
    """Check a train dataloader config using ``ClipSampler``: batch size a
    multiple of ``clip_len``, and the dataset's ``clip_len`` the same."""
    sampler = dataloader_cfg.get('sampler') or {}
    if sampler.get('type') not in ('ClipSampler', ClipSampler):
        return
    clip_len = sampler.get('clip_len')
    check_clip_batch(int(dataloader_cfg.get('batch_size', 1)), int(clip_len))
    ds_len = (dataloader_cfg.get('dataset') or {}).get('clip_len', 1)
    if ds_len != clip_len:
        raise ValueError(f'train_dataloader.dataset.clip_len={ds_len} differs from '
                         f'sampler.clip_len={clip_len}: windows would not share '
                         'one augmentation')


def _check_dataset_clip_len(dataset, clip_len: int) -> None:
    ds_len = getattr(dataset, 'clip_len', None)
    if ds_len is None:
        return
    if ds_len > 1 and ds_len != clip_len:
        raise ValueError(f'ClipSampler: clip_len={clip_len} differs from the dataset '
                         f'clip_len={ds_len}; set both to the same value')
    if ds_len == 1 and clip_len > 1 and not getattr(dataset, 'test_mode', False):
        warnings.warn(f'ClipSampler(clip_len={clip_len}) on a dataset with clip_len=1: '
                      'frames of a window get independent augmentations; set the '
                      f'dataset clip_len={clip_len} to share one', stacklevel=3)
