"""Fixtures for the data tests: one small generated dataset per session."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

# small but complete: every split, sparse train labels, two clips per subject
SMALL = dict(n_train_clips=4, n_val_clips=2, n_test_clips=1, frames_per_clip=8,
             clips_per_subject=2, annotated_every=2, width=96, height=96,
             occlusion_rate=0.5, clutter=0.5, blur=0.3, noise=0.3)


@pytest.fixture(scope='session')
def small_video(tmp_path_factory) -> Path:
    from kdkit.data import generate_dataset
    out = tmp_path_factory.mktemp('video') / 'small'
    return generate_dataset(out, profile='quick', seed=3, progress=False, workers=1,
                            **SMALL)


def _tree_digest(root: Path) -> dict:
    """sha256 of every file under ``root``, by relative path."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob('*')) if p.is_file()}


@pytest.fixture
def tree_digest():
    return _tree_digest


@pytest.fixture
def small_knobs() -> dict:
    return dict(SMALL)
