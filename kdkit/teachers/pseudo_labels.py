"""A teacher whose outputs were cached as key points in the training data.

``kdkit data from-video`` labels real frames with an off-the-shelf teacher
(MediaPipe BlazePose, an ONNX model) and writes its key points and per
key-point confidences into the COCO json as pseudo-labels
(``pseudo_label: true``, ``keypoint_scores``). In a run that mixes those
frames with labelled ones, ``teacher=dict(type='pseudo_labels')`` turns them
back into teacher outputs, so the same distillation terms and synthesis rule
as with a live teacher apply:

* on a pseudo-labelled sample, the teacher output is its key points (through
  the same augmentation as the frame: the pipeline transformed them as
  labels) rendered as the student's targets by
  :class:`~kdkit.teachers.onnx.KeypointRenderer`, as a key-point ONNX
  teacher's outputs are, at full height; each key point's KD weight is the
  teacher's confidence (0 below the labelling threshold, off the crop);
* its label weights are set to 0: the student head's own loss (loss 1) sees
  only human-labelled samples, the KD terms (loss 2) only pseudo-labelled ones;
* a sample without pseudo-labels (a generated, labelled frame) gets KD weight 0.

So per sample and key point, with w the label weight the codec encodes from
the pseudo-label's visibility and c the teacher's confidence::

    loss 1 weight = w  (labelled),   0      (pseudo-labelled)
    loss 2 weight = 0  (labelled),   w * c  (pseudo-labelled)

The samples must carry ``raw_ann_info`` in their metainfo (MMPose's default
``PackPoseInputs`` meta keys and kdkit's configs keep it).
"""
from __future__ import annotations

import hashlib
from typing import Optional

import numpy as np
import torch

from kdkit.distill.mapping import geometry, model_view
from kdkit.synthesis.labels import input_keypoints
from kdkit.teachers.onnx import KeypointRenderer

PSEUDO_KEYS = ('type',)


class PseudoLabelTeacher:
    """Pseudo-label key points in the data samples -> teacher outputs on the
    student's grid (module doc).

    Args:
        renderer: the student's :class:`KeypointRenderer`.
        field: the teacher dict's place in the config, for messages.
    """

    reads_samples = True  # the Distiller passes the data samples to __call__
    keypoint_mask = None  # the student's own key points: all of them

    def __init__(self, renderer: KeypointRenderer, field: str = 'teacher'):
        self.renderer = renderer
        self.field = field
        self.device = torch.device('cpu')

    @classmethod
    def from_spec(cls, spec: dict, student=None, *, student_meta=None, student_cfg=None,
                  field: str = 'teacher') -> 'PseudoLabelTeacher':
        """The renderer of ``student``'s codec (its grid and sigma)."""
        check_pseudo_spec(spec, field)
        if student is None:
            raise ValueError(f"{field}: pseudo-labels are rendered on the student's grid; "
                             'build the teacher with student=...')
        view = model_view(student, student_cfg, student_meta, 'student')
        grid, sigma = geometry(view), getattr(view.codec, 'sigma', None)
        if grid is None or sigma is None:
            name = type(view.codec).__name__ if view.codec is not None else 'no codec'
            raise ValueError(f"{field}: pseudo-labels become the student's heatmap or SimCC "
                             f'targets, but the student has {name} (no heatmap or SimCC grid '
                             'with a Gaussian sigma)')
        return cls(KeypointRenderer(grid, sigma), field)

    def describe(self) -> str:
        r = self.renderer
        return (f"pseudo-label key points rendered as the student's {r.kind} ({r.codec} "
                f'{r.size[0]}x{r.size[1]}, sigma {r.sigma[0]:g}x{r.sigma[1]:g}), '
                'weighted by the labelling teacher\'s confidence')

    def to(self, device) -> 'PseudoLabelTeacher':
        self.device = torch.device(device)
        return self

    def fingerprint(self) -> str:
        """Nothing to cache: the outputs are in the data; a stable id anyway."""
        return hashlib.sha256(f'pseudo_labels {self.describe()}'.encode()).hexdigest()

    @torch.no_grad()
    def __call__(self, inputs: torch.Tensor, data_samples=None) -> dict:
        """``{'heatmap'|'simcc': targets, 'keypoint_weights': (B, K),
        'label_weights': (B, K)}``: the rendered pseudo-labels, their KD
        weights and the factor on each sample's label weights (module doc)."""
        if data_samples is None:
            raise ValueError(f'{self.field}: the pseudo-label teacher reads the data samples; '
                             'it cannot run on images alone')
        kpts = input_keypoints(data_samples, inputs)
        if kpts is None:
            raise ValueError(f'{self.field}: the data samples pack neither transformed key '
                             'points nor targets to read the pseudo-labels from')
        label_w = torch.stack([torch.as_tensor(ds.gt_instance_labels.keypoint_weights)[0]
                               for ds in data_samples]).to(inputs.device, inputs.dtype)
        conf = torch.stack([torch.as_tensor(pseudo_confidence(ds, label_w.shape[1], self.field))
                            for ds in data_samples]).to(inputs.device, inputs.dtype)
        is_pseudo = (conf >= 0).all(dim=1, keepdim=True).to(inputs.dtype)
        out = self.renderer(kpts, torch.ones_like(label_w))
        out['keypoint_weights'] = is_pseudo * label_w * conf.clamp(min=0)
        out['label_weights'] = 1 - is_pseudo.expand_as(label_w)
        return out


