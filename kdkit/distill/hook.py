"""``DistillLossHook``: distillation on a stock MMPose config, one ``custom_hooks`` entry.

    custom_imports = dict(imports=['kdkit'], allow_failed_imports=False)
    custom_hooks = [dict(
        type='DistillLossHook',
        teacher=dict(config='configs/teacher/....py', checkpoint='work_dirs/teacher'),
        terms=dict(kd_heatmap=dict(type='HeatmapMSEDistillLoss')),
        weights=dict(gt=1.0, kd_heatmap=1.0),
        synthesis=dict(type='WeightedSum'))]

Before training it builds the frozen teacher next to (not inside) the student
and routes the student's ``loss`` through :class:`Distiller`. Checkpoints
therefore hold the plain student and load into the plain student config.
Terms or rules with trainable parameters need :class:`KDPoseEstimator`.

A model-zoo teacher (a URL checkpoint with MMPose 0.x key names), a teacher
with other key points (COCO-WholeBody, Halpe; paired by name) or at another
input size or codec (UDP or not) is mapped onto the student by
:mod:`kdkit.distill.mapping`.
"""
from __future__ import annotations

from pathlib import Path

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS

from kdkit.distill.distiller import Distiller
from kdkit.distill.mapping import check_cfg_options, check_keypoint_map_spec
from kdkit.distill.teacher import FrozenTeacher, load_any_config
from kdkit.teachers.onnx import OnnxPoseTeacher, check_onnx_spec
from kdkit.teachers.pseudo_labels import PseudoLabelTeacher, check_pseudo_spec
from kdkit.utils.validate import check_keypoint_match


def unwrap(model):
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class DistillLossHook(Hook):
    """Plug a distillation loss into a plain MMPose top-down model.

    Args:
        teacher: ``dict(config=..., checkpoint=..., cfg_options=None,
            keypoint_map=None, metainfo=None)``:

            - ``config``: the teacher's MMPose config (a file or ``mmpose::...``);
            - ``checkpoint``: a ``.pth``, an ``http(s)://`` URL (downloaded
              once into torch hub's cache; MMPose 0.x names such as
              ``keypoint_head.*`` are renamed as MMPose loads them) or a
              work_dir (its best/last checkpoint);
            - ``cfg_options``: overrides merged into the teacher config
              (``codec=`` is refused: it would change nothing);
            - ``keypoint_map``: how the teacher's key points teach the
              student's, compared by name (the teacher's from its config's
              dataset metainfo, the student's from the run's training data).
              Default None: the names must be the same, or the student's all
              among the teacher's (a COCO-WholeBody/Halpe/DWPose teacher for
              a COCO student: picked by name); ``'auto'``: the shared names
              only, the student's other key points masked out of the KD
              terms; ``dict(student_name=teacher_name or None)``: pairs added
              to (or removed from) the by-name map, e.g.
              ``dict(head_top='head')``; a list of one teacher index (or
              None) per student key point, for a teacher without names;
            - ``metainfo``: the teacher's key-point names when its config has
              no dataset metainfo: ``dict(from_file='configs/_base_/datasets/
              coco_wholebody.py')``, a metainfo dict or a list of names.

            A teacher at another input size or codec (UDP or not, heatmap or
            SimCC) is fed the student's crop resampled to its input size and
            its outputs resampled onto the student's grid; the two inputs
            must have the same aspect ratio. Normalisation and ``bgr_to_rgb``
            are re-mapped when the two data preprocessors differ.

            ``dict(type='onnx', file=..., input_size=..., output=..., mean=...,
            std=..., bgr_to_rgb=..., ...)``: an ONNX model run by ONNX Runtime
            (:mod:`kdkit.teachers.onnx`), mapped onto the student the same way.
        terms: ``{name: loss config}``; each is logged as ``loss_<name>``.
        weights: ``{'gt': w, name: w, ...}``.
        synthesis: the synthesis rule config (default ``WeightedSum``).
    """

    priority = 'HIGH'  # set up before schedule / cache hooks look for it

    def __init__(self, teacher: dict, terms: dict, weights: dict,
                 synthesis: dict | None = None):
        own_keys = isinstance(teacher, dict) and teacher.get('type') in TEACHER_TYPES[1:]
        if not own_keys:  # an MMPose teacher (the others' keys: check_teacher_spec)
            check_mmpose_teacher_keys(teacher, 'DistillLossHook.teacher')
        check_teacher_spec(teacher, 'DistillLossHook.teacher', TEACHER_TYPES)
        self.teacher_cfg = teacher
        self.distiller = Distiller(terms, weights, synthesis)
        if self.distiller.has_params:
            raise ValueError(
                'DistillLossHook: a term or the synthesis rule has trainable '
                'parameters, which a hook cannot hand to the optimizer; use '
                "model=dict(type='KDPoseEstimator', teacher=..., distill=...) instead")

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        check_data_keypoints(runner, model)
        device = next(model.parameters()).device
        if self.distiller.teacher is None:
            dataset = getattr(runner.train_dataloader, 'dataset', None)
            self.distiller.teacher = build_teacher(
                self.teacher_cfg, student=model,
                student_meta=getattr(dataset, 'metainfo', None) or None,
                student_cfg=runner.cfg, field=teacher_field(runner.cfg))
        self.distiller.teacher.to(device)
        self.distiller.to(device)
        install_distiller(model, self.distiller)
        runner.logger.info(
            f'kdkit: distilling from {teacher_source(self.teacher_cfg)} with terms '
            f'{list(self.distiller.terms)} and {type(self.distiller.synthesis).__name__}')
        mapped = self.distiller.teacher.describe()
        if mapped:
            runner.logger.info(f'kdkit: teacher mapped onto the student: {mapped}')

    def after_train(self, runner) -> None:
        uninstall_distiller(unwrap(runner.model))


