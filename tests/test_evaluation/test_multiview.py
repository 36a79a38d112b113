import json

import numpy as np
import pytest

from kdkit.evaluation.calibration import look_at
from kdkit.evaluation.multiview import (associate, epipolar_cost,
                                        leave_one_view_out, load_labels,
                                        multiview_report, reprojection_error,
                                        triangulate, triangulate_points)

VIEWS = ('cam01', 'cam02', 'cam03', 'cam04')
W, H = 720, 960
NAMES = ['nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
         'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
         'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee',
         'right_knee', 'left_ankle', 'right_ankle']
# a standing person facing +y, metres, z up (x: the person's left is -x)
TEMPLATE = np.array([
    [0.00, 0.10, 1.62], [-0.03, 0.08, 1.66], [0.03, 0.08, 1.66],
    [-0.07, 0.02, 1.63], [0.07, 0.02, 1.63], [-0.19, 0.0, 1.42],
    [0.19, 0.0, 1.42], [-0.24, 0.02, 1.13], [0.24, 0.02, 1.13],
    [-0.26, 0.08, 0.87], [0.26, 0.08, 0.87], [-0.11, 0.0, 0.93],
    [0.11, 0.0, 0.93], [-0.12, 0.04, 0.50], [0.12, 0.04, 0.50],
    [-0.12, 0.0, 0.07], [0.12, 0.0, 0.07]])
N_FRAMES = 6


@pytest.fixture(scope='module')
def cams():
    """4 cameras around the origin (one per side), lens distortion on."""
    K = np.array([[700., 0., W / 2 - 6], [0., 705., H / 2 + 4], [0., 0., 1.]])
    out = {}
    for i, name in enumerate(VIEWS):
        a = np.deg2rad(20 + 90 * i)
        centre = [4.2 * np.cos(a), 4.2 * np.sin(a), 1.4 + 0.2 * i]
        dist = [-0.25 + 0.03 * i, 0.08, 0.0008, -0.0005, 0.0]
        out[name] = look_at(name, centre, [0.0, 0.0, 0.9], K, dist, (W, H))
    return out


def skeletons(n_frames=N_FRAMES):
    """(F, 2, 17, 3): two people walking apart, one waving its right arm."""
    out = np.zeros((n_frames, 2, 17, 3))
    for f in range(n_frames):
        a = TEMPLATE + [-0.55 + 0.03 * f, 0.1, 0.0]
        b = TEMPLATE * [1.0, 1.0, 0.95] + [0.6, -0.2 + 0.04 * f, 0.0]
        b[[8, 10]] += [0.0, 0.0, 0.05 * f]   # right elbow/wrist go up
        out[f, 0], out[f, 1] = a, b
    return out


def project_all(cams, X, noise=0.0, seed=0):
    """{view: {frame: [(17, 3) x, y, score]}} of the skeletons."""
    rng = np.random.default_rng(seed)
    views = {}
    for v, cam in cams.items():
        frames = {}
        for f in range(len(X)):
            people = []
            for p in range(X.shape[1]):
                uv = cam.project(X[f, p])
                uv = uv + rng.normal(0.0, noise, uv.shape) if noise else uv
                people.append(np.hstack([uv, np.full((17, 1), 0.9)]))
            frames[f] = people
        views[v] = frames
    return views


def as_doc(views, names=('cam01', 'cam02', 'cam03', 'cam04')):
    """kdkit pose-labels document of ``{view: {frame: people}}``."""
    vids = []
    for v in names:
        frames = [dict(frame_index=f, people=[
            dict(bbox=[0, 0, 1, 1], keypoints=p.tolist(), score=0.9,
                 track_id=None) for p in ppl])
            for f, ppl in sorted(views[v].items())]
        vids.append(dict(file=f'videos/{v}.mp4', width=W, height=H,
                         fps=60.0, num_frames=len(frames), frames=frames))
    return {'format': 'kdkit-pose-labels/1', 'teacher': {'type': 'synthetic'},
            'keypoint_names': NAMES, 'videos': vids}


