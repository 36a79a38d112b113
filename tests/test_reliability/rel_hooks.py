"""Test-only hooks for the reliability tests, imported by the runs through
``custom_imports=dict(imports=['kdkit', 'rel_hooks'])`` (this folder on
PYTHONPATH), including the torchrun / killed subprocess runs."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from mmengine.hooks import Hook
from mmpose.registry import HOOKS


@HOOKS.register_module(force=True)
class KillAtIterHook(Hook):
    """SIGKILL this process before training iteration ``at_iter`` (0-based,
    counted over the whole run): a kill that no handler can soften."""

    def __init__(self, at_iter: int):
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter == self.at_iter:
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module(force=True)
class FreezeBNHook(Hook):
    """Student BatchNorm layers in eval mode (running statistics) during
    training, so a sample's forward pass does not depend on the other samples
    of its (per-rank) batch: then a 2-process run and a 1-process run with
    the same global batch compute the same losses."""

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        from torch.nn.modules.batchnorm import _BatchNorm
        for m in runner.model.modules():
            if isinstance(m, _BatchNorm):
                m.eval()


@HOOKS.register_module(force=True)
class RecordRankHook(Hook):
    """Write ``<out_dir>/rank<r>.json`` (outside the work_dir): this rank's
    per-iteration losses and the teacher's fingerprint, mode and gradients
    before and after training."""

    priority = 'LOW'  # after DistillLossHook built the teacher

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.record: dict = {}

    def _teacher(self, runner):
        from kdkit.distill import find_distiller
        return find_distiller(runner).teacher

    def before_train(self, runner) -> None:
        t = self._teacher(runner)
        self.record = dict(rank=runner.rank, world_size=runner.world_size,
                           fingerprint_before=t.fingerprint(), losses=[])

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.record['losses'].append({k: float(v) for k, v in (outputs or {}).items()})

    def after_train(self, runner) -> None:
        t = self._teacher(runner)
        self.record.update(
            fingerprint_after=t.fingerprint(), teacher_training=t.model.training,
            any_module_training=any(m.training for m in t.model.modules()),
            requires_grad=any(p.requires_grad for p in t.model.parameters()),
            has_grad=any(p.grad is not None for p in t.model.parameters()),
            teacher_in_student=any(p is q for p in t.model.parameters()
                                   for q in runner.model.parameters()))
        out = Path(self.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / f'rank{runner.rank}.json').write_text(json.dumps(self.record))
