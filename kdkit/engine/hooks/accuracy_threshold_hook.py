"""``AccuracyThresholdStopHook``: stop when the validation metric reaches a threshold.

The method trains the student "until its accuracy reaches a preset threshold".
After each validation the hook compares ``metrics[metric]`` to ``threshold``;
the first time it is reached it records the epoch and iteration (in the
MessageHub under ``kdkit/threshold_epoch`` and in ``work_dir/threshold_reached.json``)
and ends training after this epoch.
"""
from __future__ import annotations

import json
import os.path as osp

from mmengine.hooks import Hook
from mmpose.registry import HOOKS

from kdkit.utils.io import atomic_write_text


@HOOKS.register_module()
class AccuracyThresholdStopHook(Hook):
    """Args:
        metric: key of the validation metric, e.g. ``'coco/AP'``.
        threshold: stop once ``metric >= threshold`` (or ``<=`` for rule='less').
        rule: ``'greater'`` (accuracy) or ``'less'`` (an error such as EPE).
    """

    priority = 'LOW'  # after checkpoint/logger hooks have seen the metrics

    def __init__(self, metric: str, threshold: float, rule: str = 'greater'):
        if rule not in ('greater', 'less'):
            raise ValueError(f"AccuracyThresholdStopHook.rule: expected 'greater' or 'less', got {rule!r}")
        self.metric, self.threshold, self.rule = metric, float(threshold), rule
        self.reached_epoch = None

    def reached(self, value: float) -> bool:
        return value >= self.threshold if self.rule == 'greater' else value <= self.threshold

    def after_val_epoch(self, runner, metrics=None) -> None:
        if not metrics or self.reached_epoch is not None:
            return
        if self.metric not in metrics:
            raise KeyError(f'AccuracyThresholdStopHook.metric: {self.metric!r} is not '
                           f'among the validation metrics {sorted(metrics)}')
        value = float(metrics[self.metric])
        if not self.reached(value):
            return
        self.reached_epoch = runner.epoch
        runner.message_hub.update_info('kdkit/threshold_epoch', runner.epoch)
        record = dict(metric=self.metric, threshold=self.threshold, value=value,
                      epoch=runner.epoch, iter=runner.iter)
        if runner.rank == 0:
            atomic_write_text(osp.join(runner.work_dir, 'threshold_reached.json'),
                              json.dumps(record, indent=2))
        runner.logger.info(f'kdkit: {self.metric}={value:.4f} reached the threshold '
                           f'{self.threshold} at epoch {runner.epoch}; stopping')
        runner.train_loop.stop_training = True
