"""``kdkit data from-video``: real clips + a teacher's key points -> a kdkit dataset.

The labels come in kdkit's pose-labels format (``kdkit-pose-labels/1``, from
a MediaPipe labeller or kdkit's ONNX teacher)::

    {"format": "kdkit-pose-labels/1", "teacher": {...}, "keypoint_names": [17 COCO names],
     "videos": [{"file": "cam01.mp4", "width": W, "height": H, "fps": 60.0, "num_frames": N,
       "frames": [{"frame_index": i, "people": [{"bbox": [x, y, w, h],
           "keypoints": [[x, y, score] x 17], "score": s, "track_id": t or null}]}]}]}

or are made here by an ONNX teacher (:func:`label_videos_onnx`). The output
mirrors :func:`kdkit.data.generate_dataset`'s layout, so kdkit's configs run
on it with ``data_root=OUT``::

    images/{split}/{video stem}/{frame:06d}.jpg
    annotations/person_keypoints_{split}.json   train, val (--val), test (--test, else = val)
    annotations/person_keypoints_train_full.json  = train (every frame is labelled)
    meta.json

Encoding of a pseudo-label: a key point with score >= ``kpt_thr`` inside the
frame is ``(x, y, 2)``, any other ``(0, 0, 0)`` (COCO's "not labelled", what
MMPose reads as invisible: zero loss weight, left out of OKS); the teacher's
17 scores stay in ``keypoint_scores`` (all of them, also below the
threshold) and ``pseudo_label: true`` marks the annotation. A human label
(``--human``) replaces the pseudo-label of the person it overlaps (IoU), gets
``pseudo_label: false`` and scores 1 where labelled, and its frame
``is_labeled: true`` (PoseTrack's meaning: annotated by a person; frames with
pseudo-labels only have ``is_labeled: false`` but labelled key points).
Missing ``track_id``s come from :func:`kdkit.data.tracking.assign_tracks`.

Everything is built in a sibling temporary folder renamed onto OUT at the
end; any error removes it and leaves OUT as it was.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kdkit.utils.validate import InputError

from .config import SPLIT_CODE
from .export import (MARKER, META_FILE, _is_empty_dir, _swap_into_place, _write_json,
                     ann_file, coco_categories, read_meta)
from .skeleton import COCO_KEYPOINTS, NUM_KEYPOINTS
from .tracking import assign_tracks, match_boxes

LABELS_FORMAT = 'kdkit-pose-labels/1'
FROM_VIDEO_VERSION = '1'
JPEG_QUALITY = 90


# ------------------------------------------------------------------ options
@dataclass
class Options:
    """How frames are picked and labels encoded (``kdkit data from-video`` flags)."""
    val: tuple = ()           # video stems of the val split
    test: tuple = ()          # video stems of the test split (default: val's files)
    every: int = 1            # keep every n-th frame
    max_frames: Optional[int] = None  # at most this many strided frames per video
    kpt_thr: float = 0.3      # least score of a labelled key point
    track_iou: float = 0.3    # tracker and human-label matching IoU
    max_gap: int = 5          # frames a track may miss
    progress: bool = True

    def check(self) -> None:
        if not (isinstance(self.every, int) and self.every >= 1):
            raise InputError(f'--every: expected an int >= 1, got {self.every!r}')
        if self.max_frames is not None and not (isinstance(self.max_frames, int)
                                                and self.max_frames >= 1):
            raise InputError(f'--max-frames: expected an int >= 1, got {self.max_frames!r}')
        if not 0 <= self.kpt_thr <= 1:
            raise InputError(f'--kpt-thr: expected a score in [0, 1], got {self.kpt_thr!r}')
        if not 0 < self.track_iou <= 1:
            raise InputError(f'--track-iou: expected a number in (0, 1], got {self.track_iou!r}')
        if self.max_gap < 0:
            raise InputError(f'--max-gap: expected an int >= 0, got {self.max_gap!r}')


def sha256(path) -> str:
    with open(path, 'rb') as f:
        return hashlib.file_digest(f, 'sha256').hexdigest()


def _read_json(path, what: str):
    path = Path(path)
    if not path.is_file():
        raise InputError(f'{what}: {path} does not exist (expected a JSON file)')
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f'{what}: {path} is not valid JSON ({" ".join(str(e).split())})') \
            from None


# ------------------------------------------------------------------- labels
def load_labels(path) -> dict:
    """A pose-labels file, checked (:func:`check_labels`)."""
    labels = _read_json(path, '--labels')
    check_labels(labels, str(path))
    return labels


def check_labels(labels, where: str) -> None:
    """The pose-labels form, in one line naming the field."""
    if not isinstance(labels, dict) or labels.get('format') != LABELS_FORMAT:
        got = labels.get('format') if isinstance(labels, dict) else type(labels).__name__
        raise InputError(f'{where}: format is {got!r}, expected {LABELS_FORMAT!r} '
                         '(kdkit pose labels)')
    names = labels.get('keypoint_names')
    if list(names or []) != list(COCO_KEYPOINTS):
        raise InputError(f'{where}: keypoint_names: expected the 17 COCO key points '
                         f'{list(COCO_KEYPOINTS)}, got {names!r}')
    if not isinstance(labels.get('videos'), list):
        raise InputError(f'{where}: videos: expected a list of videos')
    for i, video in enumerate(labels['videos']):
        _check_video_labels(video, f'{where}: videos[{i}]')


def _check_video_labels(video, at: str) -> None:
    if not isinstance(video, dict):
        raise InputError(f'{at}: expected an object with file, width, height, num_frames, frames')
    if not isinstance(video.get('file'), str) or not video['file']:
        raise InputError(f'{at}.file: expected the video file name, got {video.get("file")!r}')
    for key in ('width', 'height', 'num_frames'):
        if not _is_int(video.get(key)) or video[key] < 1:
            raise InputError(f'{at}.{key}: expected an int >= 1, got {video.get(key)!r}')
    if not isinstance(video.get('frames'), list):
        raise InputError(f'{at}.frames: expected a list of frames')
    for j, frame in enumerate(video['frames']):
        t = frame.get('frame_index') if isinstance(frame, dict) else None
        if not _is_int(t) or not 0 <= t < video['num_frames']:
            raise InputError(f'{at}.frames[{j}].frame_index: expected an int in [0, '
                             f'{video["num_frames"]}) (num_frames), got {t!r}')
        if not isinstance(frame.get('people'), list):
            raise InputError(f'{at}.frames[{j}].people: expected a list of people')
        for k, person in enumerate(frame['people']):
            _check_person(person, f'{at}.frames[{j}].people[{k}]')


def _check_person(person, at: str) -> None:
    if not isinstance(person, dict):
        raise InputError(f'{at}: expected an object with bbox, keypoints, score, track_id')
    kpts = person.get('keypoints')
    ok = (isinstance(kpts, list) and len(kpts) == NUM_KEYPOINTS
          and all(isinstance(p, list) and len(p) == 3 and all(_is_num(v) for v in p)
                  for p in kpts))
    if not ok:
        raise InputError(f'{at}.keypoints: expected {NUM_KEYPOINTS} [x, y, score] triples')
    box = person.get('bbox')
    if box is not None and not (isinstance(box, list) and len(box) == 4
                                and all(_is_num(v) for v in box) and box[2] > 0 and box[3] > 0):
        raise InputError(f'{at}.bbox: expected [x, y, w, h] with w, h > 0 (or null), got {box!r}')
    tid = person.get('track_id')
    if tid is not None and not _is_int(tid):
        raise InputError(f'{at}.track_id: expected an int or null, got {tid!r}')


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def match_videos(videos: Sequence[Path], labels: dict, where: str) -> list[dict]:
    """Each video's entry of the labels (by file name, else stem); a video
    without labels, or labels of a video not given, are errors."""
    entries = {}
    for video in labels['videos']:
        entries.setdefault(Path(video['file']).name, video)
    stems = [Path(v['file']).stem for v in labels['videos']]
    out = []
    for path in videos:
        entry = entries.get(path.name)
        if entry is None and stems.count(path.stem) == 1:
            entry = labels['videos'][stems.index(path.stem)]
        if entry is None:
            raise InputError(f'{where}: no labels for video {path.name} (labels have '
                             f'{", ".join(sorted(entries)) or "no videos"})')
        out.append(entry)
    given = {id(e) for e in out}
    extra = [v['file'] for v in labels['videos'] if id(v) not in given]
    if extra:
        raise InputError(f'{where}: labels for video(s) {", ".join(extra)} that were not '
                         'given on the command line')
    return out


# -------------------------------------------------------------- annotations
def person_keypoints(kpts, width: int, height: int, thr: float) -> tuple[list, list]:
    """(COCO ``keypoints`` x, y, v flattened, ``keypoint_scores``): v = 2 for
    a score >= ``thr`` inside the frame, else (0, 0, 0)."""
    flat, scores = [], []
    for x, y, s in kpts:
        inside = 0 <= x < width and 0 <= y < height
        flat += [round(float(x), 2), round(float(y), 2), 2] if s >= thr and inside else [0, 0, 0]
        scores.append(round(float(s), 4))
    return flat, scores


def keypoint_box(flat: list, width: int, height: int, margin: float = 0.1):
    """(x, y, w, h) around the labelled key points, ``margin`` of its size
    added on each side, clipped to the frame; None under 2 key points."""
    pts = np.array(flat, float).reshape(-1, 3)
    pts = pts[pts[:, 2] > 0, :2]
    if len(pts) < 2:
        return None
    lo, hi = pts.min(0), pts.max(0)
    pad = (hi - lo) * margin + 2
    return clip_box([*(lo - pad), *(hi - lo + 2 * pad)], width, height)


def clip_box(box, width: int, height: int):
    """(x, y, w, h) clipped to the frame; None if nothing is left."""
    x0, y0 = max(0.0, float(box[0])), max(0.0, float(box[1]))
    x1, y1 = min(float(width), box[0] + box[2]), min(float(height), box[1] + box[3])
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]


def pseudo_annotation(person: dict, width: int, height: int, thr: float) -> Optional[dict]:
    """A labels person -> a COCO annotation (without ids); None if its box
    is outside the frame (or it has no box and under 2 labelled key points)."""
    flat, scores = person_keypoints(person['keypoints'], width, height, thr)
    box = (clip_box(person['bbox'], width, height) if person.get('bbox') is not None
           else keypoint_box(flat, width, height))
    if box is None:
        return None
    return {'category_id': 1, 'bbox': box, 'area': round(box[2] * box[3], 2), 'iscrowd': 0,
            'keypoints': flat, 'num_keypoints': sum(1 for v in flat[2::3] if v > 0),
            'keypoint_scores': scores, 'score': round(float(person.get('score', 1.0)), 4),
            'track_id': person.get('track_id'), 'pseudo_label': True}


def track_people(frames: dict, opts: Options) -> bool:
    """Fill ``track_id`` of every annotation of ``frames`` ({frame: [ann]})
    unless all have one; True if the tracker ran."""
    order = sorted(frames)
    anns = [a for t in order for a in frames[t]]
    if all(a['track_id'] is not None for a in anns):
        return False
    ids = assign_tracks([[a['bbox'] for a in frames[t]] for t in order],
                        iou_thr=opts.track_iou, max_gap=opts.max_gap, frame_indices=order)
    for t, frame_ids in zip(order, ids):
        for a, tid in zip(frames[t], frame_ids):
            a['track_id'] = tid
    return True


# -------------------------------------------------------------- human labels
def load_human(path, stems: set) -> dict:
    """``--human`` COCO key-point json -> {(video stem, frame_index): [ann]}.
    An image names its frame by ``video_name`` + ``frame_index`` fields, else
    by its ``file_name`` ``.../<video stem>/<frame number>.jpg``."""
    coco = _read_json(path, '--human')
    if not (isinstance(coco, dict) and isinstance(coco.get('images'), list)
            and isinstance(coco.get('annotations'), list)):
        raise InputError(f'--human: {path}: expected COCO json with images and annotations')
    keys = {}
    for i, img in enumerate(coco['images']):
        key = coco_frame_key(img, f'--human: {path}: images[{i}]')
        if key[0] not in stems:
            raise InputError(f'--human: {path}: images[{i}] is of video {key[0]!r}, which '
                             f'was not given (videos: {", ".join(sorted(stems))})')
        keys[img.get('id')] = key
    out: dict = {}
    for j, ann in enumerate(coco['annotations']):
        at = f'--human: {path}: annotations[{j}]'
        if ann.get('image_id') not in keys:
            raise InputError(f'{at}.image_id: {ann.get("image_id")!r} is no image of the file')
        kps = ann.get('keypoints')
        if not (isinstance(kps, list) and len(kps) == 3 * NUM_KEYPOINTS):
            raise InputError(f'{at}.keypoints: expected {3 * NUM_KEYPOINTS} values (x, y, v)')
        out.setdefault(keys[ann['image_id']], []).append(ann)
    return out


def coco_frame_key(img: dict, at: str) -> tuple:
    if isinstance(img, dict) and img.get('video_name') and _is_int(img.get('frame_index')):
        return str(img['video_name']), int(img['frame_index'])
    name = Path(str(img.get('file_name', ''))) if isinstance(img, dict) else Path('')
    digits = re.search(r'(\d+)$', name.stem)
    if not name.parent.name or digits is None:
        raise InputError(f'{at}: expected video_name and frame_index, or a file_name '
                         f'".../<video stem>/<frame number>.jpg", got {img!r:.120}')
    return name.parent.name, int(digits.group(1))


def human_annotation(ann: dict, width: int, height: int) -> Optional[dict]:
    flat = [float(v) for v in ann['keypoints']]
    for i in range(NUM_KEYPOINTS):
        if flat[3 * i + 2] <= 0:
            flat[3 * i:3 * i + 3] = [0, 0, 0]
    box = ann.get('bbox')
    box = clip_box(box, width, height) if box else keypoint_box(flat, width, height)
    if box is None:
        return None
    return {'category_id': 1, 'bbox': box, 'area': round(box[2] * box[3], 2), 'iscrowd': 0,
            'keypoints': flat, 'num_keypoints': sum(1 for v in flat[2::3] if v > 0),
            'keypoint_scores': [1.0 if v > 0 else 0.0 for v in flat[2::3]], 'score': 1.0,
            'track_id': None, 'pseudo_label': False}


def merge_human(pseudo: list, human: list, iou_thr: float, next_id: int) -> tuple[list, int]:
    """Each human annotation replaces the pseudo-label it overlaps most
    (IoU >= ``iou_thr``, one each) and takes its track id; one with no match
    is added with a new track id. Returns (annotations, next free id)."""
    out = list(pseudo)
    pairs = dict((j, i) for i, j in match_boxes([a['bbox'] for a in pseudo],
                                                [h['bbox'] for h in human], iou_thr))
    for j, h in enumerate(human):
        if j in pairs:
            h['track_id'] = pseudo[pairs[j]]['track_id']
            out[pairs[j]] = h
        else:
            h['track_id'], next_id = next_id, next_id + 1
            out.append(h)
    return out, next_id


# ------------------------------------------------------------------- frames
def frame_plan(num_frames: int, opts: Options, extra=()) -> list[int]:
    """Frames kept: every ``every``-th, at most ``max_frames`` of them, plus
    the ``extra`` ones (human-labelled frames are always kept)."""
    keep = list(range(0, num_frames, opts.every))[:opts.max_frames]
    return sorted(set(keep) | {t for t in extra if 0 <= t < num_frames})


def open_video(path: Path):
    """An opened ``cv2.VideoCapture`` of ``path``, else a one-line error."""
    import cv2
    if not path.is_file():
        raise InputError(f'VIDEO: {path} does not exist')
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(f'VIDEO: {path} cannot be read as a video by OpenCV')
    return cap


def iter_frames(path: Path, keep: set):
    """(index, BGR frame or None) for every frame of the video, the frame
    decoded only when its index is in ``keep``."""
    cap = open_video(path)
    try:
        t = 0
        while True:
            if t in keep:
                ok, frame = cap.read()
            else:
                ok, frame = cap.grab(), None
            if not ok:
                return
            yield t, frame
            t += 1
    finally:
        cap.release()


def write_frames(path: Path, entry: dict, keep: list, image_dir: Path, desc: str,
                 progress: bool) -> int:
    """Decode the video, write the kept frames as JPEGs; check its size and
    frame count against the labels. Returns the frames decoded."""
    import cv2
    bar = _bar(entry['num_frames'], desc, progress)
    image_dir.mkdir(parents=True, exist_ok=True)
    n, want = 0, set(keep)
    try:
        for t, frame in iter_frames(path, want):
            n = t + 1
            bar.update(1)
            if frame is None:
                continue
            if frame.shape[:2] != (entry['height'], entry['width']):
                raise InputError(f'VIDEO: {path.name} has {frame.shape[1]}x{frame.shape[0]} '
                                 f'frames but its labels say {entry["width"]}x{entry["height"]}')
            if not cv2.imwrite(str(image_dir / f'{t:06d}.jpg'), frame,
                               [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
                raise InputError(f'OUT: cannot write {image_dir / f"{t:06d}.jpg"}')
    finally:
        bar.close()
    if n == 0:
        raise InputError(f'VIDEO: {path} cannot be read as a video by OpenCV (no frame decoded)')
    if n != entry['num_frames']:
        raise InputError(f'--labels: {entry["file"]}: num_frames is {entry["num_frames"]} but '
                         f'{path.name} has {n} frames')
    return n


def _bar(total: int, desc: str, progress: bool):
    from tqdm import tqdm

    from kdkit.utils.console import console
    return tqdm(total=total, desc=desc, unit='frame', file=console(), dynamic_ncols=True,
                disable=not progress, leave=True)


# ------------------------------------------------------------------ a video
@dataclass
class VideoResult:
    path: Path
    split: str
    vid_id: int
    nframes: int
    keep: list
    frames: dict                 # frame_index -> [annotation]
    tracked: bool = False
    human: int = 0               # human annotations merged
    size: tuple = (0, 0)         # (width, height)


def video_annotations(entry: dict, human: dict, stem: str, opts: Options) -> tuple:
    """({frame: [ann]} over every labelled frame, tracker ran, human merged)."""
    w, h = entry['width'], entry['height']
    frames = {}
    for fr in entry['frames']:
        anns = [pseudo_annotation(p, w, h, opts.kpt_thr) for p in fr['people']]
        frames[fr['frame_index']] = [a for a in anns if a is not None]
    tracked = track_people(frames, opts)
    next_id = 1 + max((a['track_id'] for anns in frames.values() for a in anns), default=-1)
    merged = 0
    for (s, t), anns in sorted(human.items()):
        if s != stem:
            continue
        if t >= entry['num_frames']:
            raise InputError(f'--human: frame {t} of {stem} is past its {entry["num_frames"]} '
                             'frames')
        people = [a for a in (human_annotation(x, w, h) for x in anns) if a is not None]
        frames[t], next_id = merge_human(frames.get(t, []), people, opts.track_iou, next_id)
        merged += len(people)
    return frames, tracked, merged


def process_video(path: Path, entry: dict, split: str, vid: int, human: dict, tmp: Path,
                  opts: Options) -> VideoResult:
    frames, tracked, merged = video_annotations(entry, human, path.stem, opts)
    human_frames = [t for (s, t) in human if s == path.stem]
    keep = frame_plan(entry['num_frames'], opts, human_frames)
    if not any(frames.get(t) for t in keep):
        raise InputError(f'VIDEO: {path.name}: no person in any of its {len(keep)} kept '
                         'frames (nothing to label)')
    write_frames(path, entry, keep, tmp / 'images' / split / path.stem,
                 f'{path.stem} ({split})', opts.progress)
    return VideoResult(path, split, vid, entry['num_frames'], keep, frames, tracked, merged,
                       (entry['width'], entry['height']))


# ------------------------------------------------------------------- output
def image_id_base(results: list) -> int:
    """Image id = vid_id * base + frame: PoseTrack's 10000 when every video
    is shorter, else the next power of 10."""
    n = max(r.nframes for r in results)
    return 10000 if n <= 10000 else 10 ** len(str(n - 1))


def split_coco(split: str, results: list, base: int, info: dict) -> dict:
    images, anns = [], []
    for r in results:
        for t in r.keep:
            fid = r.vid_id * base + t
            people = r.frames.get(t, [])
            images.append({
                'id': fid, 'file_name': f'{r.split}/{r.path.stem}/{t:06d}.jpg',
                'width': r.size[0], 'height': r.size[1], 'vid_id': r.vid_id, 'frame_id': fid,
                'frame_index': t, 'nframes': r.nframes, 'video_name': r.path.stem,
                'is_labeled': any(not a['pseudo_label'] for a in people)})
            for a in people:
                anns.append({'id': len(anns) + 1, 'image_id': fid, **a})
    return {'info': {**info, 'description': f'kdkit from-video pseudo-labels, {split} split'},
            'licenses': [], 'images': images, 'annotations': anns,
            'categories': coco_categories()}


def split_stats(results: list) -> dict:
    anns = [a for r in results for t in r.keep for a in r.frames.get(t, [])]
    v = np.array([a['keypoints'][2::3] for a in anns]).reshape(-1)
    return {'clips': len(results), 'frames': sum(len(r.keep) for r in results),
            'labeled_frames': sum(1 for r in results for t in r.keep
                                  if any(not a['pseudo_label'] for a in r.frames.get(t, []))),
            'people': len(anns), 'tracks': len({(r.vid_id, a['track_id']) for r in results
                                                for t in r.keep for a in r.frames.get(t, [])}),
            'human_annotations': sum(1 for a in anns if not a['pseudo_label']),
            'keypoints_visible': int((v == 2).sum()), 'keypoints_occluded': int((v == 1).sum()),
            'keypoints_outside': int((v == 0).sum())}


def write_dataset(tmp: Path, results: list, info: dict, meta: dict) -> dict:
    """The split json files and meta.json; returns the per-split statistics."""
    base = image_id_base(results)
    splits = {s: [r for r in results if r.split == s] for s in SPLIT_CODE}
    written, stats = {}, {}
    for split, rs in splits.items():
        if rs:
            _write_json(tmp / ann_file(split), split_coco(split, rs, base, info))
            written[split], stats[split] = ann_file(split), split_stats(rs)
    if 'val' in written and 'test' not in written:  # the configs' test split: the held-out view
        shutil.copyfile(tmp / ann_file('val'), tmp / ann_file('test'))
        written['test'], stats['test'] = ann_file('test'), stats['val']
    if 'train' in written:  # every train frame is labelled: train_full is train
        shutil.copyfile(tmp / ann_file('train'), tmp / ann_file('train_full'))
        written['train_full'] = ann_file('train_full')
    meta.update(annotation_files=written, splits=stats, clips=[
        {'split': r.split, 'video_name': r.path.stem, 'vid_id': r.vid_id, 'nframes': r.nframes,
         'frames_kept': len(r.keep), 'tracked': r.tracked, 'human_annotations': r.human}
        for r in results])
    _write_json(tmp / META_FILE, meta)
    return stats


def assign_splits(videos: Sequence[Path], opts: Options) -> list[str]:
    stems = [v.stem for v in videos]
    dup = sorted({s for s in stems if stems.count(s) > 1})
    if dup:
        raise InputError(f'VIDEO: two videos named {dup[0]!r} (the stem names the image folder)')
    for flag, names in (('--val', opts.val), ('--test', opts.test)):
        unknown = [n for n in names if n not in stems]
        if unknown:
            raise InputError(f'{flag}: {", ".join(unknown)} is not one of the videos '
                             f'({", ".join(stems)})')
    both = set(opts.val) & set(opts.test)
    if both:
        raise InputError(f'--val/--test: {", ".join(sorted(both))} in both splits')
    splits = ['val' if s in opts.val else 'test' if s in opts.test else 'train' for s in stems]
    if 'train' not in splits:
        raise InputError('--val/--test: every video is held out; expected at least one '
                         'train video')
    return splits


def check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not (out.is_dir() and _is_empty_dir(out)):
        if read_meta(out) is None and not overwrite:
            raise FileExistsError(f'--out: {out} exists and is not a kdkit dataset; pass '
                                  '--overwrite to replace it')


def convert_videos(videos: Sequence, labels: dict, out, opts: Optional[Options] = None,
                   human=None, labels_source: Optional[dict] = None, command: str = '',
                   overwrite: bool = False) -> Path:
    """Write the dataset of ``videos`` labelled by ``labels`` (pose-labels
    dict) at ``out``; returns its root. ``labels_source`` goes into
    meta.json (which file or teacher made the labels)."""
    opts = opts or Options()
    opts.check()
    check_labels(labels, (labels_source or {}).get('file', 'labels'))
    videos = [Path(v).expanduser() for v in videos]
    if not videos:
        raise InputError('VIDEO: expected at least one video file')
    splits = assign_splits(videos, opts)
    where = (labels_source or {}).get('file', 'labels')
    entries = match_videos(videos, labels, f'--labels: {where}')
    for v in videos:
        open_video(v).release()
    human_anns = load_human(human, {v.stem for v in videos}) if human else {}
    out = Path(out).expanduser().resolve()
    check_out(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + '.tmp-', dir=out.parent))
    try:
        results = []
        for split in SPLIT_CODE:
            todo = [(v, e) for v, e, s in zip(videos, entries, splits) if s == split]
            for i, (video, entry) in enumerate(todo):
                vid = SPLIT_CODE[split] * 10000 + i + 1
                results.append(process_video(video, entry, split, vid, human_anns, tmp, opts))
        meta = build_meta(videos, splits, labels, labels_source, human, opts, command)
        for item, entry in zip(meta['videos'], entries):
            item.update(fps=entry.get('fps'), num_frames=entry['num_frames'],
                        width=entry['width'], height=entry['height'])
        write_dataset(tmp, results, {'teacher': labels.get('teacher'), 'pseudo_labels': True,
                                     'version': FROM_VIDEO_VERSION}, meta)
        os.chmod(tmp, 0o755)
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def build_meta(videos, splits, labels, labels_source, human, opts: Options,
               command: str) -> dict:
    return {MARKER: True, 'source': 'from-video', 'from_video_version': FROM_VIDEO_VERSION,
            'command': command, 'teacher': labels.get('teacher'),
            'labels': labels_source or {}, 'image_prefix': 'images/',
            'human': {'file': str(human), 'sha256': sha256(human)} if human else None,
            'videos': [{'file': str(v), 'sha256': sha256(v), 'split': s}
                       for v, s in zip(videos, splits)],
            'options': {'every': opts.every, 'max_frames': opts.max_frames,
                        'kpt_thr': opts.kpt_thr, 'track_iou': opts.track_iou,
                        'max_gap': opts.max_gap, 'val': list(opts.val),
                        'test': list(opts.test)},
            'keypoints': list(COCO_KEYPOINTS)}


def from_labels_file(videos: Sequence, labels_path, out, **kwargs) -> Path:
    """:func:`convert_videos` with the labels read from a pose-labels file."""
    path = Path(labels_path).expanduser()
    labels = load_labels(path)
    return convert_videos(videos, labels, out, labels_source={
        'file': str(path), 'sha256': sha256(path)}, **kwargs)


# ------------------------------------------------------------- ONNX teacher
def load_teacher_spec(teacher, spec) -> dict:
    """The ONNX teacher dict: ``spec`` (a dict, a .json file or a dict
    literal) with ``type='onnx'`` and ``file=teacher`` filled in, checked."""
    if spec is None:
        raise InputError('--teacher-spec: required with --teacher (input_size, output, mean, '
                         'std, bgr_to_rgb: the ONNX file does not hold them)')
    if isinstance(spec, (str, Path)) and Path(spec).suffix == '.json':
        spec = _read_json(spec, '--teacher-spec')
    elif isinstance(spec, str):
        spec = _parse_dict(spec)
    if not isinstance(spec, dict):
        raise InputError(f'--teacher-spec: expected a dict, got {type(spec).__name__}')
    spec = {'type': 'onnx', **spec}
    if teacher is not None:
        spec['file'] = str(teacher)
    if not Path(str(spec.get('file', ''))).is_file():
        raise InputError(f'--teacher: {spec.get("file")} does not exist (expected an .onnx file)')
    from kdkit.teachers.onnx import check_onnx_spec
    check_onnx_spec(spec, '--teacher-spec')
    return spec


def _parse_dict(text: str):
    """A dict written as JSON or as a Python literal."""
    import ast
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise InputError(f'--teacher-spec: {text!r:.80} is neither a .json file nor a dict '
                         '(JSON or Python literal)') from None


class OnnxLabeller:
    """Key points of the people in given boxes of a frame, by an ONNX pose
    model: MMPose's top-down crop (box padded 1.25, fixed aspect ratio,
    ``get_warp_matrix`` / ``get_udp_warp_matrix``), the declared
    normalisation, the model's codec to decode, the inverse warp back."""

    def __init__(self, spec: dict):
        from kdkit.teachers.onnx import (DEFAULT_SPLIT_RATIO, OrtModel, output_layout,
                                         teacher_codec)
        self.spec, self.kind = spec, spec['output']
        self.size = tuple(int(v) for v in spec['input_size'])
        self.udp = bool(spec.get('udp', False))
        ratio = float(spec.get('simcc_split_ratio', DEFAULT_SPLIT_RATIO))
        self.model = OrtModel(Path(spec['file']), spec.get('intra_op_num_threads'), '--teacher')
        self.model.check_input(self.size)
        w, h = self.size
        probe = self.model.run(np.zeros((self.model.fixed_batch or 1, 3, h, w), np.float32))
        self.layout = output_layout(self.kind, [o.shape for o in probe], self.size, ratio,
                                    self.model.output_names, '--teacher-spec')
        if self.layout['num_keypoints'] != NUM_KEYPOINTS:
            raise InputError(f'--teacher: {Path(spec["file"]).name} predicts '
                             f'{self.layout["num_keypoints"]} key points; expected the 17 '
                             'COCO ones')
        self.codec = teacher_codec(self.kind, self.size, self.layout['grid'], ratio, self.udp)
        mean, std = spec['mean'], spec['std']
        self.mean = None if mean is None else np.asarray(mean, np.float32)
        self.std = None if std is None else np.asarray(std, np.float32)

    def warp(self, box) -> np.ndarray:
        from mmpose.datasets.transforms import TopdownAffine
        from mmpose.structures.bbox import (bbox_xywh2cs, get_udp_warp_matrix,
                                            get_warp_matrix)
        center, scale = bbox_xywh2cs(np.asarray(box, np.float32), padding=1.25)
        w, h = self.size
        scale = TopdownAffine._fix_aspect_ratio(scale[None], w / h)[0]
        if self.udp:
            return get_udp_warp_matrix(center, scale, 0.0, output_size=(w, h))
        return get_warp_matrix(center, scale, 0.0, output_size=(w, h))

    def inputs(self, frame: np.ndarray, warps: list) -> np.ndarray:
        import cv2
        crops = np.stack([cv2.warpAffine(frame, m, self.size, flags=cv2.INTER_LINEAR)
                          for m in warps]).astype(np.float32)
        if self.spec['bgr_to_rgb']:  # frames are BGR, as MMPose's LoadImage gives them
            crops = crops[..., ::-1]
        if self.mean is not None:
            crops = (crops - self.mean) / self.std
        return np.ascontiguousarray(crops.transpose(0, 3, 1, 2))

    def decode(self, outs: list) -> tuple[np.ndarray, np.ndarray]:
        """(B, K, 2) key points in crop pixels, (B, K) scores."""
        outs = [outs[i] for i in self.layout['order']]
        if self.kind == 'keypoints':
            return outs[0].astype(float), outs[1].astype(float)
        if self.kind == 'simcc':
            kpts, scores = self.codec.decode(outs[0], outs[1])
            return kpts, scores
        pairs = [self.codec.decode(hm) for hm in outs[0]]
        return (np.concatenate([k for k, _ in pairs]), np.concatenate([s for _, s in pairs]))

    def __call__(self, frame: np.ndarray, boxes: list) -> list[tuple]:
        """[(key points (K, 2) in frame pixels, scores (K,))] per box."""
        import cv2
        if not boxes:
            return []
        warps = [self.warp(b) for b in boxes]
        kpts, scores = self.decode(self.model.run(self.inputs(frame, warps)))
        out = []
        for m, k, s in zip(warps, kpts, scores):
            inv = cv2.invertAffineTransform(m)
            out.append((k @ inv[:, :2].T + inv[:, 2], np.clip(np.nan_to_num(s), 0, 1)))
        return out


