"""``kdkit evaluate multiview`` / ``kdkit evaluate keypoints`` and the readers
of ``kdkit predict`` results behind them (kdkit.evaluation.real)."""
import json

import numpy as np
import pytest

from kdkit.cli import build_parser, main
from kdkit.evaluation.calibration import Camera, look_at
from kdkit.evaluation.real import (keypoints_report, map_to_gt,
                                   predictions_as_pose_labels)
from kdkit.utils.validate import InputError

VIEWS = ('cam01', 'cam02', 'cam03', 'cam04')
W, H = 720, 960
NAMES = ['nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
         'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
         'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee',
         'right_knee', 'left_ankle', 'right_ankle']
TEMPLATE = np.array([
    [0.00, 0.10, 1.62], [-0.03, 0.08, 1.66], [0.03, 0.08, 1.66],
    [-0.07, 0.02, 1.63], [0.07, 0.02, 1.63], [-0.19, 0.0, 1.42],
    [0.19, 0.0, 1.42], [-0.24, 0.02, 1.13], [0.24, 0.02, 1.13],
    [-0.26, 0.08, 0.87], [0.26, 0.08, 0.87], [-0.11, 0.0, 0.93],
    [0.11, 0.0, 0.93], [-0.12, 0.04, 0.50], [0.12, 0.04, 0.50],
    [-0.12, 0.0, 0.07], [0.12, 0.0, 0.07]])
N_FRAMES = 5
K = 17


# ------------------------------------------------------------- a small scene
def _cams():
    K_ = np.array([[700., 0., W / 2 - 6], [0., 705., H / 2 + 4], [0., 0., 1.]])
    out = {}
    for i, name in enumerate(VIEWS):
        a = np.deg2rad(20 + 90 * i)
        centre = [4.2 * np.cos(a), 4.2 * np.sin(a), 1.4 + 0.2 * i]
        out[name] = look_at(name, centre, [0.0, 0.0, 0.9], K_,
                            [-0.2, 0.06, 0.0005, -0.0004, 0.0], (W, H))
    return out


def _skeletons():
    out = np.zeros((N_FRAMES, 2, K, 3))
    for f in range(N_FRAMES):
        out[f, 0] = TEMPLATE + [-0.55 + 0.03 * f, 0.1, 0.0]
        out[f, 1] = TEMPLATE * [1.0, 1.0, 0.95] + [0.6, -0.2 + 0.04 * f, 0.0]
    return out


def _qca_camera(cam: Camera) -> str:
    """One QTM <camera> (conventions of kdkit.evaluation.calibration)."""
    M = np.diag([1.0, -1.0, -1.0]) @ cam.R
    c = cam.center * 1000.0
    w, h = cam.image_size
    tr = {f'r{i + 1}{j + 1}': repr(float(M[i, j]))
          for i in range(3) for j in range(3)}
    tr.update(x=repr(float(c[0])), y=repr(float(c[1])), z=repr(float(c[2])))
    k1, k2, p1, p2, k3 = cam.dist * 64
    it = dict(focalLengthU=cam.K[0, 0] * 64, focalLengthV=cam.K[1, 1] * 64,
              centerPointU=cam.K[0, 2] * 64, centerPointV=cam.K[1, 2] * 64,
              radialDistortion1=k1, radialDistortion2=k2, radialDistortion3=k3,
              tangentalDistortion1=p1, tangentalDistortion2=p2, skew=0.0)
    attrs = lambda d: ' '.join(f'{k}="{float(v)!r}"' for k, v in d.items())  # noqa
    fov = f'left="0" top="0" right="{w - 1}" bottom="{h - 1}"'
    return (f'<camera active="1" serial="{cam.name}" viewrotation="0">'
            f'<fov_video {fov}/><transform {attrs(tr)}/>'
            f'<intrinsic {attrs(it)}/></camera>')


def _people(cam, X, noise, rng, score=0.9):
    out = []
    for p in range(X.shape[0]):
        uv = cam.project(X[p]) + (rng.normal(0, noise, (K, 2)) if noise else 0)
        out.append(np.hstack([uv, np.full((K, 1), score)]))
    return out


