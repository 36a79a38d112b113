"""``WeightScheduleHook``: move distillation-term weights along schedules.

    custom_hooks = [..., dict(type='WeightScheduleHook',
                              schedules=dict(kd_heatmap=dict(type='cosine', start=1.0, end=0.1)))]

The hook, not the model, knows the iteration: before every training
iteration it sets ``distiller.weights[name]`` from the schedule
(:mod:`kdkit.engine.schedules`) at progress = iter / max_iters.
"""
from __future__ import annotations

from mmengine.hooks import Hook
from mmpose.registry import HOOKS

from kdkit.engine.schedules import check_schedule, schedule_value


@HOOKS.register_module()
class WeightScheduleHook(Hook):
    """Args:
        schedules: ``{term name: schedule config}`` (``'gt'`` allowed).
    """

    priority = 'NORMAL'

    def __init__(self, schedules: dict):
        if not isinstance(schedules, dict) or not schedules:
            raise ValueError('WeightScheduleHook.schedules: expected a non-empty '
                             f'dict term -> schedule, got {schedules!r}')
        for name, cfg in schedules.items():
            check_schedule(name, cfg)
        self.schedules = schedules

    def before_train(self, runner) -> None:
        from kdkit.distill.hook import find_distiller
        distiller = find_distiller(runner)
        unknown = set(self.schedules) - set(distiller.weights)
        if unknown:
            raise ValueError(f'WeightScheduleHook.schedules: unknown terms '
                             f'{sorted(unknown)}; the run has {sorted(distiller.weights)}')
        self.distiller = distiller
        self.apply(runner.iter, runner.max_iters)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self.apply(runner.iter, runner.max_iters)

    def apply(self, it: int, max_iters: int) -> None:
        progress = it / max(max_iters - 1, 1)
        for name, cfg in self.schedules.items():
            self.distiller.weights[name] = schedule_value(cfg, progress)