def label_frame(labeller: OnnxLabeller, frame: np.ndarray, boxes, thr: float) -> list:
    """The people of one frame in the pose-labels form. ``boxes`` None: one
    person, the whole frame first, then the box around its key points with
    score >= ``thr``."""
    h, w = frame.shape[:2]
    if boxes is None:
        first = labeller(frame, [[0, 0, w, h]])[0]
        flat, _ = person_keypoints(np.column_stack(first).tolist(), w, h, thr)
        box = keypoint_box(flat, w, h)
        boxes = [(box, None)] if box is not None else []
    people = []
    for (box, score), (k, s) in zip(boxes, labeller(frame, [b for b, _ in boxes])):
        kpts = np.column_stack([k, s]).round(3).tolist()
        conf = s[s >= thr]
        people.append({'bbox': [round(float(v), 2) for v in box], 'keypoints': kpts,
                       'score': round(float(score if score is not None else
                                            (conf.mean() if conf.size else 0.0)), 4),
                       'track_id': None})
    return people


def load_boxes(path, stems: set) -> dict:
    """``--boxes``: {(video stem, frame_index): [(box, score)]} from a
    pose-labels file or a COCO json (images + annotations with bbox)."""
    data = _read_json(path, '--boxes')
    out: dict = {}
    if isinstance(data, dict) and data.get('format') == LABELS_FORMAT:
        for video in data.get('videos') or []:
            for fr in video.get('frames') or []:
                out[(Path(video['file']).stem, fr['frame_index'])] = [
                    (p['bbox'], p.get('score')) for p in fr.get('people', []) if p.get('bbox')]
        return out
    if not (isinstance(data, dict) and isinstance(data.get('images'), list)
            and isinstance(data.get('annotations'), list)):
        raise InputError(f'--boxes: {path}: expected {LABELS_FORMAT} json or COCO json with '
                         'images and annotations (bbox)')
    keys = {img.get('id'): coco_frame_key(img, f'--boxes: {path}: images[{i}]')
            for i, img in enumerate(data['images'])}
    for j, ann in enumerate(data['annotations']):
        box = ann.get('bbox')
        if ann.get('image_id') not in keys or not (isinstance(box, list) and len(box) == 4):
            raise InputError(f'--boxes: {path}: annotations[{j}]: expected image_id of an '
                             'image and bbox [x, y, w, h]')
        out.setdefault(keys[ann['image_id']], []).append((box, ann.get('score')))
    return out


