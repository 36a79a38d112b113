"""Generator: knobs, determinism, motions, labels."""
from __future__ import annotations

import json

import numpy as np
import pytest

from kdkit.data import KNOBS, PROFILES, generate_dataset
from kdkit.data.config import check_knob, resolve_config
from kdkit.data.generator import ClipJob, ClipRenderer, labelled_frames
from kdkit.data.motions import MOTIONS, MotionClip
from kdkit.data.skeleton import KP, P, point_radii, sample_body_shape, world_points

TINY = dict(n_train_clips=2, n_val_clips=1, n_test_clips=1, frames_per_clip=4,
            width=64, height=64, clips_per_subject=1)


def test_profiles_set_every_knob():
    for name, prof in PROFILES.items():
        assert set(prof) == set(KNOBS), name
        for k, v in prof.items():
            check_knob(k, v)  # in range
    q, f = PROFILES['quick'], PROFILES['full']
    frames = {n: sum(p[f'n_{s}_clips'] for s in ('train', 'val', 'test')) * p['frames_per_clip']
              for n, p in PROFILES.items()}
    assert frames['quick'] < 1000 < 3000 < f['n_train_clips'] * f['frames_per_clip']
    for hard in ('occlusion_rate', 'clutter', 'blur', 'noise'):
        assert f[hard] > q[hard], hard


@pytest.mark.parametrize('knob, value, expected', [
    ('blur', 1.5, r'knob blur=1.5 out of range: expected float in \[0.0, 1.0\]'),
    ('n_train_clips', 0, r'knob n_train_clips=0 out of range'),
    ('width', 10.5, r'knob width=10.5 invalid: expected int'),
    ('viewpoint_range', 'wide', r'knob viewpoint_range=.wide. invalid'),
    ('motions', 'squat,cartwheel', r'knob motions=.* invalid'),
    ('video_format', 'avi', r'knob video_format=.avi. invalid'),
    ('colour', 1, r"unknown knob 'colour'"),
])
def test_bad_knobs_fail_in_one_line(tmp_path, knob, value, expected):
    with pytest.raises(ValueError, match=expected) as e:
        generate_dataset(tmp_path / 'x', **{knob: value})
    assert '\n' not in str(e.value)
    assert not (tmp_path / 'x').exists()


def test_unknown_profile_and_sparse_labels_beyond_the_clip():
    with pytest.raises(ValueError, match="profile 'huge' unknown"):
        resolve_config('huge', {})
    with pytest.raises(ValueError, match='annotated_every=9'):
        resolve_config('quick', dict(frames_per_clip=8, annotated_every=9))
    assert resolve_config('quick', dict(motions='squat, walk'))['motions'] == ('squat', 'walk')


def test_same_seed_same_bytes_across_processes(tmp_path, tree_digest):
    a = generate_dataset(tmp_path / 'a', seed=5, progress=False, workers=1, **TINY)
    b = generate_dataset(tmp_path / 'b', seed=5, progress=False, workers=2, **TINY)
    c = generate_dataset(tmp_path / 'c', seed=6, progress=False, workers=1, **TINY)
    da, db, dc = tree_digest(a), tree_digest(b), tree_digest(c)
    assert len(da) == 4 * 4 + 4 + 4 + 1  # jpgs, gifs, jsons, meta
    assert da == db
    diff = [k for k in da if da[k] != dc.get(k)]
    assert any(k.endswith('.jpg') for k in diff)


def test_a_clip_does_not_depend_on_the_others(tmp_path, tree_digest):
    """Clip randomness comes from (seed, split, index): adding clips to a split
    leaves the existing ones untouched."""
    knobs = dict(TINY, motions='squat')
    a = generate_dataset(tmp_path / 'a', seed=1, progress=False, workers=1, **knobs)
    b = generate_dataset(tmp_path / 'b', seed=1, progress=False, workers=1,
                         **dict(knobs, n_train_clips=3))
    da, db = tree_digest(a), tree_digest(b)
    shared = [k for k in da if k.startswith('images/')]
    assert shared and all(da[k] == db[k] for k in shared)


