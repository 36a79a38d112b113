"""COCO keypoint AP/AR (MMPose's own ``CocoMetric``), PCK and jitter from
prediction records, the one summary the side-by-side benchmark reports.

A prediction record is one person in one image::

    {'image_id': int, 'keypoints': (K, 2) image coords,
     'keypoint_scores': (K,), 'bbox': (4,) xywh,
     optional 'bbox_score': float (1.0), 'category_id': int, 'id': unique}

The GT is a COCO keypoint json (path or dict). Video clips are read from
PoseTrack-style image fields ``vid_id`` and ``frame_index`` (0-based, in clip
order); a person's track is ``(vid_id, annotation track_id)`` (track 0 when
absent). Without those fields there is no jitter (None).

PCK and jitter need to know which prediction belongs to which GT person: the
predictions of an image are matched greedily to its GT boxes by bbox IoU
(>= ``match_iou``; top-down with GT boxes gives IoU 1). A GT person left
without a prediction counts as wrong at every visible joint. PCK is
normalised by max(w, h) of the GT bbox as written in the json (MMPose's
``PCKAccuracy`` uses the same box clipped to the image).
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import os.path as osp
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from .jitter import clip_jitter
from .pck import bbox_size, pck_accuracy

VIDEO_FIELDS = ('vid_id', 'frame_index')


# --------------------------------------------------------------------- GT json
def load_gt(gt) -> dict:
    """A COCO json as a dict (``gt`` is a path or already a dict)."""
    if isinstance(gt, dict):
        return gt
    path = Path(gt)
    if not path.is_file():
        raise FileNotFoundError(f'GT annotation file {path} does not exist')
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f'GT annotation file {path} is not valid json '
                         f'({e})') from None


def _to_json(value):
    """numpy arrays/scalars in a GT dict, as json."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f'{type(value).__name__} is not JSON serializable')


def _complete_gt(gt: dict) -> dict:
    """Fill the fields COCOeval needs but hand-made/generated json may lack."""
    gt = copy.deepcopy(gt)
    for ann in gt.get('annotations', []):
        kpts = np.asarray(ann['keypoints'], dtype=np.float64).reshape(-1, 3)
        ann.setdefault('num_keypoints', int((kpts[:, 2] > 0).sum()))
        ann.setdefault('iscrowd', 0)
        ann.setdefault('area', float(ann['bbox'][2] * ann['bbox'][3]))
        ann.setdefault('category_id', 1)
    gt.setdefault('categories', [dict(id=1, name='person')])
    return gt


def keypoint_names(gt: dict, metainfo: dict | None = None) -> list[str]:
    """Joint names: dataset metainfo, else the json's category, else indices."""
    k = num_keypoints(gt)
    if metainfo and 'keypoint_id2name' in metainfo:
        names = [metainfo['keypoint_id2name'][i]
                 for i in range(len(metainfo['keypoint_id2name']))]
        if len(names) == k:
            return names
    for cat in gt.get('categories', []):
        if len(cat.get('keypoints', [])) == k:
            return list(cat['keypoints'])
    return [f'kpt_{i}' for i in range(k)]


def num_keypoints(gt: dict) -> int:
    anns = gt.get('annotations', [])
    if not anns:
        raise ValueError('GT json has no annotations')
    return len(anns[0]['keypoints']) // 3


def default_metainfo(k: int) -> dict:
    """MMPose's COCO metainfo (sigmas for OKS) when there are 17 joints."""
    import mmpose
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    if k != 17:
        raise ValueError(f'{k} key points: pass metainfo= with OKS sigmas '
                         '(COCO sigmas only fit 17 joints)')
    path = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', '_base_',
                    'datasets', 'coco.py')
    return parse_pose_metainfo(dict(from_file=path))


# --------------------------------------------------------------------- AP / AR
def _as_data_sample(idx: int, rec: dict, cat_id: int) -> dict:
    """A prediction record in the shape ``CocoMetric.process`` reads."""
    kpts = np.asarray(rec['keypoints'], dtype=np.float32)[None, :, :2]
    scores = np.asarray(rec['keypoint_scores'], dtype=np.float32)[None]
    return dict(id=idx, img_id=rec['image_id'],  # CocoMetric dedups by id
                category_id=rec.get('category_id', cat_id),
                pred_instances=dict(keypoints=kpts, keypoint_scores=scores),
                gt_instances=dict(bbox_scores=np.array(
                    [rec.get('bbox_score', 1.0)], dtype=np.float32)))