def _labels_doc(cams, X, noise=1.5, seed=0, views=VIEWS):
    rng = np.random.default_rng(seed)
    vids = []
    for v in views:
        frames = [dict(frame_index=f, people=[
            dict(bbox=[0.0, 0.0, 1.0, 1.0], keypoints=p.tolist(), score=0.9,
                 track_id=None) for p in _people(cams[v], X[f], noise, rng)])
            for f in range(len(X))]
        vids.append(dict(file=f'videos/{v}.mp4', width=W, height=H, fps=60.0,
                         num_frames=len(X), frames=frames))
    return {'format': 'kdkit-pose-labels/1', 'teacher': {'type': 'synthetic'},
            'keypoint_names': NAMES, 'videos': vids}


def _box(kp):
    lo, hi = kp[:, :2].min(0), kp[:, :2].max(0)
    return [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]


def _predict_output(tmp_path, people_per_frame, name='preds', video='cam04.mp4',
                    first_frame=0):
    """What ``kdkit predict --video`` writes: results + <stem>.images.json
    (image id = index, frame_index = first_frame + index)."""
    preds, images = [], []
    for i, people in enumerate(people_per_frame):
        images.append(dict(id=i, file_name=video, frame_index=first_frame + i,
                           width=W, height=H))
        for p in people:
            preds.append(dict(image_id=i, category_id=1,
                              keypoints=np.asarray(p).ravel().tolist(),
                              score=float(np.mean(p[:, 2])), bbox=_box(p)))
    out = tmp_path / f'{name}.json'
    out.write_text(json.dumps(preds))
    (tmp_path / f'{name}.images.json').write_text(json.dumps(images))
    return out


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('scene')
    cams, X = _cams(), _skeletons()
    calib = tmp / 'Calib.qca.txt'
    calib.write_text('<?xml version="1.0"?><calibration><cameras>'
                     + ''.join(_qca_camera(c) for c in cams.values())
                     + '</cameras></calibration>')
    labels = tmp / 'labels.json'
    labels.write_text(json.dumps(_labels_doc(cams, X)))
    return dict(cams=cams, X=X, calib=calib, labels=labels)


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err, command):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f'kdkit evaluate {command}: error: '), err
    return lines[0]


# ------------------------------------------------------------- the commands
def test_evaluate_and_profile_are_commands(capsys):
    help_text = build_parser().format_help()
    assert 'evaluate' in help_text and 'profile' in help_text
    assert main(['evaluate']) == 2
    assert 'multiview' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(['evaluate', 'multiview', '--help'])
    assert '--held-out' in capsys.readouterr().out


# ------------------------------------------------- predictions as pose labels
def test_predictions_as_pose_labels(tmp_path):
    a = np.hstack([np.arange(2 * K).reshape(K, 2) + 100.0, np.full((K, 1), 0.7)])
    b = a + [50.0, 0.0, 0.0]
    preds = [dict(image_id=1, keypoints=a.ravel().tolist(), score=0.7,
                  bbox=[1, 2, 3, 4], track_id=3),
             dict(image_id=1, keypoints=b.ravel().tolist(), score=0.6,
                  bbox=[5, 6, 7, 8]),
             dict(image_id=0, keypoints=a.ravel().tolist(), score=0.5,
                  bbox=[1, 2, 3, 4])]
    images = [dict(id=0, file_name='cam04.mp4', frame_index=10, width=W, height=H),
              dict(id=1, file_name='cam04.mp4', frame_index=12, width=W, height=H),
              dict(id=2, file_name='cam04.mp4', frame_index=14, width=W, height=H)]
    doc = predictions_as_pose_labels(preds, images, 'cam04', NAMES)
    assert doc['format'] == 'kdkit-pose-labels/1'
    assert doc['keypoint_names'] == NAMES
    (video,) = doc['videos']
    assert video['file'] == 'cam04.mp4'
    assert (video['width'], video['height']) == (W, H)
    assert [f['frame_index'] for f in video['frames']] == [10, 12, 14]
    assert [len(f['people']) for f in video['frames']] == [1, 2, 0]
    p0, p1 = video['frames'][1]['people']
    np.testing.assert_allclose(p0['keypoints'], a)
    np.testing.assert_allclose(p1['keypoints'], b)
    assert p0['track_id'] == 3 and p1['track_id'] is None
    assert p0['bbox'] == [1, 2, 3, 4] and p1['score'] == 0.6

    # the multi-view reader takes it as the view, whatever it is named
    from kdkit.evaluation.multiview import load_labels
    got = load_labels(doc)
    assert list(got['views']) == ['cam04']
    assert sorted(got['views']['cam04']) == [10, 12, 14]
    assert got['views']['cam04'][12][1].shape == (K, 3)

    # from files; an image folder's frames are numbered by their file names
    folder = [dict(id=0, file_name='val/cam04/000007.jpg', width=W, height=H),
              dict(id=1, file_name='val/cam04/000009.jpg', width=W, height=H)]
    (tmp_path / 'p.json').write_text(json.dumps(preds))
    (tmp_path / 'p.images.json').write_text(json.dumps(folder))
    doc = predictions_as_pose_labels(tmp_path / 'p.json',
                                     tmp_path / 'p.images.json', 'cam02')
    assert doc['videos'][0]['file'] == 'cam02.mp4'
    assert [f['frame_index'] for f in doc['videos'][0]['frames']] == [7, 9]