def test_skeletons_are_inside_every_image(cams):
    X = skeletons()
    for cam in cams.values():
        assert cam.in_image(cam.project(X), margin=-20).all()
        # and the distortion matters: > 1 px away from the pinhole image
        xc = cam.to_camera(X)
        pin = cam.normalized_to_pixels(xc[..., :2] / xc[..., 2:])
        assert np.abs(pin - cam.project(X)).max() > 1.0


def test_triangulate_recovers_point(cams):
    cl = list(cams.values())
    X = skeletons()[2, 1]  # (17, 3)
    uv = np.stack([c.project(X) for c in cl])  # (4, 17, 2)
    got = triangulate_points(uv, cl)
    np.testing.assert_allclose(got, X, atol=1e-6)
    for j in (0, 9, 16):
        np.testing.assert_allclose(triangulate(uv[:, j], cl, np.ones(4)),
                                   X[j], atol=1e-6)
    # garbage in a view with weight 0 (below the threshold) is ignored
    bad = uv[:, 5].copy()
    bad[1] += [150.0, -80.0]
    np.testing.assert_allclose(
        triangulate(bad, cl, [0.9, 0.0, 0.8, 0.7]), X[5], atol=1e-6)
    assert np.linalg.norm(triangulate(bad, cl, [0.9, 0.9, 0.8, 0.7])
                          - X[5]) > 1e-2
    np.testing.assert_allclose(
        triangulate(bad, cl, [0.9, 0.2, 0.8, 0.7], min_weight=0.3), X[5],
        atol=1e-6)
    # two views suffice, one does not
    np.testing.assert_allclose(triangulate(uv[[0, 2], 3], [cl[0], cl[2]]),
                               X[3], atol=1e-6)
    assert np.isnan(triangulate(uv[:, 3], cl, [0.9, 0, 0, 0])).all()
    nan_view = uv[:, 3].copy()
    nan_view[0] = np.nan
    np.testing.assert_allclose(triangulate(nan_view, cl), X[3], atol=1e-6)


def test_triangulate_noise_error_is_small_relative_to_scale(cams):
    cl = list(cams.values())
    X = skeletons()[0, 0]
    rng = np.random.default_rng(1)
    uv = np.stack([c.project(X) for c in cl]) + rng.normal(0, 0.05,
                                                           (4, 17, 2))
    scale = np.linalg.norm(X.max(0) - X.min(0))
    assert np.abs(triangulate_points(uv, cl) - X).max() < 1e-3 * scale


def test_clean_data_reprojects_to_zero(cams):
    X = skeletons()
    r = reprojection_error(as_doc(project_all(cams, X)), cams, min_score=0.3)
    assert r['mode'] == 'all_views' and r['num_frames'] == N_FRAMES
    assert r['overall']['median_px'] < 1e-6 and r['overall']['mean_px'] < 1e-6
    assert r['overall']['count'] == N_FRAMES * 2 * 17 * 4
    assert r['num_triangulated_joints'] == N_FRAMES * 2 * 17
    assert r['people_per_frame']['counts'] == [2] * N_FRAMES
    assert set(r['per_view']) == set(VIEWS)
    assert r['per_joint']['left_wrist']['count'] == N_FRAMES * 2 * 4
    assert r['overall']['within_px']['5'] == 1.0


def test_error_grows_with_pixel_noise(cams):
    X = skeletons()
    med = []
    for sigma in (1.0, 3.0, 6.0):
        views = project_all(cams, X, noise=sigma, seed=int(sigma))
        r = reprojection_error(views, cams)
        med.append(r['overall']['median_px'])
        # 4 views, 3 dof: residuals are a bit below the 2D noise (median of
        # a 2D normal's norm is 1.18 sigma)
        assert 0.5 * sigma < r['overall']['median_px'] < 1.5 * sigma
        assert r['people_per_frame']['counts'] == [2] * N_FRAMES
    assert med[0] < med[1] < med[2]


