"""The pseudo-label teacher: key points cached in the data as teacher outputs."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData, PixelData
from mmpose.structures import PoseDataSample

from kdkit.distill.distiller import Distiller
from kdkit.distill.teacher import build_pose_model, load_any_config, student_model_cfg
from kdkit.losses import HeatmapMSEDistillLoss
from kdkit.teachers import PseudoLabelTeacher

HM_CFG = 'configs/distill/kd-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'
SIMCC_CFG = 'configs/distill/kd-hm2simcc_rtmpose-t-from-res18_quick_kdkit-video-128x96.py'
K = 17
FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


@pytest.fixture(scope='module')
def student():
    cfg = load_any_config(HM_CFG)
    cfg.model = student_model_cfg(cfg.model)
    return build_pose_model(cfg).eval()


def sample(kpts, weights, pseudo: bool, scores=None, flip: bool = False) -> PoseDataSample:
    ann = dict(id=1, pseudo_label=True, keypoint_scores=list(scores)) if pseudo else dict(id=2)
    ds = PoseDataSample(metainfo=dict(raw_ann_info=ann, flip=flip, flip_indices=FLIP))
    ds.gt_instances = InstanceData(transformed_keypoints=np.asarray(kpts, np.float32)[None])
    ds.gt_instance_labels = InstanceData(
        keypoint_weights=torch.as_tensor(weights, dtype=torch.float32)[None])
    return ds


def test_labelled_samples_keep_their_label_loss_pseudo_samples_go_to_the_kd_terms(student):
    teacher = PseudoLabelTeacher.from_spec(dict(type='pseudo_labels'), student)
    kpts = np.stack([np.linspace(10, 80, K), np.linspace(20, 120, K)], axis=1)
    weights = np.ones(K)
    weights[3] = 0  # not visible in the pseudo-label (below the labelling threshold)
    scores = np.linspace(0.2, 1.0, K)
    samples = [sample(kpts, np.ones(K), pseudo=False), sample(kpts, weights, True, scores)]
    out = teacher(torch.zeros(2, 3, 128, 96), samples)
    assert torch.equal(out['label_weights'], torch.tensor([[1.0] * K, [0.0] * K]))
    expected = torch.as_tensor(weights * scores, dtype=torch.float32)
    assert torch.equal(out['keypoint_weights'][0], torch.zeros(K))
    assert torch.allclose(out['keypoint_weights'][1], expected)
    # rendered on the student's 32x24 grid, peaking at the key point's cell (stride 4)
    hm = out['heatmap']
    assert hm.shape == (2, K, 32, 24)
    k = 10
    peak = divmod(int(hm[1, k].argmax()), 24)
    assert peak == (round(kpts[k, 1] / 4), round(kpts[k, 0] / 4))  # MSRAHeatmap: mu = x / 4
    assert 0.9 < float(hm[1, k].max()) <= 1.0  # full height; the centre is not rounded


def test_scores_follow_a_horizontal_flip(student):
    teacher = PseudoLabelTeacher.from_spec(dict(type='pseudo_labels'), student)
    scores = np.linspace(0.1, 0.9, K)
    kpts = np.full((K, 2), 40.0)
    out = teacher(torch.zeros(1, 3, 128, 96), [sample(kpts, np.ones(K), True, scores, flip=True)])
    assert torch.allclose(out['keypoint_weights'][0],
                          torch.as_tensor(scores[FLIP], dtype=torch.float32))


def test_simcc_students_get_simcc_logits():
    cfg = load_any_config(SIMCC_CFG)
    cfg.model = student_model_cfg(cfg.model)
    model = build_pose_model(cfg).eval()
    teacher = PseudoLabelTeacher.from_spec(dict(type='pseudo_labels'), model)
    kpts = np.full((K, 2), [30.0, 70.0])
    out = teacher(torch.zeros(1, 3, 128, 96), [sample(kpts, np.ones(K), True, np.ones(K))])
    x, y = out['simcc']
    assert int(x[0, 0].argmax()) == 60 and int(y[0, 0].argmax()) == 140  # split ratio 2


@pytest.mark.parametrize('change, message', [
    (dict(scores=[0.5] * 3), r'annotation 1 is a pseudo-label with keypoint_scores of shape '
                             r'\(3,\), expected \(17,\)'),
    (dict(no_meta=True), r"carry no 'raw_ann_info'"),
])
def test_bad_pseudo_labels_are_one_line(student, change, message):
    teacher = PseudoLabelTeacher.from_spec(dict(type='pseudo_labels'), student)
    ds = sample(np.zeros((K, 2)), np.ones(K), True, change.get('scores', [1.0] * K))
    if change.get('no_meta'):
        ds = PoseDataSample(metainfo=dict(flip=False))
        ds.gt_instances = InstanceData(transformed_keypoints=np.zeros((1, K, 2), np.float32))
        ds.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, K))
    with pytest.raises(ValueError, match=message) as e:
        teacher(torch.zeros(1, 3, 128, 96), [ds])
    assert '\n' not in str(e.value)


def test_the_spec_takes_no_options(student):
    with pytest.raises(ValueError, match=r"^teacher: unknown keys \['file'\] for "
                       r"type='pseudo_labels'"):
        PseudoLabelTeacher.from_spec(dict(type='pseudo_labels', file='x'), student)


def test_distiller_splits_the_batch_between_label_loss_and_kd_terms(student):
    """One labelled and one pseudo-labelled sample: the label loss sees only
    the first, the KD term only the second."""
    distiller = Distiller(terms=dict(kd_heatmap=dict(type='HeatmapMSEDistillLoss')),
                          weights=dict(gt=1.0, kd_heatmap=1.0))
    distiller.teacher = PseudoLabelTeacher.from_spec(dict(type='pseudo_labels'), student)
    kpts = np.stack([np.linspace(10, 80, K), np.linspace(20, 120, K)], axis=1)
    samples = [sample(kpts, np.ones(K), False),
               sample(kpts[::-1] * [1.0, 0.5], np.ones(K), True, np.ones(K))]
    hm = distiller.teacher(torch.zeros(2, 3, 128, 96), samples)['heatmap']
    for ds, h in zip(samples, hm):  # the heatmap label of each sample
        ds.gt_fields = PixelData(heatmaps=h.clone())
    torch.manual_seed(0)
    inputs = torch.randn(2, 3, 128, 96)
    losses = distiller.loss(student, inputs, samples)
    assert torch.equal(samples[1].gt_instance_labels.keypoint_weights, torch.zeros(1, K))
    assert torch.equal(samples[0].gt_instance_labels.keypoint_weights, torch.ones(1, K))
    with torch.no_grad():
        out = student.head.forward(student.extract_feat(inputs))
    only_first, only_second = torch.tensor([[1.0] * K, [0.0] * K]), torch.tensor(
        [[0.0] * K, [1.0] * K])
    gt = student.head.loss_module(out, hm, only_first)
    kd = HeatmapMSEDistillLoss()(out, hm, only_second)
    both = student.head.loss_module(out, hm, torch.ones(2, K))
    assert float(losses['loss_gt'].detach()) == pytest.approx(float(gt), rel=1e-4)
    assert float(losses['loss_kd_heatmap'].detach()) == pytest.approx(float(kd), rel=1e-4)
    assert len({round(float(v), 6) for v in (gt, kd, both)}) == 3  # the split matters


def mark_pseudo(data_root, tmp_path):
    """A copy of the tiny dataset whose every other labelled train annotation
    is a pseudo-label (with scores)."""
    root = tmp_path / 'mixed'
    shutil.copytree(data_root, root)
    path = root / 'annotations' / 'person_keypoints_train.json'
    coco = json.loads(path.read_text())
    labelled = [a for a in coco['annotations'] if max(a['keypoints'][2::3], default=0) > 0]
    for ann in labelled[1::2]:
        ann.update(pseudo_label=True, keypoint_scores=[0.9] * K)
    path.write_text(json.dumps(coco))
    return root


def test_hook_run_with_pseudo_labels(tiny_data, tmp_path, run_options):
    """A real MMEngine run on a mix of labelled and pseudo-labelled frames:
    both losses are logged and sum to the total, the teacher cache steps aside."""
    from kdkit.distill import DistillLossHook
    from kdkit.distill.cli import build_runner, load_config
    root = mark_pseudo(tiny_data, tmp_path)
    opts = run_options(root, tmp_path / 'work', n_train=8, batch_size=8)
    cfg = load_config(HM_CFG, opts)
    cfg.custom_hooks[1]['teacher'] = dict(type='pseudo_labels')
    cfg.custom_hooks.append(dict(type='TeacherCacheHook', persist=False))
    runner = build_runner(cfg)
    runner.train()
    hook = next(h for h in runner.hooks if isinstance(h, DistillLossHook))
    assert isinstance(hook.distiller.teacher, PseudoLabelTeacher)
    logged = runner.message_hub.log_scalars
    gt, kd = logged['train/loss_gt'].current(), logged['train/loss_kd_heatmap'].current()
    assert gt > 0 and kd > 0
    assert logged['train/loss'].current() == pytest.approx(gt + kd, rel=1e-5)
