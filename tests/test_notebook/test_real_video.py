"""Notebook 05's helpers as plain functions: the calibrated rig (its
calibration agrees with the renderer's cameras, exact labels reproject to
0 px), student-teacher agreement, frame picking, the tables and figures, and
one-line errors for bad input. Export, labelling, training and prediction
run in the notebook's test (tests/test_notebooks/test_05_real_video.py)."""
import json

import matplotlib
import numpy as np
import pytest

from kdkit.notebook import real_video as rv
from kdkit.utils.validate import InputError

matplotlib.use('Agg')
K = 17


@pytest.fixture(scope='module')
def rig(tmp_path_factory):
    return rv.render_rig(tmp_path_factory.mktemp('rig'), views=3, frames=3, size=96)


def exact_labels(rig) -> dict:
    """Pose-labels of the rig's views: its 3D joints projected by its
    calibration, every key point scored 1."""
    videos = []
    for path, (name, cam) in zip(rig['videos'], rig['cameras'].items()):
        frames = [{'frame_index': t, 'people': [{
            'bbox': [0, 0, 96, 96], 'score': 1.0, 'track_id': 0,
            'keypoints': np.column_stack([cam.project(x), np.ones(K)]).tolist()}]}
            for t, x in enumerate(rig['keypoints_3d'])]
        videos.append(dict(file=path.name, width=96, height=96, num_frames=len(frames),
                           frames=frames))
    return {'format': 'kdkit-pose-labels/1', 'keypoint_names': None, 'videos': videos}


def test_rig_videos_and_calibration(rig):
    import cv2

    from kdkit.data.camera import Camera as GenCamera
    from kdkit.predict import read_video_info
    assert [p.name for p in rig['videos']] == ['cam01.mp4', 'cam02.mp4', 'cam03.mp4']
    for path in rig['videos']:
        info = read_video_info(path)
        assert (info['width'], info['height'], info['num_frames']) == (96, 96, 3)
    assert rig['keypoints_3d'].shape == (3, K, 3)
    x = rig['keypoints_3d'][0]
    for cam in rig['cameras'].values():
        assert cam.image_size == (96, 96) and not cam.dist.any()
        # the renderer's own camera (rows right, down, forward; centre) projects alike
        gen = GenCamera(cam.center, cam.R, cam.K[0, 0], cam.K[0, 2], cam.K[1, 2])
        np.testing.assert_allclose(cam.project(x), gen.project(x)[0], atol=1e-6)
        assert cam.in_image(cam.project(x)).all()  # the whole person is in every view
    centres = np.stack([c.center for c in rig['cameras'].values()])
    assert np.linalg.norm(centres[0] - centres[-1]) > 1.0  # views apart: a real baseline
    assert cv2.VideoCapture(str(rig['videos'][0])).isOpened()


def test_exact_labels_reproject_to_zero_and_the_table(rig):
    labels = exact_labels(rig)
    teacher = rv.view_people(labels, 'cam03')
    student = {t: [p + np.array([4.0, 0, 0])] for t, ps in teacher.items() for p in ps}
    report = rv.multiview_check(labels, rig['cameras'], 'cam03', student)
    table = rv.multiview_table(report)
    assert table.loc['teacher', 'median_px'] < 1e-3
    assert table.loc['student', 'median_px'] == pytest.approx(4.0, abs=1e-3)
    assert table.loc['teacher', 'people_matched'] == 3 == table.loc['student', 'people_3d']
    assert rv.plot_multiview_joints(report).axes
    agree = rv.agreement(teacher, student)
    assert agree['median_px'] == pytest.approx(4.0) and agree['count'] == 3 * K
    cost = dict(params_M=5.0, GFLOPs=0.2, ort_ms=3.0)
    summary = rv.summary_table(dict(name='t'), dict(name='s', **cost), agree, report)
    assert list(summary.index) == ['t', 's']
    assert summary.loc['s', 'heldout_reproj_median_px'] == pytest.approx(4.0, abs=1e-3)
    assert np.isnan(summary.loc['t', 'ort_1t_ms'])  # MediaPipe: not measured
    assert 'heldout_reproj_median_px' not in rv.summary_table({}, cost, agree).columns