def test_low_scores_are_not_triangulated_nor_scored(cams):
    X = skeletons()
    views = project_all(cams, X)
    for f in views['cam02']:
        for p in views['cam02'][f]:
            p[9] = [5.0, 5.0, 0.1]  # a wrong, unconfident wrist
    r = reprojection_error(views, cams, min_score=0.3)
    assert r['overall']['median_px'] < 1e-6
    assert r['per_view']['cam02']['count'] == N_FRAMES * 2 * 16
    assert r['overall']['mean_px'] < 1e-6


def _shuffle_and_drop(views, seed=0):
    """Per view and frame: shuffle the people; cam01 misses person 0 and
    cam03 person 1. Returns the views and {view: {frame: [true ids]}}."""
    rng = np.random.default_rng(seed)
    out, ids = {}, {}
    for v, frames in views.items():
        out[v], ids[v] = {}, {}
        for f, people in frames.items():
            keep = [i for i in range(len(people))
                    if not (v == 'cam01' and i == 0)
                    and not (v == 'cam03' and i == 1)]
            order = list(rng.permutation(keep))
            out[v][f] = [people[i] for i in order]
            ids[v][f] = order
    return out, ids


def test_association_recovers_identities(cams):
    X = skeletons()
    views, ids = _shuffle_and_drop(project_all(cams, X, noise=1.5))
    for f in range(N_FRAMES):
        groups = associate({v: views[v][f] for v in VIEWS}, cams)
        assert len(groups) == 2
        truth = []
        for g in groups:
            who = {ids[v][f][i] for v, i in g.items()}
            assert len(who) == 1  # one person per group
            truth.append((who.pop(), set(g)))
        truth = dict(truth)
        assert truth[0] == {'cam02', 'cam03', 'cam04'}
        assert truth[1] == {'cam01', 'cam02', 'cam04'}
    r = reprojection_error(views, cams)
    assert r['overall']['median_px'] < 2.5
    assert r['overall']['count'] == N_FRAMES * 2 * 17 * 3


def test_epipolar_cost_separates_people(cams):
    from itertools import combinations
    X = skeletons()
    views = project_all(cams, X)
    wrong = []
    for a, b in combinations(VIEWS, 2):
        for p in (0, 1):
            assert epipolar_cost(views[a][0][p], views[b][0][p], cams[a],
                                 cams[b]) < 1e-6
        wrong.append(epipolar_cost(views[a][0][0], views[b][0][1], cams[a],
                                   cams[b]))
    # some pairs of views are nearly ambiguous (the people lie along each
    # other's epipolar lines: cam01-cam02 < 10 px), the average is not
    assert min(wrong) < 10 and np.mean(wrong) > 30
    unconf = views['cam01'][0][0].copy()
    unconf[:, 2] = 0.0
    assert epipolar_cost(unconf, views['cam02'][0][0], cams['cam01'],
                         cams['cam02']) == np.inf


def test_held_out_view(cams):
    X = skeletons()
    teacher = project_all(cams, X, noise=2.0, seed=3)
    doc = as_doc(teacher)
    ref = reprojection_error(doc, cams, held_out='cam04')
    assert ref['mode'] == 'held_out' and ref['evaluated'] == 'reference'
    assert ref['source_views'] == ['cam01', 'cam02', 'cam03']
    assert list(ref['per_view']) == ['cam04']
    assert ref['people_3d'] == ref['people_matched'] == 2 * N_FRAMES
    assert ref['overall']['count'] == N_FRAMES * 2 * 17
    assert 1.0 < ref['overall']['median_px'] < 6.0

    # a student predicting cam04 only: exact -> small (the 3D points carry
    # the teacher's noise); shifted by 12 px -> about 12 px
    exact = {'cam04': {f: [np.hstack([cams['cam04'].project(X[f, p]),
                                      np.full((17, 1), 0.8)])
                           for p in (1, 0)] for f in range(N_FRAMES)}}
    good = reprojection_error(doc, cams, held_out='cam04', predictions=exact)
    assert good['evaluated'] == 'predictions'
    assert good['people_matched'] == 2 * N_FRAMES
    assert good['overall']['median_px'] < ref['overall']['median_px']
    shifted = {'cam04': {f: [p + [12.0, 0.0, 0.0] for p in ppl]
                         for f, ppl in exact['cam04'].items()}}
    sh = reprojection_error(doc, cams, held_out='cam04', predictions=shifted)
    assert 9.0 < sh['overall']['median_px'] < 15.0

    # the student's confidence does not change which joints are scored
    low = {'cam04': {f: [np.hstack([p[:, :2], np.full((17, 1), 0.01)])
                         for p in ppl] for f, ppl in shifted['cam04'].items()}}
    lo = reprojection_error(doc, cams, held_out='cam04', predictions=low)
    assert lo['overall'] == sh['overall']

    # a student missing one person, plus a spurious far-away detection
    miss = {'cam04': {f: [ppl[0], ppl[0] * [0.1, 0.1, 1.0]]
                      for f, ppl in exact['cam04'].items()}}
    m = reprojection_error(doc, cams, held_out='cam04', predictions=miss)
    assert m['people_matched'] == N_FRAMES
    assert m['people_missed'] == N_FRAMES and m['people_extra'] == N_FRAMES


