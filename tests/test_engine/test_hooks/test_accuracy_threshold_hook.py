"""AccuracyThresholdStopHook stops a real run at the threshold and records the epoch."""
import json

import pytest

from kdkit.distill.cli import build_runner, load_config
from kdkit.engine.hooks import AccuracyThresholdStopHook

STUDENT_CFG = 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'


def run_with_threshold(tiny_data, tmp_path, run_options, threshold):
    opts = run_options(tiny_data, tmp_path / 'work')
    opts.update({'train_cfg.max_epochs': 3, 'train_cfg.val_interval': 1})
    cfg = load_config(STUDENT_CFG, opts)
    cfg.custom_hooks.append(dict(type='AccuracyThresholdStopHook', metric='coco/AP',
                                 threshold=threshold))
    runner = build_runner(cfg)
    runner.train()
    return runner


def test_reached_threshold_stops_after_first_epoch(tiny_data, tmp_path, run_options):
    runner = run_with_threshold(tiny_data, tmp_path, run_options, threshold=-1.0)
    assert runner.epoch == 1
    record = json.loads((tmp_path / 'work' / 'threshold_reached.json').read_text())
    assert record['epoch'] == 1 and record['metric'] == 'coco/AP'
    assert runner.message_hub.get_info('kdkit/threshold_epoch') == 1


def test_unreached_threshold_trains_all_epochs(tiny_data, tmp_path, run_options):
    runner = run_with_threshold(tiny_data, tmp_path, run_options, threshold=2.0)
    assert runner.epoch == 3
    assert not (tmp_path / 'work' / 'threshold_reached.json').exists()


def test_bad_rule_rejected():
    with pytest.raises(ValueError, match='AccuracyThresholdStopHook.rule'):
        AccuracyThresholdStopHook(metric='coco/AP', threshold=0.5, rule='more')


def fake_runner(tmp_path, epoch):
    from types import SimpleNamespace

    from mmengine.logging import MessageHub, MMLogger
    return SimpleNamespace(epoch=epoch, iter=10 * epoch, rank=0, work_dir=str(tmp_path),
                           train_loop=SimpleNamespace(stop_training=False),
                           message_hub=MessageHub.get_instance('kdkit_threshold_test'),
                           logger=MMLogger.get_instance('kdkit_threshold_test'))


def test_built_on_mmengine_early_stopping(tmp_path):
    """MMEngine's EarlyStoppingHook(stopping_threshold=...) does the stopping;
    its patience never stops a run short of the threshold, the threshold itself
    counts as reached (>=), and the epoch is recorded."""
    from mmengine.hooks import EarlyStoppingHook
    hook = AccuracyThresholdStopHook(metric='coco/AP', threshold=0.5)
    assert isinstance(hook, EarlyStoppingHook) and hook.stopping_threshold == 0.5
    for epoch in range(1, 12):  # flat metric: MMEngine's default patience is 5
        runner = fake_runner(tmp_path, epoch)
        hook.after_val_epoch(runner, {'coco/AP': 0.1})
        assert not runner.train_loop.stop_training, epoch
    runner = fake_runner(tmp_path, 12)
    hook.after_val_epoch(runner, {'coco/AP': 0.5})
    assert runner.train_loop.stop_training and hook.reached_epoch == 12
    assert json.loads((tmp_path / 'threshold_reached.json').read_text())['epoch'] == 12


def test_missing_metric_is_named(tmp_path):
    hook = AccuracyThresholdStopHook(metric='PCK', threshold=0.5)
    with pytest.raises(KeyError, match="metric: 'PCK' is not among"):
        hook.after_val_epoch(fake_runner(tmp_path, 1), {'coco/AP': 0.1})
