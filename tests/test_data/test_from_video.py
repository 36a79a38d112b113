"""``kdkit data from-video``: synthetic mp4 clips + hand-made pose labels (or a
tiny ONNX teacher) become a dataset VideoPoseDataset loads; tracking, splits,
frame stride, human-label merge; bad input is one line and leaves OUT as it was."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from kdkit.cli import main
from kdkit.data import read_meta
from kdkit.data.from_video import LABELS_FORMAT
from kdkit.data.skeleton import COCO_KEYPOINTS

W, H, N = 128, 96, 12  # frame size, frames per clip
LOW = 0                # the key point every person has below the score threshold


def box_a(t):  # walks right
    return [4 + 8 * t, 10, 24, 60]


def box_b(t):  # walks left, smaller (further away); crosses A at frame 6
    return [100 - 8 * t, 30, 18, 42]


def write_video(path: Path, n: int = N) -> Path:
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 10, (W, H))
    assert out.isOpened()
    for t in range(n):
        frame = np.full((H, W, 3), 40, np.uint8)
        for (x, y, w, h), color in ((box_a(t), (0, 0, 220)), (box_b(t), (220, 0, 0))):
            cv2.rectangle(frame, (x, y), (x + w, y + h), color, -1)
        out.write(frame)
    out.release()
    return path


def keypoints_in(box) -> list:
    """17 [x, y, score] on a grid inside ``box``; key point LOW scores 0.1."""
    x, y, w, h = box
    return [[round(x + w * (0.2 + 0.6 * (i % 3) / 2), 2), round(y + h * (0.1 + 0.8 * i / 16), 2),
             0.1 if i == LOW else 0.9] for i in range(17)]


def make_labels(files, n=N, track_ids=False, seed=0, people=True) -> dict:
    rng = np.random.default_rng(seed)
    videos = []
    for file in files:
        frames = []
        for t in range(n):
            persons = []
            for tid, box in ((0, box_a(t)), (1, box_b(t))):
                noisy = (np.asarray(box, float) + rng.normal(0, 1.0, 4)).round(2).tolist()
                persons.append({'bbox': noisy, 'keypoints': keypoints_in(box), 'score': 0.8,
                                'track_id': tid if track_ids else None})
            rng.shuffle(persons)
            frames.append({'frame_index': t, 'people': persons if people else []})
        videos.append({'file': file, 'width': W, 'height': H, 'fps': 10.0, 'num_frames': n,
                       'frames': frames})
    return {'format': LABELS_FORMAT, 'teacher': {'name': 'hand-made', 'version': 1},
            'keypoint_names': list(COCO_KEYPOINTS), 'videos': videos}


def save(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj))
    return path


@pytest.fixture(scope='module')
def clips(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp('clips')
    for name in ('cam01', 'cam04'):
        write_video(folder / f'{name}.mp4')
    save(folder / 'labels.json', make_labels(['cam01.mp4', 'cam04.mp4']))
    return folder


@pytest.fixture(autouse=True, scope='module')
def mmpose_scope():
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=True)


def convert(clips, out, *extra, videos=('cam01', 'cam04'), labels=None) -> int:
    return main(['data', 'from-video', *[str(clips / f'{v}.mp4') for v in videos],
                 '--labels', str(labels or clips / 'labels.json'), '--out', str(out),
                 '--no-progress', *extra])


def coco(root, split):
    return json.loads((root / 'annotations' / f'person_keypoints_{split}.json').read_text())


def dataset(root, split, pipeline=()):
    """Built from a config dict, as configs/_base_/kdkit_video.py does."""
    from mmpose.registry import DATASETS
    return DATASETS.build(dict(type='VideoPoseDataset', data_root=str(root), data_mode='topdown',
                               ann_file=f'annotations/person_keypoints_{split}.json',
                               data_prefix=dict(img='images/'), pipeline=list(pipeline)))


def person_of(ann) -> str:
    """Which person an annotation's box belongs to (A is taller)."""
    return 'a' if ann['bbox'][3] > 51 else 'b'


