"""Top-down pose prediction on a folder of images or a video file.

Frames come from ``--images DIR`` (image files under DIR, sorted by their path
relative to DIR; frame id = index in that order) or ``--video FILE`` (frame id
= frame index). Each frame's people come from a boxes file (:func:`load_boxes`:
COCO detection results, a COCO dataset with annotations, or kdkit's pose-labels
file) or, without one, one whole-frame box per frame. MMPose's
``inference_topdown`` crops each box as the model was trained and maps the key
points back to the original frame, so the results are in its pixels.

Written, each to a temporary file renamed at the end (a failed run leaves no
half-written file and an earlier result untouched):

- ``OUT`` (``preds.json``): COCO key-point results, one per box:
  ``image_id`` (the frame id), ``category_id`` 1, ``keypoints``
  ``[x, y, score] * K``, ``score`` (mean key-point score x box score),
  ``bbox`` ``[x, y, w, h]`` and ``track_id`` where the boxes give one;
- ``<OUT stem>.images.json``: the frames ``[{id, file_name | frame_index,
  width, height}]``, the COCO ``images`` list to score the results against;
- an overlay (``.mp4`` through OpenCV, ``.gif`` through Pillow): the skeleton
  of the model's dataset metainfo drawn on every frame.

A ``.onnx`` file from ``kdkit export`` may stand for the checkpoint: CONFIG
then gives the crop pipeline, normalisation and codec, ONNX Runtime runs the
network (no flip test), :func:`kdkit.export.decode_outputs` decodes it.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import numpy as np

from kdkit.utils.io import best_path_matches, index_by_file_name
from kdkit.utils.validate import InputError

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
POSE_LABELS_FORMAT = 'kdkit-pose-labels/1'
GIF_MAX_SIDE = 640  # GIF frames are kept in memory until the end: downscaled
BOX_FORMATS = ('a COCO detection-results list [{image_id, bbox: [x, y, w, h], '
               'score}], a COCO dataset {images, annotations} or a '
               f'{POSE_LABELS_FORMAT} file')


# --------------------------------------------------------------------- frames
def list_images(folder) -> list[str]:
    """The image files under ``folder`` (recursive), as sorted POSIX paths
    relative to it; a one-line error for a missing or image-less folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f'--images: {folder} is not a folder')
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob('*')
                   if p.suffix.lower() in IMAGE_EXTS and p.is_file())
    if not names:
        raise InputError(f'--images: {folder} holds no image files '
                         f'(expected {", ".join(IMAGE_EXTS)})')
    return names


def read_image(path):
    import cv2
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f'--images: {path} is not a readable image')
    return img


def read_video_info(path) -> dict:
    """``dict(num_frames, fps, width, height)`` of a video OpenCV can read and
    that has a first frame; else a one-line error naming the file."""
    import cv2
    path = Path(path)
    if not path.is_file():
        raise InputError(f'--video: {path} does not exist')
    with _native_stderr_off():  # FFmpeg's own "moov atom not found" lines
        cap = cv2.VideoCapture(str(path))
        ok, frame = cap.read() if cap.isOpened() else (False, None)
    try:
        if not ok or frame is None:
            raise InputError(f'--video: {path} is not a readable video or has no '
                             'frames (OpenCV could not decode a first frame)')
        fps = cap.get(cv2.CAP_PROP_FPS)
        return dict(num_frames=max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 1),
                    fps=fps if fps and 0 < fps < 1000 else 25.0,
                    height=frame.shape[0], width=frame.shape[1])
    finally:
        cap.release()


@contextlib.contextmanager
def _native_stderr_off():
    """File descriptor 2 to /dev/null (C libraries write there directly)
    unless verbose; Python's ``sys.stderr`` is flushed first."""
    from kdkit.utils.console import is_verbose
    if is_verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, 'wb') as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def iter_video(path):
    """``(frame index, BGR frame)`` of every frame OpenCV decodes."""
    import cv2
    cap = cv2.VideoCapture(str(path))
    try:
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield index, frame
            index += 1
    finally:
        cap.release()