def test_predictions_as_pose_labels_refuses_bad_input():
    kp = [1.0, 2.0, 0.5] * K
    images = [dict(id=0, file_name='v.mp4', frame_index=0, width=W, height=H)]
    with pytest.raises(InputError, match='image_id 5 is not in'):
        predictions_as_pose_labels([dict(image_id=5, keypoints=kp, bbox=[0, 0, 1, 1])],
                                   images, 'cam04')
    with pytest.raises(InputError, match='keypoints must be'):
        predictions_as_pose_labels([dict(image_id=0, keypoints=kp[:-1],
                                         bbox=[0, 0, 1, 1])], images, 'cam04')
    with pytest.raises(InputError, match='results list'):
        predictions_as_pose_labels({'annotations': []}, images, 'cam04')
    with pytest.raises(InputError, match='two images are frame 0'):
        predictions_as_pose_labels([], images + [dict(images[0], id=1)], 'cam04')
    with pytest.raises(InputError, match='not a frame number'):
        predictions_as_pose_labels([], [dict(id=0, file_name='a.jpg')], 'cam04')


# ------------------------------------------------------------ multiview CLI
def test_multiview_reference_only(scene, tmp_path, capsys):
    out = tmp_path / 'r' / 'report.json'
    code, text, err = _run(['evaluate', 'multiview', '--calib', scene['calib'],
                            '--labels', scene['labels'], '--held-out', 'cam04',
                            '--out', out], capsys)
    assert code == 0, err
    assert 'all views' in text and 'held-out cam04' in text
    for v in VIEWS:
        assert f'  {v} ' in text
    assert 'predictions' not in text
    rep = json.loads(out.read_text())
    assert rep['format'] == 'kdkit-multiview-report/1'
    assert rep['calibration'] == str(scene['calib'])
    # 1.5 px label noise: small errors, both people found in every frame
    assert rep['all_views']['overall']['median_px'] < 3.0
    assert rep['held_out']['reference']['people_matched'] == 2 * N_FRAMES
    assert 0.5 < rep['held_out']['reference']['overall']['median_px'] < 6.0
    assert not list(out.parent.glob('.*.tmp'))  # written by rename


def test_multiview_with_kdkit_predict_output(scene, tmp_path, capsys):
    cam, X = scene['cams']['cam04'], scene['X']
    rng = np.random.default_rng(1)
    exact = [_people(cam, X[f], 0.0, rng, score=0.8)[::-1] for f in range(N_FRAMES)]
    good = _predict_output(tmp_path, exact, 'good')
    shifted = _predict_output(tmp_path, [[p + [15.0, 0, 0] for p in ppl]
                                         for ppl in exact], 'shifted')
    reports = {}
    for name, path in (('good', good), ('shifted', shifted)):
        out = tmp_path / f'{name}_report.json'
        code, text, err = _run(
            ['evaluate', 'multiview', '--calib', scene['calib'], '--labels',
             scene['labels'], '--predictions', path, '--held-out', 'cam04',
             '--out', out], capsys)
        assert code == 0, err
        assert 'reference (labels)' in text and 'ratio pred / ref' in text
        reports[name] = json.loads(out.read_text())['held_out']
    g, s = reports['good'], reports['shifted']
    assert g['predictions_file'] == str(good)
    assert g['predictions']['people_matched'] == 2 * N_FRAMES
    # exact 2D points beat the noisy teacher against 3D from the others
    assert g['ratio_median'] < 1.0
    assert g['ratio_median'] == pytest.approx(
        g['predictions']['overall']['median_px']
        / g['reference']['overall']['median_px'])
    assert 12.0 < s['predictions']['overall']['median_px'] < 18.0
    assert s['ratio_median'] > 2.0
    assert s['reference'] == g['reference']


