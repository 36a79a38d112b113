"""Fixtures of the reliability tests (helpers: rel_helpers.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib adds no test folder to sys.path: the tests import
# rel_helpers from here, and the runs import rel_hooks (custom_imports)
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def kd_options(tiny_data, teacher_ckpt, run_options):
    """cfg_options for a 1-iteration run of the quick KD config on tiny data."""
    def make(work_dir, **extra):
        opts = run_options(tiny_data, work_dir)
        opts['custom_hooks.1.teacher.checkpoint'] = str(teacher_ckpt)
        opts.update(extra)
        return opts
    return make
