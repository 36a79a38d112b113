"""Scoring ``kdkit predict`` results on real video: the files, and the two
``kdkit evaluate`` reports.

``kdkit predict`` writes COCO key-point results (``preds.json``: a list of
``{image_id, category_id, keypoints: [x, y, score] * K, score, bbox,
track_id?}``, ``image_id`` the frame id) and, next to it, the frame list
``<stem>.images.json`` (``[{id, file_name, frame_index?, width, height}]``;
``frame_index`` for a video). This module

* reads that pair (:func:`read_predictions`, :func:`read_images_json`),
* turns it into the per-video pose-labels form the multi-view evaluation
  reads (:func:`predictions_as_pose_labels`),
* maps its frame ids onto the image ids of a COCO key-point json, such as
  the val split ``kdkit data from-video`` writes (:func:`map_to_gt`), and
  scores it there: AP/AR, PCK and jitter (:func:`keypoints_report`),
* builds and prints the multi-view report (:func:`multiview_cli_report`).

Errors on user input are :class:`~kdkit.utils.validate.InputError` (a
``ValueError``), one line naming the file. Only numpy at import time.
"""
from __future__ import annotations

import json
import math
import os
from collections import Counter
from pathlib import Path, PurePosixPath

import numpy as np

from kdkit.utils.io import best_path_matches, index_by_file_name
from kdkit.utils.validate import InputError

POSE_LABELS_FORMAT = 'kdkit-pose-labels/1'


# ----------------------------------------------------------------- reading
def _read_json(path, what: str):
    path = Path(path)
    if not path.exists():
        raise InputError(f'{what} {path} does not exist')
    if not path.is_file():
        raise InputError(f'{what} {path} is not a file')
    try:
        return json.loads(path.read_text(encoding='utf-8'))
    except json.JSONDecodeError as e:
        raise InputError(f'{what} {path} is not valid JSON ({e.msg} at line '
                         f'{e.lineno} column {e.colno})') from None
    except UnicodeDecodeError:
        raise InputError(f'{what} {path} is not a text (JSON) file') from None


def images_json_path(preds_path) -> Path:
    """The sidecar ``kdkit predict`` writes next to ``preds_path``."""
    p = Path(preds_path)
    return p.with_name(f'{p.stem}.images.json')


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) \
        and math.isfinite(v)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_predictions(preds, where: str = 'predictions') -> list[dict]:
    """A COCO key-point results list, checked: every entry has an int
    ``image_id``, ``keypoints`` of ``3 * K`` finite numbers (one K for all)
    and a 4-number ``bbox``; a finite ``score`` if any."""
    if not isinstance(preds, list):
        what = f'an object with keys {sorted(preds)[:5]}' \
            if isinstance(preds, dict) else f'a JSON {type(preds).__name__}'
        raise InputError(f'{where} is {what}; expected a COCO key-point '
                         'results list [{image_id, keypoints, score, bbox}] '
                         '(kdkit predict --out)')
    k = None
    for i, rec in enumerate(preds):
        at = f'{where}: entry {i}'
        if not isinstance(rec, dict):
            raise InputError(f'{at} is not an object')
        for key in ('image_id', 'keypoints', 'bbox'):
            if key not in rec:
                raise InputError(f'{at} has no {key!r}')
        if not _is_int(rec['image_id']):
            raise InputError(f'{at}: image_id {rec["image_id"]!r} is not an int')
        kp = rec['keypoints']
        if (not isinstance(kp, list) or not kp or len(kp) % 3
                or not all(_is_num(v) for v in kp)):
            raise InputError(f'{at}: keypoints must be [x, y, score] * K finite '
                             f'numbers, got {str(kp)[:60]}')
        if k is None:
            k = len(kp) // 3
        elif len(kp) // 3 != k:
            raise InputError(f'{at}: {len(kp) // 3} key points, entry 0 has {k}')
        box = rec['bbox']
        if not isinstance(box, list) or len(box) != 4 \
                or not all(_is_num(v) for v in box):
            raise InputError(f'{at}: bbox {str(box)[:60]} is not [x, y, w, h]')
        if 'score' in rec and not _is_num(rec['score']):
            raise InputError(f'{at}: score {rec["score"]!r} is not a number')
    return preds