def test_multiview_predictions_as_pose_labels_file(scene, tmp_path, capsys):
    """--predictions may be a pose-labels file: its video of the held-out
    view (or its only video) is scored; the labels themselves give ratio 1."""
    out = tmp_path / 'rep.json'
    code, text, err = _run(['evaluate', 'multiview', '--calib', scene['calib'],
                            '--labels', scene['labels'], '--predictions',
                            scene['labels'], '--held-out', 'cam04', '--out', out],
                           capsys)
    assert code == 0, err
    h = json.loads(out.read_text())['held_out']
    assert h['predictions']['overall'] == h['reference']['overall']
    assert h['ratio_median'] == pytest.approx(1.0)
    assert '    1.00    1.00' in text


def test_multiview_predictions_frames_by_frame_index(scene, tmp_path, capsys):
    """The student predicted frames 2.. only: image ids 0.. are frames 2.."""
    cam, X = scene['cams']['cam04'], scene['X']
    rng = np.random.default_rng(2)
    people = [_people(cam, X[f], 0.0, rng) for f in range(2, N_FRAMES)]
    path = _predict_output(tmp_path, people, first_frame=2)
    out = tmp_path / 'rep.json'
    code, _, err = _run(['evaluate', 'multiview', '--calib', scene['calib'],
                         '--labels', scene['labels'], '--predictions', path,
                         '--held-out', 'cam04', '--out', out], capsys)
    assert code == 0, err
    p = json.loads(out.read_text())['held_out']['predictions']
    assert p['people_matched'] == 2 * (N_FRAMES - 2)
    assert p['people_missed'] == 2 * 2  # frames 0 and 1 have no prediction
    assert p['overall']['median_px'] < 3.0  # frames mapped right


def test_multiview_errors(scene, tmp_path, capsys):
    calib, labels = scene['calib'], scene['labels']
    base = ['evaluate', 'multiview']

    def err_of(argv):
        code, _, err = _run(base + argv, capsys)
        return _one_line_error(code, err, 'multiview')

    assert 'no such calibration file' in err_of(
        ['--calib', tmp_path / 'nope.qca.txt', '--labels', labels])
    bad_calib = tmp_path / 'bad.qca.txt'
    bad_calib.write_text('<calibration><cameras></cameras></calibration>')
    assert 'not a QCA calibration' in err_of(['--calib', bad_calib,
                                              '--labels', labels])
    assert 'no such file' in err_of(['--calib', calib, '--labels',
                                     tmp_path / 'none.json'])
    trunc = tmp_path / 'trunc.json'
    trunc.write_text(labels.read_text()[:200])
    assert 'not valid JSON' in err_of(['--calib', calib, '--labels', trunc])
    doc = json.loads(labels.read_text())
    del doc['videos'][1]['frames'][2]['frame_index']
    broken = tmp_path / 'broken.json'
    broken.write_text(json.dumps(doc))
    assert 'videos[1].frames[2].frame_index' in err_of(
        ['--calib', calib, '--labels', broken])
    assert 'needs --held-out' in err_of(['--calib', calib, '--labels', labels,
                                         '--predictions', labels])
    assert 'no such camera' in err_of(['--calib', calib, '--labels', labels,
                                       '--held-out', 'cam09'])
    two = json.loads(labels.read_text())
    two['videos'] = two['videos'][:2]
    two_path = tmp_path / 'two.json'
    two_path.write_text(json.dumps(two))
    assert 'fewer than 2 other' in err_of(['--calib', calib, '--labels',
                                           two_path, '--held-out', 'cam01'])
    # kdkit predict output without its images json
    lone = tmp_path / 'lone' / 'preds.json'
    lone.parent.mkdir()
    lone.write_text(json.dumps([dict(image_id=0, keypoints=[1.0, 2.0, 0.5] * K,
                                     bbox=[0, 0, 1, 1])]))
    assert 'pass --images-json' in err_of(['--calib', calib, '--labels', labels,
                                           '--predictions', lone,
                                           '--held-out', 'cam04'])
    # other key points than the labels'
    rng = np.random.default_rng(0)
    few = [[p[:5] for p in _people(scene['cams']['cam04'], scene['X'][0], 0, rng)]]
    path = _predict_output(tmp_path, few, 'few')
    assert '5 key points per person' in err_of(
        ['--calib', calib, '--labels', labels, '--predictions', path,
         '--held-out', 'cam04'])
    # predictions of another size than the camera's
    rng = np.random.default_rng(0)
    path = _predict_output(tmp_path, [_people(scene['cams']['cam04'],
                                              scene['X'][0], 0, rng)], 'big')
    imgs = json.loads((tmp_path / 'big.images.json').read_text())
    for img in imgs:
        img['width'] = 2 * W
    (tmp_path / 'big.images.json').write_text(json.dumps(imgs))
    assert 'calibration is 720x960' in err_of(
        ['--calib', calib, '--labels', labels, '--predictions', path,
         '--held-out', 'cam04'])
    code, _, err = _run(base + ['--calib', calib, '--labels', labels,
                                '--min-score', '2'], capsys)
    assert 'in [0, 1]' in _one_line_error(code, err, 'multiview')


