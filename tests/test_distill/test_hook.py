"""DistillLossHook: real one-iteration MMEngine runs of the hook-based configs."""
import pytest
import torch

from kdkit.distill import DistillLossHook, find_distiller
from kdkit.distill.cli import build_runner, load_config
from kdkit.utils.checkpoint import load_model_weights

HM_CFG = 'configs/distill/kd-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'
SIMCC_CFG = 'configs/distill/kd-hm2simcc_rtmpose-t-from-res18_quick_kdkit-video-128x96.py'
STUDENT_CFG = 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'


def make_runner(config, tiny_data, teacher_ckpt, tmp_path, run_options, **extra):
    opts = run_options(tiny_data, tmp_path / 'work')
    opts['custom_hooks.1.teacher.checkpoint'] = str(teacher_ckpt)
    opts.update(extra)
    return build_runner(load_config(config, opts))


@pytest.mark.parametrize('config,term', [(HM_CFG, 'kd_heatmap'), (SIMCC_CFG, 'kd_simcc')])
def test_one_iteration_logs_every_term(config, term, tiny_data, teacher_ckpt, tmp_path,
                                       run_options):
    runner = make_runner(config, tiny_data, teacher_ckpt, tmp_path, run_options)
    runner.train()
    logged = runner.message_hub.log_scalars
    for key in ('train/loss_gt', f'train/loss_{term}', f'train/w_{term}', 'train/loss'):
        assert key in logged, f'{key} not logged; got {sorted(logged)}'
    total = logged['train/loss'].current()
    parts = logged['train/loss_gt'].current() + logged[f'train/loss_{term}'].current()
    assert total == pytest.approx(parts, rel=1e-5)
    assert logged[f'train/loss_{term}'].current() > 0


def test_teacher_stays_frozen_and_identical(tiny_data, teacher_ckpt, tmp_path, run_options):
    runner = make_runner(HM_CFG, tiny_data, teacher_ckpt, tmp_path, run_options,
                         **{'train_dataloader.dataset.indices': 8})  # 2 iterations
    hook = next(h for h in runner.hooks if isinstance(h, DistillLossHook))
    runner.train()
    teacher = hook.distiller.teacher
    reference = torch.load(teacher_ckpt)['state_dict']
    current = teacher.model.state_dict()
    # weights and BN buffers (running_mean/var, num_batches_tracked) bit-identical
    assert set(current) == set(reference)
    for name, value in reference.items():
        assert torch.equal(current[name], value), name
    assert not teacher.model.training
    teacher.model.train()  # what MMEngine does to models every epoch
    assert not any(m.training for m in teacher.model.modules())
    assert all(p.grad is None and not p.requires_grad for p in teacher.model.parameters())


def test_checkpoint_loads_into_plain_student(tiny_data, teacher_ckpt, tmp_path, run_options):
    runner = make_runner(HM_CFG, tiny_data, teacher_ckpt, tmp_path, run_options)
    runner.train()
    from kdkit.distill.teacher import build_pose_model
    student = build_pose_model(STUDENT_CFG)
    load_model_weights(student, tmp_path / 'work' / 'epoch_1.pth', 'student')
    trained = runner.model.state_dict()
    for name, value in student.state_dict().items():
        assert torch.equal(value, trained[name]), name
    assert 'loss' not in runner.model.__dict__  # uninstalled after training


def test_find_distiller_and_param_free_check(tiny_data, teacher_ckpt, tmp_path, run_options):
    runner = make_runner(HM_CFG, tiny_data, teacher_ckpt, tmp_path, run_options)
    assert find_distiller(runner).weights == {'gt': 1.0, 'kd_heatmap': 1.0}
    with pytest.raises(ValueError, match='KDPoseEstimator'):
        DistillLossHook(teacher=dict(config='x', checkpoint='y'),
                        terms=dict(kd_feature=dict(type='FeatureMSEDistillLoss',
                                                   student_channels=4, teacher_channels=8)),
                        weights=dict(gt=1.0, kd_feature=1.0))


def test_bad_teacher_spec_is_rejected():
    with pytest.raises(ValueError, match='DistillLossHook.teacher'):
        DistillLossHook(teacher=dict(config='x'), terms=dict(kd=dict(type='HeatmapMSEDistillLoss')),
                        weights=dict(gt=1.0, kd=1.0))
    with pytest.raises(ValueError, match='unknown keys'):
        DistillLossHook(teacher=dict(config='x', checkpoint='y', chekpoint='z'),
                        terms=dict(kd=dict(type='HeatmapMSEDistillLoss')),
                        weights=dict(gt=1.0, kd=1.0))


def test_hook_option_finds_the_hook_by_type():
    from mmengine.config import Config

    from kdkit.distill.hook import hook_option
    assert hook_option(HM_CFG, 'teacher.checkpoint') == 'custom_hooks.1.teacher.checkpoint'
    moved = Config(dict(custom_hooks=[dict(type='DistillLossHook'), dict(type='EMAHook')]))
    assert hook_option(moved, 'weights') == 'custom_hooks.0.weights'
    with pytest.raises(ValueError, match='no DistillLossHook'):
        hook_option(STUDENT_CFG, 'teacher')