# ------------------------------------------------------------------ the data
def test_labels_become_a_video_pose_dataset(clips, tmp_path, capsys):
    out = tmp_path / 'real'
    assert convert(clips, out, '--val', 'cam04') == 0
    shown = ' '.join(capsys.readouterr().out.split())
    assert 'train 1 videos 12 frames 24 people 2 tracks 0 human labels' in shown
    for split in ('train', 'val', 'test', 'train_full'):
        assert (out / 'annotations' / f'person_keypoints_{split}.json').is_file()
    assert sorted(p.name for p in (out / 'images' / 'train' / 'cam01').iterdir()) == \
        [f'{t:06d}.jpg' for t in range(N)]
    assert coco(out, 'test') == coco(out, 'val')  # the held-out view serves both

    meta = read_meta(out)
    assert meta['source'] == 'from-video' and meta['teacher'] == {'name': 'hand-made',
                                                                  'version': 1}
    import hashlib
    assert meta['labels']['sha256'] == hashlib.sha256(
        (clips / 'labels.json').read_bytes()).hexdigest()
    assert [(Path(v['file']).name, v['split']) for v in meta['videos']] == [
        ('cam01.mp4', 'train'), ('cam04.mp4', 'val')]
    assert meta['videos'][0]['sha256'] == hashlib.sha256(
        (clips / 'cam01.mp4').read_bytes()).hexdigest()
    assert meta['command'].startswith('kdkit data from-video ') and '--val cam04' in meta['command']

    train = coco(out, 'train')
    assert train['info']['teacher']['name'] == 'hand-made' and train['info']['pseudo_labels']
    img = train['images'][5]
    assert {k: img[k] for k in ('vid_id', 'frame_index', 'nframes', 'is_labeled', 'width',
                                'height', 'file_name')} == {
        'vid_id': 10001, 'frame_index': 5, 'nframes': N, 'is_labeled': False,
        'width': W, 'height': H, 'file_name': 'train/cam01/000005.jpg'}
    ann = train['annotations'][0]
    assert ann['pseudo_label'] is True and ann['category_id'] == 1 and ann['iscrowd'] == 0
    assert ann['keypoints'][3 * LOW:3 * LOW + 3] == [0, 0, 0]  # score 0.1 < --kpt-thr 0.3
    assert ann['num_keypoints'] == 16 and ann['keypoint_scores'][LOW] == 0.1

    ds = dataset(out, 'train', [dict(type='LoadImage')])
    assert len(ds) == 2 * N
    labels = make_labels(['cam01.mp4'])['videos'][0]['frames']
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert info['vid_id'] == 10001 and info['nframes'] == N
        t = info['frame_index']
        want = next(p['keypoints'] for p in labels[t]['people']
                    if abs(p['bbox'][3] - info['bbox'][0, 3] + info['bbox'][0, 1]) < 8)
        want = np.array(want)[:, :2]
        np.testing.assert_allclose(info['keypoints'][0, 1:], want[1:], atol=0.01)
        assert info['keypoints_visible'][0, LOW] == 0 and info['keypoints_visible'][0, 1:].all()
    sample = ds[3]
    assert sample['img'].shape == (H, W, 3)
    val = dataset(out, 'val')
    assert len(val) == 2 * N
    assert {val.get_data_info(i)['vid_id'] for i in range(len(val))} == {20001}


def test_tracks_follow_the_people_across_the_crossing(clips, tmp_path):
    out = tmp_path / 'd'
    assert convert(clips, out, videos=('cam01',),
                   labels=save(tmp_path / 'l.json', make_labels(['cam01.mp4'], seed=5))) == 0
    owners = {}
    for ann in coco(out, 'train')['annotations']:
        owners.setdefault(ann['track_id'], set()).add(person_of(ann))
    assert sorted(owners) == [0, 1] and sorted(map(tuple, owners.values())) == [('a',), ('b',)]
    clips_ = dataset(out, 'train').clip_indices()
    assert [len(c) for c in clips_] == [N, N]
    assert read_meta(out)['clips'][0]['tracked'] is True


def test_given_track_ids_are_kept(clips, tmp_path):
    out = tmp_path / 'd'
    labels = make_labels(['cam01.mp4'], track_ids=True)
    for person in (p for fr in labels['videos'][0]['frames'] for p in fr['people']):
        person['track_id'] += 7
    assert convert(clips, out, videos=('cam01',), labels=save(tmp_path / 'l.json', labels)) == 0
    anns = coco(out, 'train')['annotations']
    assert {(a['track_id'], person_of(a)) for a in anns} == {(7, 'a'), (8, 'b')}
    assert read_meta(out)['clips'][0]['tracked'] is False