# ----------------------------------------------------------- keypoints CLI
def _person(ann_id, image_id, x0, y0, track_id):
    kpts = np.stack([x0 + 5 + 3 * np.arange(K), y0 + 5 + 6 * np.arange(K),
                     np.full(K, 2.)], axis=1)
    return dict(id=ann_id, image_id=image_id, category_id=1, iscrowd=0,
                bbox=[x0, y0, 60., 120.], area=60. * 120., num_keypoints=K,
                keypoints=kpts.ravel().tolist(), track_id=track_id)


def _gt(videos=('cam04',), frames=6):
    """COCO json as ``kdkit data from-video`` writes: image id = vid_id *
    10000 + frame, video_name and frame_index; two people moving steadily."""
    images, anns = [], []
    for v, name in enumerate(videos):
        vid = 20001 + v
        for t in range(frames):
            iid = vid * 10000 + t
            images.append(dict(id=iid, file_name=f'val/{name}/{t:06d}.jpg',
                               width=320, height=240, vid_id=vid, frame_id=iid,
                               frame_index=t, nframes=frames, video_name=name))
            anns.append(_person(len(anns) + 1, iid, 20. + 4 * t + 10 * v, 30., 0))
            anns.append(_person(len(anns) + 1, iid, 200., 40. + 2 * t, 1))
    return dict(images=images, annotations=anns, categories=[dict(
        id=1, name='person', keypoints=NAMES)])


def _preds_from_gt(gt, video='cam04', shift=0.0):
    """``kdkit predict --video <video>.mp4`` results on the GT boxes: image
    id = frame index, not the GT's id."""
    by_id = {img['id']: img for img in gt['images']}
    preds, images = [], {}
    for ann in gt['annotations']:
        img = by_id[ann['image_id']]
        if img['video_name'] != video:
            continue
        t = img['frame_index']
        kp = np.asarray(ann['keypoints'], float).reshape(K, 3)
        kp[:, :2] += shift
        kp[:, 2] = 0.9
        preds.append(dict(image_id=t, category_id=1, keypoints=kp.ravel().tolist(),
                          score=0.9, bbox=ann['bbox'], track_id=ann['track_id']))
        images[t] = dict(id=t, file_name=f'{video}.mp4', frame_index=t,
                         width=320, height=240)
    return preds, [images[t] for t in sorted(images)]


def _write(tmp_path, name, preds, images=None):
    p = tmp_path / f'{name}.json'
    p.write_text(json.dumps(preds))
    if images is not None:
        (tmp_path / f'{name}.images.json').write_text(json.dumps(images))
    return p


def test_keypoints_perfect_and_shifted(tmp_path):
    gt = _gt()
    gt_path = tmp_path / 'gt.json'
    gt_path.write_text(json.dumps(gt))
    perfect = _write(tmp_path, 'perfect', *_preds_from_gt(gt))
    r = keypoints_report(gt_path, perfect)
    assert r['matched_by'] == 'frame_index' and r['gt_video'] == 'cam04'
    assert r['AP'] == pytest.approx(1.0) and r['AR'] == pytest.approx(1.0)
    assert r['PCK'] == pytest.approx(1.0)
    assert r['jitter'] == pytest.approx(0.0, abs=1e-9)  # steady motion
    assert r['num_tracks'] == 2
    assert r['num_gt_images_predicted'] == r['num_gt_images'] == 6
    assert r['num_gt_people_matched'] == r['num_gt_people'] == 12

    shifted = _write(tmp_path, 'shifted', *_preds_from_gt(gt, shift=6.0))
    s = keypoints_report(gt_path, shifted)
    assert s['AP'] < 0.9 and s['PCK'] == pytest.approx(1.0)  # 8.5 px < 24 px
    far = _write(tmp_path, 'far', *_preds_from_gt(gt, shift=20.0))
    f = keypoints_report(gt_path, far)
    assert f['AP'] < s['AP'] and f['PCK'] < 0.5  # 28 px > 0.2 * 120 px


