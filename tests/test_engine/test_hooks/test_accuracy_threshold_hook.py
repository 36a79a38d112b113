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
