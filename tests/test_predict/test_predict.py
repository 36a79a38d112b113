"""``kdkit predict``: COCO results in original-frame pixels, boxes files,
overlays and one-line errors, with the shipped teacher on generated frames."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kdkit.cli import main
from kdkit.demo import SHIPPED_REAL_STUDENT, SHIPPED_REAL_STUDENT_CONFIG
from kdkit.predict import predict
from tests.conftest import save_random_weights  # registered under this name by pytest

CFG = 'configs/teacher/td-hm_res18_16e_kdkit-video-128x96.py'
CKPT = 'checkpoints/td-hm_res18_16e_kdkit-video-128x96.pth'
CLIP = 'val/val_0000_squat'


@pytest.fixture(scope='module')
def clip(tiny_data):
    """The val clip: its image folder, its COCO file, GT key points by file name."""
    ann = tiny_data / 'annotations' / 'person_keypoints_val.json'
    coco = json.loads(ann.read_text())
    by_id = {a['image_id']: a for a in coco['annotations']}
    gt = {Path(i['file_name']).name: by_id[i['id']] for i in coco['images']
          if i['file_name'].startswith(CLIP)}
    return dict(dir=tiny_data / 'images' / CLIP, ann=ann, gt=gt)


@pytest.fixture(scope='module')
def random_ckpt(tmp_path_factory):
    return save_random_weights(CFG, tmp_path_factory.mktemp('rand') / 'random.pth')


def _read(out):
    out = Path(out)
    return (json.loads(out.read_text()),
            json.loads(out.with_name(f'{out.stem}.images.json').read_text()))


def _mean_error(preds, images, gt, key='file_name') -> float:
    """Mean pixel distance of the predicted to the labelled visible key points."""
    errs = []
    for p in preds:
        g = np.array(gt[Path(str(images[p['image_id']][key])).name]['keypoints'],
                     float).reshape(-1, 3)
        k = np.array(p['keypoints'], float).reshape(-1, 3)
        vis = g[:, 2] > 0
        errs.append(np.linalg.norm(k[vis, :2] - g[vis, :2], axis=1).mean())
    return float(np.mean(errs))


def _gif_frames(path) -> int:
    from PIL import Image
    with Image.open(path) as im:
        return im.n_frames


def _video_frames(path) -> int:
    import cv2
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def _write_video(frames_dir, path, fps=8.0) -> Path:
    import cv2
    files = sorted(Path(frames_dir).glob('*.jpg'))
    first = cv2.imread(str(files[0]))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             first.shape[1::-1])
    for f in files:
        writer.write(cv2.imread(str(f)))
    writer.release()
    return path


# ----------------------------------------------------------------- accuracy
def test_images_with_gt_boxes_land_near_the_labels(clip, random_ckpt, tmp_path):
    """Trained teacher, COCO dataset boxes matched by file name: results sit
    on the labels (far closer than a random-weights model's) in frame pixels."""
    info = predict(CFG, CKPT, tmp_path / 'preds.json', images=clip['dir'],
                   boxes=clip['ann'], progress=False, log=None)
    preds, images = _read(tmp_path / 'preds.json')
    assert info['frames'] == len(images) == 8 and len(preds) == 8
    assert [i['file_name'] for i in images] == sorted(clip['gt'])
    assert [i['id'] for i in images] == list(range(8))
    assert all(i['width'] == 192 and i['height'] == 192 for i in images)
    for p in preds:
        g = clip['gt'][images[p['image_id']]['file_name']]
        assert p['category_id'] == 1 and len(p['keypoints']) == 17 * 3
        assert p['bbox'] == pytest.approx(g['bbox'])  # the GT box was used
        assert p['track_id'] == g['track_id']
        scores = np.array(p['keypoints'][2::3])
        assert p['score'] == pytest.approx(scores.mean(), abs=1e-3)  # box score 1
    trained = _mean_error(preds, images, clip['gt'])

    predict(CFG, random_ckpt, tmp_path / 'random.json', images=clip['dir'],
            boxes=clip['ann'], overlay=False, progress=False, log=None)
    untrained = _mean_error(*_read(tmp_path / 'random.json'), clip['gt'])
    assert trained < 15, trained  # px, on 192x192 frames with ~85x120 boxes
    assert trained < 0.4 * untrained, (trained, untrained)
    assert _gif_frames(tmp_path / 'preds_overlay.gif') == 8  # default overlay: a GIF


def test_video_with_coco_boxes_and_mp4_overlay(clip, tmp_path):
    video = _write_video(clip['dir'], tmp_path / 'clip.mp4')
    out = tmp_path / 'out' / 'preds.json'
    info = predict(CFG, CKPT, out, video=video, boxes=clip['ann'], progress=False,
                   log=None)
    preds, images = _read(out)
    assert [i['frame_index'] for i in images] == list(range(8))
    assert all(i['file_name'] == 'clip.mp4' for i in images)
    names = sorted(clip['gt'])  # frame i of the video is the i-th image
    for i in images:
        i['name'] = names[i['frame_index']]
    assert len(preds) == 8
    assert _mean_error(preds, images, clip['gt'], key='name') < 15
    assert info['overlay'] == out.with_name('preds_overlay.mp4')
    assert _video_frames(info['overlay']) == 8


def test_pose_labels_and_detection_results_as_boxes(clip, tmp_path):
    video = _write_video(clip['dir'], tmp_path / 'cam01.mp4')
    names = sorted(clip['gt'])
    frames = [dict(frame_index=i, people=[dict(
        bbox=clip['gt'][n]['bbox'], keypoints=np.array(clip['gt'][n]['keypoints'])
        .reshape(-1, 3).tolist(), score=0.5, track_id=7)]) for i, n in enumerate(names)
        if i != 3]  # frame 3: nobody
    labels = {'format': 'kdkit-pose-labels/1', 'teacher': {'name': 'mediapipe'},
              'keypoint_names': [str(i) for i in range(17)],
              'videos': [dict(file='other.mp4', frames=[]),
                         dict(file='cam01.mp4', width=192, height=192, fps=8.0,
                              num_frames=8, frames=frames)]}
    (tmp_path / 'labels.json').write_text(json.dumps(labels))
    predict(CFG, CKPT, tmp_path / 'p.json', video=video, boxes=tmp_path / 'labels.json',
            overlay=tmp_path / 'o.gif', progress=False, log=None)
    preds, images = _read(tmp_path / 'p.json')
    assert len(images) == 8 and sorted(p['image_id'] for p in preds) == [0, 1, 2, 4, 5, 6, 7]
    assert all(p['track_id'] == 7 for p in preds)
    assert all(p['score'] == pytest.approx(0.5 * np.mean(p['keypoints'][2::3]), abs=1e-3)
               for p in preds)
    assert _gif_frames(tmp_path / 'o.gif') == 8  # frames without a box are drawn too

    dets = [dict(image_id=i, bbox=clip['gt'][n]['bbox'], score=0.9, category_id=1)
            for i, n in enumerate(names)]
    dets.append(dict(image_id=0, bbox=[0, 0, 50, 50], score=0.9, category_id=2))  # no person
    (tmp_path / 'dets.json').write_text(json.dumps(dets))
    predict(CFG, CKPT, tmp_path / 'd.json', images=clip['dir'], boxes=tmp_path / 'dets.json',
            overlay=False, progress=False, log=None)
    preds, images = _read(tmp_path / 'd.json')
    assert sorted(p['image_id'] for p in preds) == list(range(8))
    assert _mean_error(preds, images, clip['gt']) < 15


# --------------------------------------------------------- frame coordinates
def test_predictions_are_in_original_frame_pixels(clip, tmp_path):
    """The same person padded into a larger frame: the same box shifted gives
    the same key points shifted by the padding."""
    import cv2
    name = sorted(clip['gt'])[2]
    img = cv2.imread(str(clip['dir'] / name))
    dx, dy = 37, 21
    big = np.zeros((img.shape[0] + 60, img.shape[1] + 90, 3), np.uint8)
    big[dy:dy + img.shape[0], dx:dx + img.shape[1]] = img
    for sub, im in (('small', img), ('big', big)):
        (tmp_path / sub).mkdir()
        cv2.imwrite(str(tmp_path / sub / 'frame.png'), im)
    x, y, w, h = clip['gt'][name]['bbox']
    for sub, (ox, oy) in (('small', (0, 0)), ('big', (dx, dy))):
        (tmp_path / f'{sub}.json').write_text(json.dumps(
            [dict(image_id=0, bbox=[x + ox, y + oy, w, h], score=1.0)]))
        predict(CFG, CKPT, tmp_path / f'{sub}_preds.json', images=tmp_path / sub,
                boxes=tmp_path / f'{sub}.json', overlay=False, progress=False, log=None)
    small = np.array(_read(tmp_path / 'small_preds.json')[0][0]['keypoints']).reshape(-1, 3)
    big_k = np.array(_read(tmp_path / 'big_preds.json')[0][0]['keypoints']).reshape(-1, 3)
    assert _read(tmp_path / 'big_preds.json')[1][0]['width'] == img.shape[1] + 90
    np.testing.assert_allclose(big_k[:, :2] - small[:, :2],
                               np.tile([dx, dy], (17, 1)), atol=0.05)
    np.testing.assert_allclose(big_k[:, 2], small[:, 2], atol=1e-3)


def test_cli_whole_frame_default(clip, tmp_path, capsys):
    out = tmp_path / 'whole.json'
    rc = main(['predict', CFG, CKPT, '--images', str(clip['dir']), '--out', str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert 'no --boxes: one whole-frame box per frame' in cap.err
    preds, images = _read(out)
    assert len(preds) == len(images) == 8
    assert all(p['bbox'] == [0, 0, 192, 192] for p in preds)
    assert all(len(p['keypoints']) == 51 and 'track_id' not in p for p in preds)
    overlay = tmp_path / 'whole_overlay.gif'
    assert str(out) in cap.out and str(overlay) in cap.out
    assert str(tmp_path / 'whole.images.json') in cap.out
    assert _gif_frames(overlay) == 8


# ------------------------------------------------------------------ ONNX
def test_onnx_checkpoint_matches_pytorch(clip, tmp_path):
    from kdkit.export.onnx import export_onnx
    cfg = tmp_path / 'noflip.py'  # ONNX runs without flip test: compare like with like
    cfg.write_text(f"_base_ = ['{Path(CFG).resolve()}']\n"
                   "model = dict(test_cfg=dict(flip_test=False))\n")
    onnx = export_onnx(str(cfg), CKPT, tmp_path / 'teacher.onnx', check=False,
                       exporter='torchscript')['path']
    for name, ckpt in (('torch', CKPT), ('onnx', onnx)):
        predict(str(cfg), ckpt, tmp_path / f'{name}.json', images=clip['dir'],
                boxes=clip['ann'], overlay=False, progress=False, log=None)
    a = np.array([p['keypoints'] for p in _read(tmp_path / 'torch.json')[0]])
    b = np.array([p['keypoints'] for p in _read(tmp_path / 'onnx.json')[0]])
    assert a.shape == b.shape == (8, 51)
    np.testing.assert_allclose(a, b, atol=0.01)


# ---------------------------------------------------------------- bad input
def _error(capfd) -> str:
    """The one stderr line, at file-descriptor level (FFmpeg's own messages
    about a broken video would show there)."""
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith('kdkit predict: error: ')
    return lines[0]


def test_cli_bad_input_is_one_line(clip, tmp_path, capfd):
    out = tmp_path / 'preds.json'
    args = ['--images', str(clip['dir']), '--out', str(out)]

    assert main(['predict', 'configs/nope.py', CKPT, *args]) == 2
    assert 'configs/nope.py' in _error(capfd)
    assert main(['predict', CFG, str(tmp_path / 'missing.pth'), *args]) == 2
    assert 'missing.pth' in _error(capfd)

    import torch
    torch.save({'state_dict': {'backbone.conv1.weight': torch.zeros(3)}},
               tmp_path / 'other.pth')
    assert main(['predict', CFG, str(tmp_path / 'other.pth'), *args]) == 2
    line = _error(capfd)
    assert 'other.pth' in line and 'does not fit' in line

    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'notes.txt').write_text('no images here')
    assert main(['predict', CFG, CKPT, '--images', str(tmp_path / 'empty'),
                 '--out', str(out)]) == 2
    assert 'empty' in _error(capfd)

    (tmp_path / 'broken.mp4').write_bytes(b'\x00' * 2048)
    assert main(['predict', CFG, CKPT, '--video', str(tmp_path / 'broken.mp4'),
                 '--out', str(out)]) == 2
    line = _error(capfd)
    assert 'broken.mp4' in line and 'video' in line

    for name, content in (('dict.json', {'boxes': []}), ('scalar.json', 3),
                          ('items.json', [[1, 2, 3, 4]]), ('text.json', 'not json{')):
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        assert main(['predict', CFG, CKPT, *args, '--boxes', str(path)]) == 2
        line = _error(capfd)
        assert name in line and 'COCO' in line, line

    (tmp_path / 'far.json').write_text(json.dumps([dict(image_id=99, bbox=[0, 0, 9, 9])]))
    assert main(['predict', CFG, CKPT, *args, '--boxes', str(tmp_path / 'far.json')]) == 2
    assert 'far.json' in _error(capfd)
    assert not out.exists()


def test_failure_leaves_no_half_written_output(clip, tmp_path, capsys):
    """A frame that cannot be read late in the run: the earlier result and
    its image list stay as they were, no overlay or temporary file is left."""
    frames = tmp_path / 'frames'
    shutil.copytree(clip['dir'], frames)
    (frames / 'zz_broken.jpg').write_bytes(b'not a jpeg')
    out = tmp_path / 'preds.json'
    out.write_text('[]')
    before = sorted(p.name for p in tmp_path.iterdir())
    rc = main(['predict', CFG, CKPT, '--images', str(frames), '--out', str(out)])
    assert rc == 2
    assert 'zz_broken.jpg' in capsys.readouterr().err.strip().splitlines()[-1]
    assert out.read_text() == '[]'
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# ------------------------------------------------------ shipped real student
REAL_CFG, REAL_CKPT = SHIPPED_REAL_STUDENT_CONFIG, str(SHIPPED_REAL_STUDENT)


def test_shipped_real_student_predicts_without_its_teacher(clip, tmp_path):
    """The real-video student ships as fp16 weights (<= 20 MB) with its log and
    config; on a fresh clone it predicts with nothing else (no MediaPipe, no
    real data), and it learnt the generated people's poses it was mixed with."""
    import torch
    ckpt = Path(REAL_CKPT)
    assert ckpt.stat().st_size <= 20e6
    packed = torch.load(ckpt, weights_only=True)
    assert packed['meta']['config'] == REAL_CFG
    assert {v.dtype for v in packed['state_dict'].values() if v.is_floating_point()} \
        == {torch.float16}
    assert 'Epoch(train) [60]' in ckpt.with_suffix('.log').read_text()

    predict(REAL_CFG, REAL_CKPT, tmp_path / 'preds.json', images=clip['dir'],
            boxes=clip['ann'], overlay=False, progress=False, log=None)
    trained = _mean_error(*_read(tmp_path / 'preds.json'), clip['gt'])
    random_ckpt = save_random_weights(REAL_CFG, tmp_path / 'random.pth')
    predict(REAL_CFG, random_ckpt, tmp_path / 'random.json', images=clip['dir'],
            boxes=clip['ann'], overlay=False, progress=False, log=None)
    untrained = _mean_error(*_read(tmp_path / 'random.json'), clip['gt'])
    assert trained < 0.5 * untrained, (trained, untrained)
