"""KDPoseEstimator: the model-wrapper route (trainable connector) in a real run."""
import pytest
import torch

from kdkit.distill.cli import build_runner, load_config
from kdkit.distill.teacher import build_pose_model
from kdkit.utils.checkpoint import load_model_weights

FEAT_CFG = 'configs/distill/kd-feat-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'
STUDENT_CFG = 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'


def test_feature_distillation_trains_connector(tiny_data, teacher_ckpt, tmp_path, run_options):
    opts = run_options(tiny_data, tmp_path / 'work')
    opts['model.teacher.checkpoint'] = str(teacher_ckpt)
    runner = build_runner(load_config(FEAT_CFG, opts))
    connector_before = {k: v.clone() for k, v in runner.model.state_dict().items()
                        if k.startswith('distiller.')}
    assert connector_before, 'the connector must be part of the model'
    runner.train()
    logged = runner.message_hub.log_scalars
    assert {'train/loss_gt', 'train/loss_kd_heatmap', 'train/loss_kd_feature'} <= set(logged)
    after = runner.model.state_dict()
    assert any(not torch.equal(v, after[k]) for k, v in connector_before.items()), \
        'the optimizer did not update the connector'
    # the teacher is not in the model, the checkpoint, or the optimizer
    assert not any(k.startswith('teacher') or '.teacher.' in k for k in after)
    n_opt = sum(p.numel() for g in runner.optim_wrapper.optimizer.param_groups for p in g['params'])
    assert n_opt == sum(p.numel() for p in runner.model.parameters())
    assert not runner.model.distiller.teacher.model.training
    # the saved checkpoint loads into the plain student config
    student = build_pose_model(STUDENT_CFG)
    load_model_weights(student, tmp_path / 'work' / 'epoch_1.pth', 'student')


def test_prediction_needs_no_teacher(tmp_path):
    cfg = load_config(FEAT_CFG, {'model.teacher.checkpoint': str(tmp_path / 'missing.pth')})
    from mmpose.registry import MODELS
    model = MODELS.build(cfg.model)
    out = model(torch.zeros(1, 3, 128, 96), None, mode='tensor')
    assert out.shape == (1, 17, 32, 24)
    assert model.distiller.teacher is None


POSETRACK = dict(from_file='configs/_base_/datasets/posetrack18.py')


def test_teacher_keypoints_are_matched_by_name_in_the_wrapper(tiny_data, teacher_ckpt, tmp_path,
                                                              run_options):
    """The wrapper's teacher dict takes keypoint_map and metainfo as the hook's
    does, and checks names against the training data's (from the run)."""
    opts = run_options(tiny_data, tmp_path / 'refused')
    opts.update({'model.teacher.checkpoint': str(teacher_ckpt),
                 'model.teacher.metainfo': POSETRACK})
    with pytest.raises(ValueError, match=r"^model\.teacher: key point 1 is 'left_eye' in the "
                                         r"student \(coco\) but 'head_bottom'"):
        build_runner(load_config(FEAT_CFG, opts)).train()
    opts = run_options(tiny_data, tmp_path / 'mapped')
    opts.update({'model.teacher.checkpoint': str(teacher_ckpt),
                 'model.teacher.metainfo': POSETRACK, 'model.teacher.keypoint_map': 'auto'})
    runner = build_runner(load_config(FEAT_CFG, opts))
    runner.train()
    mask = runner.model.distiller.teacher.keypoint_mask
    assert mask.tolist() == [1, 0, 0] + [1] * 14
    assert runner.message_hub.log_scalars['train/loss_kd_heatmap'].current() > 0