def check_images_json(images, where: str = 'images json') -> list[dict]:
    """The ``<stem>.images.json`` list: unique int ids, positive int
    width/height, int ``frame_index`` where given."""
    if not isinstance(images, list) or not images:
        raise InputError(f'{where}: expected a non-empty list of images '
                         '[{id, file_name, frame_index, width, height}] '
                         '(kdkit predict writes it next to --out)')
    seen = set()
    for i, img in enumerate(images):
        at = f'{where}: entry {i}'
        if not isinstance(img, dict):
            raise InputError(f'{at} is not an object')
        if not _is_int(img.get('id')):
            raise InputError(f'{at}: id {img.get("id")!r} is not an int')
        if img['id'] in seen:
            raise InputError(f'{at}: id {img["id"]} repeats')
        seen.add(img['id'])
        for key in ('width', 'height'):
            if key in img and not (_is_int(img[key]) and img[key] > 0):
                raise InputError(f'{at}: {key} {img[key]!r} is not an int > 0')
        if 'frame_index' in img and not (_is_int(img['frame_index'])
                                         and img['frame_index'] >= 0):
            raise InputError(f'{at}: frame_index {img["frame_index"]!r} is '
                             'not an int >= 0')
    return images


def read_predictions(path) -> list[dict]:
    """``kdkit predict``'s ``preds.json``, checked (:func:`check_predictions`)."""
    return check_predictions(_read_json(path, 'predictions'),
                             f'predictions {path}')


def read_images_json(path) -> list[dict]:
    return check_images_json(_read_json(path, 'images json'),
                             f'images json {path}')


def find_images_json(preds_path, images_json=None, required: bool = True):
    """``images_json`` if given, else the sidecar of ``preds_path`` if it
    exists; with neither, None, or a one-line error when ``required``."""
    if images_json is not None:
        return Path(images_json)
    side = images_json_path(preds_path)
    if side.is_file():
        return side
    if required:
        raise InputError(f'predictions {preds_path}: no {side.name} next to it; '
                         'pass --images-json (the frame list kdkit predict '
                         'writes as <out stem>.images.json)')
    return None


# ------------------------------------------------------- to pose labels
def _frame_of(img: dict, where: str) -> int:
    """An images-json entry's frame index: ``frame_index``, else the number
    its file is named by (``000012.jpg``, as ``kdkit data`` writes frames)."""
    if _is_int(img.get('frame_index')):
        return int(img['frame_index'])
    stem = PurePosixPath(str(img.get('file_name', ''))).stem
    if stem.isdigit():
        return int(stem)
    raise InputError(f'{where}: image {img.get("id")} has no frame_index and '
                     f'its file_name {img.get("file_name")!r} is not a frame '
                     'number')


def predictions_as_pose_labels(preds, images_json, video_name: str,
                               keypoint_names=None) -> dict:
    """``kdkit predict`` results of one video (or one view's frame folder)
    as a single-video ``kdkit-pose-labels/1`` document, the form
    :func:`kdkit.evaluation.multiview.load_labels` reads.

    Args:
        preds: the COCO results list, or a path to it.
        images_json: its frame list (``<stem>.images.json``), or a path.
        video_name: the video's (camera's) name, e.g. ``cam04``: the
            document's video file is ``<video_name>.mp4``.
        keypoint_names: optional, stored as the document's names.

    Returns:
        The document; ``frames`` in ``frame_index`` order (frame index from
        the images json, see :func:`_frame_of`), each person ``keypoints``
        ``[[x, y, score] * K]``, ``bbox``, ``score`` and ``track_id``; width
        and height from the images json when all its frames agree.
    """
    where_p = f'predictions {preds}' if isinstance(preds, (str, os.PathLike)) \
        else 'predictions'
    where_i = f'images json {images_json}' \
        if isinstance(images_json, (str, os.PathLike)) else 'images json'
    preds = read_predictions(preds) if isinstance(preds, (str, os.PathLike)) \
        else check_predictions(preds, where_p)
    images = read_images_json(images_json) \
        if isinstance(images_json, (str, os.PathLike)) \
        else check_images_json(images_json, where_i)
    by_id = {img['id']: img for img in images}
    frame_of = {i: _frame_of(img, where_i) for i, img in by_id.items()}
    if len(set(frame_of.values())) != len(frame_of):
        dup = Counter(frame_of.values()).most_common(1)[0][0]
        raise InputError(f'{where_i}: two images are frame {dup} (frames of '
                         'several videos?); predict one video per file')
    frames: dict[int, list] = {}
    for rec in preds:
        if rec['image_id'] not in by_id:
            raise InputError(f'{where_p}: image_id {rec["image_id"]} is not in '
                             f'{where_i} (the images json of another run?)')
        kp = np.asarray(rec['keypoints'], dtype=np.float64).reshape(-1, 3)
        frames.setdefault(frame_of[rec['image_id']], []).append(dict(
            bbox=[float(v) for v in rec['bbox']],
            keypoints=kp.tolist(),
            score=float(rec.get('score', float(kp[:, 2].mean()))),
            track_id=rec.get('track_id')))
    sizes = {(img.get('width'), img.get('height')) for img in images}
    video = dict(file=f'{video_name}.mp4',
                 num_frames=max(frame_of.values()) + 1,
                 frames=[dict(frame_index=f, people=frames.get(f, []))
                         for f in sorted(frame_of.values())])
    if len(sizes) == 1 and None not in next(iter(sizes)):
        video['width'], video['height'] = next(iter(sizes))
    return {'format': POSE_LABELS_FORMAT,
            'teacher': {'type': 'kdkit-predict'},
            'keypoint_names': list(keypoint_names) if keypoint_names else None,
            'videos': [video]}