# ---------------------------------------------------------------------- boxes
def _box(bbox, score=1.0, track_id=None, where: str = '') -> dict | None:
    """A box entry, or None for a degenerate one; a one-line error for a
    bbox that is not 4 numbers."""
    if (not isinstance(bbox, (list, tuple)) or len(bbox) != 4
            or not all(isinstance(v, (int, float)) for v in bbox)):
        raise InputError(f'{where}: bbox {str(bbox)[:60]} is not [x, y, w, h]')
    if bbox[2] <= 0 or bbox[3] <= 0:
        return None
    out = dict(bbox=[float(v) for v in bbox],
               score=1.0 if score is None else float(score))
    if track_id is not None:
        out['track_id'] = track_id
    return out


def _add(boxes: dict, frame_id, box) -> None:
    if box is not None:
        boxes.setdefault(frame_id, []).append(box)



def _match_files(coco_images: list, names: list[str], folder, where: str) -> dict:
    """COCO image id -> frame id, matching ``file_name`` to the image files by
    the longest common path suffix (``val/clip/000001.jpg`` matches
    ``DIR/000001.jpg`` when DIR is ``.../val/clip``)."""
    folder = Path(folder).resolve()
    index = index_by_file_name(coco_images)
    out = {}
    for frame_id, name in enumerate(names):
        ids, best = best_path_matches((folder / name).parts, index)
        if not ids:
            continue
        if len(ids) > 1:
            raise InputError(f'{where}: {len(ids)} images of its "images" list match '
                             f'{name} equally well (file_name {best} path parts deep); '
                             'pass a boxes file for this folder only')
        out[ids[0]] = frame_id
    return out


def _match_frames(coco_images: list, num_frames: int, video, where: str) -> dict:
    """COCO image id -> frame index of a video: the images of the video's name
    (``video_name``) if the file names several videos, matched by their
    ``frame_index``, else ``frame_id`` (when frame indices), else their order."""
    stem = Path(video).stem
    named = [img for img in coco_images if img.get('video_name') == stem]
    images = named or coco_images
    for key in ('frame_index', 'frame_id'):
        values = [img.get(key) for img in images]
        if all(isinstance(v, int) and 0 <= v < num_frames for v in values):
            if len(set(values)) != len(values):
                raise InputError(f'{where}: images share a {key} (several videos?); '
                                 f'give them a video_name equal to {stem!r} or pass a '
                                 'boxes file of this video only')
            return {img['id']: img[key] for img in images}
    return {img['id']: i for i, img in enumerate(images)}


def _coco_dataset_boxes(data: dict, source: dict, where: str) -> dict:
    images = data['images']
    if not all(isinstance(img, dict) and 'id' in img for img in images):
        raise InputError(f'{where}: an entry of "images" has no id')
    if source['kind'] == 'images':
        to_frame = _match_files(images, source['names'], source['path'], where)
    else:
        to_frame = _match_frames(images, source['num_frames'], source['path'], where)
    boxes: dict = {}
    for ann in data['annotations']:
        if not isinstance(ann, dict) or 'image_id' not in ann or 'bbox' not in ann:
            raise InputError(f'{where}: an annotation has no image_id/bbox: {str(ann)[:80]}')
        if ann.get('iscrowd') or ann['image_id'] not in to_frame:
            continue
        _add(boxes, to_frame[ann['image_id']],
             _box(ann['bbox'], ann.get('score', 1.0), ann.get('track_id'), where))
    return boxes


def _detection_boxes(data: list, source: dict, where: str) -> dict:
    boxes: dict = {}
    for det in data:
        if not isinstance(det, dict) or 'image_id' not in det or 'bbox' not in det:
            raise InputError(f'{where}: not a COCO detection-results list (entry '
                             f'{str(det)[:60]} has no image_id/bbox); expected '
                             f'{BOX_FORMATS}')
        if det.get('category_id', 1) != 1:
            continue
        _add(boxes, det['image_id'],
             _box(det['bbox'], det.get('score', 1.0), det.get('track_id'), where))
    return boxes


def _pose_label_video(data: dict, source: dict, where: str) -> dict:
    videos = data.get('videos')
    if not isinstance(videos, list) or not videos:
        raise InputError(f'{where}: {POSE_LABELS_FORMAT} file has no "videos" list')
    if len(videos) == 1:
        return videos[0]
    name = Path(source['path']).name
    stem = Path(source['path']).stem
    for video in videos:
        file = Path(str(video.get('file', '')))
        if file.name == name or (source['kind'] == 'images' and file.stem == stem):
            return video
    files = [str(v.get('file')) for v in videos][:4]
    raise InputError(f'{where}: none of its {len(videos)} videos ({", ".join(files)}) '
                     f'is {name}')