def pseudo_confidence(data_sample, num_keypoints: int, field: str = 'teacher') -> np.ndarray:
    """(K,) the labelling teacher's confidences of a sample's key points, in
    the sample's (possibly flipped) key-point order; all -1 for a sample that
    is not pseudo-labelled."""
    meta = data_sample.metainfo
    if 'raw_ann_info' not in meta:
        raise ValueError(f"{field}: the data samples carry no 'raw_ann_info'; keep it in "
                         'PackPoseInputs.meta_keys (MMPose\'s default keeps it)')
    ann = meta['raw_ann_info'] or {}
    if not ann.get('pseudo_label'):
        return np.full(num_keypoints, -1.0, np.float32)
    scores = np.asarray(ann.get('keypoint_scores', ()), np.float32)
    if scores.shape != (num_keypoints,):
        raise ValueError(f"{field}: annotation {ann.get('id')} is a pseudo-label with "
                         f'keypoint_scores of shape {scores.shape}, expected ({num_keypoints},)')
    if meta.get('flip') and meta.get('flip_indices') is not None:
        scores = scores[np.asarray(meta['flip_indices'])]
    return np.clip(np.nan_to_num(scores, nan=0.0), 0.0, 1.0)


def check_pseudo_spec(spec, field: str) -> None:
    """``dict(type='pseudo_labels')``, no other keys."""
    unknown = set(spec) - set(PSEUDO_KEYS)
    if unknown:
        raise ValueError(f"{field}: unknown keys {sorted(unknown)} for type='pseudo_labels' "
                         '(it takes no options: the key points and confidences are in the data)')


def split_label_weights(data_samples, factor: Optional[torch.Tensor]) -> None:
    """Multiply each sample's label weights (first instance) by ``factor``
    (B, K) in place: the pseudo-labelled samples' go to 0, so the student
    head's loss sees only labelled ones."""
    if factor is None:
        return
    for ds, f in zip(data_samples, factor):
        w = ds.gt_instance_labels.keypoint_weights
        f = f.to(w.device if torch.is_tensor(w) else 'cpu')
        if torch.is_tensor(w):
            ds.gt_instance_labels.keypoint_weights = w * f.to(w.dtype)
        else:
            ds.gt_instance_labels.keypoint_weights = np.asarray(w) * f.numpy()
