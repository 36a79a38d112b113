"""VideoPoseDataset: unlabelled frames, clip fields and grouping, one
augmentation per clip window (in the main process and in workers)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import kdkit.data.dataset as dataset_mod
from kdkit.data import ClipSampler, VideoPoseDataset

CODEC = dict(type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=2)
TRAIN_PIPELINE = [
    dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'), dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'), dict(type='TopdownAffine', input_size=(96, 128)),
    dict(type='GenerateTarget', encoder=CODEC), dict(type='PackPoseInputs')]
# draws that vary per frame count: half-body consumes a random number only when
# enough joints are visible; the box transform must still agree in a window
AUG_PIPELINE = [
    dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomHalfBody', prob=0.0),
    dict(type='RandomBBoxTransform', shift_prob=1.0, scale_prob=1.0, rotate_prob=1.0)]


@pytest.fixture(autouse=True, scope='module')
def mmpose_scope():
    """Pipelines are built outside a Runner: MMPose's registries by default."""
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=True)


def make(root, split='train', pipeline=(), **kw):
    return VideoPoseDataset(data_root=str(root), data_prefix=dict(img='images/'),
                            ann_file=f'annotations/person_keypoints_{split}.json',
                            pipeline=list(pipeline), **kw)


def coco(root, split):
    return json.loads((root / 'annotations' / f'person_keypoints_{split}.json').read_text())


def test_unlabelled_frames_are_kept_stock_coco_drops_them(small_video):
    from mmpose.datasets import CocoDataset
    gt = coco(small_video, 'train')
    labelled = sum(a['num_keypoints'] > 0 for a in gt['annotations'])
    stock = CocoDataset(data_root=str(small_video), data_prefix=dict(img='images/'),
                        ann_file='annotations/person_keypoints_train.json', pipeline=[])
    assert len(stock) == labelled < len(gt['images'])
    assert len(make(small_video)) == len(gt['images'])
    assert len(make(small_video, keep_unlabeled=False)) == labelled
    assert make(small_video).metainfo['dataset_name'] == 'coco'


def test_clip_fields_and_unlabelled_samples(small_video, small_knobs):
    ds = make(small_video)
    gt = {im['id']: im for im in coco(small_video, 'train')['images']}
    for i in range(len(ds)):
        d = ds.get_data_info(i)
        im = gt[d['img_id']]
        assert (d['vid_id'], d['frame_index'], d['nframes'], d['is_labeled']) == (
            im['vid_id'], im['frame_index'], small_knobs['frames_per_clip'], im['is_labeled'])
        assert d['img_path'].endswith(im['file_name'])
        if d['is_labeled']:
            assert d['keypoints_visible'].sum() > 0
        else:
            assert d['keypoints_visible'].sum() == 0 and d['keypoints'].sum() == 0
            assert d['bbox'][0, 2] > d['bbox'][0, 0]


def test_clip_indices_group_frames_in_order(small_video, small_knobs):
    ds = make(small_video)
    clips = ds.clip_indices()
    assert len(clips) == small_knobs['n_train_clips']
    assert sorted(i for c in clips for i in c) == list(range(len(ds)))
    for c in clips:
        infos = [ds.get_data_info(i) for i in c]
        assert len({d['vid_id'] for d in infos}) == 1
        assert [d['frame_index'] for d in infos] == list(range(small_knobs['frames_per_clip']))


def test_train_pipeline_masks_unlabelled_frames(small_video):
    ds = make(small_video, pipeline=TRAIN_PIPELINE)
    seen = set()
    for i in range(len(ds)):
        labelled = ds.get_data_info(i)['is_labeled']
        if labelled in seen:
            continue
        seen.add(labelled)
        out = ds[i]
        assert tuple(out['inputs'].shape) == (3, 128, 96)
        weights = out['data_samples'].gt_instance_labels.keypoint_weights
        assert (weights.sum() > 0) == labelled
    assert seen == {True, False}


def _aug_params(out: dict) -> tuple:
    """Flip, rotation, scale factor and relative shift drawn for one frame."""
    from mmpose.structures.bbox import bbox_xyxy2cs
    centre, scale = bbox_xyxy2cs(out['bbox'], padding=1.25)  # box is flipped too
    return (bool(out['flip']), float(out['bbox_rotation'][0]),
            float((out['bbox_scale'] / scale)[0, 0]),
            tuple(((out['bbox_center'] - centre) / out['bbox_scale'])[0].round(4)))


def _window_params(ds, sampler):
    idx = list(sampler)
    k = sampler.clip_len
    return [[_aug_params(ds[i]) for i in idx[s:s + k]] for s in range(0, len(idx), k)]