def test_predictions_as_a_single_video_document(cams):
    X = skeletons()
    teacher = project_all(cams, X, noise=1.0, seed=5)
    student = project_all(cams, X, noise=1.0, seed=6)
    pdoc = as_doc(student, names=['cam04'])
    pdoc['videos'][0]['file'] = 'out/student_on_cam04.mp4'  # any name
    r = reprojection_error(as_doc(teacher), cams, held_out='cam04',
                           predictions=pdoc)
    assert r['people_matched'] == 2 * N_FRAMES
    assert r['overall']['median_px'] < 4.0
    pdoc['videos'][0]['width'] = 2 * W
    with pytest.raises(ValueError, match='calibration is 720x960'):
        reprojection_error(as_doc(teacher), cams, held_out='cam04',
                           predictions=pdoc)


def test_leave_one_view_out_and_report(cams, tmp_path):
    X = skeletons()
    doc = as_doc(project_all(cams, X, noise=1.0, seed=7))
    loo = leave_one_view_out(doc, cams)
    assert list(loo) == list(VIEWS)
    assert all(r['overall']['median_px'] < 5.0 for r in loo.values())
    path = tmp_path / 'labels.json'
    path.write_text(json.dumps(doc))
    pred = as_doc(project_all(cams, X, noise=4.0, seed=8), names=['cam04'])
    rep = multiview_report(cams, path, predictions=pred, held_out='cam04',
                           all_held_out=True)
    text = json.dumps(rep, allow_nan=False)  # JSON-ready: no nan, no numpy
    assert json.loads(text)['format'] == 'kdkit-multiview-report/1'
    assert rep['teacher'] == {'type': 'synthetic'}
    assert len(rep['cameras']) == 4
    h = rep['held_out']
    assert h['view'] == 'cam04'
    assert h['delta_median_px'] == pytest.approx(
        h['predictions']['overall']['median_px']
        - h['reference']['overall']['median_px'])
    assert h['delta_median_px'] > 0  # noisier student
    assert set(rep['leave_one_view_out']) == set(VIEWS)


def test_bad_inputs(cams, tmp_path):
    doc = as_doc(project_all(cams, skeletons(2)))
    with pytest.raises(ValueError, match='no calibration'):
        reprojection_error(doc, cams, held_out='cam09')
    two = dict(doc, videos=doc['videos'][:2])
    with pytest.raises(ValueError, match='need >= 2 calibrated views'):
        reprojection_error(two, cams, held_out='cam01')
    bad = dict(doc, videos=[dict(doc['videos'][0], width=W + 1)]
               + doc['videos'][1:])
    with pytest.raises(ValueError, match="video 'cam01' is 721x960"):
        load_labels(bad, cams)
    p = tmp_path / 'x.json'
    p.write_text('{')
    with pytest.raises(ValueError, match='not JSON'):
        load_labels(p)
