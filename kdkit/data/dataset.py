"""``VideoPoseDataset``: MMPose's COCO dataset that knows about clips.

* keeps sparsely-annotated video frames (``keep_unlabeled``): their key
  points are all invisible, so the pose head's ground-truth loss is masked by
  zero key-point weights while a distillation loss still sees the frame;
* exposes ``vid_id``, ``frame_index``, ``nframes``, ``is_labeled`` per sample
  and :meth:`VideoPoseDataset.clip_indices` to group samples into clips;
* with ``clip_len > 1`` every frame of a window of consecutive frames gets the
  same random augmentation (flip, box jitter, rotation ...), as temporal
  distillation needs. MMPose transforms draw from ``np.random`` (and
  ``random``), so each transform runs under a seed derived from the window.
"""
from __future__ import annotations

import contextlib
import json
import random
from typing import Any, Optional

import numpy as np
from mmpose.datasets.datasets.body import CocoDataset
from mmpose.registry import DATASETS


@contextlib.contextmanager
def seeded_global_rngs(entropy: tuple):
    """Seed ``np.random`` and ``random`` from ``entropy``; restore both after."""
    np_state, py_state = np.random.get_state(), random.getstate()
    s = np.random.SeedSequence([int(e) % (1 << 63) for e in entropy]).generate_state(2)
    np.random.seed(int(s[0]))
    random.seed(int(s[1]))
    try:
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


class WindowSeededPipeline:
    """Wraps a ``Compose``: with a window key set, each transform ``i`` runs
    under a seed derived from ``(key, i)``, so two frames draw the same
    parameters even when an earlier transform consumed a different number of
    random numbers for them."""

    def __init__(self, compose):
        self.compose = compose
        self.key: Optional[tuple] = None

    @property
    def transforms(self):
        return self.compose.transforms

    def __call__(self, data: dict):
        if self.key is None:
            return self.compose(data)
        for i, t in enumerate(self.compose.transforms):
            with seeded_global_rngs(self.key + (i,)):
                data = t(data)
            if data is None:
                return None
        return data

    def __repr__(self) -> str:
        return f'WindowSeededPipeline({self.compose!r})'


@contextlib.contextmanager
def window_seeded(pipeline: WindowSeededPipeline, key: tuple):
    """Run ``pipeline`` under the window ``key`` for the duration of the block."""
    pipeline.key = key
    try:
        yield pipeline
    finally:
        pipeline.key = None


class WindowKeys:
    """One augmentation key per window of ``clip_len`` consecutive frames of
    a clip, for samples requested in window order (as :class:`ClipSampler`
    yields them).

    A window continues while requests are the next frame of the same clip;
    otherwise the request starts a new one. The key mixes ``seed``, the
    window's first sample, how often this process has started a window there
    (changes every epoch with persistent workers) and the worker's torch seed
    (changes every epoch otherwise). ``owner`` names the dataset in errors.
    """

    def __init__(self, clip_len: int, seed: int, owner: str):
        self.clip_len, self.seed, self.owner = clip_len, int(seed), owner
        self.window: Optional[dict] = None
        self.visits: dict[int, int] = {}

    def key(self, idx: int, clip: int, frame: int) -> tuple:
        """The key of sample ``idx``, frame ``frame`` of clip ``clip``."""
        w = self.window
        if w and w['clip'] == clip and frame == w['last'] + 1 and w['count'] < self.clip_len:
            w['count'] += 1
            w['last'] = frame
            return w['key']
        if w and w['count'] < self.clip_len and _in_worker():
            raise RuntimeError(
                f'{self.owner}(clip_len={self.clip_len}): a window of clip '
                f"{w['clip']} ended after {w['count']} frames; sample clips with "
                f'ClipSampler(clip_len={self.clip_len}) and a train batch_size that is '
                f'a multiple of {self.clip_len}')
        visits = self.visits.get(idx, 0)
        self.visits[idx] = visits + 1
        key = (self.seed, idx, visits, _worker_seed())
        self.window = {'clip': clip, 'last': frame, 'count': 1, 'key': key}
        return key


