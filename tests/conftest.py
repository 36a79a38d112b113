"""Shared fixtures: a tiny generated dataset and tiny-run config overrides."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Tests run from the repo root so configs' relative paths resolve.
os.chdir(REPO)


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory) -> Path:
    """A few short clips of generated video (seconds to make)."""
    from kdkit.data import generate_dataset
    out = tmp_path_factory.mktemp('data') / 'tiny'
    return generate_dataset(out, profile='quick', seed=0, progress=False,
                            **TINY_KNOBS)


TINY_KNOBS = dict(n_train_clips=2, n_val_clips=1, n_test_clips=1, frames_per_clip=8)


def tiny_run_options(data_root: Path, work_dir: Path, n_train: int = 4,
                     batch_size: int = 4) -> dict:
    """cfg_options for a one-iteration, no-validation MMEngine run."""
    opts = {'work_dir': str(work_dir), 'train_cfg.max_epochs': 1,
            'train_cfg.val_interval': 100, 'default_hooks.logger.interval': 1}
    for split in ('train', 'val', 'test'):
        opts.update({f'{split}_dataloader.dataset.data_root': f'{data_root}/',
                     f'{split}_dataloader.num_workers': 0,
                     f'{split}_dataloader.persistent_workers': False,
                     f'{split}_dataloader.batch_size': batch_size})
    opts['train_dataloader.dataset.indices'] = n_train
    return opts


@pytest.fixture
def run_options():
    return tiny_run_options


TEACHER_CFG = 'configs/teacher/td-hm_res18_quick_kdkit-video-128x96.py'


def save_random_weights(config: str, path: Path, seed: int = 0) -> Path:
    """An MMEngine-style checkpoint of a freshly initialised model of ``config``
    (tests need a teacher checkpoint; its accuracy does not matter)."""
    import torch
    from kdkit.distill.teacher import build_pose_model
    torch.manual_seed(seed)
    model = build_pose_model(config)
    model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture(scope='session')
def teacher_ckpt(tmp_path_factory) -> Path:
    return save_random_weights(TEACHER_CFG, tmp_path_factory.mktemp('teacher') / 'teacher.pth')
