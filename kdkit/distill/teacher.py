"""The frozen teacher: built from an MMPose config + checkpoint, kept outside
the student's module tree.

Why outside: MMEngine calls ``model.train()`` on the whole model every epoch
(MMPose's DWPoseDistiller lets the teacher's BatchNorm statistics drift because
of it), saves every registered sub-module into each checkpoint and hands every
parameter to the optimizer. A teacher that is not a sub-module is touched by
none of that; its ``train`` is locked to eval mode as a second guard.
"""
from __future__ import annotations

import copy
import hashlib
import types
from pathlib import Path

import torch
from torch import nn

from kdkit.distill.outputs import split_head_outputs
from kdkit.utils.checkpoint import is_url, load_model_weights
from kdkit.utils.io import repo_root


def _locked_train(self, mode: bool = True):
    return nn.Module.train(self, False)


def resolve_path(path: str | Path, what: str) -> Path | str:
    """Find ``path`` as given or relative to the kdkit checkout; a
    ``package::path`` config and an ``http(s)://`` URL come back as given."""
    if '::' in str(path):  # a config inside a package, e.g. mmpose::body_2d...
        return path
    if is_url(path):  # downloaded (and cached) by whoever reads it
        return str(path)
    p = Path(path)
    for cand in (p, repo_root() / p):
        if cand.exists():
            return cand
    raise FileNotFoundError(f'{what}: {path} does not exist')


def resolve_checkpoint(path: str | Path) -> Path | str:
    """A ``.pth`` file, an ``http(s)://`` URL (as given: MMEngine's loader
    downloads it into torch hub's cache), or a work_dir: its ``best_*.pth``,
    else ``last_checkpoint``."""
    p = resolve_path(path, 'teacher checkpoint')
    if isinstance(p, str):
        return p
    if p.is_file():
        return p
    best = sorted(p.glob('best_*.pth'))
    if best:
        return best[-1]
    last = p / 'last_checkpoint'
    if last.is_file():
        return resolve_path(last.read_text().strip(), f'{last} points to')
    raise FileNotFoundError(
        f'teacher checkpoint: {p} is a folder without best_*.pth or last_checkpoint')


def build_pose_model(config, cfg_options: dict | None = None) -> nn.Module:
    """Build the plain pose model of an MMPose config (no pretrained downloads)."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpose.registry import MODELS
    cfg = config if isinstance(config, Config) else load_any_config(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    # a deep copy: the caller's config (a run's, checked before its Runner
    # starts) keeps its backbone init_cfg
    model_cfg = student_model_cfg(copy.deepcopy(cfg.model))
    model_cfg.get('backbone', {}).pop('init_cfg', None)
    # built outside a Runner: resolve types in MMPose's scope, as init_model does
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpose')):
        return MODELS.build(model_cfg)


def load_any_config(config):
    """``Config.fromfile`` that also takes ``package::path`` configs."""
    from mmengine.config import Config
    path = resolve_path(config, 'config')
    if '::' in str(path):
        from mmengine.hub import get_config
        return get_config(str(path))
    return Config.fromfile(str(path))


def student_model_cfg(model_cfg):
    """The plain MMPose model config inside a kdkit distillation model config."""
    model_cfg = model_cfg.copy()
    if model_cfg.get('type') == 'KDPoseEstimator':
        model_cfg.pop('teacher', None)
        model_cfg.pop('distill', None)
        model_cfg['type'] = 'TopdownPoseEstimator'
    return model_cfg


class FrozenTeacher:
    """A pose model in eval mode with no gradients, called on the student's inputs.

    Args:
        model: the built teacher model (weights already loaded).
        input_affine: optional ``(scale, shift)`` tensors of shape (1,3,1,1)
            mapping the student's normalised inputs to the teacher's
            normalisation (``x_t = x_s * scale + shift``), for a teacher trained
            with another mean/std.
    """

    def __init__(self, model: nn.Module, input_affine=None):
        model.eval()
        model.requires_grad_(False)
        # any later model.train() keeps eval mode (BN stats and dropout frozen)
        model.train = types.MethodType(_locked_train, model)
        self.model = model
        self.input_affine = input_affine

    @classmethod
    def from_config(cls, config, checkpoint, student: nn.Module | None = None,
                    cfg_options: dict | None = None) -> 'FrozenTeacher':
        model = build_pose_model(config, cfg_options)
        load_model_weights(model, resolve_checkpoint(checkpoint), 'teacher checkpoint')
        affine = None
        if student is not None:
            check_compatible(model, student, config)
            affine = normalisation_affine(student.data_preprocessor,
                                          model.data_preprocessor)
        return cls(model, affine)

    def to(self, device) -> 'FrozenTeacher':
        self.model.to(device)
        if self.input_affine is not None:
            self.input_affine = tuple(t.to(device) for t in self.input_affine)
        return self

    @torch.no_grad()
    def __call__(self, inputs: torch.Tensor) -> dict:
        """Return ``{'heatmap'|'simcc': head outputs, 'feature': last feature map}``."""
        if self.input_affine is not None:
            scale, shift = self.input_affine
            inputs = inputs * scale + shift
        feats = self.model.extract_feat(inputs)
        return split_head_outputs(self.model.head.forward(feats), feats)

    def fingerprint(self) -> str:
        """SHA-256 over all parameters and buffers (the integrity tests use it)."""
        h = hashlib.sha256()
        for name, t in sorted(self.model.state_dict().items()):
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()


def _codec_input_size(model):
    decoder = getattr(model.head, 'decoder', None)
    return tuple(getattr(decoder, 'input_size', ())) or None


def check_compatible(teacher: nn.Module, student: nn.Module, config) -> None:
    """Teacher and student must see the same crops and predict the same key points."""
    kt, ks = teacher.head.out_channels, student.head.out_channels
    if kt != ks:
        raise ValueError(
            f'teacher {config}: predicts {kt} key points, the student {ks}; '
            'distillation needs the same key-point set')
    st, ss = _codec_input_size(teacher), _codec_input_size(student)
    if st and ss and st != ss:
        raise ValueError(
            f'teacher {config}: codec input_size {st} differs from the '
            f"student's {ss}; retrain the teacher at {ss} or set "
            f"teacher=dict(..., cfg_options=dict(codec=dict(input_size={ss}))) "
            'only if it was trained at that size')


def normalisation_affine(student_pre, teacher_pre):
    """(scale, shift) turning student-normalised pixels into teacher-normalised ones."""
    ms, ss = student_pre.mean, student_pre.std
    mt, st = teacher_pre.mean, teacher_pre.std
    if torch.equal(ms, mt) and torch.equal(ss, st):
        return None
    # x_raw = x_s * s_s + m_s ;  x_t = (x_raw - m_t) / s_t
    return (ss / st).view(1, -1, 1, 1), ((ms - mt) / st).view(1, -1, 1, 1)