def test_agreement_pairs_each_student_person_with_the_closest_teacher():
    a = np.column_stack([np.arange(K) * 2.0, np.full(K, 10.0), np.ones(K)])
    b = a + [100.0, 0, 0]
    low = a.copy()
    low[:, 2] = 0.1  # the teacher is unsure: nothing to compare
    out = rv.agreement({0: [a, b], 1: [low]}, {0: [b + [1.0, 0, 0]], 1: [a], 2: [a]})
    assert out == dict(median_px=1.0, pck02=1.0, count=K)
    assert np.isnan(rv.agreement({}, {0: [a]})['median_px'])


def test_pick_frames():
    p = [np.zeros((K, 3))]
    teacher = {t: p for t in range(10)}
    student = {t: p for t in range(2, 10)} | {5: []}
    assert rv.pick_frames(teacher, student, n=3) == [2, 6, 9]
    assert rv.pick_frames(teacher, {}, n=3) == []
    assert rv.pick_frames({0: p}, {0: p}, n=3) == [0]


def test_figures_and_label_tables(rig):
    labels = exact_labels(rig)
    people = rv.view_people(labels, 'cam02')
    assert sorted(people) == [0, 1, 2] and people[0][0].shape == (K, 3)
    fig = rv.show_teacher_vs_student(rig['videos'][1], people, people, [0, 2])
    assert len(fig.axes) == 4 and fig.axes[1].get_title() == 'student, frame 0'
    assert len(rv.show_views(rig['videos'], labels=labels).axes) == 3
    table = rv.labels_summary(labels)
    assert list(table.index) == ['cam01', 'cam02', 'cam03']
    assert table.loc['cam01', 'people_per_frame'] == 1.0
    assert table.loc['cam01', 'mean_score'] == 1.0
    with pytest.raises(InputError, match="view 'cam09': not in the labels"):
        rv.view_people(labels, 'cam09')


def test_student_options_point_both_datasets():
    opts = rv.student_options('gen', 'real/', batch_size=4, workers=0)
    assert opts['train_dataloader.dataset.datasets.0.data_root'] == 'gen/'
    assert opts['train_dataloader.dataset.datasets.1.data_root'] == 'real/'
    assert opts['val_dataloader.dataset.data_root'] == 'real/'
    assert opts['train_dataloader.batch_size'] == 4
    assert opts['val_dataloader.persistent_workers'] is False


def test_bad_input_is_one_line(tmp_path, monkeypatch, rig):
    monkeypatch.setattr(rv, 'DEMO_VIDEOS', [tmp_path / 'cam01.mp4'])
    with pytest.raises(InputError, match='run `make real-data`'):
        rv.resolve_videos('demo', tmp_path)
    with pytest.raises(InputError, match='does not exist'):
        rv.resolve_videos([tmp_path / 'nope.mp4'], tmp_path)
    assert rv.resolve_videos(rig['videos'][:1], tmp_path)['cameras'] is None
    with pytest.raises(InputError, match='needs its spec'):
        rv.label_videos(rig['videos'], tmp_path / 'l.json', teacher='onnx', spec=None)
    labels = exact_labels(rig)
    with pytest.raises(InputError, match="held_out: 'cam04' is none of the videos"):
        rv.pseudo_label_dataset(rig['videos'], labels, tmp_path / 'd', held_out='cam04')
    with pytest.raises(InputError, match='render_rig: views'):
        rv.render_rig(tmp_path / 'r', views=1)


def test_labels_file_is_reused_only_for_the_same_videos(tmp_path, rig):
    labels = exact_labels(rig)
    out = tmp_path / 'labels.json'
    out.write_text(json.dumps(labels))
    assert rv.label_videos(rig['videos'], out, teacher='mediapipe') == labels
    # another video list is not these labels: MediaPipe would run (here: no .venv-real)
    with pytest.raises(InputError):
        rv.label_videos(rig['videos'][:2], out, teacher='mediapipe',
                        num_poses=0)  # refused before any subprocess
