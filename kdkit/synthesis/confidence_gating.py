"""Distil only where the teacher is confident (and agrees with the label)."""
from __future__ import annotations

from typing import Optional

import torch
from mmpose.registry import MODELS
from torch import Tensor

from .base import BaseSynthesis, SynthesisContext, weighted_loss_dict

KINDS = ('heatmap', 'simcc')


def teacher_peaks(pred, kind: str,
                  input_size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """Per-key-point confidence (B, K) and argmax location (B, K, 2) in
    input pixels, as MMPose's decoders report them (``get_heatmap_maximum``
    / ``get_simcc_maximum``): heatmap -> peak value, cell j at j * stride;
    simcc -> min of the x and y peak logits, bin i at i * in_w / Wx."""
    in_w, in_h = input_size
    if kind == 'simcc':
        (conf_x, idx_x), (conf_y, idx_y) = (p.max(dim=-1) for p in pred)
        conf = torch.minimum(conf_x, conf_y)
        x = idx_x * (in_w / pred[0].shape[-1])
        y = idx_y * (in_h / pred[1].shape[-1])
    else:
        h, w = pred.shape[-2:]
        conf, idx = pred.flatten(-2).max(dim=-1)
        x = (idx % w) * (in_w / w)
        y = torch.div(idx, w, rounding_mode='floor') * (in_h / h)
    return conf, torch.stack((x, y), dim=-1)


@MODELS.register_module()
class ConfidenceGating(BaseSynthesis):
    """Gate the KD terms per key point by teacher confidence and agreement.

    Per key point (b, k), with c the teacher's confidence, a its argmax in
    input pixels and y the label::

        g = [c >= threshold] * ([not labelled] or
                                [|a - y| <= tolerance * max(w, h)])

    where labelled means a labelled frame and gt_weight > 0; y comes from
    ``PackPoseInputs(pack_transformed=True)`` or, in stock pipelines, from
    the packed targets (:mod:`kdkit.synthesis.labels`). So: distil a
    confident teacher on unlabelled key points, and on labelled ones only
    where it agrees with the label; elsewhere fall back to the label (the GT
    term is untouched). Loss: L = sum_i w_i L_i; the Distiller applies g as
    the ``weight`` of the KD losses.

    Confidence is the key-point score MMPose itself reports, so ``threshold``
    means what it means for MMPose's keypoint thresholds: heatmap -> the
    map's peak value; simcc -> min of the x and y peak logits
    (``get_simcc_maximum``).
    Not a softmax probability: RTMPose's SimCC logits are trained as
    softmax(10 * logits) over hundreds of bins, so even a perfect prediction
    has peak probability ~0.2 and any probability threshold near 0.5 would
    gate out everything.

    Logs 'gate_ratio', the fraction of (frame, key point) pairs gated in by
    the last :meth:`keypoint_weights` call (also ``last_gate_ratio``).
    """

    def __init__(self, threshold: float = 0.5, tolerance: float = 0.1,
                 kind: str = 'heatmap'):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f'kind must be one of {KINDS}, got {kind!r}')
        if tolerance < 0:
            raise ValueError(f'tolerance must be >= 0, got {tolerance}')
        self.threshold = float(threshold)
        self.tolerance = float(tolerance)
        self.kind = kind
        self.last_gate_ratio: Optional[Tensor] = None

    def keypoint_weights(self, ctx: SynthesisContext) -> Tensor:
        if self.kind not in ctx.teacher:
            raise ValueError(f'ConfidenceGating(kind={self.kind!r}) needs the '
                             f"teacher's {self.kind!r} output; it has "
                             f'{sorted(ctx.teacher)}')
        conf, loc = teacher_peaks(ctx.teacher[self.kind], self.kind,
                                  ctx.input_size)
        confident = conf >= self.threshold
        labelled = ctx.is_labeled.bool()[:, None] & (ctx.gt_weights > 0)
        gate = confident
        if labelled.any():  # labels are needed only where there are any
            gate = gate & (~labelled | self._agrees(loc, ctx))
        gate = gate.to(conf.dtype)
        self.last_gate_ratio = gate.mean().detach()
        return gate

    def _agrees(self, loc: Tensor, ctx: SynthesisContext) -> Tensor:
        """(B, K) teacher argmax within tolerance * max(w, h) of the label."""
        if ctx.gt_keypoints is None:
            raise ValueError('ConfidenceGating: the batch has no labels in model-input '
                             'pixels (neither transformed key points nor encoded targets); '
                             'use PackPoseInputs(pack_transformed=True) in the train pipeline')
        radius = self.tolerance * max(ctx.input_size)
        dist = (loc - ctx.gt_keypoints.to(loc.dtype)).norm(dim=-1)
        return dist <= radius

    def forward(self, terms: dict[str, Tensor],
                weights: dict[str, float]) -> dict[str, Tensor]:
        self._validate(terms, weights)
        out = weighted_loss_dict(terms, weights)
        if self.last_gate_ratio is not None:
            out['gate_ratio'] = self.last_gate_ratio
        return out