def _same(params: list) -> bool:
    f0, r0, s0, c0 = params[0]
    return all(f == f0 and np.isclose(r, r0) and np.isclose(s, s0, rtol=1e-4)
               and np.allclose(c, c0, atol=2e-3) for f, r, s, c in params)


def test_a_window_shares_one_augmentation(small_video):
    ds = make(small_video, pipeline=AUG_PIPELINE, clip_len=4)
    sampler = ClipSampler(ds, clip_len=4, stride=4, seed=0)
    state = np.random.get_state()
    windows = _window_params(ds, sampler)
    after = np.random.get_state()
    assert all(_same(w) for w in windows)
    # the augmentation is live: windows differ from each other
    assert len({w[0][0] for w in windows}) == 2
    assert len({round(w[0][1], 3) for w in windows}) > 1
    # and the global RNG is untouched
    assert (state[1] == after[1]).all() and state[2] == after[2]


def test_without_clip_len_frames_are_augmented_independently(small_video):
    ds = make(small_video, pipeline=AUG_PIPELINE)
    windows = _window_params(ds, ClipSampler(ds, clip_len=4, stride=4, seed=0))
    assert not all(_same(w) for w in windows)


def test_revisiting_a_window_draws_a_new_augmentation(small_video):
    ds = make(small_video, pipeline=AUG_PIPELINE, clip_len=4)
    sampler = ClipSampler(ds, clip_len=4, stride=4, seed=0, shuffle=False)
    first, second = _window_params(ds, sampler), _window_params(ds, sampler)
    assert all(_same(w) for w in second)
    assert [w[0][1] for w in first] != [w[0][1] for w in second]


def test_dataloader_workers_keep_windows_consistent(small_video):
    from torch.utils.data import DataLoader
    ds = make(small_video, pipeline=AUG_PIPELINE, clip_len=4)
    loader = DataLoader(ds, batch_size=8, num_workers=2,
                        sampler=ClipSampler(ds, clip_len=4, stride=2, seed=0),
                        collate_fn=lambda batch: batch)
    windows = []
    for batch in loader:
        params = [_aug_params(d) for d in batch]
        windows += [params[s:s + 4] for s in range(0, len(params), 4)]
    assert windows and all(_same(w) for w in windows)
    assert len({round(w[0][1], 3) for w in windows}) > 1


def test_a_window_cut_by_the_batch_is_an_error_in_workers(small_video, monkeypatch):
    ds = make(small_video, pipeline=[], clip_len=4)
    a, b = ds.clip_indices()[:2]
    monkeypatch.setattr(dataset_mod, '_in_worker', lambda: True)
    ds[a[0]], ds[a[1]]
    with pytest.raises(RuntimeError, match='batch_size that is a multiple of 4'):
        ds[b[0]]


def test_bad_clip_len():
    with pytest.raises(ValueError, match='clip_len=0'):
        VideoPoseDataset(ann_file='x.json', clip_len=0, lazy_init=True)


def test_registry_builds_it(small_video):
    from mmpose.registry import DATASETS
    ds = DATASETS.build(dict(type='VideoPoseDataset', data_root=str(small_video),
                             ann_file='annotations/person_keypoints_val.json',
                             data_prefix=dict(img='images/'), test_mode=True, pipeline=[]))
    assert isinstance(ds, VideoPoseDataset) and len(ds) == len(coco(small_video, 'val')['images'])


def test_posetrack_style_json(tmp_path, small_video):
    """PoseTrack18 images carry frame_id (video * 10000 + frame) and string
    video ids, and several people per frame: clips are per person track."""
    src = coco(small_video, 'val')
    ims, anns = [], []
    for im, a in zip(src['images'][:4], src['annotations'][:4]):
        im = {k: v for k, v in im.items() if k not in ('frame_index', 'video_name')}
        im['vid_id'] = f"{im['vid_id']:06d}"
        ims.append(im)
        for track in (0, 1):
            anns.append(dict(a, id=a['id'] * 10 + track, track_id=track))
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'images').symlink_to(small_video / 'images')
    (tmp_path / 'annotations' / 'person_keypoints_val.json').write_text(
        json.dumps(dict(src, images=ims, annotations=anns)))
    ds = make(tmp_path, 'val')
    clips = ds.clip_indices()
    assert len(clips) == 2 and [len(c) for c in clips] == [4, 4]
    for c in clips:
        infos = [ds.get_data_info(i) for i in c]
        assert [d['frame_index'] for d in infos] == [0, 1, 2, 3]
        assert len({d['track_id'] for d in infos}) == 1