TEACHER_KEYS = ('config', 'checkpoint', 'cfg_options', 'keypoint_map', 'metainfo')
# a teacher dict's ``type``: absent or 'mmpose' (config + checkpoint), 'onnx'
# (kdkit.teachers.onnx, its own keys) or 'pseudo_labels' (kdkit.teachers.pseudo_labels:
# key points cached in the data); KDPoseEstimator takes MMPose teachers only
TEACHER_TYPES = ('mmpose', 'onnx', 'pseudo_labels')


def check_mmpose_teacher_keys(spec, field: str) -> None:
    """An MMPose teacher dict has config and checkpoint and no unknown keys."""
    if not isinstance(spec, dict) or not {'config', 'checkpoint'} <= set(spec):
        raise ValueError(f'{field}: expected dict(config=..., checkpoint=...[, cfg_options=..., '
                         f"keypoint_map=..., metainfo=...]), dict(type='onnx', file=..., "
                         f"...) or dict(type='pseudo_labels'), got {spec!r}")
    unknown = set(spec) - set(TEACHER_KEYS) - {'type'}
    if unknown:
        raise ValueError(f'{field}: unknown keys {sorted(unknown)} '
                         f'(expected {", ".join(TEACHER_KEYS)})')


def check_teacher_spec(spec: dict, field: str, types: tuple = ('mmpose',)) -> None:
    """The form of a teacher dict's optional keys (all of an ONNX teacher's),
    in one line naming the field; ``types``: the teacher types the caller builds."""
    kind = spec.get('type', 'mmpose')
    if kind not in types:
        raise ValueError(f'{field}.type: expected {" or ".join(map(repr, types))}, got {kind!r}'
                         + ('; an ONNX teacher goes in a DistillLossHook' if kind == 'onnx'
                            else ''))
    if kind == 'onnx':
        check_onnx_spec(spec, field)
    elif kind == 'pseudo_labels':
        check_pseudo_spec(spec, field)
    else:
        check_cfg_options(spec.get('cfg_options'), f'{field}.cfg_options')
        check_keypoint_map_spec(spec.get('keypoint_map'), f'{field}.keypoint_map')
    meta = spec.get('metainfo')
    if meta is not None and not (isinstance(meta, (dict, str)) or (
            isinstance(meta, (list, tuple)) and all(isinstance(n, str) for n in meta))):
        raise ValueError(f"{field}.metainfo: expected dict(from_file=...), a metainfo dict, "
                         f'a file path or a list of key-point names, got {meta!r}')