def _pose_label_boxes(data: dict, source: dict, where: str) -> dict:
    video = _pose_label_video(data, source, where)
    boxes: dict = {}
    for i, frame in enumerate(video.get('frames') or []):
        if not isinstance(frame, dict):
            raise InputError(f'{where}: a frame of {video.get("file")} is not an object')
        for person in frame.get('people') or []:
            if not isinstance(person, dict) or 'bbox' not in person:
                raise InputError(f'{where}: a person of frame {frame.get("frame_index", i)} '
                                 'has no bbox')
            _add(boxes, frame.get('frame_index', i),
                 _box(person['bbox'], person.get('score', 1.0), person.get('track_id'), where))
    return boxes


def load_boxes(path, source: dict) -> tuple[dict, str]:
    """``({frame id: [dict(bbox=[x, y, w, h], score, track_id?)]}, format)``
    of a boxes file for ``source`` (see :func:`frame_source`). Accepted:

    - COCO detection results ``[{image_id, bbox, score, category_id}]``:
      ``image_id`` is the frame id (image index in sorted order, or video
      frame index); ``category_id`` other than 1 is skipped;
    - a COCO dataset ``{images, annotations}``: images matched by
      ``file_name`` (``--images``) or by ``frame_index`` / ``frame_id`` /
      order (``--video``); crowd annotations skipped;
    - kdkit's ``kdkit-pose-labels/1``: its (only, or same-named) video's
      people per ``frame_index``.

    A file in none of these, or whose boxes match no frame, is refused in
    one line naming it.
    """
    path = Path(path)
    where = f'--boxes {path}'
    if not path.is_file():
        raise InputError(f'{where} does not exist')
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f'{where}: not valid JSON ({str(e).splitlines()[0][:120]}); '
                         f'expected {BOX_FORMATS}') from None
    if isinstance(data, list):
        fmt, boxes = 'COCO detection results', _detection_boxes(data, source, where)
    elif isinstance(data, dict) and data.get('format') == POSE_LABELS_FORMAT:
        fmt, boxes = POSE_LABELS_FORMAT, _pose_label_boxes(data, source, where)
    elif (isinstance(data, dict) and isinstance(data.get('images'), list)
          and isinstance(data.get('annotations'), list)):
        fmt, boxes = 'COCO dataset', _coco_dataset_boxes(data, source, where)
    else:
        what = (f'an object with keys {sorted(data)[:6]}' if isinstance(data, dict)
                else f'a JSON {type(data).__name__}')
        raise InputError(f'{where} is {what}; expected {BOX_FORMATS}')
    valid = range(source['num_frames']) if source['kind'] == 'images' else None
    kept = {k: v for k, v in boxes.items()
            if isinstance(k, int) and (valid is None or k in valid)}
    if boxes and not kept:
        raise InputError(f'{where}: none of its boxes is on a frame of '
                         f'{source["path"]} ({fmt}; frame ids are the index of the '
                         'image in sorted order, or the video frame index)')
    return kept, fmt


# --------------------------------------------------------------------- models
class TorchPredictor:
    """An MMPose top-down model: ``(img, boxes xyxy (N, 4)) -> (kpts (N, K, 2),
    scores (N, K))`` in image pixels, through ``inference_topdown``."""

    def __init__(self, model):
        self.model = model
        self.dataset_meta = model.dataset_meta

    def __call__(self, img, bboxes):
        from mmpose.apis import inference_topdown
        results = inference_topdown(self.model, img, bboxes, bbox_format='xyxy')
        kpts = np.stack([r.pred_instances.keypoints[0] for r in results])
        scores = np.stack([r.pred_instances.keypoint_scores[0] for r in results])
        return kpts.astype(np.float64), scores.astype(np.float64)


