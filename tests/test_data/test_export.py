"""Export: layout, COCO format (pycocotools), PoseTrack fields, splits,
sparse labels, and the atomic / reuse behaviour of the output folder."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from kdkit.data import generate_dataset, read_meta
from kdkit.data.skeleton import COCO_KEYPOINTS

SPLITS = ('train', 'val', 'test')


def load(root: Path, name: str) -> dict:
    return json.loads((root / 'annotations' / f'person_keypoints_{name}.json').read_text())


def test_layout(small_video, small_knobs):
    meta = read_meta(small_video)
    assert meta['seed'] == 3 and meta['profile'] == 'quick'
    for split in SPLITS:
        coco = load(small_video, split)
        n_clips = small_knobs[f'n_{split}_clips']
        assert len(coco['images']) == n_clips * small_knobs['frames_per_clip']
        for im in coco['images']:
            assert (small_video / 'images' / im['file_name']).is_file()
            assert im['file_name'] == (f"{split}/{im['video_name']}/"
                                       f"{im['frame_index']:06d}.jpg")
        gifs = sorted(p.stem for p in (small_video / 'videos' / split).glob('*.gif'))
        assert gifs == sorted({im['video_name'] for im in coco['images']})
        assert meta['splits'][split]['frames'] == len(coco['images'])
    assert (small_video / 'annotations' / 'person_keypoints_train_full.json').is_file()


def test_pycocotools_reads_every_file_and_scores_gt_perfectly(small_video):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from kdkit.data.inspect import coco_roundtrip
    for name in ('train', 'val', 'test', 'train_full'):
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(str(small_video / 'annotations' / f'person_keypoints_{name}.json'))
        assert coco.loadCats(1)[0]['keypoints'] == list(COCO_KEYPOINTS)
    res = coco_roundtrip(small_video, 'val')
    assert res['AP'] == pytest.approx(1.0) and res['labelled'] > 0
    # and a shifted prediction scores lower: the evaluation is live
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(small_video / 'annotations' / 'person_keypoints_val.json'))
        dets = []
        for a in gt.dataset['annotations']:
            k = np.array(a['keypoints'], float).reshape(-1, 3)
            k[:, :2] += 6.0
            dets.append({'image_id': a['image_id'], 'category_id': 1, 'score': 1.0,
                         'keypoints': k.reshape(-1).tolist()})
        ev = COCOeval(gt, gt.loadRes(dets), 'keypoints')
        ev.evaluate(), ev.accumulate(), ev.summarize()
    assert ev.stats[0] < 0.9


def test_posetrack_video_fields(small_video, small_knobs):
    ids = set()
    for split in SPLITS:
        coco = load(small_video, split)
        by_vid: dict = {}
        for im in coco['images']:
            assert im['id'] == im['frame_id'] == im['vid_id'] * 10000 + im['frame_index']
            assert im['nframes'] == small_knobs['frames_per_clip']
            by_vid.setdefault(im['vid_id'], []).append(im['frame_index'])
            ids.add(im['id'])
        for frames in by_vid.values():
            assert frames == list(range(small_knobs['frames_per_clip']))
        anns = coco['annotations']
        assert [a['image_id'] for a in anns] == [im['id'] for im in coco['images']]
        assert len({a['id'] for a in anns}) == len(anns)
        for a in anns:
            assert a['category_id'] == 1 and a['iscrowd'] == 0 and a['track_id'] == 0
            assert len(a['keypoints']) == 51 and a['area'] > 0
    n = sum(small_knobs[f'n_{s}_clips'] for s in SPLITS) * small_knobs['frames_per_clip']
    assert len(ids) == n  # unique across splits


def test_keypoint_values(small_video):
    for name in ('val', 'train_full'):
        for a in load(small_video, name)['annotations']:
            k = np.array(a['keypoints']).reshape(17, 3)
            assert set(k[:, 2].tolist()) <= {0, 1, 2}
            assert a['num_keypoints'] == int((k[:, 2] > 0).sum())
            assert (k[k[:, 2] == 0, :2] == 0).all()
            x, y, w, h = a['bbox']
            on = k[k[:, 2] > 0]
            assert ((on[:, 0] >= x) & (on[:, 0] <= x + w)).all()
            assert ((on[:, 1] >= y) & (on[:, 1] <= y + h)).all()
    v = np.array([a['keypoints'][2::3] for a in load(small_video, 'train_full')['annotations']])
    assert (v == 2).mean() > 0.4 and (v == 1).any()  # occlusion happens, not everywhere


def test_sparse_train_labels_and_full_ground_truth(small_video, small_knobs):
    train, full = load(small_video, 'train'), load(small_video, 'train_full')
    assert [im['id'] for im in train['images']] == [im['id'] for im in full['images']]
    labelled = [im['is_labeled'] for im in train['images']]
    assert sum(labelled) == len(labelled) // small_knobs['annotated_every']
    for im, a, f in zip(train['images'], train['annotations'], full['annotations']):
        assert a['bbox'] == f['bbox']  # a detector would still give the box
        if im['is_labeled']:
            assert a['keypoints'] == f['keypoints']
        else:
            assert a['keypoints'] == [0.0] * 51 and a['num_keypoints'] == 0
            assert f['num_keypoints'] > 0
    for split in ('val', 'test'):
        assert all(im['is_labeled'] for im in load(small_video, split)['images'])


def test_split_by_clip_and_subject(small_video, small_knobs):
    subjects, videos = {}, {}
    for split in SPLITS:
        ims = load(small_video, split)['images']
        subjects[split] = {im['subject_id'] for im in ims}
        videos[split] = {im['video_name'] for im in ims}
    for a in SPLITS:
        for b in SPLITS:
            if a != b:
                assert not subjects[a] & subjects[b]
                assert not videos[a] & videos[b]
    per_subject = small_knobs['clips_per_subject']
    assert len(subjects['train']) == small_knobs['n_train_clips'] // per_subject


def test_not_a_dataset_is_refused_unless_overwrite(tmp_path, small_knobs):
    out = tmp_path / 'mine'
    out.mkdir()
    (out / 'precious.txt').write_text('keep me')
    knobs = dict(small_knobs, n_train_clips=1, n_val_clips=1, n_test_clips=1,
                 frames_per_clip=2, annotated_every=1)
    with pytest.raises(FileExistsError, match=str(out)):
        generate_dataset(out, progress=False, **knobs)
    assert (out / 'precious.txt').read_text() == 'keep me'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['mine']  # no temp left
    generate_dataset(out, progress=False, overwrite=True, **knobs)
    assert not (out / 'precious.txt').exists() and read_meta(out)


def test_same_request_is_reused_another_replaces(tmp_path, small_knobs):
    knobs = dict(small_knobs, n_train_clips=1, n_val_clips=1, n_test_clips=1,
                 frames_per_clip=2, annotated_every=1)
    out = generate_dataset(tmp_path / 'd', progress=False, **knobs)
    stamp = (out / 'meta.json').stat().st_mtime_ns
    (out / 'marker').write_text('x')
    assert generate_dataset(out, progress=False, **knobs) == out
    assert (out / 'meta.json').stat().st_mtime_ns == stamp and (out / 'marker').exists()
    generate_dataset(out, progress=False, **dict(knobs, blur=0.0))
    assert not (out / 'marker').exists() and read_meta(out)['knobs']['blur'] == 0.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ['d']


def test_a_failed_run_leaves_nothing(tmp_path, small_knobs, monkeypatch):
    import kdkit.data.export as export
    calls = []

    def failing(job):
        calls.append(job)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C
        return original(job)

    original = export.render_clip
    monkeypatch.setattr(export, 'render_clip', failing)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(tmp_path / 'out', progress=False, workers=1,
                         **dict(small_knobs, frames_per_clip=2, annotated_every=1))
    assert list(tmp_path.iterdir()) == []
