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

from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS

from kdkit.distill.distiller import Distiller


@MODELS.register_module()
class KDPoseEstimator(TopdownPoseEstimator):
    """A top-down student trained with a frozen teacher (see module doc).

    Args:
        teacher: ``dict(config=..., checkpoint=..., cfg_options=None)``.
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
        self.teacher_cfg = dict(teacher)

    def attach_teacher(self):
        """Build and attach the frozen teacher (once), on this model's device."""
        from kdkit.distill.teacher import FrozenTeacher
        if self.distiller.teacher is None:
            self.distiller.teacher = FrozenTeacher.from_config(
                self.teacher_cfg['config'], self.teacher_cfg['checkpoint'],
                student=self, cfg_options=self.teacher_cfg.get('cfg_options'))
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
