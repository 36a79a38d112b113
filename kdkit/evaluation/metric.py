"""``PCKJitterMetric``: PCK@0.2, PCK@0.1 and video jitter inside MMEngine's test loop.

    val_evaluator = [dict(type='CocoMetric', ann_file=None),
                     dict(type='PCKJitterMetric')]

reports ``kdkit/PCK@0.2``, ``kdkit/PCK@0.1``, ``kdkit/jitter`` and
``kdkit/excess_jitter`` (the jitter keys only when the clips are known) and logs
per-joint PCK. PCK@0.1 is there because PCK@0.2 of a whole-body box is lenient:
on the generated quick test split the train labels' mean pose, placed in each
test box with no network at all, scores 85.5 % PCK@0.2 but 27.4 % PCK@0.1
(:mod:`kdkit.evaluation.baseline`). The numbers
are :func:`kdkit.evaluation.coco.summarize_pck_jitter`'s, so the notebook
summary and the training log agree.

Ground truth comes from each data sample's ``raw_ann_info`` (the instances
actually evaluated), or from ``ann_file`` when samples carry none. Video
fields (``vid_id``, ``frame_index``) are read, in this order, from the data
sample (a dataset that packs them as meta keys), from ``raw_ann_info``, or
from the images of the annotation file (``ann_file``, else the one the test
dataset registered in MMEngine's MessageHub, as ``CocoMetric`` does); that
file is used only if its annotations agree with the evaluated ones.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MessageHub, print_log
from mmpose.registry import METRICS

from .coco import VIDEO_FIELDS, load_gt, summarize_pck_jitter


def _xyxy2xywh(bboxes: np.ndarray) -> np.ndarray:
    bboxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4).copy()
    bboxes[:, 2:] -= bboxes[:, :2]
    return bboxes


def _as_list(anns) -> list:
    return [a for a in (anns if isinstance(anns, (list, tuple)) else [anns])
            if a is not None]


@METRICS.register_module()
class PCKJitterMetric(BaseMetric):
    """PCK (bbox-normalised, MMPose's definition) and jitter of a top-down model.

    Args:
        ann_file: optional COCO json; needed only when data samples have no
            ``raw_ann_info`` or no video fields.
        thr: PCK threshold on distance / max(bbox w, h). Default 0.2.
        extra_thrs: further thresholds, reported overall (no per-joint log).
            Default ``(0.1,)``.
        match_iou: IoU to pair a prediction with a GT person.
        collect_device, prefix: as for any MMEngine metric.
    """
    default_prefix: Optional[str] = 'kdkit'

    def __init__(self, ann_file: Optional[str] = None, thr: float = 0.2,
                 extra_thrs: Sequence[float] = (0.1,), match_iou: float = 0.5,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ann_file = ann_file
        self.thr = thr
        self.extra_thrs = tuple(t for t in extra_thrs if t != thr)
        self.match_iou = match_iou

    # ---------------------------------------------------------------- process
    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each sample's predictions and its GT; see the module doc."""
        for sample in data_samples:
            pred = sample['pred_instances']
            kpts = np.asarray(pred['keypoints'], dtype=np.float64)
            scores = np.asarray(pred['keypoint_scores'], dtype=np.float64)
            boxes = pred.get('bboxes', sample.get('gt_instances', {}).get(
                'bboxes'))
            boxes = _xyxy2xywh(boxes) if boxes is not None \
                else np.zeros((len(kpts), 4))
            records = [dict(id=sample.get('id'), image_id=sample['img_id'],
                            keypoints=kpts[i, :, :2],
                            keypoint_scores=scores[i], bbox=boxes[i])
                       for i in range(len(kpts))]
            anns = _as_list(sample.get('raw_ann_info', []))
            video = {f: sample[f] for f in VIDEO_FIELDS if f in sample}
            if not video and anns and all(f in anns[0] for f in VIDEO_FIELDS):
                video = {f: anns[0][f] for f in VIDEO_FIELDS}
            self.results.append(dict(records=records, anns=anns,
                                     img_id=sample['img_id'], video=video))

    # ---------------------------------------------------------------- compute
    def _registered_ann_file(self) -> Optional[str]:
        if self.ann_file or not self.dataset_meta:
            return self.ann_file
        name = self.dataset_meta.get('dataset_name')
        return MessageHub.get_current_instance().get_info(
            f'{name}_ann_file', None)

    def _gt_from_results(self, results: list) -> dict:
        anns, images = {}, {}
        for res in results:
            images.setdefault(res['img_id'], dict(id=res['img_id'],
                                                  **res['video']))
            for ann in res['anns']:
                anns[ann['id']] = ann  # a person may appear in several samples
        return dict(images=list(images.values()),
                    annotations=list(anns.values()))

    def _add_video_fields(self, gt: dict) -> None:
        """Copy vid_id/frame_index from the annotation file if it agrees."""
        path = self._registered_ann_file()
        if not path:
            return
        source = load_gt(path)
        by_id = {a['id']: a for a in source.get('annotations', [])}
        for ann in gt['annotations']:
            other = by_id.get(ann['id'])
            if other is None or other['image_id'] != ann['image_id'] or \
                    not np.allclose(other['keypoints'], ann['keypoints']):
                print_log(f'PCKJitterMetric: {path} does not hold the '
                          'evaluated annotations; jitter skipped', 'current')
                return
        src_images = {img['id']: img for img in source.get('images', [])}
        for img in gt['images']:
            src = src_images.get(img['id'], {})
            img.update({f: src[f] for f in VIDEO_FIELDS if f in src})

    def compute_metrics(self, results: list) -> dict:
        records = [rec for res in results for rec in res['records']]
        if any(res['anns'] for res in results):
            gt = self._gt_from_results(results)
            if not all(all(f in img for f in VIDEO_FIELDS)
                       for img in gt['images']):
                self._add_video_fields(gt)
        else:
            path = self._registered_ann_file()
            if not path:
                raise ValueError('PCKJitterMetric: data samples carry no '
                                 'raw_ann_info; pass ann_file=')
            gt = load_gt(path)
        summary = summarize_pck_jitter(records, gt, self.thr, self.match_iou,
                                       self.dataset_meta, self.extra_thrs)
        self._log_per_joint(summary['per_joint_pck'])
        metrics = {f'PCK@{t:g}': summary[f'PCK@{t:g}']
                   for t in (self.thr, *self.extra_thrs)}
        for key in ('jitter', 'excess_jitter'):
            if summary[key] is not None:  # no clips: leave the key out
                metrics[key] = summary[key]
        return metrics

    def _log_per_joint(self, per_joint: dict) -> None:
        lines = [f'  {name:<16s} {value:.4f}'
                 for name, value in per_joint.items()]
        print_log(f'PCK@{self.thr:g} per joint:\n' + '\n'.join(lines),
                  'current')