def _num_keypoints_of_labels(doc: dict):
    for v in doc.get('videos', []):
        for fr in v.get('frames', []):
            for p in fr.get('people', []):
                return len(p['keypoints'])
    return None


def load_multiview_predictions(path, view: str, images_json=None,
                               keypoint_names=None) -> dict:
    """``--predictions`` of ``kdkit evaluate multiview``: a pose-labels file
    (one video, or one named ``view``) or ``kdkit predict`` results + their
    images json, as a pose-labels document of the view ``view``."""
    from kdkit.teachers.mediapipe import check_pose_labels
    data = _read_json(path, 'predictions')
    if isinstance(data, dict) and data.get('format') == POSE_LABELS_FORMAT:
        doc = check_pose_labels(data, where=f'predictions {path}')
        videos = doc['videos']
        mine = [v for v in videos if Path(v['file']).stem.split('.')[0] == view]
        if len(videos) != 1 and len(mine) != 1:
            raise InputError(f'predictions {path}: {len(videos)} videos, none '
                             f'(or several) named {view!r}')
        return dict(doc, videos=mine or videos)
    if isinstance(data, list):
        side = find_images_json(path, images_json)
        return predictions_as_pose_labels(
            check_predictions(data, f'predictions {path}'), side, view,
            keypoint_names)
    raise InputError(f'predictions {path}: expected kdkit predict results (a '
                     f'list) or a {POSE_LABELS_FORMAT} file')


# ------------------------------------------------------- multi-view report
def multiview_cli_report(calib, labels, predictions=None, held_out=None,
                         images_json=None, min_score: float = 0.3,
                         max_px: float = 40.0,
                         all_held_out: bool = False) -> dict:
    """:func:`kdkit.evaluation.multiview.multiview_report` on files, inputs
    checked first (one-line errors), with ``predictions`` in either form of
    :func:`load_multiview_predictions` and the held-out ratios
    ``ratio_median`` / ``ratio_mean`` (predictions / reference) added."""
    from kdkit.teachers.mediapipe import read_pose_labels

    from .calibration import read_qca
    from .multiview import multiview_report
    if not 0 <= min_score <= 1:
        raise InputError(f'--min-score: expected a number in [0, 1], got {min_score}')
    if not max_px > 0:
        raise InputError(f'--max-px: expected a number > 0, got {max_px}')
    if predictions is not None and held_out is None:
        raise InputError('--predictions needs --held-out VIEW (the view they '
                         'were made on)')
    cams = read_qca(calib)
    ref = read_pose_labels(labels)
    names = ref['keypoint_names']
    views = [Path(v['file']).stem.split('.')[0] for v in ref['videos']]
    calibrated = [v for v in views if v in cams]
    if len(calibrated) < 2:
        raise InputError(f'--labels {labels}: videos {views} match fewer than 2 '
                         f'cameras of {calib} ({", ".join(cams)}); a video is '
                         'its camera by file stem (cam01.mp4 -> cam01)')
    if held_out is not None:
        if held_out not in cams:
            raise InputError(f'--held-out {held_out}: no such camera in {calib} '
                             f'({", ".join(cams)})')
        if predictions is None and held_out not in views:
            raise InputError(f'--held-out {held_out}: --labels {labels} has no '
                             f'video of it (videos: {", ".join(views)})')
        if len([v for v in calibrated if v != held_out]) < 2:
            raise InputError(f'--held-out {held_out}: fewer than 2 other '
                             'calibrated views to triangulate from')
    pred_doc = None
    if predictions is not None:
        pred_doc = load_multiview_predictions(predictions, held_out,
                                              images_json, names)
        k = _num_keypoints_of_labels(pred_doc)
        if k is not None and k != len(names):
            raise InputError(f'predictions {predictions}: {k} key points per '
                             f'person, the labels have {len(names)} '
                             f'({", ".join(names[:3])}, ...)')
    report = multiview_report(cams, ref, pred_doc, held_out=held_out,
                              min_score=min_score, max_px=max_px,
                              all_held_out=all_held_out)
    report['calibration'] = os.fspath(calib)
    report['reference'] = os.fspath(labels)
    h = report.get('held_out')
    if h is not None and 'predictions' in h:
        h['predictions_file'] = os.fspath(predictions)
        r, p = h['reference']['overall'], h['predictions']['overall']
        h['ratio_median'] = _ratio(p['median_px'], r['median_px'])
        h['ratio_mean'] = _ratio(p['mean_px'], r['mean_px'])
    return report


