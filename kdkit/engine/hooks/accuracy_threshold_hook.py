"""``AccuracyThresholdStopHook``: stop when the validation metric reaches a threshold.

The method trains the student "until its accuracy reaches a preset threshold".
MMEngine's ``EarlyStoppingHook(stopping_threshold=...)`` does the stopping;
kdkit sets it up for the threshold alone (no patience, no stop on a
non-finite metric, the threshold itself counts as reached) and, the first
time the threshold is reached, records the epoch and iteration (in the
MessageHub under ``kdkit/threshold_epoch`` and in
``work_dir/threshold_reached.json``); training ends after this epoch.
"""
from __future__ import annotations

import json
import math
import operator
import os.path as osp

from mmengine.hooks import EarlyStoppingHook
from mmpose.registry import HOOKS

from kdkit.utils.io import atomic_write_text


@HOOKS.register_module()
class AccuracyThresholdStopHook(EarlyStoppingHook):
    """Args:
        metric: key of the validation metric, e.g. ``'coco/AP'``.
        threshold: stop once ``metric >= threshold`` (or ``<=`` for rule='less').
        rule: ``'greater'`` (accuracy) or ``'less'`` (an error such as EPE).
    """

    priority = 'LOW'  # after checkpoint/logger hooks have seen the metrics
    # "reaches" the threshold: >= / <= (MMEngine's own rule_map is strict)
    rule_map = {'greater': operator.ge, 'less': operator.le}

    def __init__(self, metric: str, threshold: float, rule: str = 'greater'):
        if rule not in ('greater', 'less'):
            raise ValueError(f"AccuracyThresholdStopHook.rule: expected 'greater' or 'less', got {rule!r}")
        super().__init__(monitor=metric, rule=rule, stopping_threshold=float(threshold),
                         patience=math.inf, check_finite=False, strict=True)
        self.metric, self.threshold = metric, float(threshold)
        self.reached_epoch = None

    def reached(self, value: float) -> bool:
        return self.rule_map[self.rule](value, self.threshold)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if not metrics or self.reached_epoch is not None:
            return
        if self.metric not in metrics:
            raise KeyError(f'AccuracyThresholdStopHook.metric: {self.metric!r} is not '
                           f'among the validation metrics {sorted(metrics)}')
        super().after_val_epoch(runner, metrics)
        value = float(metrics[self.metric])
        if runner.train_loop.stop_training and self.reached(value):
            self.record(runner, value)

    def record(self, runner, value: float) -> None:
        """The epoch, iteration and value at which the threshold was reached."""
        self.reached_epoch = runner.epoch
        runner.message_hub.update_info('kdkit/threshold_epoch', runner.epoch)
        record = dict(metric=self.metric, threshold=self.threshold, value=value,
                      epoch=runner.epoch, iter=runner.iter)
        if runner.rank == 0:
            atomic_write_text(osp.join(runner.work_dir, 'threshold_reached.json'),
                              json.dumps(record, indent=2))
        runner.logger.info(f'kdkit: {self.metric}={value:.4f} reached the threshold '
                           f'{self.threshold} at epoch {runner.epoch}; stopping')
