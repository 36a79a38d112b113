"""Distiller: configuration checks, NaN/Inf reporting, sparse-label masking."""
import pytest
import torch

from kdkit.distill.distiller import Distiller, NonFiniteLossError
from kdkit.distill.teacher import FrozenTeacher, build_pose_model

STUDENT = 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'
TEACHER = 'configs/teacher/td-hm_res18_quick_kdkit-video-128x96.py'
TERMS = dict(kd_heatmap=dict(type='HeatmapMSEDistillLoss'))


@pytest.mark.parametrize('weights,match', [
    (dict(gt=1.0), r"keys \['gt'\] must be exactly \['gt', 'kd_heatmap'\]"),
    (dict(gt=1.0, kd_heatmap=-0.5), 'kd_heatmap'),
    (dict(gt=0.0, kd_heatmap=0.0), 'zero'),
])
def test_bad_weights_are_rejected(weights, match):
    with pytest.raises(ValueError, match=match):
        Distiller(TERMS, weights)


def test_reserved_and_empty_terms():
    with pytest.raises(ValueError, match="'gt' is reserved"):
        Distiller(dict(gt=dict(type='HeatmapMSEDistillLoss')), dict(gt=1.0))
    with pytest.raises(ValueError, match='non-empty dict'):
        Distiller({}, dict(gt=1.0))


def test_non_finite_term_names_term_and_step():
    d = Distiller(TERMS, dict(gt=1.0, kd_heatmap=1.0))
    d.step = 7
    with pytest.raises(NonFiniteLossError, match=r"'kd_heatmap' is nan at distillation step 7"):
        d.check_finite({'gt': torch.tensor(0.5), 'kd_heatmap': torch.tensor(float('nan'))})


def fake_batch(n, labeled):
    """Data samples as the heatmap pipeline packs them (targets all zero)."""
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample
    samples = []
    for i in range(n):
        ds = PoseDataSample()
        w = torch.ones(1, 17) if labeled[i] else torch.zeros(1, 17)
        ds.gt_instance_labels = InstanceData(keypoint_weights=w)
        ds.gt_instances = InstanceData(keypoints=torch.zeros(1, 17, 2))
        ds.gt_fields = PixelData(heatmaps=torch.zeros(17, 32, 24))
        samples.append(ds)
    return samples


def test_unlabelled_frames_mask_gt_but_keep_distillation():
    torch.manual_seed(0)
    student, teacher = build_pose_model(STUDENT), build_pose_model(TEACHER)
    d = Distiller(TERMS, dict(gt=1.0, kd_heatmap=1.0), teacher=FrozenTeacher(teacher))
    x = torch.randn(2, 3, 128, 96)
    unlabeled = d.loss(student, x, fake_batch(2, [False, False]))
    assert unlabeled['loss_gt'].item() == 0.0
    assert unlabeled['loss_kd_heatmap'].item() > 0.0
    labeled = d.loss(student, x, fake_batch(2, [True, True]))
    assert labeled['loss_gt'].item() > 0.0
    assert labeled['loss_kd_heatmap'].item() == pytest.approx(unlabeled['loss_kd_heatmap'].item())
    assert 'forward' not in student.head.__dict__  # capture restored the class method
