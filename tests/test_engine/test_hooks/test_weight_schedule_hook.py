"""WeightScheduleHook edits the distiller's weights in a real run."""
import pytest

from kdkit.distill.cli import build_runner, load_config
from kdkit.engine.hooks import WeightScheduleHook

HM_CFG = 'configs/distill/kd-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'


def test_linear_decay_reaches_end_weight(tiny_data, teacher_ckpt, tmp_path, run_options):
    opts = run_options(tiny_data, tmp_path / 'work', n_train=8)  # 2 iterations
    opts['custom_hooks.1.teacher.checkpoint'] = str(teacher_ckpt)
    cfg = load_config(HM_CFG, opts)
    cfg.custom_hooks.append(dict(type='WeightScheduleHook', schedules=dict(
        kd_heatmap=dict(type='linear', start=1.0, end=0.25))))
    runner = build_runner(cfg)
    runner.train()
    w = runner.message_hub.log_scalars['train/w_kd_heatmap']
    assert list(w.data[0]) == pytest.approx([1.0, 0.25])


def test_unknown_term_is_rejected(tiny_data, teacher_ckpt, tmp_path, run_options):
    opts = run_options(tiny_data, tmp_path / 'work')
    opts['custom_hooks.1.teacher.checkpoint'] = str(teacher_ckpt)
    cfg = load_config(HM_CFG, opts)
    cfg.custom_hooks.append(dict(type='WeightScheduleHook', schedules=dict(
        kd_heatmp=dict(type='constant', value=1.0))))
    with pytest.raises(ValueError, match=r"unknown terms \['kd_heatmp'\]"):
        build_runner(cfg).train()


def test_empty_schedules_rejected():
    with pytest.raises(ValueError, match='WeightScheduleHook.schedules'):
        WeightScheduleHook(schedules={})
