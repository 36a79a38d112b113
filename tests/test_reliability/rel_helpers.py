"""Shared helpers of the reliability tests: tiny runs of the quick heatmap
distillation config, test configs with extra (test-only) hooks, subprocess
runs of ``kdkit train``."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
KD_CFG = 'configs/distill/kd-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'
TEACHER_CFG = 'configs/teacher/td-hm_res18_quick_kdkit-video-128x96.py'
STUDENT_CFG = 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'

if str(HERE) not in sys.path:  # rel_hooks for in-process runs
    sys.path.insert(0, str(HERE))

# the quick config's train pipeline without its random augmentation
PLAIN_TRAIN_PIPELINE = """[
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=(96, 128)),
    dict(type='GenerateTarget', encoder=dict(type='MSRAHeatmap', input_size=(96, 128),
                                             heatmap_size=(24, 32), sigma=1.5)),
    dict(type='PackPoseInputs', pack_transformed=True)]"""


def write_test_config(path: Path, teacher_ckpt, extra_hooks: str = '',
                      plain_pipeline: bool = False) -> str:
    """A config inheriting the quick KD config, with ``extra_hooks`` (python
    source of hook dicts) appended to its custom_hooks and ``rel_hooks``
    imported."""
    text = f"""_base_ = [{str(REPO / KD_CFG)!r}]
custom_imports = dict(imports=['kdkit', 'rel_hooks'], allow_failed_imports=False)
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='DistillLossHook',
         teacher=dict(config={str(REPO / TEACHER_CFG)!r}, checkpoint={str(teacher_ckpt)!r}),
         terms=dict(kd_heatmap=dict(type='HeatmapMSEDistillLoss')),
         weights=dict(gt=1.0, kd_heatmap=1.0),
         synthesis=dict(type='WeightedSum')),
    {extra_hooks}
]
"""
    if plain_pipeline:
        text += f'train_dataloader = dict(dataset=dict(pipeline={PLAIN_TRAIN_PIPELINE}))\n'
    path.write_text(text)
    return str(path)


def cli_options(opts: dict) -> list[str]:
    """cfg_options as ``--cfg-options`` arguments."""
    return ['--cfg-options', *(f'{k}={v}' for k, v in opts.items())]


def child_env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([str(HERE), str(REPO)]))
    env.pop('KDKIT_DEBUG', None)
    return env


def run_python(args: list[str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, env=child_env(),
                          capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def tree_digest(root) -> dict:
    """sha256 of every file under ``root``, by relative path."""
    import hashlib
    root = Path(root)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}