def _ratio(a, b):
    if a is None or b is None or not b:
        return None
    return float(a) / float(b)


def _fmt(v, spec: str = '.2f', width: int = 8) -> str:
    return f'{"-":>{width}}' if v is None or (isinstance(v, float)
                                              and not math.isfinite(v)) \
        else f'{v:>{width}{spec}}'


def _row(label: str, s: dict) -> str:
    w = s.get('within_px') or {}
    return (f'{label:<24}{_fmt(s.get("median_px"))}{_fmt(s.get("mean_px"))}'
            + ''.join(_fmt(w.get(t), '.0%', 7) for t in ('5', '10', '20'))
            + f'{s.get("count", 0):>8}')


def format_multiview(report: dict) -> str:
    """The short table ``kdkit evaluate multiview`` prints."""
    a = report['all_views']
    teacher = (report.get('teacher') or {}).get('type', '?')
    lines = [f'multi-view reprojection error in px (labels: {teacher}, '
             f'{len(a["views"])} views, {a["num_frames"]} frames, key points '
             f'with score >= {report["min_score"]:g})',
             f'{"":<24}{"median":>8}{"mean":>8}{"<5px":>7}{"<10px":>7}'
             f'{"<20px":>7}{"count":>8}',
             _row('all views', a['overall'])]
    for v, s in a['per_view'].items():
        lines.append(_row(f'  {v}', s))
    h = report.get('held_out')
    if h is not None:
        ref = h['reference']
        lines.append(f'held-out {h["view"]} (3D from '
                     f'{", ".join(ref["source_views"])}; '
                     f'{ref["people_3d"]} people, '
                     f'{ref["people_matched"]} matched by the labels)')
        lines.append(_row('  reference (labels)', ref['overall']))
        if 'predictions' in h:
            p = h['predictions']
            lines.append(_row('  predictions', p['overall']))
            lines.append(f'{"  ratio pred / ref":<24}{_fmt(h.get("ratio_median"))}'
                         f'{_fmt(h.get("ratio_mean"))}')
            lines.append(f'  predictions: {p["people_matched"]} of '
                         f'{p["people_3d"]} people matched, '
                         f'{p["people_extra"]} extra')
    loo = report.get('leave_one_view_out') or {}
    if loo:
        lines.append('each view held out in turn (its labels vs 3D from the others)')
    for v, r in loo.items():
        lines.append(_row(f'  {v}', r['overall']))
    return '\n'.join(lines)


# ----------------------------------------------------- key points vs COCO

