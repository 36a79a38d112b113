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

from kdkit.distill.mapping import (TeacherAlignment, check_cfg_options, model_view,
                                  plan_alignment)
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
            normalisation (``x_t = x_s * scale + shift``, after
            ``input_channels``), for a teacher trained with another mean/std.
        alignment: optional :class:`~kdkit.distill.mapping.TeacherAlignment`
            mapping the student's crop to the teacher's input size and the
            teacher's outputs onto the student's grid and key points.
        input_channels: optional channel order (``[2, 1, 0]``) for a teacher
            whose ``bgr_to_rgb`` differs from the student's.
    """

    def __init__(self, model: nn.Module, input_affine=None,
                 alignment: TeacherAlignment | None = None, input_channels=None):
        model.eval()
        model.requires_grad_(False)
        # any later model.train() keeps eval mode (BN stats and dropout frozen)
        model.train = types.MethodType(_locked_train, model)
        self.model = model
        self.input_affine = input_affine
        self.alignment = None if alignment is None or alignment.is_identity else alignment
        self.input_channels = None if input_channels is None else list(input_channels)

    @classmethod
    def from_config(cls, config, checkpoint, student: nn.Module | None = None,
                    cfg_options: dict | None = None, *, keypoint_map=None, metainfo=None,
                    student_meta=None, student_cfg=None,
                    field: str = 'teacher') -> 'FrozenTeacher':
        """Build, check against ``student`` and load a teacher.

        Args:
            config, checkpoint, cfg_options, keypoint_map, metainfo: the
                teacher dict's keys (see :class:`~kdkit.distill.DistillLossHook`).
            student: the student model; without it nothing is checked or mapped.
            student_meta: the metainfo of the student's training data (its
                key-point names); student_cfg: the run's config (its crop).
            field: the teacher dict's place in the config, for messages.
        """
        cfg = load_any_config(config)
        check_cfg_options(cfg_options, f'{field}.cfg_options')
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        model = build_pose_model(cfg)
        affine = alignment = channels = None
        if student is not None:  # checked before the (maybe downloaded) weights are read
            alignment = plan_alignment(model_view(model, cfg, metainfo, 'teacher'),
                                       model_view(student, student_cfg, student_meta, 'student'),
                                       keypoint_map, field)
            channels = channel_order(student.data_preprocessor, model.data_preprocessor)
            affine = normalisation_affine(student.data_preprocessor, model.data_preprocessor)
        load_model_weights(model, resolve_checkpoint(checkpoint), 'teacher checkpoint')
        return cls(model, affine, alignment, channels)

    @property
    def keypoint_mask(self) -> torch.Tensor | None:
        """(K,) over the student's key points: 0 where the teacher has no
        counterpart (the Distiller masks those out of the KD terms); None
        when every key point is distilled."""
        return None if self.alignment is None else self.alignment.keypoint_mask

    def describe(self) -> str:
        """How the teacher is mapped onto the student ('' when it is not)."""
        parts = [self.alignment.describe()] if self.alignment is not None else []
        if self.input_channels is not None:
            parts.append(f'input channels {self.input_channels} (bgr_to_rgb differs)')
        return '; '.join(p for p in parts if p)

    @property
    def device(self) -> torch.device:
        """Where the teacher's inputs go (as ``OnnxPoseTeacher.device``)."""
        return next(self.model.parameters()).device

    def to(self, device) -> 'FrozenTeacher':
        self.model.to(device)
        move_input_maps(self, device)
        return self

    @torch.no_grad()
    def __call__(self, inputs: torch.Tensor) -> dict:
        """Return ``{'heatmap'|'simcc': head outputs, 'feature': last feature map}``
        for the student's (normalised) inputs, the head outputs on the
        student's grid and key points."""
        if self.input_channels is not None:
            inputs = inputs[:, self.input_channels]
        if self.input_affine is not None:
            scale, shift = self.input_affine
            inputs = inputs * scale + shift
        if self.alignment is not None:
            inputs = self.alignment.inputs(inputs)
        feats = self.model.extract_feat(inputs)
        out = split_head_outputs(self.model.head.forward(feats), feats)
        return out if self.alignment is None else self.alignment.outputs(out)

    def fingerprint(self) -> str:
        """SHA-256 over all parameters and buffers (the integrity tests use
        it) and, when the teacher is mapped onto the student, that mapping
        (so a teacher-output cache of another mapping is not reused)."""
        h = hashlib.sha256()
        for name, t in sorted(self.model.state_dict().items()):
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        if self.describe():
            h.update(self.describe().encode())
        return h.hexdigest()


def swaps_channels(pre) -> bool:
    """Whether a data preprocessor reverses the channels (``bgr_to_rgb`` or
    ``rgb_to_bgr``: the same swap of the loaded image)."""
    return bool(getattr(pre, '_channel_conversion', False))


def channel_order(student_pre, teacher_pre) -> list | None:
    """``[2, 1, 0]`` when exactly one of the two preprocessors swaps the
    image's channels (both receive the same loaded image), else None."""
    return [2, 1, 0] if swaps_channels(student_pre) != swaps_channels(teacher_pre) else None


def _mean_std(pre):
    mean, std = getattr(pre, 'mean', None), getattr(pre, 'std', None)
    if mean is None:  # normalisation switched off
        return torch.zeros(3, 1, 1), torch.ones(3, 1, 1)
    # on the CPU: the student may already sit on a GPU, the new teacher not yet
    return mean.detach().cpu(), std.detach().cpu()


def normalisation_affine(student_pre, teacher_pre):
    """(scale, shift) turning student-normalised pixels, already in the
    teacher's channel order (:func:`channel_order`), into teacher-normalised ones."""
    ms, ss = _mean_std(student_pre)
    mt, st = _mean_std(teacher_pre)
    order = channel_order(student_pre, teacher_pre)
    if order is not None:  # mean/std apply after each model's own swap
        ms, ss = ms[order], ss[order]
    if torch.equal(ms, mt) and torch.equal(ss, st):
        return None
    # x_raw = x_s * s_s + m_s (student order, then reordered) ; x_t = (x_raw - m_t) / s_t
    return (ss / st).view(1, -1, 1, 1), ((ms - mt) / st).view(1, -1, 1, 1)


def move_input_maps(teacher, device) -> None:
    """A teacher's normalisation affine and student mapping onto ``device``
    (what ``to`` moves besides the network, for every teacher kind)."""
    if teacher.input_affine is not None:
        teacher.input_affine = tuple(t.to(device) for t in teacher.input_affine)
    if teacher.alignment is not None:
        teacher.alignment.to(device)