class OnnxPredictor:
    """A ``kdkit export`` network run by ONNX Runtime on the crops of the
    config's test pipeline, decoded with the config's codec (no flip test)."""

    def __init__(self, cfg, path):
        import onnxruntime as ort
        from mmengine.dataset import Compose
        from mmengine.registry import init_default_scope
        from mmpose.apis.inference import dataset_meta_from_config

        from kdkit.export.onnx import _preprocess, codec_input_size
        init_default_scope(cfg.get('default_scope', 'mmpose'))
        self.pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
        self.codec = dict(cfg.get('codec') or cfg.model.head.get('decoder'))
        try:
            self.session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
        except Exception as e:  # not an ONNX model, truncated
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise InputError(f'checkpoint: {path} is not a readable ONNX model '
                             f'({reason[:160]})') from None
        self.input = self.session.get_inputs()[0]
        w, h = codec_input_size(cfg)
        if list(self.input.shape[-2:]) != [h, w]:
            raise InputError(f'checkpoint: {path} takes input {self.input.shape}, the '
                             f"config's codec (W, H) = ({w}, {h}); export it from this config")
        pre = _preprocess(cfg)
        self.bgr_to_rgb = bool(pre['bgr_to_rgb'])
        self.mean = np.asarray(pre['mean'] or [0, 0, 0], np.float32).reshape(3, 1, 1)
        self.std = np.asarray(pre['std'] or [1, 1, 1], np.float32).reshape(3, 1, 1)
        self.dataset_meta = dataset_meta_from_config(cfg, dataset_mode='train') \
            or _coco_meta()

    def __call__(self, img, bboxes):
        from kdkit.export.onnx import decode_outputs
        kpts, scores = [], []
        for bbox in bboxes:
            data = self.pipeline(dict(img=img, bbox=np.asarray(bbox, np.float32)[None],
                                      bbox_score=np.ones(1, np.float32), **self.dataset_meta))
            x = data['inputs'].numpy().astype(np.float32)
            if self.bgr_to_rgb:
                x = x[::-1]
            x = ((x - self.mean) / self.std)[None]
            outs = self.session.run(None, {self.input.name: np.ascontiguousarray(x)})
            meta = data['data_samples'].metainfo
            k, s = decode_outputs(outs, self.codec, meta['input_center'], meta['input_scale'])
            kpts.append(k[0])
            scores.append(s[0])
        return np.stack(kpts), np.stack(scores)


def _coco_meta() -> dict:
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    return parse_pose_metainfo(dict(from_file='configs/_base_/datasets/coco.py'))


def load_predictor(config, checkpoint, device: str = 'cpu'):
    """The model of ``config`` (its student, for a distillation config) with
    the weights of ``checkpoint``, read weights-only and refused in one line
    when they do not fit; a ``.onnx`` checkpoint runs in ONNX Runtime."""
    import io
    import warnings

    from kdkit.export.onnx import build_student, load_config, student_model_cfg
    from kdkit.utils.console import is_verbose
    cfg = load_config(config)
    onnx = str(checkpoint).lower().endswith('.onnx')
    if onnx and not Path(checkpoint).is_file():
        raise InputError(f'checkpoint: {checkpoint} does not exist')
    # MMEngine prints "Loads checkpoint by ...", MMPose warns about metainfo
    quiet = contextlib.nullcontext() if is_verbose() else \
        contextlib.redirect_stdout(io.StringIO())
    with warnings.catch_warnings(), quiet:
        if not is_verbose():
            warnings.simplefilter('ignore')
        if onnx:
            cfg.model = student_model_cfg(cfg)
            return OnnxPredictor(cfg, checkpoint)
        return TorchPredictor(build_student(cfg, checkpoint, device=device))


# -------------------------------------------------------------------- drawing
def _colour(colours, i: int, default=(0, 255, 0)) -> tuple:
    """An RGB colour of the metainfo's palette as BGR ints."""
    if colours is None or len(colours) <= i:
        return default[::-1]
    r, g, b = (int(v) for v in np.asarray(colours[i]).reshape(-1)[:3])
    return b, g, r