def label_video_onnx(path: Path, labeller: OnnxLabeller, boxes: Optional[dict], thr: float,
                     progress: bool) -> dict:
    """One video's entry of the pose-labels, every frame through the teacher."""
    import cv2
    cap = open_video(path)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    cap.release()
    frames, size = [], None
    bar = _bar(total or None, f'{path.stem} (teacher)', progress)
    try:
        for t, frame in iter_frames(path, _Everything()):
            size = frame.shape[1], frame.shape[0]
            fboxes = None if boxes is None else boxes.get((path.stem, t), [])
            try:
                people = label_frame(labeller, frame, fboxes, thr)
            except ValueError as e:
                raise InputError(f'--teacher: failed on frame {t} of {path.name}: '
                                 f'{" ".join(str(e).split())}') from None
            frames.append({'frame_index': t, 'people': people})
            bar.update(1)
    finally:
        bar.close()
    if size is None:
        raise InputError(f'VIDEO: {path} cannot be read as a video by OpenCV (no frame decoded)')
    return {'file': path.name, 'width': size[0], 'height': size[1], 'fps': fps,
            'num_frames': len(frames), 'frames': frames}


class _Everything:
    def __contains__(self, item) -> bool:
        return True


def label_videos_onnx(videos: Sequence, spec: dict, boxes=None, thr: float = 0.3,
                      progress: bool = True) -> dict:
    """Pose-labels of ``videos`` made by the ONNX teacher ``spec``;
    ``boxes`` a ``--boxes`` file, else whole frames refined once."""
    videos = [Path(v).expanduser() for v in videos]
    for v in videos:
        open_video(v).release()
    box_map = load_boxes(boxes, {v.stem for v in videos}) if boxes else None
    labeller = OnnxLabeller(spec)
    file = Path(spec['file'])
    teacher = {'type': 'onnx', 'file': str(file), 'sha256': labeller.model.digest,
               'input_size': list(labeller.size), 'output': spec['output'],
               'boxes': str(boxes) if boxes else 'whole frame, refined once'}
    return {'format': LABELS_FORMAT, 'teacher': teacher, 'keypoint_names': list(COCO_KEYPOINTS),
            'videos': [label_video_onnx(v, labeller, box_map, thr, progress) for v in videos]}