def test_every_and_max_frames(clips, tmp_path):
    out = tmp_path / 'd'
    assert convert(clips, out, '--every', '3', '--val', 'cam04') == 0
    assert [im['frame_index'] for im in coco(out, 'train')['images']] == [0, 3, 6, 9]
    assert len(list((out / 'images' / 'val' / 'cam04').iterdir())) == 4
    assert convert(clips, out, '--every', '3', '--max-frames', '2') == 0
    assert [im['frame_index'] for im in coco(out, 'train')['images']] == [0, 3, 0, 3]
    assert not (out / 'annotations' / 'person_keypoints_val.json').exists()
    assert len(dataset(out, 'train')) == 8


def test_human_labels_replace_the_pseudo_labels_they_overlap(clips, tmp_path):
    kps = [v for i in range(17) for v in (30.0 + i, 20.0 + 2 * i, 2 if i % 4 else 0)]
    human = {'images': [{'id': 1, 'file_name': 'cam01/000004.jpg'},
                        {'id': 2, 'video_name': 'cam01', 'frame_index': 5}],
             'annotations': [{'id': 1, 'image_id': 1, 'bbox': box_a(4), 'keypoints': kps},
                             {'id': 2, 'image_id': 2, 'bbox': box_b(5), 'keypoints': kps}],
             'categories': [{'id': 1, 'name': 'person'}]}
    out = tmp_path / 'd'
    labels = save(tmp_path / 'l.json', make_labels(['cam01.mp4']))
    assert convert(clips, out, '--every', '2', '--human', str(save(tmp_path / 'h.json', human)),
                   videos=('cam01',), labels=labels) == 0
    train = coco(out, 'train')
    assert [im['frame_index'] for im in train['images']] == [0, 2, 4, 5, 6, 8, 10]  # 5: human
    labelled = {im['frame_index'] for im in train['images'] if im['is_labeled']}
    assert labelled == {4, 5}
    by_frame = {}
    for ann in train['annotations']:
        by_frame.setdefault(ann['image_id'] % 10000, []).append(ann)
    assert all(len(v) == 2 for v in by_frame.values())  # replaced, not added
    human_anns = [a for a in train['annotations'] if not a['pseudo_label']]
    assert sorted((a['image_id'] % 10000, person_of(a)) for a in human_anns) == [(4, 'a'),
                                                                                (5, 'b')]
    for a in human_anns:
        assert a['keypoints'][:3] == [0, 0, 0] and a['keypoints'][3:6] == [31.0, 22.0, 2.0]
        assert a['keypoint_scores'][:2] == [0.0, 1.0] and a['num_keypoints'] == 12
        others = [b['track_id'] for b in train['annotations']
                  if b['pseudo_label'] and person_of(b) == person_of(a)]
        assert set(others) == {a['track_id']}  # the track continues through the human label
    assert read_meta(out)['splits']['train']['human_annotations'] == 2


# ----------------------------------------------------------------- bad input
def bad_video(clips, tmp):
    (tmp / 'cam01.mp4').write_text('not a video')
    return [str(tmp / 'cam01.mp4'), str(clips / 'cam04.mp4'),
            '--labels', str(clips / 'labels.json')], None


def labels_case(change):
    def case(clips, tmp):
        labels = make_labels(['cam01.mp4'])
        video = change(labels)
        return [str(clips / f'{video or "cam01"}.mp4'),
                '--labels', str(save(tmp / 'l.json', labels))], None
    return case


def fewer_frames(labels):
    labels['videos'][0]['num_frames'] = 13


def no_people(labels):
    for fr in labels['videos'][0]['frames']:
        fr['people'] = []


def other_video(labels):
    return 'cam04'


def extra_video(labels):
    labels['videos'].append(dict(labels['videos'][0], file='cam09.mp4'))


def wrong_format(labels):
    labels['format'] = 'coco'


def short_keypoints(labels):
    labels['videos'][0]['frames'][3]['people'][1]['keypoints'].pop()