def draw_pose(img, kpts, scores, meta: dict, kpt_thr: float = 0.3, bbox=None):
    """``img`` (BGR, drawn on in place and returned) with the skeleton of
    ``meta`` (``skeleton_links`` and their colours, key-point colours); key
    points scored under ``kpt_thr`` and their links are not drawn."""
    import cv2
    h, w = img.shape[:2]
    thick = max(1, round(max(h, w) / 240))
    if bbox is not None:
        x, y, bw, bh = (int(round(v)) for v in bbox)
        cv2.rectangle(img, (x, y), (x + bw, y + bh), (200, 200, 200), 1)
    ok = np.asarray(scores) >= kpt_thr
    pts = [(int(round(x)), int(round(y))) for x, y in np.asarray(kpts)[:, :2]]
    for n, (i, j) in enumerate(meta.get('skeleton_links') or []):
        if i < len(pts) and j < len(pts) and ok[i] and ok[j]:
            cv2.line(img, pts[i], pts[j], _colour(meta.get('skeleton_link_colors'), n),
                     thick, cv2.LINE_AA)
    for i, p in enumerate(pts):
        if ok[i]:
            cv2.circle(img, p, thick + 1, _colour(meta.get('keypoint_colors'), i), -1,
                       cv2.LINE_AA)
    return img


class OverlayWriter:
    """Frames into an ``.mp4`` (OpenCV, mp4v) or ``.gif`` (Pillow), written
    to a temporary file and renamed by :meth:`finish`; :meth:`abort` removes
    it. Frames of another size than the first are resized to it."""

    def __init__(self, path, fps: float):
        self.path = Path(path)
        self.kind = self.path.suffix.lower()
        if self.kind not in ('.mp4', '.gif'):
            raise InputError(f'--overlay: {path} must end in .mp4 or .gif')
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f'.{self.path.stem}.{os.getpid()}.tmp{self.kind}')
        self.fps, self.size, self.writer, self.frames = float(fps), None, None, []

    def add(self, img) -> None:
        import cv2
        if self.size is None:
            h, w = img.shape[:2]
            if self.kind == '.gif' and max(h, w) > GIF_MAX_SIDE:
                f = GIF_MAX_SIDE / max(h, w)
                h, w = max(1, round(h * f)), max(1, round(w * f))
            if self.kind == '.mp4':  # MPEG-4 wants even sizes
                w, h = max(2, w - w % 2), max(2, h - h % 2)
            self.size = (w, h)
            if self.kind == '.mp4':
                self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*'mp4v'),
                                              self.fps, self.size)
                if not self.writer.isOpened():
                    raise InputError(f'--overlay: OpenCV cannot write {self.path}')
        if img.shape[1::-1] != self.size:
            img = cv2.resize(img, self.size, interpolation=cv2.INTER_AREA)
        if self.writer is not None:
            self.writer.write(img)
        else:
            from PIL import Image
            self.frames.append(Image.fromarray(img[..., ::-1]))

    def finish(self) -> Path:
        if self.writer is not None:
            self.writer.release()
        elif self.frames:
            self.frames[0].save(self.tmp, save_all=True, append_images=self.frames[1:],
                                duration=max(1, round(1000 / self.fps)), loop=0)
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.release()
        self.tmp.unlink(missing_ok=True)


# ----------------------------------------------------------------- the run
def frame_source(images=None, video=None) -> dict:
    """What the frames are: ``dict(kind, path, num_frames, names | fps...)``;
    one-line errors for an empty folder or an unreadable video."""
    if (images is None) == (video is None):
        raise InputError('give one of --images DIR and --video FILE')
    if images is not None:
        names = list_images(images)
        return dict(kind='images', path=Path(images), names=names, num_frames=len(names))
    return dict(kind='video', path=Path(video), **read_video_info(video))


def iter_source(source: dict):
    """``(frame id, BGR image, images.json entry)`` of every frame."""
    if source['kind'] == 'images':
        for i, name in enumerate(source['names']):
            img = read_image(source['path'] / name)
            yield i, img, dict(id=i, file_name=name, width=img.shape[1], height=img.shape[0])
    else:
        file = source['path'].name
        for i, img in iter_video(source['path']):
            yield i, img, dict(id=i, file_name=file, frame_index=i,
                               width=img.shape[1], height=img.shape[0])


def result_entries(frame_id: int, boxes: list, kpts, scores) -> list[dict]:
    """COCO key-point results of one frame's boxes."""
    out = []
    for box, k, s in zip(boxes, kpts, scores):
        flat = np.concatenate([k[:, :2], s[:, None]], axis=1).reshape(-1)
        entry = dict(image_id=frame_id, category_id=1,
                     keypoints=[round(float(v), 3) for v in flat],
                     score=round(float(np.mean(s)) * box['score'], 5),
                     bbox=[round(v, 2) for v in box['bbox']])
        if 'track_id' in box:
            entry['track_id'] = box['track_id']
        out.append(entry)
    return out