def map_to_gt(images: list | None, gt: dict, pred_ids, where: str = 'images json'
              ) -> tuple[dict, dict]:
    """Frame id of ``kdkit predict`` -> image id of the COCO json ``gt``.

    * ``images`` entries with ``frame_index`` (a video): the GT images with
      the same ``frame_index``, of the GT video named like the predicted
      file's stem (``video_name``, e.g. ``cam04``) when the GT holds several
      videos;
    * entries without it (an image folder): the GT image whose
      ``file_name`` shares the longest path suffix with the entry's;
    * ``images`` None: the prediction ids are GT ids already (all of them
      must be, else a one-line error asks for the images json).

    Returns ``(mapping, info)``; ``info`` says how (``by``) and which GT
    video. Frames without a GT image are left out of the mapping.
    """
    gt_images = [img for img in gt.get('images', []) if isinstance(img, dict)]
    gt_ids = {img.get('id') for img in gt_images}
    if images is None:
        missing = sorted(set(pred_ids) - gt_ids)
        if missing:
            raise InputError(f'predictions: image_id {missing[0]} (and '
                             f'{len(missing) - 1} more) not in the GT json; pass '
                             '--images-json (kdkit predict writes '
                             '<out stem>.images.json) to map frames to GT images')
        return {i: i for i in pred_ids}, dict(by='image_id')
    if all(_is_int(img.get('frame_index')) for img in images):
        names = {PurePosixPath(str(img.get('file_name', ''))).stem
                 for img in images}
        gt_videos = sorted({str(img.get('video_name')) for img in gt_images
                            if img.get('video_name') is not None})
        pool = gt_images
        video = None
        if len(gt_videos) > 1 or (len(gt_videos) == 1 and names & set(gt_videos)):
            hit = names & set(gt_videos)
            if len(hit) != 1:
                raise InputError(
                    f'{where}: frames of {", ".join(sorted(names)) or "?"}, '
                    f'but the GT json holds videos {", ".join(gt_videos)}; '
                    'predict the video of one of them (its file name names it)')
            video = hit.pop()
            pool = [img for img in gt_images if img.get('video_name') == video]
        by_frame = {}
        for img in pool:
            fi = img.get('frame_index')
            if _is_int(fi):
                if fi in by_frame:
                    raise InputError(f'GT json: two images are frame {fi}'
                                     + (f' of {video}' if video else '')
                                     + ' (several videos without video_name?)')
                by_frame[fi] = img['id']
        if not by_frame:
            raise InputError('GT json: its images have no frame_index; '
                             'predictions of a video are matched by it')
        mapping = {img['id']: by_frame[img['frame_index']] for img in images
                   if img['frame_index'] in by_frame}
        return mapping, dict(by='frame_index', video=video)
    index = index_by_file_name(gt_images)
    mapping = {}
    for img in images:
        parts = PurePosixPath(str(img.get('file_name', ''))).parts
        if not parts:
            continue
        ids, _ = best_path_matches(parts, index)
        if not ids:
            continue
        if len(ids) > 1:
            raise InputError(f'{where}: {img.get("file_name")} matches {len(ids)} '
                             'GT images equally well by file name; predict the '
                             'frame folder of one video (or give frame_index)')
        mapping[img['id']] = ids[0]
    return mapping, dict(by='file_name')


def as_records(preds: list[dict], mapping: dict) -> list[dict]:
    """Prediction records of :mod:`kdkit.evaluation.coco` (GT image ids,
    ``keypoints`` (K, 2), ``keypoint_scores``, ``bbox_score`` = the file's
    ``score``) of the predictions whose frame has a GT image."""
    out = []
    for rec in preds:
        if rec['image_id'] not in mapping:
            continue
        kp = np.asarray(rec['keypoints'], dtype=np.float64).reshape(-1, 3)
        r = dict(image_id=mapping[rec['image_id']], keypoints=kp[:, :2],
                 keypoint_scores=kp[:, 2], bbox=list(rec['bbox']),
                 bbox_score=float(rec.get('score', kp[:, 2].mean())),
                 category_id=rec.get('category_id', 1))
        if 'track_id' in rec:
            r['track_id'] = rec['track_id']
        out.append(r)
    return out