def missing_teacher(clips, tmp):
    return [str(clips / 'cam01.mp4'), '--teacher', str(tmp / 'none.onnx'), '--teacher-spec',
            "{'input_size': (96, 128), 'output': 'keypoints', 'mean': None, 'std': None, "
            "'bgr_to_rgb': False}"], None


@pytest.mark.parametrize('case, message', [
    (bad_video, r'VIDEO: \S+cam01\.mp4 cannot be read as a video by OpenCV'),
    (labels_case(fewer_frames), r'--labels: cam01\.mp4: num_frames is 13 but cam01\.mp4 has 12 '
     r'frames'),
    (labels_case(no_people), r'VIDEO: cam01\.mp4: no person in any of its 12 kept frames'),
    (labels_case(other_video), r'--labels: \S+l\.json: no labels for video cam04\.mp4 '
     r'\(labels have cam01\.mp4\)'),
    (labels_case(extra_video), r'labels for video\(s\) cam09\.mp4 that were not given'),
    (labels_case(wrong_format), r"l\.json: format is 'coco', expected 'kdkit-pose-labels/1'"),
    (labels_case(short_keypoints), r'videos\[0\]\.frames\[3\]\.people\[1\]\.keypoints: expected '
     r'17 \[x, y, score\] triples'),
    (missing_teacher, r'--teacher: \S+none\.onnx does not exist'),
])
def test_bad_input_is_one_line_and_out_is_untouched(clips, tmp_path, capsys, case, message):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'marker.txt').write_text('keep me')
    argv, _ = case(clips, tmp_path)
    rc = main(['data', 'from-video', *argv, '--out', str(out), '--overwrite', '--no-progress'])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert err.startswith('kdkit data from-video: error: ')
    import re
    assert re.search(message, err), err
    assert [p.name for p in out.iterdir()] == ['marker.txt']
    assert (out / 'marker.txt').read_text() == 'keep me'
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith('out')) == ['out']


def test_foreign_out_needs_overwrite(clips, tmp_path, capsys):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'marker.txt').write_text('keep me')
    assert convert(clips, out) == 2
    assert 'exists and is not a kdkit dataset; pass --overwrite' in capsys.readouterr().err
    assert convert(clips, out, '--overwrite') == 0 and read_meta(out) is not None
    assert convert(clips, out, '--every', '4') == 0  # a kdkit dataset is replaced
    assert len(coco(out, 'train')['images']) == 6


# ------------------------------------------------------------- ONNX teacher
CROP = (96, 128)  # the teacher's input (w, h)


def export_keypoints_model(path, kpts, scores, fixed_batch=False):
    """An ONNX model returning the same crop key points for every input."""
    import torch
    from torch import nn

    class Fixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer('k', torch.tensor(kpts, dtype=torch.float32))
            self.register_buffer('s', torch.tensor(scores, dtype=torch.float32))

        def forward(self, x):
            if fixed_batch:  # a constant Reshape: ONNX Runtime fails on other batches
                x = x.reshape(1, 3, CROP[1], CROP[0])
            zero = x.mean((1, 2, 3)) * 0
            return self.k[None] + zero[:, None, None], self.s[None] + zero[:, None]

    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(Fixed().eval(), (torch.zeros(1, 3, CROP[1], CROP[0]),), str(path),
                          input_names=['input'], opset_version=17, dynamo=False,
                          dynamic_axes={'input': {0: 'batch'}})
    return path


SPEC = json.dumps(dict(input_size=CROP, output='keypoints', mean=[0, 0, 0], std=[1, 1, 1],
                       bgr_to_rgb=True))
# key point 0 at the crop's centre, 1 at its corner, the others spread, 16 unsure
CROP_KPTS = [[48.0, 64.0], [0.0, 0.0]] + [[20.0 + 3 * i, 30.0 + 4 * i] for i in range(15)]
CROP_SCORES = [0.9] * 16 + [0.05]


@pytest.fixture(scope='module')
def onnx_teacher(tmp_path_factory):
    folder = tmp_path_factory.mktemp('onnx')
    return export_keypoints_model(folder / 'kp.onnx', CROP_KPTS, CROP_SCORES)


