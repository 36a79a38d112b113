"""CombinedVideoDataset: clips of a mix of video datasets in global indices,
whole-window subsampling, one augmentation per window, MMPose's
CombinedDataset at clip_len 1, one-line errors, and a real run of the quick
temporal real-video config."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from kdkit.data import ClipSampler, CombinedVideoDataset

COCO_META = dict(from_file='configs/_base_/datasets/coco.py')
AUG_PIPELINE = [
    dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_prob=1.0, scale_prob=1.0, rotate_prob=1.0)]
QUICK = 'configs/real/kd-pseudo-temporal_mobilenetv2_quick_kdkit-video+demo-multiperson-128x96.py'
K = 17


@pytest.fixture(autouse=True, scope='module')
def mmpose_scope():
    """Datasets and pipelines are built outside a Runner: MMPose's registries."""
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=True)


def sub(root, split='train', **kw) -> dict:
    return dict(type='VideoPoseDataset', data_root=str(root), data_prefix=dict(img='images/'),
                ann_file=f'annotations/person_keypoints_{split}.json', pipeline=[], **kw)


def combined(*subs, **kw) -> CombinedVideoDataset:
    return CombinedVideoDataset(metainfo=COCO_META, datasets=list(subs), **kw)


@pytest.fixture(scope='module')
def two_tracks(small_video, tmp_path_factory):
    """Two people per frame on the first two train videos (vid_ids shared with
    the train set); track 1 misses frame 3 of each video."""
    src = json.loads((small_video / 'annotations/person_keypoints_train.json').read_text())
    vids = sorted({im['vid_id'] for im in src['images']})[:2]
    images = [im for im in src['images'] if im['vid_id'] in vids]
    frame = {im['id']: im['frame_index'] for im in images}
    anns = [dict(a, id=a['id'] * 10 + track, track_id=track)
            for a in src['annotations'] if a['image_id'] in frame
            for track in (0, 1) if not (track == 1 and frame[a['image_id']] == 3)]
    root = tmp_path_factory.mktemp('two_tracks')
    (root / 'annotations').mkdir()
    (root / 'images').symlink_to(small_video / 'images')
    (root / 'annotations/person_keypoints_train.json').write_text(
        json.dumps(dict(src, images=images, annotations=anns)))
    return root


def owner(ds, clip) -> tuple:
    """The sub-dataset, video and track of every sample of ``clip``."""
    subsets = {ds._get_subset_index(i)[0] for i in clip}
    infos = [ds.get_data_info(i) for i in clip]
    assert len(subsets) == 1 and len({(d['vid_id'], d['track_id']) for d in infos}) == 1, clip
    return subsets.pop(), infos[0]['vid_id'], infos[0]['track_id']


def test_clip_indices_keep_sub_datasets_and_tracks_apart(small_video, two_tracks):
    ds = combined(sub(small_video), sub(two_tracks))
    vids = [{d.get_data_info(i)['vid_id'] for i in range(len(d))} for d in ds.datasets]
    assert vids[0] & vids[1], 'the test needs colliding vid_ids'
    clips = ds.clip_indices()
    assert sorted(i for c in clips for i in c) == list(range(len(ds)))
    owners = [owner(ds, c) for c in clips]
    assert len(set(owners)) == len(clips) == 4 + 2 * 2
    for c in clips:
        frames = [ds.get_data_info(i)['frame_index'] for i in c]
        assert frames == sorted(frames)
    gaps = [o for o, c in zip(owners, clips) if len(c) == 7]
    assert [track for _, _, track in gaps] == [1, 1]


def test_windows_are_whole_and_subsampling_draws_whole_windows(small_video, two_tracks):
    ds = combined(sub(small_video), sub(two_tracks), clip_len=4, sample_ratio_factor=[0.5, 2.0])
    n_two = len(ds.datasets[1])
    assert ds.lens == [round(0.5 * 32 / 4) * 4, round(2.0 * n_two / 4) * 4]
    sampler = ClipSampler(ds, clip_len=4, seed=0)
    assert len(sampler) == len(ds)
    drawn = {}
    for _ in range(6):  # epochs: every visit of a slot draws its window anew
        idx = list(sampler)
        for s in range(0, len(idx), 4):
            infos = [ds[i] for i in idx[s:s + 4]]
            assert len({(d['vid_id'], d['track_id']) for d in infos}) == 1
            t = [d['frame_index'] for d in infos]
            assert t == list(range(t[0], t[0] + 4)), t
            drawn.setdefault(idx[s], set()).add((infos[0]['img_id'], infos[0]['track_id']))
    assert max(len(v) for v in drawn.values()) > 1
    for c in ds.clip_indices():  # outside training: the stratum's middle window
        owner(ds, c)
        t = [ds.get_data_info(i)['frame_index'] for i in c]
        assert len(c) == 4 and t == list(range(t[0], t[0] + 4))


def _aug(out: dict) -> tuple:
    return bool(out['flip']), round(float(out['bbox_rotation'][0]), 3)