def test_keypoints_id_mapping(tmp_path):
    # two videos in the GT: the predicted file's name picks cam04's frames
    gt = _gt(videos=('cam03', 'cam04'))
    preds, images = _preds_from_gt(gt, 'cam04')
    mapping, how = map_to_gt(images, gt, {p['image_id'] for p in preds})
    assert how == dict(by='frame_index', video='cam04')
    assert mapping == {t: 200020000 + t for t in range(6)}
    r = keypoints_report(gt, _write(tmp_path, 'p', preds, images))
    assert r['num_gt_images_predicted'] == 6 and r['num_gt_images'] == 12
    # cam04's people found exactly, cam03's not predicted: recall 1/2
    assert r['AR'] == pytest.approx(0.5) and 0.45 < r['AP'] < 0.55
    assert r['PCK'] == pytest.approx(0.5)
    # a video the GT does not hold
    with pytest.raises(InputError, match='holds videos cam03, cam04'):
        map_to_gt([dict(img, file_name='cam01.mp4') for img in images], gt, set())
    # an image folder: matched by file name
    folder = [dict(id=i, file_name=f'cam04/{t:06d}.jpg', width=320, height=240)
              for i, t in enumerate(range(3, 6))]
    mapping, how = map_to_gt(folder, gt, {0, 1, 2})
    assert how['by'] == 'file_name'
    assert mapping == {0: 200020003, 1: 200020004, 2: 200020005}
    with pytest.raises(InputError, match='equally well'):
        map_to_gt([dict(id=0, file_name='000003.jpg')], gt, {0})
    # no images json: ids must be GT ids
    assert map_to_gt(None, gt, {200010000})[0] == {200010000: 200010000}
    with pytest.raises(InputError, match='pass --images-json'):
        map_to_gt(None, gt, {0})


def test_keypoints_cli(tmp_path, capsys):
    gt = _gt()
    gt_path = tmp_path / 'gt.json'
    gt_path.write_text(json.dumps(gt))
    preds, images = _preds_from_gt(gt, shift=6.0)
    path = _write(tmp_path, 'preds', preds)       # the images json elsewhere
    side = tmp_path / 'frames.json'
    side.write_text(json.dumps(images))
    out = tmp_path / 'kp.json'
    code, text, err = _run(['evaluate', 'keypoints', '--gt', gt_path, '--preds',
                            path, '--images-json', side, '--out', out], capsys)
    assert code == 0, err
    assert 'AP ' in text and 'PCK@0.2 1.0000' in text and 'jitter 0.0000' in text
    rep = json.loads(out.read_text())
    assert rep['format'] == 'kdkit-keypoints-report/1'
    assert 0 < rep['AP'] < 0.9 and rep['PCK'] == pytest.approx(1.0)
    assert set(rep['per_joint_pck']) == set(NAMES)

    def err_of(argv):
        code, _, err = _run(['evaluate', 'keypoints'] + argv, capsys)
        return _one_line_error(code, err, 'keypoints')

    assert 'pass --images-json' in err_of(['--gt', gt_path, '--preds', path])
    assert 'does not exist' in err_of(['--gt', tmp_path / 'x.json', '--preds', path])
    assert 'does not exist' in err_of(['--gt', gt_path, '--preds', tmp_path / 'x.json'])
    (tmp_path / 'bad.json').write_text('[{"image_id": 0}]')
    assert "has no 'keypoints'" in err_of(['--gt', gt_path, '--preds',
                                           tmp_path / 'bad.json'])
    few = [dict(p, keypoints=p['keypoints'][:15]) for p in preds]
    assert '5 key points per person' in err_of(
        ['--gt', gt_path, '--preds', _write(tmp_path, 'few', few, images)])
    other = [dict(img, frame_index=img['frame_index'] + 100) for img in images]
    assert 'none of their frames' in err_of(
        ['--gt', gt_path, '--preds', _write(tmp_path, 'other', preds, other)])
