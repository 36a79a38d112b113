"""What kdkit's commands show on the terminal.

A *stage* is one MMEngine run (a training run, a test or val evaluation).
Unless verbose (``--verbose`` or ``KDKIT_VERBOSE=1``), a stage shows a progress
bar (:class:`~kdkit.engine.hooks.ProgressBarHook`) and, at its end, one line
with the path of its log file; MMEngine's console log (config dump,
environment, iteration lines) and the warnings raised meanwhile go to that
log file only.

    with quiet_stage('teacher') as stage:
        runner = Runner.from_cfg(cfg)   # built inside: see quiet_stage
        stage.attach(runner)
        runner.train()
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings

from mmengine.dist import get_rank
from mmengine.logging import MMLogger

_verbose = False
_kernel_stdout = None  # a Jupyter cell's stdout, kept while a quiet stage hides it


def set_verbose(flag: bool) -> None:
    """Show MMEngine's console log as it is (``--verbose``)."""
    global _verbose
    _verbose = bool(flag)


def is_verbose() -> bool:
    """``set_verbose(True)`` or ``KDKIT_VERBOSE=1`` in the environment."""
    return _verbose or os.environ.get('KDKIT_VERBOSE') == '1'


class _Discard(io.TextIOBase):
    """``sys.stdout`` during a quiet stage. Never closed: the MMLogger built
    by the Runner binds its console handler to it for good."""

    encoding = 'utf-8'

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


class _Stderr(io.TextIOBase):
    """Whatever ``sys.stderr`` is at each write: a stage's logger outlives
    the stage, and the stderr of its end may be gone by then (pytest)."""

    encoding = 'utf-8'

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _in_kernel(stream) -> bool:
    return type(stream).__module__.startswith('ipykernel')


def console():
    """Where progress bars and stage lines go: stderr on a terminal (stdout
    stays for results); in a Jupyter kernel the cell's stdout, since a
    notebook draws stderr as an error-coloured block."""
    if not _in_kernel(sys.stderr):
        return sys.stderr
    return sys.stdout if _in_kernel(sys.stdout) else (_kernel_stdout or sys.stderr)


# MMLogger instances are not in logging's registry; ManagerMixin keeps them
# in ``_instance_dict`` (there is no public listing, and get_current_instance
# would create MMLogger's default instance, bound to the stdout of the moment)
def _newest_logger():
    return next(reversed(MMLogger._instance_dict.values()), None)


def _all_loggers() -> list:
    named = [lg for lg in logging.Logger.manager.loggerDict.values()
             if isinstance(lg, logging.Logger)]
    return [*MMLogger._instance_dict.values(), logging.getLogger(), *named]


def _consoles(sink) -> list:
    """The console handlers of loggers built during a stage (bound to its sink)."""
    return [handler for logger in _all_loggers() for handler in logger.handlers
            if isinstance(handler, logging.StreamHandler) and handler.stream is sink]


def _shown_path(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith('..') else rel


class Stage:
    """One stage: its name, its Runner (``attach``) and so its log file."""

    def __init__(self, name: str):
        self.name = name
        self.runner = None
        self.sink = _Discard()
        self._pending = []  # warnings raised before the run's logger existed
        self._logger_before = _newest_logger()
        self._levels = {}  # console handler moved to stderr: its own level

    def attach(self, runner) -> None:
        self.runner = runner
        self._show_on_stderr(logging.ERROR)  # errors logged by the run still surface

    def _show_on_stderr(self, level: int) -> None:
        """Console handlers of loggers built in the stage: from the sink to
        stderr, showing ``level`` and above (their log file keeps it all)."""
        for handler in _consoles(self.sink):
            self._levels.setdefault(handler, handler.level)
            handler.setStream(_Stderr())
        for handler, own in self._levels.items():
            handler.setLevel(max(own, level))

    @property
    def logger(self):
        """The run's MMLogger: the attached runner's, else one built during
        the stage that writes a file; None before the Runner is built."""
        if self.runner is not None:
            return self.runner.logger
        current = _newest_logger()
        if current is not None and current is not self._logger_before and current.log_file:
            return current
        return None

    @property
    def log_file(self) -> str | None:
        logger = self.logger
        return logger.log_file if logger is not None else None

    def log_warning(self, message, category, filename, lineno, file=None, line=None) -> None:
        """``warnings.showwarning`` during a quiet stage: into the run's log."""
        text = warnings.formatwarning(message, category, filename, lineno, line).rstrip()
        self._pending.append(text)
        self._flush_warnings()

    def _flush_warnings(self) -> None:
        logger = self.logger
        if logger is None:
            return
        for text in self._pending:
            logger.warning(text)
        self._pending.clear()

    def finish(self, failed: bool) -> None:
        """Called with the terminal restored. The stage's loggers live on
        (kdkit's warnings between stages): they show warnings and errors on
        stderr. Warnings that found no log go to stderr; then the one line."""
        self._show_on_stderr(logging.WARNING)
        self._flush_warnings()
        for text in self._pending:
            print(text, file=sys.stderr)
        path = self.log_file
        if path is None or get_rank() != 0:
            return
        state = 'failed; see log' if failed else 'log'
        print(f'  {self.name}: {state} {_shown_path(path)}', file=console(), flush=True)


@contextlib.contextmanager
def _warnings_into(stage: Stage):
    with warnings.catch_warnings():  # restores showwarning and the filters
        warnings.showwarning = stage.log_warning
        yield


@contextlib.contextmanager
def quiet_stage(name: str):
    """Build AND run one MMEngine Runner inside: MMLogger binds its console
    handler to the ``sys.stdout`` of the moment it is built, so a Runner
    built here logs to its file only, for good. Yields a :class:`Stage`
    (``attach`` the runner to name its log). Verbose: changes nothing but
    the closing line. Everything is restored on exit, exceptions included;
    a failed stage names its log."""
    global _kernel_stdout
    stage = Stage(name)
    if _in_kernel(sys.stdout):
        _kernel_stdout = sys.stdout
    try:
        if is_verbose():
            yield stage
        else:
            with contextlib.redirect_stdout(stage.sink), _warnings_into(stage):
                yield stage
    except BaseException:
        stage.finish(failed=True)
        raise
    stage.finish(failed=False)
