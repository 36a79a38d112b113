"""``KDPoseEstimator``: the model-wrapper entry point, for trainable distillation parts.

Use it when a term owns parameters (``FeatureMSEDistillLoss``'s connector) or
the synthesis rule learns (``UncertaintyWeighting``): those must be in the
model to reach the optimizer and the checkpoints. It *is* the student (a
``TopdownPoseEstimator`` with the student's backbone/neck/head keys), plus a
``distiller`` sub-module; the teacher stays outside the module tree.
A checkpoint therefore loads into the plain student config; its extra
``distiller.*`` keys are ignored by ``kdkit.utils.load_model_weights`` and
reported as unexpected (harmless) by MMEngine's non-strict loader.

    model = dict(type='KDPoseEstimator',   # on top of the student's model dict
                 teacher=dict(config=..., checkpoint=...),
                 distill=dict(terms=..., weights=..., synthesis=...))
"""
from __future__ import annotations

from mmengine.visualization import Visualizer
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS

from kdkit.distill.distiller import Distiller
from kdkit.distill.hook import build_teacher, check_teacher_spec


@MODELS.register_module()
class KDPoseEstimator(TopdownPoseEstimator):
    """A top-down student trained with a frozen teacher (see module doc).

    Args:
        teacher: ``dict(config=..., checkpoint=..., cfg_options=None,
            keypoint_map=None, metainfo=None)``, as ``DistillLossHook``'s.
        distill: ``dict(terms=..., weights=..., synthesis=...)`` as for
            :class:`~kdkit.distill.Distiller`.
        **student: the student's ``TopdownPoseEstimator`` arguments.
    """

    def __init__(self, teacher: dict, distill: dict, **student):
        super().__init__(**student)
        unknown = set(distill) - {'terms', 'weights', 'synthesis'}
        if unknown:
            raise ValueError(f'model.distill: unknown keys {sorted(unknown)} '
                             "(expected 'terms', 'weights', 'synthesis')")
        self.distiller = Distiller(**distill)
        check_teacher_spec(teacher, 'model.teacher')
        self.teacher_cfg = dict(teacher)

    def attach_teacher(self, student_meta: dict | None = None, student_cfg=None):
        """Build and attach the frozen teacher (once), on this model's device.

        ``student_meta``: the training data's metainfo, whose key-point names
        the teacher's are matched with (default: this model's ``metainfo``,
        else the metainfo MMEngine's train loop gives the visualizer);
        ``student_cfg``: the run's config (its crop and codec)."""
        if self.distiller.teacher is None:
            self.distiller.teacher = build_teacher(
                self.teacher_cfg, student=self,
                student_meta=student_meta or self.metainfo or train_metainfo(),
                student_cfg=student_cfg, field='model.teacher')
        self.distiller.teacher.to(next(self.parameters()).device)
        return self.distiller.teacher

    def loss(self, inputs, data_samples) -> dict:
        # the teacher is built lazily: prediction/export never need it
        if self.distiller.teacher is None and self.distiller.teacher_source is None:
            self.attach_teacher()
        return self.distiller.loss(self, inputs, data_samples)

    def _apply(self, fn, *args, **kwargs):
        # .to()/.cuda() move the teacher too, although it is not a sub-module
        super()._apply(fn, *args, **kwargs)
        if self.distiller.teacher is not None:
            self.distiller.teacher.model._apply(fn, *args, **kwargs)
        return self


def train_metainfo() -> dict | None:
    """The training set's metainfo: MMEngine's train loop hands it to the
    current visualizer (``dataset_meta``) before the first iteration; None
    outside a run."""
    try:
        return getattr(Visualizer.get_current_instance(), 'dataset_meta', None) or None
    except RuntimeError:  # no visualizer yet: not inside a runner
        return None


# Learned synthesis parameters (UncertaintyWeighting's log-variances) are a
# handful of scalars whose targets (log L_i) may lie several units from 0:
# at the student's lr they barely move in a short schedule, and weight decay
# pulls them towards 0 (sigma = 1). An Adam-type step is about lr per
# iteration, so x50 of MMPose's base lrs (5e-4 .. 4e-3) gives 0.025 .. 0.2 per
# iteration: a few hundred iterations cover that range.
SYNTHESIS_KEY = 'distiller.synthesis'
SYNTHESIS_LR_MULT = 50.0


def synthesis_paramwise(cfg) -> bool:
    """Give a learned synthesis rule its own lr and no weight decay.

    For a ``KDPoseEstimator`` config whose rule has parameters, adds
    ``optim_wrapper.paramwise_cfg.custom_keys['distiller.synthesis'] =
    dict(lr_mult=SYNTHESIS_LR_MULT, decay_mult=0.0)`` (MMEngine's
    ``DefaultOptimWrapperConstructor``; the user's other paramwise settings
    stay) unless a custom key of the config already reaches those parameters.
    ``decay_mult`` only where the optimizer config sets ``weight_decay``
    (MMEngine refuses it otherwise; without it there is no decay to undo,
    except an optimizer's own default such as AdamW's 0.01).
    kdkit's ``build_runner`` calls it; with MMPose's ``tools/train.py`` add
    that line to the config. Returns whether the key was added.
    """
    model = cfg.get('model') or {}
    if model.get('type') != 'KDPoseEstimator':
        return False
    names = synthesis_param_names((model.get('distill') or {}).get('synthesis'))
    paramwise = (cfg.get('optim_wrapper') or {}).get('paramwise_cfg') or {}
    if not names or any(key in name for key in paramwise.get('custom_keys') or {}
                        for name in names):
        return False
    key = dict(lr_mult=SYNTHESIS_LR_MULT)
    if (cfg.optim_wrapper.get('optimizer') or {}).get('weight_decay') is not None:
        key['decay_mult'] = 0.0
    cfg.merge_from_dict({'optim_wrapper.paramwise_cfg.custom_keys': {SYNTHESIS_KEY: key}})
    return True


def synthesis_param_names(synthesis: dict | None) -> list[str]:
    """Full parameter names of a synthesis rule config inside KDPoseEstimator."""
    if not synthesis:
        return []
    rule = MODELS.build(dict(synthesis))
    return [f'{SYNTHESIS_KEY}.{name}' for name, _ in rule.named_parameters()]
