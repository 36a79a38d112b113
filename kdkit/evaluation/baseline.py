"""The mean-pose floor: the PCK a top-down model scores without using the image.

A top-down model is handed each person's box. A network that ignored the pixels
could still learn the train labels' average pose inside the crop and draw it in
every box. That constant predictor is the floor of every accuracy table: a model
at or below it has learned nothing about the person's pose, whatever its PCK.

How it is placed, as MMPose's top-down pipeline crops: the box is widened to
the model's input aspect ratio (``TopdownAffine``'s fixed aspect); the mean of
each joint is taken over the visible labelled joints of the train split, as an
offset from the box centre in units of the widened box's width and height (the
crop's padding factor cancels out). A joint never visible in train sits at the
centre. On the generated data (``make data``) it scores 85.5 % PCK@0.2 on the
quick test split and 63.4 % on the full one, 27.4 % and 20.4 % at PCK@0.1.

Usage::

    floor = mean_pose_floor('data/kdkit_quick/annotations/person_keypoints_train.json',
                            'data/kdkit_quick/annotations/person_keypoints_test.json')
    floor['PCK@0.2'], floor['PCK@0.1'], floor['jitter']
"""
from __future__ import annotations

import numpy as np

from .coco import load_gt, summarize_pck_jitter


def crop_box(bbox_xywh, aspect: float) -> tuple[float, float, float, float]:
    """``(cx, cy, w, h)`` of a COCO box widened to ``aspect`` = w / h: MMPose's
    own ``bbox_xywh2cs`` and ``TopdownAffine`` aspect fix (the smaller side
    grows), without the padding, which cancels out of the offsets."""
    # lazy: mmpose.datasets registers every dataset and transform, and the
    # evaluation package is imported by commands that never compute the floor
    from mmpose.datasets.transforms import TopdownAffine
    from mmpose.structures.bbox import bbox_xywh2cs
    center, scale = bbox_xywh2cs(np.asarray(bbox_xywh, np.float64), padding=1.0)
    w, h = TopdownAffine._fix_aspect_ratio(scale[None], aspect)[0]
    return float(center[0]), float(center[1]), float(w), float(h)


def mean_pose(train_gt, aspect: float = 0.75) -> np.ndarray:
    """(K, 2) mean offset of each joint from the crop centre, in crop widths
    and heights, over the visible joints of ``train_gt`` (a COCO keypoint
    json path or dict)."""
    gt = load_gt(train_gt)
    offsets = []
    for ann in gt.get('annotations', []):
        kpts = np.asarray(ann['keypoints'], dtype=np.float64).reshape(-1, 3)
        if not (kpts[:, 2] > 0).any():
            continue  # an unlabelled frame
        cx, cy, w, h = crop_box(ann['bbox'], aspect)
        rel = np.stack([(kpts[:, 0] - cx) / w, (kpts[:, 1] - cy) / h], axis=1)
        rel[kpts[:, 2] <= 0] = np.nan
        offsets.append(rel)
    if not offsets:
        name = 'the train annotations' if isinstance(train_gt, dict) else train_gt
        raise ValueError(f'{name}: expected labelled key points (visibility > 0) to '
                         'average, found none')
    offsets = np.stack(offsets)
    seen = np.isfinite(offsets)
    # a joint never seen stays at the centre (0), without nanmean's empty-slice warning
    return np.where(seen, offsets, 0.0).sum(0) / np.maximum(seen.sum(0), 1)


def mean_pose_records(test_gt, pose: np.ndarray, aspect: float = 0.75) -> list[dict]:
    """Prediction records that draw ``pose`` (from :func:`mean_pose`) in every
    GT box of ``test_gt``, score 1."""
    gt = load_gt(test_gt)
    records = []
    for ann in gt.get('annotations', []):
        cx, cy, w, h = crop_box(ann['bbox'], aspect)
        kpts = np.stack([cx + pose[:, 0] * w, cy + pose[:, 1] * h], axis=1)
        records.append(dict(id=ann['id'], image_id=ann['image_id'], keypoints=kpts,
                            keypoint_scores=np.ones(len(kpts)), bbox=ann['bbox']))
    return records


def mean_pose_floor(train_gt, test_gt, input_size=(96, 128), thr: float = 0.2,
                    extra_thrs=(0.1,)) -> dict:
    """PCK (at ``thr`` and ``extra_thrs``) and jitter of the train labels' mean
    pose on ``test_gt``; ``input_size``: the model's (w, h), for the crop's
    aspect. The keys are :func:`~kdkit.evaluation.coco.summarize_pck_jitter`'s."""
    aspect = float(input_size[0]) / float(input_size[1])
    test = load_gt(test_gt)
    records = mean_pose_records(test, mean_pose(train_gt, aspect), aspect)
    return summarize_pck_jitter(records, test, thr, extra_thrs=extra_thrs)
