import json

import numpy as np
import pytest

from kdkit.evaluation.coco import (evaluate_predictions, match_predictions,
                                   summarize_results)

K = 17


def _person(ann_id, image_id, x0, y0, track_id=0):
    """A 17-joint person spread over a 60 x 120 box at (x0, y0)."""
    kpts = np.stack([x0 + 5 + 3 * np.arange(K), y0 + 5 + 6 * np.arange(K),
                     np.full(K, 2.)], axis=1)
    return dict(id=ann_id, image_id=image_id, category_id=1, iscrowd=0,
                bbox=[x0, y0, 60., 120.], area=60. * 120.,
                num_keypoints=K, keypoints=kpts.ravel().tolist(),
                track_id=track_id)


def _gt(video=True, frames=5):
    """One clip: person A moves at constant velocity; frame 0 also has B."""
    images, anns = [], []
    for t in range(frames):
        img = dict(id=10 + t, file_name=f'{t}.jpg', width=320, height=240)
        if video:
            img.update(vid_id=7, frame_index=t, nframes=frames)
        images.append(img)
        anns.append(_person(100 + t, 10 + t, 20. + 4 * t, 30., track_id=0))
    anns.append(_person(200, 10, 200., 40., track_id=1))
    return dict(images=images, annotations=anns,
                categories=[dict(id=1, name='person',
                                 keypoints=[f'j{i}' for i in range(K)])])


def _perfect(gt):
    return [dict(image_id=a['image_id'], bbox=a['bbox'],
                 keypoints=np.asarray(a['keypoints']).reshape(K, 3)[:, :2],
                 keypoint_scores=np.ones(K)) for a in gt['annotations']]


def test_perfect_predictions_give_ap_1(tmp_path):
    gt = _gt()
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(gt))
    result = evaluate_predictions(str(path), _perfect(gt))
    assert result['coco/AP'] == pytest.approx(1.0)
    assert result['coco/AR'] == pytest.approx(1.0)


def test_shifted_predictions_lower_ap():
    gt = _gt()
    preds = _perfect(gt)
    for p in preds:
        p['keypoints'] = p['keypoints'] + 8.0
    assert evaluate_predictions(gt, preds)['coco/AP'] < 0.9


def test_summary_perfect_with_video():
    gt = _gt()
    s = summarize_results(_perfect(gt), gt)
    assert s['AP'] == pytest.approx(1.0)
    assert s['AP50'] == pytest.approx(1.0)
    assert s['PCK@0.2'] == pytest.approx(1.0)
    assert set(s['per_joint_pck']) == {f'j{i}' for i in range(K)}
    assert s['jitter'] == pytest.approx(0.0)  # constant velocity
    assert s['excess_jitter'] == pytest.approx(0.0)
    assert s['num_instances'] == 6 and s['num_matched'] == 6
    assert s['num_tracks'] == 1  # track 1 has one frame: no window


def test_summary_jitter_and_pck_known_values():
    gt = _gt()
    preds = _perfect(gt)
    # person A zig-zags by +-3 px in x: acceleration 12 px, bbox size 120
    for t, p in enumerate(preds[:5]):
        p['keypoints'] = p['keypoints'] + [3.0 * (-1) ** t, 0.0]
    # person B is predicted 30 px off (> 0.2 * 120): every joint wrong
    preds[5]['keypoints'] = preds[5]['keypoints'] + [30.0, 0.0]
    s = summarize_results(preds, gt)
    assert s['PCK@0.2'] == pytest.approx(5 / 6)
    assert s['jitter'] == pytest.approx(12 / 120)
    assert s['excess_jitter'] == pytest.approx(12 / 120)


def test_summary_without_video_fields_and_missing_prediction():
    gt = _gt(video=False)
    preds = _perfect(gt)[:-1]  # person B not predicted: counts as wrong
    s = summarize_results(preds, gt)
    assert s['jitter'] is None and s['excess_jitter'] is None
    assert s['PCK@0.2'] == pytest.approx(5 / 6)
    assert s['num_matched'] == 5


def test_matching_uses_boxes_not_order():
    gt = _gt(video=False, frames=1)
    preds = _perfect(gt)[::-1]
    pairs = match_predictions(preds, gt)
    assert all(rec['bbox'] == ann['bbox'] for ann, rec in pairs)


def test_missing_gt_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.json'):
        summarize_results([], str(tmp_path / 'nope.json'))