def keypoints_report(gt_path, preds_path, images_json=None, thr: float = 0.2,
                     match_iou: float = 0.5) -> dict:
    """AP/AR, PCK@``thr`` and jitter of ``kdkit predict`` results against a
    COCO key-point json (``kdkit evaluate keypoints``).

    AP/AR: COCOeval (xtcocotools, through MMPose's ``CocoMetric``) with
    COCO's OKS sigmas, on the results as written: each instance scored by
    its ``score``, no re-scoring, no NMS. PCK: :func:`~kdkit.evaluation.coco.
    summarize_pck_jitter`, normalised by the GT bbox's max(w, h),
    predictions matched to GT people by bbox IoU (>= ``match_iou``), a GT
    person without one wrong at every visible joint. Jitter: mean key-point
    acceleration in bbox units along the GT tracks (``vid_id``,
    ``frame_index``, ``track_id``).
    """
    from .coco import (evaluate_predictions, load_gt, num_keypoints,
                       summarize_pck_jitter)
    if not 0 < thr <= 1:
        raise InputError(f'--thr: expected a number in (0, 1], got {thr}')
    gt = load_gt(gt_path) if not isinstance(gt_path, dict) else gt_path
    where = f'--gt {gt_path}'
    if not isinstance(gt, dict) or not isinstance(gt.get('images'), list) \
            or not isinstance(gt.get('annotations'), list):
        raise InputError(f'{where} is not a COCO key-point json (images, '
                         'annotations)')
    for i, ann in enumerate(gt['annotations']):
        if not isinstance(ann, dict) or not {'image_id', 'keypoints', 'bbox'} <= set(ann):
            raise InputError(f'{where}: annotation {i} has no image_id, '
                             'keypoints or bbox')
    k = num_keypoints(gt)
    preds = read_predictions(preds_path)
    if not preds:
        raise InputError(f'predictions {preds_path}: no predictions')
    kp = len(preds[0]['keypoints']) // 3
    if kp != k:
        raise InputError(f'predictions {preds_path}: {kp} key points per '
                         f'person, the GT json has {k}')
    side = find_images_json(preds_path, images_json, required=False)
    images = read_images_json(side) if side is not None else None
    mapping, how = map_to_gt(images, gt, {r['image_id'] for r in preds},
                             f'images json {side}')
    records = as_records(preds, mapping)
    if not records:
        raise InputError(f'predictions {preds_path}: none of their frames is an '
                         f'image of {where} (matched by {how["by"]})')
    pred_imgs = {r['image_id'] for r in records}
    gt_imgs = {img['id'] for img in gt['images']}
    coco = evaluate_predictions(gt, records, score_mode='bbox', nms_mode='none')
    summary = summarize_pck_jitter(records, gt, thr, match_iou)
    return {
        'format': 'kdkit-keypoints-report/1',
        'gt': os.fspath(gt_path) if not isinstance(gt_path, dict) else None,
        'predictions': os.fspath(preds_path),
        'images_json': None if side is None else os.fspath(side),
        'matched_by': how['by'], 'gt_video': how.get('video'),
        'AP': coco['coco/AP'], 'AP50': coco['coco/AP .5'],
        'AP75': coco['coco/AP .75'], 'AR': coco['coco/AR'],
        'AR50': coco['coco/AR .5'],
        'pck_thr': thr, 'PCK': summary[f'PCK@{thr:g}'],
        'per_joint_pck': {n: (None if not math.isfinite(v) else v)
                          for n, v in summary['per_joint_pck'].items()},
        'jitter': summary['jitter'],
        'num_predictions': len(preds),
        'num_predictions_used': len(records),
        'num_gt_images': len(gt_imgs),
        'num_gt_images_predicted': len(pred_imgs & gt_imgs),
        'num_gt_people': summary['num_instances'],
        'num_gt_people_matched': summary['num_matched'],
        'num_tracks': summary['num_tracks'],
    }


def format_keypoints(r: dict) -> str:
    """The lines ``kdkit evaluate keypoints`` prints."""
    jit = '-' if r['jitter'] is None else f'{r["jitter"]:.4f}'
    return '\n'.join([
        f'{r["num_predictions_used"]} of {r["num_predictions"]} predictions on '
        f'{r["num_gt_images_predicted"]} of {r["num_gt_images"]} GT images '
        f'(frames matched by {r["matched_by"]}'
        + (f', video {r["gt_video"]}' if r.get('gt_video') else '') + ')',
        f'AP {r["AP"]:.4f}  AP50 {r["AP50"]:.4f}  AP75 {r["AP75"]:.4f}  '
        f'AR {r["AR"]:.4f}',
        f'PCK@{r["pck_thr"]:g} {r["PCK"]:.4f} ({r["num_gt_people_matched"]} of '
        f'{r["num_gt_people"]} GT people matched by box IoU)',
        f'jitter {jit} (bbox units, {r["num_tracks"]} tracks)'])


def write_json_atomic(path, obj) -> Path:
    """``obj`` as JSON into ``path`` through a temporary file + rename."""
    from kdkit.utils.io import atomic_write_text

    from .multiview import _jsonable  # nan -> null, numpy -> python
    return atomic_write_text(path, json.dumps(_jsonable(obj), indent=1,
                                              allow_nan=False) + '\n')