def test_onnx_teacher_with_boxes_maps_crop_key_points_back(clips, onnx_teacher, tmp_path,
                                                           capsys):
    boxes = make_labels(['cam01.mp4'], track_ids=True)
    out = tmp_path / 'd'
    assert main(['data', 'from-video', str(clips / 'cam01.mp4'), '--teacher', str(onnx_teacher),
                 '--teacher-spec', SPEC, '--boxes', str(save(tmp_path / 'b.json', boxes)),
                 '--out', str(out), '--no-progress']) == 0
    assert 'boxes from' in capsys.readouterr().err
    train = coco(out, 'train')
    assert len(train['annotations']) == 2 * N
    given = {(fr['frame_index'], p['track_id']): p['bbox']
             for fr in boxes['videos'][0]['frames'] for p in fr['people']}
    checked = {'centre': 0, 'corner': 0}
    for ann in train['annotations']:
        x, y, w, h = given[(ann['image_id'] % 10000, ann['track_id'])]
        kps = np.array(ann['keypoints']).reshape(17, 3)
        centre = np.array([x + w / 2, y + h / 2])
        # MMPose's crop: box x 1.25, widened to the crop's 3:4 aspect ratio
        sw, sh = max(1.25 * w, 1.25 * h * 0.75), max(1.25 * h, 1.25 * w / 0.75)
        inside = lambda p: 0 <= p[0] < W and 0 <= p[1] < H  # noqa: E731
        if inside(centre):
            np.testing.assert_allclose(kps[0, :2], centre, atol=0.02)
            checked['centre'] += 1
        corner = centre - [sw / 2, sh / 2]
        if inside(corner):
            np.testing.assert_allclose(kps[1, :2], corner, atol=0.02)
            checked['corner'] += 1
        assert kps[16, 2] == 0 and ann['keypoint_scores'][16] == 0.05
    assert checked['centre'] == 2 * N and checked['corner'] >= N // 2, checked
    assert read_meta(out)['labels']['sha256'] == read_meta(out)['teacher']['sha256']


def test_onnx_teacher_without_boxes_refines_the_whole_frame(clips, onnx_teacher, tmp_path,
                                                            capsys):
    out = tmp_path / 'd'
    assert main(['data', 'from-video', str(clips / 'cam01.mp4'), '--teacher', str(onnx_teacher),
                 '--teacher-spec', SPEC, '--out', str(out), '--no-progress',
                 '--max-frames', '3']) == 0
    err = capsys.readouterr().err
    assert len([ln for ln in err.splitlines() if 'whole frame' in ln]) == 1
    anns = coco(out, 'train')['annotations']
    assert len(anns) == 3  # one person a frame
    # the refined crop is centred on the box around the first pass's key points
    first = np.array(CROP_KPTS[:16]) * (H * 1.25 / CROP[1]) + [W / 2, H / 2] \
        - np.array(CROP) / 2 * (H * 1.25 / CROP[1])
    inside = first[(first[:, 0] >= 0) & (first[:, 0] < W) & (first[:, 1] >= 0)
                   & (first[:, 1] < H)]
    box = anns[0]['bbox']
    assert box[0] <= inside[:, 0].min() + 1 and box[0] + box[2] >= inside[:, 0].max() - 1


def test_onnx_teacher_failing_on_a_frame_is_one_line(clips, tmp_path, capsys):
    teacher = export_keypoints_model(tmp_path / 'one.onnx', CROP_KPTS, CROP_SCORES,
                                     fixed_batch=True)
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'marker.txt').write_text('keep me')
    boxes = save(tmp_path / 'b.json', make_labels(['cam01.mp4']))  # 2 people a frame
    rc = main(['data', 'from-video', str(clips / 'cam01.mp4'), '--teacher', str(teacher),
               '--teacher-spec', SPEC, '--boxes', str(boxes), '--out', str(out),
               '--overwrite', '--no-progress'])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith('kdkit data from-video: error: --teacher: failed on '
                                          'frame 0 of cam01.mp4: --teacher.file: ONNX Runtime '
                                          'failed on a batch of shape (2, 3, 128, 96)')
    assert len(err) == 2  # the teacher line, then the error
    assert [p.name for p in out.iterdir()] == ['marker.txt']