def test_a_window_shares_one_augmentation(small_video, two_tracks):
    ds = combined(sub(small_video), sub(two_tracks), pipeline=AUG_PIPELINE, clip_len=4,
                  sample_ratio_factor=[1.0, 0.5])
    idx = list(ClipSampler(ds, clip_len=4, seed=0))
    state = np.random.get_state()
    windows = [[_aug(ds[i]) for i in idx[s:s + 4]] for s in range(0, len(idx), 4)]
    assert all(len(set(w)) == 1 for w in windows)
    assert {w[0][0] for w in windows} == {True, False}  # live: windows differ
    assert len({w[0][1] for w in windows}) > 1
    assert (np.random.get_state()[1] == state[1]).all()  # the global RNG is untouched


def test_clip_len_1_is_mmpose_combined_dataset(small_video, two_tracks):
    from mmpose.datasets import CombinedDataset
    kw = dict(metainfo=COCO_META, datasets=[sub(small_video), sub(two_tracks)],
              sample_ratio_factor=[0.5, 1.5])
    ours, stock = CombinedVideoDataset(**kw), CombinedDataset(**kw)
    assert ours.lens == stock.lens and len(ours) == len(stock)

    def draws(ds):
        np.random.seed(0)
        return [ds[i]['img_id'] for i in range(len(ds))]

    assert draws(ours) == draws(stock)


def bad_cases(small_video):
    return [
        (dict(datasets=[sub(small_video)], clip_len=0), 'clip_len=0 invalid: expected an int >= 1'),
        (dict(datasets=[sub(small_video)] * 2, sample_ratio_factor=[1.0]),
         r'sample_ratio_factor=\[1.0\] has 1 entries, expected one per dataset \(2\)'),
        (dict(datasets=[sub(small_video)], sample_ratio_factor=[-1]), 'expected numbers >= 0'),
        (dict(datasets=[sub(small_video, clip_len=4)], clip_len=4),
         r'datasets\[0\].clip_len=4: set clip_len on CombinedVideoDataset only'),
        (dict(datasets=[sub(small_video, keep_unlabeled=False)], clip_len=4),
         r'datasets\[0\] has no run of clip_len=4 consecutive frames.*keep_unlabeled=True'),
    ]


@pytest.mark.parametrize('case', range(5))
def test_bad_config_is_a_one_line_error(small_video, case):
    kw, message = bad_cases(small_video)[case]
    with pytest.raises(ValueError, match=message) as e:
        CombinedVideoDataset(metainfo=COCO_META, **kw)
    assert '\n' not in str(e.value)


def test_clip_indices_of_a_resampled_mix_need_clip_len(small_video):
    ds = combined(sub(small_video), sample_ratio_factor=[0.5])
    with pytest.raises(ValueError, match='needs clip_len > 1'):
        ds.clip_indices()


# --------------------------------------------------------------- real run
def pseudo_labelled(data_root, root):
    """A copy of a generated set as the real frames: every frame labelled
    (the full-label train split), as MediaPipe pseudo-labels with scores."""
    shutil.copytree(data_root, root, ignore=shutil.ignore_patterns('videos'))
    coco = json.loads((root / 'annotations/person_keypoints_train_full.json').read_text())
    rng = np.random.default_rng(0)
    for ann in coco['annotations']:
        ann.update(pseudo_label=True, keypoint_scores=rng.uniform(0.5, 1.0, K).round(3).tolist())
    (root / 'annotations/person_keypoints_train.json').write_text(json.dumps(coco))
    return root


def test_quick_temporal_config_trains_with_the_motion_term_on_real_windows(tiny_data, tmp_path):
    from kdkit.distill.cli import build_runner, load_config
    real = pseudo_labelled(tiny_data, tmp_path / 'real')
    opts = {'work_dir': str(tmp_path / 'work'), 'train_cfg.max_epochs': 1,
            'train_cfg.val_interval': 100, 'default_hooks.logger.interval': 1,
            'train_dataloader.batch_size': 8,
            'train_dataloader.dataset.datasets.0.data_root': f'{tiny_data}/',
            'train_dataloader.dataset.datasets.1.data_root': f'{real}/',
            'train_dataloader.dataset.sample_ratio_factor': [0.5, 0.5]}  # 16 frames
    for split in ('train', 'val', 'test'):
        opts.update({f'{split}_dataloader.num_workers': 0,
                     f'{split}_dataloader.persistent_workers': False})
    for split in ('val', 'test'):
        opts[f'{split}_dataloader.dataset.data_root'] = f'{real}/'
    runner = build_runner(load_config(QUICK, opts))
    assert type(runner.train_dataloader.dataset).__name__ == 'CombinedVideoDataset'
    runner.train()
    assert runner.iter == 2
    logged = runner.message_hub.log_scalars
    temporal = np.asarray(logged['train/loss_kd_temporal'].data[0], float)
    assert len(temporal) == 2 and np.isfinite(temporal).all() and temporal.max() > 0
    total = sum(logged[f'train/loss_{t}'].current() for t in ('gt', 'kd_heatmap', 'kd_temporal'))
    assert math.isfinite(total)
    assert logged['train/loss'].current() == pytest.approx(total, rel=1e-5)
