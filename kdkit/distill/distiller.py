"""The one implementation of kdkit's distillation loss.

Both entry points call :meth:`Distiller.loss`:

* :class:`~kdkit.distill.hook.DistillLossHook` (a ``custom_hooks`` entry on a
  stock MMPose config) for parameter-free terms;
* :class:`~kdkit.distill.estimator.KDPoseEstimator` (a model wrapper) when a
  term or the synthesis rule has trainable parameters (feature connectors,
  learned uncertainty weights).

For a batch of frames:

    result 1 = student(frames)        loss 1 = the student head's own loss vs labels
    result 2 = teacher(frames)        loss 2..n = distillation terms (result 1 vs result 2)
    total    = synthesis rule(named terms, current weights)

Every term is returned under its own ``loss_<name>`` key, so MMEngine logs it
separately and sums them; ``w_<name>`` keys log the weights in force.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from kdkit.distill.outputs import capture_head_forward, split_head_outputs
from kdkit.synthesis.labels import input_keypoints
from kdkit.teachers.pseudo_labels import split_label_weights

GT_TERM = 'gt'


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or Inf; the message names the term and the step."""


def build_terms(terms: dict) -> nn.ModuleDict:
    from mmpose.registry import MODELS
    if not isinstance(terms, dict) or not terms:
        raise ValueError('distill.terms: expected a non-empty dict name -> loss '
                         f"config, e.g. dict(kd_heatmap=dict(type='HeatmapMSEDistillLoss')), got {terms!r}")
    if GT_TERM in terms:
        raise ValueError(f"distill.terms: '{GT_TERM}' is reserved for the "
                         "student head's own loss against the labels")
    built = nn.ModuleDict()
    for name, cfg in terms.items():
        if not name.isidentifier():
            raise ValueError(f'distill.terms: term name {name!r} must be an identifier')
        built[name] = MODELS.build(cfg)
    return built


class Distiller(nn.Module):
    """Loss terms + synthesis rule + (online or cached) teacher outputs.

    Args:
        terms: ``{name: loss config}`` of the distillation terms (``kdkit.losses``).
        weights: ``{name: float}`` for ``'gt'`` and every term; mutable at run
            time (``WeightScheduleHook``, notebook sliders).
        synthesis: config of the synthesis rule (``kdkit.synthesis``).
        teacher: a :class:`FrozenTeacher`; may be attached later.
    """

    def __init__(self, terms: dict, weights: dict, synthesis: dict | None = None,
                 teacher=None):
        super().__init__()
        from mmpose.registry import MODELS
        from kdkit.synthesis.base import check_weights
        self.terms = build_terms(terms)
        expected = {GT_TERM, *self.terms}
        if set(weights) != expected:
            raise ValueError(f'distill.weights: keys {sorted(weights)} must be '
                             f'exactly {sorted(expected)}')
        check_weights(weights)
        self.weights = {k: float(v) for k, v in weights.items()}
        self.synthesis = MODELS.build(synthesis or dict(type='WeightedSum'))
        self.teacher = teacher
        # where teacher outputs come from; a cache hook may replace it
        self.teacher_source = None
        self.step = 0

    @property
    def has_params(self) -> bool:
        return any(True for _ in self.parameters())

    def __setattr__(self, name, value):
        # keep the teacher out of the module tree (state_dict, optimizer, .train())
        if name == 'teacher':
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def teacher_outputs(self, inputs, data_samples) -> dict:
        if self.teacher_source is not None:
            return self.teacher_source(inputs, data_samples)
        if self.teacher is None:
            raise RuntimeError('Distiller has no teacher: attach a FrozenTeacher '
                               'or a teacher cache before training')
        if getattr(self.teacher, 'reads_samples', False):  # pseudo-labels in the data
            return self.teacher(inputs, data_samples)
        return self.teacher(inputs)

    def loss(self, student, inputs: torch.Tensor, data_samples) -> dict:
        """Compute every named, weighted term for one batch (see module doc)."""
        from kdkit.synthesis.base import SynthesisContext
        # teacher first: a pseudo-label teacher takes its samples' label weights
        t_out = dict(self.teacher_outputs(inputs, data_samples))
        teacher_weights = t_out.pop('keypoint_weights', None)
        split_label_weights(data_samples, t_out.pop('label_weights', None))
        feats = student.extract_feat(inputs)
        with capture_head_forward(student.head) as captured:
            head_losses = student.head.loss(feats, data_samples,
                                            train_cfg=student.train_cfg)
        s_out = split_head_outputs(captured['out'], feats)

        ctx = SynthesisContext(
            student=s_out, teacher=t_out,
            gt_keypoints=gt_input_keypoints(data_samples, inputs),
            gt_weights=gt_keypoint_weights(data_samples, inputs),
            input_size=(inputs.shape[-1], inputs.shape[-2]),
            is_labeled=None)
        ctx.is_labeled = ctx.gt_weights.sum(dim=1) > 0
        kpt_weights = self.keypoint_mask(self.synthesis.keypoint_weights(ctx), inputs)
        if teacher_weights is not None:  # per sample: e.g. the confidence of pseudo-labels
            kpt_weights = teacher_weights if kpt_weights is None else kpt_weights * teacher_weights

        raw = {GT_TERM: sum(v for k, v in head_losses.items() if k.startswith('loss'))}
        for name, term in self.terms.items():
            pred_s = s_out.get(term.input_kind)
            pred_t = t_out.get(term.teacher_kind)
            if pred_s is None or pred_t is None:
                raise ValueError(
                    f'distill.terms.{name}: {type(term).__name__} needs student '
                    f"'{term.input_kind}' and teacher '{term.teacher_kind}' outputs; "
                    f'the student gives {sorted(s_out)}, the teacher {sorted(t_out)}')
            weight = None if term.input_kind == 'feature' else kpt_weights
            raw[name] = term(pred_s, pred_t, weight)

        self.step += 1
        self.check_finite(raw)
        losses = self.synthesis(raw, self.weights)
        # keep the head's non-loss logs (e.g. acc_pose)
        losses.update({k: v for k, v in head_losses.items() if not k.startswith('loss')})
        return losses

    def keypoint_mask(self, kpt_weights, inputs: torch.Tensor):
        """The rule's (B, K) key-point weights (None: all ones) times the
        teacher's key-point mask: student key points the teacher has no
        counterpart for (a partial ``keypoint_map``) are left out of every
        per-key-point KD term."""
        mask = getattr(self.teacher, 'keypoint_mask', None)
        if mask is None:
            return kpt_weights
        mask = mask.to(inputs.device, inputs.dtype)[None]
        if kpt_weights is None:
            return mask.expand(inputs.shape[0], -1)
        return kpt_weights * mask

    def check_finite(self, raw: dict) -> None:
        for name, value in raw.items():
            v = float(value.detach())
            if not math.isfinite(v):
                raise NonFiniteLossError(
                    f'loss term {name!r} is {v} at distillation step {self.step} '
                    '(lower the learning rate or that term\'s weight, or check the data)')


def gt_keypoint_weights(data_samples, like: torch.Tensor) -> torch.Tensor:
    """(B,K) label weights of the first instance per sample (0 = no label)."""
    return torch.stack([
        torch.as_tensor(ds.gt_instance_labels.keypoint_weights, dtype=like.dtype)[0]
        for ds in data_samples]).to(like.device)


def gt_input_keypoints(data_samples, like: torch.Tensor):
    """(B,K,2) labels in model-input pixels (``transformed_keypoints``, else read
    back from the packed targets), or None when neither is packed."""
    return input_keypoints(data_samples, like)
