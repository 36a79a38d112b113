"""``ProgressBarHook``: one tqdm bar per MMEngine run (stderr; a notebook cell's stdout).

kdkit's commands add it to the Runner when they keep MMEngine's console log
off the terminal (see :mod:`kdkit.utils.console`); configs need not name it.
A training run's bar counts training iterations, with the smoothed loss, a
``val i/n`` while validating and the first validation metric afterwards
(``AP 0.61``); a test (or val) run's bar counts its iterations. Only rank 0
shows a bar.
"""
from __future__ import annotations

import time

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmpose.registry import HOOKS
from tqdm import tqdm

from kdkit.utils.console import console


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Args:
        desc: the bar's label (the stage's name).
        mininterval: seconds between redraws; default 1 on a terminal or in
            a notebook, 30 when stderr goes to a file (which stays small).
    """

    priority = 'VERY_LOW'  # after RuntimeInfoHook has put the loss in the MessageHub

    def __init__(self, desc: str, mininterval: float | None = None):
        if mininterval is None:
            mininterval = 1.0 if _live(console()) else 30.0
        if mininterval < 1:
            raise ValueError(f'ProgressBarHook.mininterval: expected >= 1 s, got {mininterval}')
        self.desc, self.mininterval = desc, float(mininterval)
        self.bar = None
        self.info = {}  # the postfix: loss, val progress, metric
        self.val_done = self.val_total = None  # set while validating inside training
        self.shown_at = 0.0

    # ------------------------------------------------------------ the bar
    def open(self, total: int, initial: int = 0) -> None:
        if self.bar is None:
            self.bar = tqdm(total=total, initial=initial, desc=self.desc, unit='it',
                            file=console(), mininterval=self.mininterval,
                            dynamic_ncols=True, disable=not is_main_process())

    def show(self, step: int = 0) -> None:
        """Advance by ``step``; redraw the postfix at most every mininterval."""
        if self.bar is None:
            return
        self.set_postfix()
        if step:
            self.bar.update(step)
        elif time.monotonic() - self.shown_at >= self.mininterval:
            self.bar.refresh()  # tqdm redraws only on update(); validation updates nothing
            self.shown_at = time.monotonic()

    def set_postfix(self) -> None:
        self.bar.set_postfix_str(' '.join(f'{k} {v}' for k, v in self.info.items()),
                                 refresh=False)

    def close(self) -> None:
        """End the bar (``after_run``; kdkit also calls it when a run fails,
        since MMEngine then calls no hook)."""
        if self.bar is not None:
            self.set_postfix()
            self.bar.close()
            self.bar = None

    # ---------------------------------------------------------- training
    def before_train(self, runner) -> None:
        self.open(runner.train_loop.max_iters, initial=runner.iter)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        loss = runner.message_hub.log_scalars.get('train/loss')
        if loss is not None:
            self.info['loss'] = f'{loss.mean(10):.4g}'
        self.show(1)

    # -------------------------------------------------------- validation
    def before_val_epoch(self, runner) -> None:
        if self.bar is None:  # a validation run of its own
            self.open(len(runner.val_dataloader))
        else:
            self.val_done, self.val_total = 0, len(runner.val_dataloader)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self.val_total is None:
            self.show(1)
            return
        self.val_done += 1
        self.info['val'] = f'{self.val_done}/{self.val_total}'
        self.show()

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.info.pop('val', None)
        self.val_done = self.val_total = None
        if metrics:
            name, value = next(iter(metrics.items()))
            self.info[name.split('/')[-1]] = _short(value)  # coco/AP: AP
        self.show()

    # --------------------------------------------------------------- test
    def before_test_epoch(self, runner) -> None:
        self.open(len(runner.test_dataloader))

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.show(1)

    def after_run(self, runner) -> None:
        self.close()


def _live(stream) -> bool:
    """A terminal, or a Jupyter kernel's stream (not a tty, yet seen live)."""
    return stream.isatty() or type(stream).__module__.startswith('ipykernel')


def _short(value) -> str:
    try:
        return f'{float(value):.4g}'
    except (TypeError, ValueError):
        return str(value)