@pytest.mark.parametrize('name', sorted(MOTIONS))
def test_motions_are_smooth_and_grounded(name):
    shape = sample_body_shape(np.random.default_rng(1))
    clip = MotionClip(name, np.random.default_rng(2), speed=1.0)
    fps, worlds = 15, []
    for k in range(30):
        w = world_points(shape, clip.pose(k / fps))
        assert np.isfinite(w).all()
        worlds.append(w)
    worlds = np.stack(worlds)
    radii = point_radii(shape)
    radii[[P['left_toe'], P['right_toe']]] = 0.02
    lowest = (worlds[..., 1] - radii).min(axis=1)  # lowest body surface
    hop = 0.15 if name == 'jumping_jack' else 0.05  # ankle joints sit above the sole
    assert (lowest > -1e-6).all() and (lowest < hop).all(), name
    step = np.linalg.norm(np.diff(worlds, axis=0), axis=2).max()
    assert step < 0.35, f'{name}: a joint jumped {step:.2f} m between frames'
    head_height = worlds[:, P['head'], 1]
    if MOTIONS[name].lying:
        assert head_height.max() < 0.6 * shape.height, name
    else:  # upright at some point of the two seconds
        assert head_height.max() > 0.8 * shape.height, name
    # limb lengths are preserved by the kinematics
    arm = np.linalg.norm(worlds[:, KP['left_elbow']] - worlds[:, KP['left_shoulder']], axis=1)
    assert np.allclose(arm, shape.upper_arm)


def test_sparse_labels_only_on_train():
    rng = np.random.default_rng(0)
    lab = labelled_frames(12, 3, rng, 'train')
    assert lab.sum() == 4 and np.all(np.diff(np.nonzero(lab)[0]) == 3)
    assert labelled_frames(12, 3, rng, 'val').all()
    assert labelled_frames(5, 1, rng, 'train').all()


def test_rendered_labels_are_consistent():
    cfg = resolve_config('quick', dict(frames_per_clip=6, width=96, height=80,
                                       truncation=1.0, viewpoint_range=180))
    seen_outside = False
    for i, motion in enumerate(['walk', 'pushup', 'squat']):
        r = ClipRenderer(ClipJob('unused', 'val', i, 0, i, motion, 'v', cfg))
        for k in range(0, 6, 2):
            img, label = r.render(k)
            assert img.shape == (80, 96, 3) and img.dtype == np.uint8
            kps = np.array(label.keypoints).reshape(17, 3)
            v = kps[:, 2]
            assert set(v.tolist()) <= {0, 1, 2}
            assert (kps[v == 0, :2] == 0).all()
            x, y, w, h = label.bbox
            on = kps[v > 0]
            assert (on[:, 0] >= x - 1e-6).all() and (on[:, 0] <= x + w + 1e-6).all()
            assert (on[:, 1] >= y - 1e-6).all() and (on[:, 1] <= y + h + 1e-6).all()
            assert 0 <= x and x + w <= 96 and 0 <= y and y + h <= 80
            assert 0 < label.area <= w * h
            seen_outside |= bool((v == 0).any())
    assert seen_outside  # tight framing (truncation=1) cuts something off


def test_knob_changes_reach_the_pixels(tmp_path):
    clean = generate_dataset(tmp_path / 'clean', progress=False, workers=1,
                             **dict(TINY, blur=0, noise=0, lighting=0))
    noisy = generate_dataset(tmp_path / 'noisy', progress=False, workers=1,
                             **dict(TINY, blur=0, noise=1, lighting=0))
    import cv2
    f = 'images/val/' + json.loads((clean / 'meta.json').read_text())['clips'][2]['video_name']
    a = cv2.imread(str(clean / f / '000000.jpg')).astype(float)
    b = cv2.imread(str(noisy / f / '000000.jpg')).astype(float)
    assert np.abs(a - b).mean() > 2  # the same scene, with sensor noise