def default_overlay(out, kind: str) -> Path:
    out = Path(out)
    return out.with_name(f'{out.stem}_overlay' + ('.mp4' if kind == 'video' else '.gif'))


def images_path(out) -> Path:
    out = Path(out)
    return out.with_name(f'{out.stem}.images.json')


def predict(config, checkpoint, out, images=None, video=None, boxes=None,
            overlay: str | bool | None = None, kpt_thr: float = 0.3,
            device: str = 'cpu', fps: float = 10.0, progress: bool = True,
            log=print) -> dict:
    """Predict every frame of ``images`` (a folder) or ``video`` (a file).

    Args:
        boxes: a boxes file (:func:`load_boxes`); None: one whole-frame box
            per frame (said through ``log``).
        overlay: its path (.mp4/.gif), None for ``<out stem>_overlay.mp4``
            (video) / ``.gif`` (images), False for none.
        fps: the overlay's frame rate for image folders (a video keeps its own).
        log: where the one-line notes go (``print``, or None).

    Returns:
        ``dict(out, images_file, overlay, frames, predictions, boxes)``.
    """
    from tqdm import tqdm

    from kdkit.utils.console import console
    from kdkit.utils.io import atomic_write_text
    log = log or (lambda *a, **k: None)
    source = frame_source(images, video)
    frame_boxes, fmt = load_boxes(boxes, source) if boxes is not None else (None, None)
    if overlay is None:
        overlay = default_overlay(out, source['kind'])
    if overlay and Path(overlay).suffix.lower() not in ('.mp4', '.gif'):
        raise InputError(f'--overlay: {overlay} must end in .mp4 or .gif')
    predictor = load_predictor(config, checkpoint, device)
    if frame_boxes is None:  # said once the input is known good: errors stay one line
        log('no --boxes: one whole-frame box per frame')
    else:
        n = sum(len(v) for v in frame_boxes.values())
        log(f'boxes: {n} from {boxes} ({fmt}) on {len(frame_boxes)} of '
            f'{source["num_frames"]} frames; frames without one get no prediction')
    writer = OverlayWriter(overlay, source.get('fps', fps)) if overlay else None
    results, entries = [], []
    stream = console()  # redraws as kdkit's training bars: 1 s live, 30 s into a file
    live = stream.isatty() or type(stream).__module__.startswith('ipykernel')
    bar = tqdm(total=source['num_frames'], desc='kdkit predict', unit='frame', file=stream,
               mininterval=1.0 if live else 30.0, disable=not progress, dynamic_ncols=True)
    try:
        for frame_id, img, entry in iter_source(source):
            entries.append(entry)
            h, w = img.shape[:2]
            mine = ([dict(bbox=[0.0, 0.0, float(w), float(h)], score=1.0)]
                    if frame_boxes is None else frame_boxes.get(frame_id, []))
            kpts, scores = np.zeros((0, 0, 2)), np.zeros((0, 0))
            if mine:
                xyxy = np.array([[x, y, x + bw, y + bh] for x, y, bw, bh in
                                 (b['bbox'] for b in mine)], dtype=np.float32)
                kpts, scores = predictor(img, xyxy)
                results += result_entries(frame_id, mine, kpts, scores)
            if writer is not None:
                drawn = img.copy()
                for b, k, sc in zip(mine, kpts, scores):
                    draw_pose(drawn, k, sc, predictor.dataset_meta, kpt_thr,
                              b['bbox'] if frame_boxes is not None else None)
                writer.add(drawn)
            bar.update(1)
        if not entries:
            raise InputError(f'--video: {source["path"]} has no frames')
        if bar.total != len(entries):  # a video's frame count is the container's guess
            bar.total = len(entries)
            bar.refresh()
        overlay_path = writer.finish() if writer is not None else None
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        bar.close()
    side = atomic_write_text(images_path(out), json.dumps(entries))
    atomic_write_text(out, json.dumps(results))
    return dict(out=Path(out), images_file=side, overlay=overlay_path,
                frames=len(entries), predictions=len(results),
                boxes='whole frame' if frame_boxes is None else str(boxes))