@DATASETS.register_module()
class VideoPoseDataset(CocoDataset):
    """COCO key-point dataset of video frames (kdkit generated, PoseTrack-style
    fields ``vid_id`` / ``frame_index`` / ``nframes`` / ``is_labeled``).

    Args:
        keep_unlabeled: keep frames without key-point labels (and labelled
            frames whose key points are all out of view) as samples with all
            key points invisible. Default True.
        clip_len: frames per temporal window; > 1 shares one augmentation
            draw among the ``clip_len`` consecutive frames of a window, as
            yielded by :class:`kdkit.data.ClipSampler` with the same
            ``clip_len``. Default 1 (off).
        clip_seed: base of the per-window augmentation seeds.
        Other arguments: as MMPose's ``CocoDataset``.
    """

    # the COCO person: 17 key points, flip pairs, sigmas (resolved from the
    # installed MMPose package's .mim configs)
    METAINFO: dict = dict(from_file='configs/_base_/datasets/coco.py')

    def __init__(self, *args, keep_unlabeled: bool = True, clip_len: int = 1,
                 clip_seed: int = 0, **kwargs):
        if not isinstance(clip_len, int) or clip_len < 1:
            raise ValueError(f'VideoPoseDataset: clip_len={clip_len!r} invalid: '
                             'expected an int >= 1')
        self.keep_unlabeled = keep_unlabeled
        self.clip_len = clip_len
        self.clip_seed = int(clip_seed)
        self._windows = WindowKeys(clip_len, clip_seed, type(self).__name__)
        super().__init__(*args, **kwargs)
        self.pipeline = WindowSeededPipeline(self.pipeline)

    # ------------------------------------------------------------ loading
    def _load_annotations(self):
        """MMPose's loader, with one-line errors naming the file for a missing
        data root or annotation file, broken JSON, a key-point count other
        than the metainfo's and listed images that are not on disk."""
        from kdkit.utils import validate
        field = type(self).__name__
        local = '://' not in str(self.ann_file)  # else a remote backend (petrel, http)
        if local:
            validate.check_ann_file(self.ann_file, self.data_root, field)
        try:
            instances, images = super()._load_annotations()
        except json.JSONDecodeError as e:
            raise validate.json_error(self.ann_file, e, field) from None
        except (KeyError, TypeError, IndexError, AttributeError, AssertionError) as e:
            raise validate.structure_error(self.ann_file, f'{type(e).__name__}: {e}',
                                           field) from None
        if local and '://' not in str(self.data_prefix.get('img', '')):
            validate.check_images_exist((d['img_path'] for d in instances),
                                        self.ann_file, field)
        return instances, images

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        ann, img = raw_data_info['raw_ann_info'], raw_data_info['raw_img_info']
        expected = self._metainfo.get('num_keypoints')
        n = len(ann.get('keypoints') or ())
        if expected and 'keypoints' in ann and n != 3 * expected:
            from kdkit.utils.validate import keypoint_count_error, structure_error
            if n % 3:
                raise structure_error(self.ann_file, f"annotation {ann.get('id')} has {n} "
                                      'key-point values, not a multiple of 3 (x, y, v)',
                                      type(self).__name__)
            raise keypoint_count_error(self.ann_file, ann.get('id'), n // 3, expected,
                                       self._metainfo.get('dataset_name'), type(self).__name__)
        info = super().parse_data_info(raw_data_info)
        if info is None:
            return None
        kps = np.asarray(ann['keypoints'], float)
        info.update(
            vid_id=_as_int(img.get('vid_id', -1)), frame_index=_frame_index(img),
            nframes=int(img.get('nframes', 0)), video_name=img.get('video_name', ''),
            track_id=_as_int(ann.get('track_id', 0)),
            is_labeled=bool(img.get('is_labeled', bool(kps.size and kps.max() > 0))))
        return info

    def _get_topdown_data_infos(self, data_list: list[dict]) -> list[dict]:
        """Stock filter (drops instances without labelled key points), except
        that with ``keep_unlabeled`` every non-crowd instance with a box
        stays, in order."""
        if not self.keep_unlabeled:
            return super()._get_topdown_data_infos(data_list)
        return [d for d in data_list if self._is_valid_instance(d)
                or (not d.get('iscrowd') and _box_ok(d['bbox']))]

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        super().full_init()
        # small arrays for window tracking and clip grouping (no unpickling);
        # a clip is one person track of one video: (vid_id, track_id)
        infos = [self.get_data_info(i) for i in range(len(self))]
        pairs = [(d.get('vid_id', -1), d.get('track_id', 0)) for d in infos]
        ids = {p: i for i, p in enumerate(sorted(set(pairs)))}
        self._clip = np.array([ids[p] for p in pairs], np.int64)
        self._fidx = np.array([d.get('frame_index', -1) for d in infos], np.int64)

    # --------------------------------------------------------------- clips
    def clip_indices(self) -> list[list[int]]:
        """Sample indices grouped by clip (video and person track), clips in
        ``vid_id`` order, each list in frame order."""
        if not self._fully_initialized:
            self.full_init()
        return clip_groups(self._clip, self._fidx)

    # ------------------------------------------------------- augmentation
    def prepare_data(self, idx: int) -> Any:
        if self.clip_len <= 1:
            return super().prepare_data(idx)
        with window_seeded(self.pipeline, self._window_key(idx)):
            return super().prepare_data(idx)

    def _window_key(self, idx: int) -> tuple:
        """Same key for the ``clip_len`` consecutive frames of one window
        (see :class:`WindowKeys`)."""
        if not self._fully_initialized:
            self.full_init()
        return self._windows.key(idx, int(self._clip[idx]), int(self._fidx[idx]))


def clip_groups(clip: np.ndarray, frame: np.ndarray) -> list[list[int]]:
    """Sample indices grouped by ``clip`` id (ascending), each group in
    ``frame`` order."""
    order = np.lexsort((frame, clip))
    clips = clip[order]
    cuts = np.nonzero(clips[1:] != clips[:-1])[0] + 1
    return [g.tolist() for g in np.split(order, cuts) if len(g)]


def _as_int(value) -> int:
    """PoseTrack18 stores ids as strings ('000342')."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _frame_index(img: dict) -> int:
    """0-based frame in the video: kdkit's ``frame_index``, else PoseTrack's
    ``frame_id`` (video * 10000 + frame)."""
    if 'frame_index' in img:
        return int(img['frame_index'])
    if 'frame_id' in img:
        return _as_int(img['frame_id']) % 10000
    return -1


def _box_ok(bbox: np.ndarray) -> bool:
    w, h = bbox[0][2:4] - bbox[0][:2]
    return bool(w > 0 and h > 0)


def _in_worker() -> bool:
    import torch.utils.data
    return torch.utils.data.get_worker_info() is not None


def _worker_seed() -> int:
    """The DataLoader worker's torch seed (fresh each epoch), 0 in the main
    process."""
    import torch.utils.data
    info = torch.utils.data.get_worker_info()
    return int(info.seed) if info is not None else 0