# ---------------------------------------------------------------------- CLI
def _stems(values) -> tuple:
    return tuple(s.strip() for v in values for s in str(v).split(',') if s.strip())


def command_line(args) -> str:
    """The ``kdkit data from-video`` command of ``args`` (for meta.json)."""
    import shlex
    parts = ['kdkit', 'data', 'from-video', *args.videos, '--out', args.out]
    for flag in ('labels', 'teacher', 'teacher_spec', 'boxes', 'human', 'max_frames'):
        if getattr(args, flag) is not None:
            parts += [f'--{flag.replace("_", "-")}', str(getattr(args, flag))]
    for flag in ('val', 'test'):
        parts += [x for s in _stems(getattr(args, flag)) for x in (f'--{flag}', s)]
    parts += ['--every', str(args.every), '--kpt-thr', str(args.kpt_thr),
              '--track-iou', str(args.track_iou), '--max-gap', str(args.max_gap)]
    return shlex.join(parts)


def cli_from_video(args) -> int:
    import sys
    import time
    opts = Options(val=_stems(args.val), test=_stems(args.test), every=args.every,
                   max_frames=args.max_frames, kpt_thr=args.kpt_thr, track_iou=args.track_iou,
                   max_gap=args.max_gap, progress=not args.no_progress)
    opts.check()
    common = dict(opts=opts, human=args.human, command=command_line(args),
                  overwrite=args.overwrite)
    t0 = time.perf_counter()
    if args.labels is not None:
        if args.teacher_spec or args.boxes:
            raise InputError('--teacher-spec/--boxes: only with --teacher, not --labels')
        root = from_labels_file(args.videos, args.labels, args.out, **common)
    else:
        spec = load_teacher_spec(args.teacher, args.teacher_spec)
        check_out(Path(args.out).expanduser().resolve(), args.overwrite)
        how = (f'boxes from {args.boxes}' if args.boxes else 'no --boxes: one person per '
               f'frame, the whole frame, then refined on the box around its key points '
               f'with score >= {opts.kpt_thr}')
        print(f'teacher: {spec["file"]} ({spec["output"]}); {how}', file=sys.stderr)
        labels = label_videos_onnx(args.videos, spec, args.boxes, opts.kpt_thr, opts.progress)
        root = convert_videos(args.videos, labels, args.out, labels_source={
            'teacher': spec['file'], 'sha256': labels['teacher']['sha256'],
            'spec': {k: v for k, v in spec.items() if k != 'metainfo'}}, **common)
    meta = read_meta(root) or {}
    print(f'dataset: {root}')
    for split, s in meta.get('splits', {}).items():
        print(f"  {split:<5} {s['clips']:>3} videos {s['frames']:>7} frames {s['people']:>7} "
              f"people {s['tracks']:>4} tracks {s['human_annotations']:>5} human labels")
    print(f'  in {time.perf_counter() - t0:.1f} s')
    return 0