def build_teacher(spec: dict, **student):
    """The teacher of a teacher dict, by its ``type``: a
    :class:`FrozenTeacher` (MMPose config + checkpoint) or an
    :class:`~kdkit.teachers.onnx.OnnxPoseTeacher`; ``student``: the
    ``student``, ``student_meta``, ``student_cfg`` and ``field`` arguments
    of both builders."""
    if spec.get('type') == 'onnx':
        return OnnxPoseTeacher.from_spec(spec, **student)
    if spec.get('type') == 'pseudo_labels':
        return PseudoLabelTeacher.from_spec(spec, **student)
    return FrozenTeacher.from_config(spec['config'], spec['checkpoint'],
                                     cfg_options=spec.get('cfg_options'),
                                     keypoint_map=spec.get('keypoint_map'),
                                     metainfo=spec.get('metainfo'), **student)


def teacher_source(spec: dict) -> str:
    """The teacher's config or .onnx file, for the log."""
    if spec.get('type') == 'pseudo_labels':
        return 'pseudo-labels in the training data'
    return str(spec.get('file') if spec.get('type') == 'onnx' else spec.get('config'))


def teacher_field(cfg) -> str:
    """Where the DistillLossHook's teacher dict sits in a config, for messages:
    ``custom_hooks[i].teacher``."""
    for i, hook in enumerate((cfg.get('custom_hooks') if cfg is not None else None) or []):
        if isinstance(hook, dict) and is_distill_hook_cfg(hook):
            return f'custom_hooks[{i}].teacher'
    return 'DistillLossHook.teacher'


def check_data_keypoints(runner, model) -> None:
    """The training data has as many key points as the student predicts (the
    teacher is checked against the student when it is built)."""
    dataset = getattr(runner.train_dataloader, 'dataset', None)
    meta = getattr(dataset, 'metainfo', None) or {}
    check_keypoint_match(meta.get('num_keypoints'), getattr(model.head, 'out_channels', None),
                         'train_dataloader.dataset', str(meta.get('dataset_name', '')))


def install_distiller(model, distiller: Distiller) -> None:
    """Route ``model.loss`` through ``distiller`` (an instance attribute, so the
    class, the state_dict and the checkpoints stay those of the plain model)."""
    def loss(inputs, data_samples):
        return distiller.loss(model, inputs, data_samples)
    model.loss = loss
    model.__dict__['kd_distiller'] = distiller


def uninstall_distiller(model) -> None:
    model.__dict__.pop('loss', None)
    model.__dict__.pop('kd_distiller', None)


def find_distiller(runner) -> Distiller:
    """The active Distiller of a run: the model wrapper's or the loss hook's."""
    model = unwrap(runner.model)
    distiller = getattr(model, 'distiller', None) or model.__dict__.get('kd_distiller')
    if distiller is None:
        for hook in runner.hooks:
            if isinstance(hook, DistillLossHook):
                return hook.distiller
        raise RuntimeError('no distillation in this run: add a DistillLossHook '
                           "to custom_hooks or use model type 'KDPoseEstimator'")
    return distiller


def is_distill_hook_cfg(entry) -> bool:
    """Whether a ``custom_hooks`` entry is a DistillLossHook (by name or class)."""
    return entry.get('type') in ('DistillLossHook', DistillLossHook)


def hook_option(config, key: str) -> str:
    """The ``cfg_options`` key of ``key`` inside a config's DistillLossHook entry,
    e.g. ``custom_hooks.1.teacher.checkpoint``: found by type, not by position."""
    cfg = load_any_config(config) if isinstance(config, (str, Path)) else config
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        if is_distill_hook_cfg(hook):
            return f'custom_hooks.{i}.{key}'
    raise ValueError(f'{config if isinstance(config, str) else "config"}: custom_hooks has '
                     'no DistillLossHook entry')