def evaluate_predictions(ann_file, predictions: list[dict],
                         metainfo: dict | None = None, verbose: bool = False,
                         **coco_metric_kwargs) -> dict:
    """COCO keypoint AP/AR of ``predictions`` with MMPose's ``CocoMetric``.

    Args:
        ann_file: COCO json (path or dict); missing ``num_keypoints``,
            ``iscrowd``, ``area`` (bbox w*h) are filled in.
        predictions: prediction records (see module doc).
        metainfo: MMPose dataset metainfo (needs ``sigmas``, ``num_keypoints``);
            default: COCO's, for 17 joints.
        verbose: let COCOeval print its summary table.
        coco_metric_kwargs: passed to ``CocoMetric`` (``score_mode``,
            ``nms_mode``...; its defaults are the ones MMPose tests with).

    Returns:
        ``{'coco/AP': .., 'coco/AP .5': .., 'coco/AP .75', 'coco/AP (M)',
        'coco/AP (L)', 'coco/AR', 'coco/AR .5', ...}``.
    """
    from mmpose.evaluation.metrics import CocoMetric

    if not predictions:
        raise ValueError('no predictions to evaluate')
    gt = _complete_gt(load_gt(ann_file))
    meta = dict(metainfo or default_metainfo(num_keypoints(gt)))
    cat_id = gt['categories'][0]['id']
    # COCO/COCOeval print loading chatter and their table to stdout
    quiet = contextlib.nullcontext() if verbose \
        else contextlib.redirect_stdout(io.StringIO())
    with tempfile.TemporaryDirectory() as tmp, quiet:
        gt_path = osp.join(tmp, 'gt.json')
        Path(gt_path).write_text(json.dumps(gt, default=_to_json))
        metric = CocoMetric(ann_file=gt_path, **coco_metric_kwargs)
        metric.dataset_meta = meta
        metric.process([], [_as_data_sample(i, rec, cat_id)
                            for i, rec in enumerate(predictions)])
        results = metric.evaluate(len(predictions))
    return {k: float(v) for k, v in results.items()}


