"""PCKJitterMetric on hand-made data samples, through MMEngine's Evaluator
(which turns PoseDataSample objects into the dicts ``process`` reads)."""
import copy
import json

import numpy as np
import pytest
from mmengine.evaluator import Evaluator
from mmengine.logging import MessageHub
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample

import kdkit.evaluation  # noqa: F401  (registers the metric)

K = 17


def _ann(ann_id, img_id, x0):
    kpts = np.stack([x0 + 2 * np.arange(K), 10 + 5 * np.arange(K),
                     np.full(K, 2.)], axis=1)
    return dict(id=ann_id, image_id=img_id, category_id=1, iscrowd=0,
                bbox=[x0, 5., 50., 100.], area=5000., num_keypoints=K,
                keypoints=kpts.ravel().tolist())


def _sample(ann, offset=0.0, video=None):
    kpts = np.asarray(ann['keypoints']).reshape(1, K, 3)[..., :2] + offset
    x, y, w, h = ann['bbox']
    bbox = np.array([[x, y, x + w, y + h]], dtype=np.float32)
    meta = dict(id=ann['id'], img_id=ann['image_id'], raw_ann_info=ann,
                ori_shape=(240, 320), **(video or {}))
    sample = PoseDataSample(metainfo=meta)
    sample.gt_instances = InstanceData(bboxes=bbox,
                                       bbox_scores=np.ones(1, np.float32))
    sample.pred_instances = InstanceData(
        keypoints=kpts.astype(np.float32), keypoint_scores=np.ones((1, K)),
        bboxes=bbox, bbox_scores=np.ones(1, np.float32))
    return sample


def _evaluate(samples, **metric_kwargs):
    # mmpose's scope, as a runner of an MMPose config sets it (else the metric
    # is looked up in mmengine's registry, and this file fails when run alone)
    with DefaultScope.overwrite_default_scope('mmpose'):
        evaluator = Evaluator([dict(type='PCKJitterMetric', **metric_kwargs)])
    evaluator.dataset_meta = dict(dataset_name='kdkit_test_video',
                                  num_keypoints=K)
    evaluator.process(samples[:2])  # two "batches"
    evaluator.process(samples[2:])
    return evaluator.evaluate(len(samples))


def _clip(frames=4, zigzag=0.0, video=True):
    samples = []
    for t in range(frames):
        ann = _ann(t + 1, 100 + t, 10.0 + 3 * t)  # constant velocity
        fields = dict(vid_id=1, frame_index=t) if video else None
        samples.append(_sample(ann, [zigzag * (-1) ** t, 0.0], fields))
    return samples


def test_pck_and_jitter_from_sample_fields():
    metrics = _evaluate(_clip(zigzag=2.0))
    assert metrics['kdkit/PCK@0.2'] == pytest.approx(1.0)
    # +-2 px zig-zag: acceleration 8 px; bbox size 100
    assert metrics['kdkit/jitter'] == pytest.approx(0.08)
    assert metrics['kdkit/excess_jitter'] == pytest.approx(0.08)


def test_pck_at_0_1_beside_0_2():
    samples = _clip()
    for s in samples[:2]:  # 15 px off in a 100-px box: right at 0.2, wrong at 0.1
        s.pred_instances.keypoints[..., 0] += 15.0
    metrics = _evaluate(samples)
    assert metrics['kdkit/PCK@0.2'] == pytest.approx(1.0)
    assert metrics['kdkit/PCK@0.1'] == pytest.approx(0.5)
    only = _evaluate(_clip(), extra_thrs=())
    assert 'kdkit/PCK@0.1' not in only and only['kdkit/PCK@0.2'] == pytest.approx(1.0)
    strict = _evaluate(_clip(), thr=0.1, extra_thrs=(0.1, 0.05))  # no duplicate key
    assert sorted(k for k in strict if 'PCK' in k) == ['kdkit/PCK@0.05', 'kdkit/PCK@0.1']


def test_without_video_fields_jitter_is_skipped():
    samples = _clip(video=False)
    samples[0].pred_instances.keypoints += 60.0  # > 0.2 * 100: all wrong
    metrics = _evaluate(samples)
    assert metrics['kdkit/PCK@0.2'] == pytest.approx(0.75)
    assert 'kdkit/jitter' not in metrics
    assert 'kdkit/excess_jitter' not in metrics


def test_video_fields_from_registered_ann_file(tmp_path):
    samples = _clip(zigzag=1.0, video=False)
    gt = dict(images=[dict(id=100 + t, vid_id=1, frame_index=t)
                      for t in range(4)],
              annotations=copy.deepcopy([s.metainfo['raw_ann_info']
                                         for s in samples]))
    path = tmp_path / 'val.json'
    path.write_text(json.dumps(gt))
    MessageHub.get_current_instance().update_info(
        'kdkit_test_video_ann_file', str(path))
    try:
        metrics = _evaluate(samples)
    finally:
        MessageHub.get_current_instance().update_info(
            'kdkit_test_video_ann_file', None)
    assert metrics['kdkit/jitter'] == pytest.approx(0.04)
    # a file holding other annotations (another split) is not trusted
    gt['annotations'][0]['keypoints'][0] += 1.0
    path.write_text(json.dumps(gt))
    assert 'kdkit/jitter' not in _evaluate(samples, ann_file=str(path))


def test_process_keeps_one_record_per_instance():
    from kdkit.evaluation import PCKJitterMetric
    metric = PCKJitterMetric()
    metric.process([], [s.to_dict() for s in _clip(frames=2)])
    assert len(metric.results) == 2
    rec = metric.results[0]['records'][0]
    assert rec['keypoints'].shape == (K, 2)
    np.testing.assert_allclose(rec['bbox'], [10., 5., 50., 100.])