# ------------------------------------------------------------------- matching
def _iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of xywh boxes, (P, 4) x (G, 4) -> (P, G)."""
    a, b = a[:, None], b[None]
    w = np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2]) \
        - np.maximum(a[..., 0], b[..., 0])
    h = np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3]) \
        - np.maximum(a[..., 1], b[..., 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    return inter / np.maximum(union, 1e-12)


def match_predictions(pred_records: list[dict], gt: dict,
                      match_iou: float = 0.5) -> list[tuple[dict, dict | None]]:
    """Pair every non-crowd GT annotation with its prediction (or None).

    Greedy by IoU per image, highest first, each side used once.
    """
    preds_by_img = defaultdict(list)
    for rec in pred_records:
        preds_by_img[rec['image_id']].append(rec)
    pairs = []
    anns_by_img = defaultdict(list)
    for ann in gt['annotations']:
        if not ann.get('iscrowd', 0):
            anns_by_img[ann['image_id']].append(ann)
    for img_id, anns in anns_by_img.items():
        preds = preds_by_img.get(img_id, [])
        matched: dict[int, dict] = {}
        if preds:
            iou = _iou_xywh(
                np.array([np.asarray(p['bbox'], float) for p in preds]),
                np.array([np.asarray(a['bbox'], float) for a in anns]))
            used = set()
            for flat in np.argsort(-iou, axis=None, kind='stable'):
                p, g = np.unravel_index(flat, iou.shape)
                if iou[p, g] < match_iou:
                    break
                if g not in matched and p not in used:
                    matched[g] = preds[p]
                    used.add(p)
        pairs.extend((ann, matched.get(g)) for g, ann in enumerate(anns))
    return pairs


def _gt_arrays(ann: dict) -> tuple[np.ndarray, np.ndarray]:
    kpts = np.asarray(ann['keypoints'], dtype=np.float64).reshape(-1, 3)
    return kpts[:, :2], kpts[:, 2] > 0


def _pred_array(rec: dict | None, k: int) -> np.ndarray:
    if rec is None:
        return np.full((k, 2), np.nan)
    return np.asarray(rec['keypoints'], dtype=np.float64).reshape(k, -1)[:, :2]


# ------------------------------------------------------------------ PCK, jitter
def pck_from_pairs(pairs, k: int, thr: float = 0.2) -> dict:
    """PCK over matched pairs; unmatched GT persons score 0 on visible joints."""
    if not pairs:
        return pck_accuracy(np.zeros((0, k, 2)), np.zeros((0, k, 2)),
                            np.zeros((0, k), bool), np.zeros(0), thr)
    gts, vis = zip(*(_gt_arrays(ann) for ann, _ in pairs))
    preds = np.stack([_pred_array(rec, k) for _, rec in pairs])
    # a missing prediction is "infinitely" far: wrong, yet still counted
    preds = np.where(np.isfinite(preds), preds, 1e12)
    norms = bbox_size(np.array([ann['bbox'] for ann, _ in pairs]))
    return pck_accuracy(preds, np.stack(gts), np.stack(vis), norms, thr)


def tracks_from_pairs(pairs, images: dict, k: int) -> dict:
    """Per-person tracks ``{(vid_id, track_id): dict(pred, gt, visible,
    norm)}`` over consecutive ``frame_index`` (gaps are invalid frames).

    Images without video fields are left out; a track with two GT persons
    in one frame is ambiguous and left out too.
    """
    frames = defaultdict(dict)
    ambiguous = set()
    for ann, rec in pairs:
        img = images.get(ann['image_id'], {})
        if not all(f in img for f in VIDEO_FIELDS):
            continue
        key = (img['vid_id'], ann.get('track_id', 0))
        if img['frame_index'] in frames[key]:
            ambiguous.add(key)
        frames[key][int(img['frame_index'])] = (ann, rec)
    tracks = {}
    for key, by_frame in frames.items():
        if key in ambiguous:
            continue
        first, last = min(by_frame), max(by_frame)
        t = last - first + 1
        track = dict(pred=np.full((t, k, 2), np.nan),
                     gt=np.full((t, k, 2), np.nan),
                     visible=np.zeros((t, k), bool), norm=np.zeros(t))
        for idx, (ann, rec) in by_frame.items():
            gt_xy, vis = _gt_arrays(ann)
            i = idx - first
            track['gt'][i], track['pred'][i] = gt_xy, _pred_array(rec, k)
            track['visible'][i] = vis & (rec is not None)
            track['norm'][i] = bbox_size(ann['bbox'])[0]
        tracks[key] = track
    return tracks


def jitter_from_pairs(pairs, images: dict, k: int) -> dict | None:
    """:func:`~kdkit.evaluation.jitter.clip_jitter` over person tracks, in
    bbox units (acceleration / bbox size); None without video fields."""
    tracks = tracks_from_pairs(pairs, images, k)
    if not tracks:
        return None
    return clip_jitter(tracks)


# -------------------------------------------------------------------- summary
def summarize_pck_jitter(pred_records: list[dict], gt, thr: float = 0.2,
                         match_iou: float = 0.5,
                         metainfo: dict | None = None,
                         extra_thrs=()) -> dict:
    """PCK (overall, per joint by name, at ``thr``; overall also at each of
    ``extra_thrs``) and jitter; no AP (see :func:`summarize_results`)."""
    gt = load_gt(gt)
    k = num_keypoints(gt)
    pairs = match_predictions(pred_records, gt, match_iou)
    pck = pck_from_pairs(pairs, k, thr)
    images = {img['id']: img for img in gt.get('images', [])}
    jit = jitter_from_pairs(pairs, images, k) or {}
    names = keypoint_names(gt, metainfo)
    extra = {f'PCK@{t:g}': pck_from_pairs(pairs, k, t)['pck'] for t in extra_thrs}
    return {f'PCK@{thr:g}': pck['pck'], **extra,
            'per_joint_pck': dict(zip(names, pck['per_joint'].tolist())),
            'jitter': jit.get('jitter'),
            'excess_jitter': jit.get('excess_jitter'),
            'num_instances': len(pairs),
            'num_matched': sum(rec is not None for _, rec in pairs),
            'num_tracks': jit.get('num_clips', 0)}


def summarize_results(pred_records: list[dict], gt_coco_json,
                      thr: float = 0.2, match_iou: float = 0.5,
                      metainfo: dict | None = None,
                      **coco_metric_kwargs) -> dict:
    """Everything the side-by-side table reports for one model.

    Returns:
        ``dict(AP, AP50, AP75, AR, 'PCK@0.2', per_joint_pck={name: value},
        jitter, excess_jitter, num_instances, num_matched, num_tracks)``;
        jitter values are mean key-point acceleration in bbox units (None
        without video fields); per-joint PCK is nan for never-visible joints.
    """
    gt = load_gt(gt_coco_json)
    coco = evaluate_predictions(gt, pred_records, metainfo,
                                **coco_metric_kwargs)  # verbose=True prints
    summary = dict(AP=coco['coco/AP'], AP50=coco['coco/AP .5'],
                   AP75=coco['coco/AP .75'], AR=coco['coco/AR'])
    summary.update(summarize_pck_jitter(pred_records, gt, thr, match_iou,
                                        metainfo))
    return summary
