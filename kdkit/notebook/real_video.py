"""Notebook 05's pieces: your video -> teacher labels -> a distilled mobile
student, its predictions next to the teacher's, the multi-view check and the
student's CPU cost. Each step is a short function over kdkit's own commands
(``kdkit export``, ``kdkit data from-video``, ``kdkit train``, ``kdkit
predict``, the multi-view evaluation), so the tests call them directly.

Two kinds of input:

* **the real views** (``videos='demo'``): pose2sim's calibrated, synchronised
  4-view ``Demo_MultiPerson`` (``make real-data``), labelled by MediaPipe
  (``make real-setup``; labels in ``data/real/labels_mediapipe.json``);
* **a synthetic calibrated rig** (``videos='rig'``, :func:`render_rig`): one
  generated person (kdkit's own renderer) filmed by 4 static cameras whose
  calibration is known exactly, so the whole chain, the multi-view check
  included, runs in seconds without ``data/real``; a teacher exported to
  ONNX labels it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kdkit.demo import (SHIPPED_REAL_STUDENT, SHIPPED_REAL_STUDENT_CONFIG, SHIPPED_TEACHER,
                        SHIPPED_TEACHER_CONFIG)
from kdkit.utils.validate import InputError

DEMO = Path('data/real/Demo_MultiPerson')
DEMO_VIDEOS = [DEMO / 'videos' / f'cam0{i}.mp4' for i in range(1, 5)]
DEMO_CALIBRATION = DEMO / 'calibration' / 'Calib.qca.txt'
MEDIAPIPE_LABELS = Path('data/real/labels_mediapipe.json')
REAL_ROOT = Path('data/real/demo_multiperson')
STUDENT_CONFIGS = {
    'quick': 'configs/real/kd-pseudo_mobilenetv2_quick_kdkit-video+demo-multiperson-128x96.py',
    'full': 'configs/real/kd-pseudo_mobilenetv2_20e_kdkit-video+demo-multiperson-128x96.py'}


# ------------------------------------------------------------------ videos
class _FixedCamera:
    """A renderer's camera path that never moves (a tripod)."""

    def __init__(self, cam):
        self.cam = cam

    def at(self, *_):
        return self.cam


def render_rig(out, views: int = 4, frames: int = 16, size: int = 192,
               motion: str = 'squat', seed: int = 0, fps: int = 15,
               azimuths: Optional[Sequence[float]] = None,
               elevation: float = 10.0) -> dict:
    """One generated person filmed by ``views`` static, synchronised cameras
    around it (``azimuths`` in degrees from its facing direction, default
    spread over 120°), written as ``out/cam01.mp4`` ... and calibrated
    exactly: the generator's pinhole cameras (no lens distortion) as
    :class:`kdkit.evaluation.calibration.Camera`.

    The person, motion, scene and image effects are a quick-profile clip of
    :func:`kdkit.data.generate_dataset` (seeded by ``seed``); only its
    hand-held camera path is replaced by the fixed cameras. Returns
    ``dict(videos=[paths], cameras={name: Camera}, size=(w, h), fps,
    keypoints_3d=(frames, 17, 3) world joints, metres)``.
    """
    import cv2

    from kdkit.data.camera import Camera as GenCamera, look_at
    from kdkit.data.config import resolve_config
    from kdkit.data.generator import ClipJob, ClipRenderer
    from kdkit.data.skeleton import NUM_KEYPOINTS
    from kdkit.evaluation.calibration import Camera

    if views < 2:
        raise InputError(f'render_rig: views: expected >= 2 cameras, got {views}')
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = resolve_config('quick', dict(width=size, height=size, frames_per_clip=frames,
                                       fps=fps))
    job = ClipJob(root=str(out), split='test', index=0, seed=seed, subject_id=0,
                  motion=motion, video_name='rig', cfg=cfg)
    renderer = ClipRenderer(job)
    centre = np.stack([w.mean(0) for w in renderer.worlds]).mean(0)
    extent = max(2 * float(np.max(np.linalg.norm(w - w.mean(0), axis=1)))
                 for w in renderer.worlds)
    if azimuths is None:
        azimuths = np.linspace(-60, 60, views)
    focal = 1.2 * size
    dist = focal * extent / (0.7 * size)  # the person fills ~70 % of the frame
    el = np.deg2rad(elevation)
    videos, cameras = [], {}
    for v, az in enumerate(azimuths):
        name = f'cam{v + 1:02d}'
        a = np.deg2rad(renderer.motion.heading + az)
        eye = centre + dist * np.array([np.cos(el) * np.sin(a), np.sin(el),
                                        np.cos(el) * np.cos(a)])
        rot = look_at(eye, centre)
        renderer.cam_path = _FixedCamera(GenCamera(eye, rot, focal, size / 2, size / 2))
        path = out / f'{name}.mp4'
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, (size, size))
        try:
            for k in range(frames):
                writer.write(renderer.render(k)[0])
        finally:
            writer.release()
        videos.append(path)
        K = np.array([[focal, 0, size / 2], [0, focal, size / 2], [0, 0, 1]])
        cameras[name] = Camera(name, K, np.zeros(5), rot, -rot @ eye, (size, size))
    joints = np.stack([w[:NUM_KEYPOINTS] for w in renderer.worlds])
    return dict(videos=videos, cameras=cameras, size=(size, size), fps=fps,
                keypoints_3d=joints)


def resolve_videos(videos, work_dir, seed: int = 0, rig_frames: int = 16) -> dict:
    """``videos`` -> ``dict(videos, cameras, kind)``: ``'demo'`` the real
    calibrated views (``make real-data``), ``'rig'`` a synthetic calibrated
    rig rendered into ``work_dir/rig``, or a list of video files (no
    calibration: no multi-view check)."""
    if videos == 'demo':
        missing = [str(v) for v in DEMO_VIDEOS if not v.is_file()]
        if missing:
            raise InputError(f'videos: {missing[0]} does not exist; run `make real-data` '
                             '(pose2sim\'s Demo_MultiPerson into data/real/)')
        from kdkit.evaluation.calibration import read_qca
        return dict(videos=list(DEMO_VIDEOS), cameras=read_qca(DEMO_CALIBRATION), kind='demo')
    if videos == 'rig':
        rig = render_rig(Path(work_dir) / 'rig', frames=rig_frames, seed=seed)
        return dict(videos=rig['videos'], cameras=rig['cameras'], kind='rig')
    if isinstance(videos, (str, Path)):
        videos = [videos]
    paths = [Path(v) for v in videos]
    for p in paths:
        if not p.is_file():
            raise InputError(f'videos: {p} does not exist')
    return dict(videos=paths, cameras=None, kind='files')


def show_views(videos: Sequence, frame: int = 0, labels: Optional[dict] = None,
               kpt_thr: float = 0.3):
    """One frame of each view side by side (with the teacher's skeletons when
    ``labels`` are given). Returns the figure."""
    import cv2
    import matplotlib.pyplot as plt
    from kdkit.evaluation.coco import default_metainfo
    from kdkit.predict import draw_pose
    meta = default_metainfo(17)  # MMPose's packaged COCO metainfo: skeleton, colours
    fig, axes = plt.subplots(1, len(videos), squeeze=False,
                             figsize=(2.4 * len(videos), 3.2))
    for ax, video in zip(axes[0], videos):
        img = read_frames(video, [frame]).get(frame)
        if img is None:
            raise InputError(f'{video}: frame {frame} could not be read')
        if labels is not None:
            for p in view_people(labels, Path(video).stem).get(frame, []):
                draw_pose(img, p[:, :2], p[:, 2], meta, kpt_thr)
        ax.imshow(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        ax.set_title(f'{Path(video).stem} ({img.shape[1]}x{img.shape[0]})', fontsize=9)
        ax.axis('off')
    return fig


# ----------------------------------------------------------------- teacher
def export_teacher(out, config: str = SHIPPED_TEACHER_CONFIG,
                   checkpoint: str = str(SHIPPED_TEACHER), threads: int = 1) -> dict:
    """``kdkit export`` of a pose model (default: the shipped ResNet-18
    teacher) to ``out`` and the ONNX teacher spec that runs it (input size,
    heatmap output, the config's normalisation). Reuses ``out`` when it
    exists."""
    out = Path(out)
    if out.is_file() and out.with_suffix('.spec.json').is_file():
        return json.loads(out.with_suffix('.spec.json').read_text())
    from kdkit.export import export_onnx
    info = export_onnx(config, checkpoint, out)
    _, _, h, w = info['input_shape']
    kind = 'simcc' if len(info['output_names']) == 2 else 'heatmap'
    spec = dict(type='onnx', file=str(out), input_size=[w, h], output=kind,
                intra_op_num_threads=threads, **info['preprocess'],
                source=dict(config=str(config), checkpoint=str(checkpoint)))
    out.with_suffix('.spec.json').write_text(json.dumps(spec, indent=1))
    return spec


def resolve_teacher(teacher, work_dir, teacher_spec=None) -> dict:
    """``teacher`` -> ``dict(kind, name, spec, config, checkpoint)``:
    ``'mediapipe'`` (labels from ``.venv-real``), ``'shipped'`` (kdkit's
    ResNet-18 teacher exported to ONNX into ``work_dir``) or the path of an
    ``.onnx`` with ``teacher_spec`` (a dict or .json: input_size, output,
    mean, std, bgr_to_rgb)."""
    if teacher == 'mediapipe':
        return dict(kind='mediapipe', name='MediaPipe BlazePose (full)', spec=None,
                    config=None, checkpoint=None)
    if teacher == 'shipped':
        spec = export_teacher(Path(work_dir) / 'teacher.onnx')
        return dict(kind='onnx', name='ResNet-18 (shipped, ONNX)', spec=spec,
                    config=SHIPPED_TEACHER_CONFIG, checkpoint=str(SHIPPED_TEACHER))
    from kdkit.data.from_video import load_teacher_spec
    spec = load_teacher_spec(teacher, teacher_spec)
    return dict(kind='onnx', name=Path(str(teacher)).name, spec=spec, config=None,
                checkpoint=None)


def label_videos(videos: Sequence, out, teacher='mediapipe', spec: Optional[dict] = None,
                 boxes=None, num_poses: int = 2, reuse: Optional[bool] = None) -> dict:
    """The teacher's key points on every frame of ``videos``, in kdkit's
    pose-labels format, written to ``out``. ``reuse`` (default: for MediaPipe
    only, whose labelling is slow) keeps a labels file already at ``out``
    that covers the same videos.

    ``teacher='mediapipe'``: MediaPipe BlazePose in ``.venv-real``
    (``make real-setup``), ``num_poses`` people a frame. Else ``spec`` is an
    ONNX teacher spec (:func:`export_teacher`) run top-down in ``boxes`` (a
    pose-labels or COCO file) or, without them, on the whole frame refined
    once (one person a frame)."""
    out = Path(out)
    names = sorted(Path(v).name for v in videos)
    if reuse is None:
        reuse = teacher == 'mediapipe'
    if reuse and out.is_file():
        labels = json.loads(out.read_text())
        if sorted(Path(v['file']).name for v in labels.get('videos', [])) == names:
            return labels
    out.parent.mkdir(parents=True, exist_ok=True)
    if teacher == 'mediapipe':
        from kdkit.teachers.mediapipe import label_videos as mediapipe_labels
        return mediapipe_labels([str(v) for v in videos], out, num_poses=num_poses)
    if spec is None:
        raise InputError("label_videos: an ONNX teacher needs its spec (input_size, output, "
                         "mean, std, bgr_to_rgb); see export_teacher")
    from kdkit.data.from_video import label_videos_onnx, load_teacher_spec
    from kdkit.utils.io import atomic_write_text
    spec = load_teacher_spec(spec.get('file'), {k: v for k, v in spec.items() if k != 'source'})
    labels = label_videos_onnx(videos, spec, boxes=boxes, progress=False)
    atomic_write_text(out, json.dumps(labels))
    return labels


def pseudo_label_dataset(videos: Sequence, labels: dict, out, held_out: str = 'cam04',
                         max_frames: Optional[int] = None, every: int = 1,
                         labels_file=None, reuse: bool = False) -> Path:
    """``kdkit data from-video``: the videos and the teacher's labels as a
    COCO dataset of pseudo-labels, the ``held_out`` view as its val/test
    split (never trained on). ``reuse``: keep a dataset already at ``out``
    made from the same videos with the same held-out view."""
    from kdkit.data.export import read_meta
    from kdkit.data.from_video import Options, convert_videos, sha256
    stems = [Path(v).stem for v in videos]
    meta = read_meta(Path(out)) if reuse and Path(out).is_dir() else None
    if meta and meta.get('source') == 'from-video' \
            and sorted(Path(v['file']).stem for v in meta.get('videos', [])) == sorted(stems) \
            and list(meta.get('options', {}).get('val', [])) == [held_out]:
        return Path(out)
    if held_out not in stems:
        raise InputError(f'held_out: {held_out!r} is none of the videos ({", ".join(stems)})')
    if len(stems) < 2:
        raise InputError('videos: the held-out view needs at least one other video to train on')
    source = ({'file': str(labels_file), 'sha256': sha256(labels_file)} if labels_file
              else {'teacher': (labels.get('teacher') or {}).get('file')})
    return convert_videos(videos, labels, out, overwrite=True, labels_source=source,
                          opts=Options(val=(held_out,), every=every, max_frames=max_frames,
                                       progress=False))


def labels_summary(labels: dict):
    """Per view: frames, people, mean people a frame and the teacher's mean
    key-point score."""
    import pandas as pd
    rows = []
    for video in labels['videos']:
        people = [p for fr in video['frames'] for p in fr['people']]
        scores = [k[2] for p in people for k in p['keypoints']]
        rows.append(dict(view=Path(video['file']).stem, size=f"{video['width']}x{video['height']}",
                         frames=len(video['frames']), people=len(people),
                         people_per_frame=len(people) / max(1, len(video['frames'])),
                         mean_score=float(np.mean(scores)) if scores else float('nan')))
    return pd.DataFrame(rows).set_index('view')


def dataset_summary(root):
    """The splits of a ``kdkit data from-video`` dataset (its meta.json)."""
    import pandas as pd
    from kdkit.data.export import read_meta
    meta = read_meta(Path(root)) or {}
    rows = [dict(split=split, videos=s['clips'], frames=s['frames'], people=s['people'],
                 keypoints_labelled=s['keypoints_visible'])
            for split, s in meta.get('splits', {}).items()]
    return pd.DataFrame(rows).set_index('split')


# ----------------------------------------------------------------- student
def student_options(generated_root, real_root, batch_size: Optional[int] = None,
                    workers: Optional[int] = None) -> dict:
    """cfg_options pointing a ``configs/real`` config at its two datasets:
    the generated, labelled frames (loss 1) and the pseudo-labelled real
    ones (loss 2; its held-out view validates)."""
    opts = {'train_dataloader.dataset.datasets.0.data_root': f'{str(generated_root).rstrip("/")}/',
            'train_dataloader.dataset.datasets.1.data_root': f'{str(real_root).rstrip("/")}/',
            'val_dataloader.dataset.data_root': f'{str(real_root).rstrip("/")}/',
            'test_dataloader.dataset.data_root': f'{str(real_root).rstrip("/")}/'}
    for split in ('train', 'val', 'test'):
        if workers is not None:
            opts[f'{split}_dataloader.num_workers'] = workers
            opts[f'{split}_dataloader.persistent_workers'] = bool(workers)
        if batch_size is not None:
            opts[f'{split}_dataloader.batch_size'] = batch_size
    return opts


def train_student(config, work_dir, generated_root, real_root, max_epochs=None,
                  seed: int = 0, cfg_options: Optional[dict] = None) -> Path:
    """``kdkit train`` of the mixed student (``configs/real``) on the given
    generated and pseudo-labelled data; returns its checkpoint."""
    from kdkit.demo import last_checkpoint
    from kdkit.distill.cli import train
    opts = dict(student_options(generated_root, real_root), **(cfg_options or {}))
    train(str(config), str(work_dir), seed=seed, cfg_options=opts, max_epochs=max_epochs)
    ckpt = last_checkpoint(Path(work_dir))
    if ckpt is None:
        raise RuntimeError(f'{work_dir}: the run saved no checkpoint')
    return ckpt


def shipped_student(videos_kind: str, held_out: str) -> Optional[tuple]:
    """(config, checkpoint) of the shipped student where it fits the run: the
    demo's views with cam04 held out, as it was trained; else None (train one)."""
    if videos_kind == 'demo' and held_out == 'cam04' and SHIPPED_REAL_STUDENT.is_file():
        return SHIPPED_REAL_STUDENT_CONFIG, SHIPPED_REAL_STUDENT
    return None


# -------------------------------------------------------------- predictions
def view_people(labels: dict, view: str) -> dict:
    """``{frame_index: [(K, 3) x, y, score]}`` of one view of pose-labels."""
    for video in labels['videos']:
        if Path(video['file']).stem == view:
            return {fr['frame_index']: [np.asarray(p['keypoints'], float) for p in fr['people']]
                    for fr in video['frames']}
    raise InputError(f'view {view!r}: not in the labels '
                     f'({", ".join(Path(v["file"]).stem for v in labels["videos"])})')


def predict_view(config, checkpoint, video, boxes, out) -> dict:
    """``kdkit predict`` of the student on ``video``, top-down in the
    teacher's boxes (``boxes``: the teacher's pose-labels file) ->
    ``{frame_index: [(K, 3)]}`` (and the COCO results at ``out``)."""
    from kdkit.predict import predict
    predict(config, checkpoint, out, video=video, boxes=boxes, overlay=False,
            progress=False, log=None)
    people: dict = {}
    for r in json.loads(Path(out).read_text()):
        people.setdefault(r['image_id'], []).append(
            np.asarray(r['keypoints'], float).reshape(-1, 3))
    return people


def agreement(teacher: dict, student: dict, min_score: float = 0.3) -> dict:
    """How close the student's key points are to the teacher's on the same
    frames and people (each student person paired with the teacher person of
    least median distance): median px and PCK@0.2 (of the teacher person's
    box size) over the key points the teacher scored ``>= min_score``."""
    dists, pck = [], []
    for t, people in student.items():
        ref = teacher.get(t, [])
        for p in people:
            if not ref:
                continue
            d = [np.linalg.norm(p[:, :2] - r[:, :2], axis=1) for r in ref]
            best = int(np.argmin([np.median(x) for x in d]))
            r = ref[best]
            ok = r[:, 2] >= min_score
            if ok.sum() < 2:
                continue
            size = float(np.max(r[ok, :2].max(0) - r[ok, :2].min(0)))
            dists += list(d[best][ok])
            pck += list(d[best][ok] <= 0.2 * size)
    return dict(median_px=float(np.median(dists)) if dists else float('nan'),
                pck02=float(np.mean(pck)) if pck else float('nan'), count=len(dists))


def _crop_box(people: list, w: int, h: int, margin: float = 0.25):
    pts = np.concatenate([p[p[:, 2] > 0, :2] for p in people]) if people else np.zeros((0, 2))
    pts = pts[(pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)]
    if len(pts) < 2:
        return 0, 0, w, h
    lo, hi = pts.min(0), pts.max(0)
    pad = (hi - lo) * margin + 8
    x0, y0 = np.maximum(lo - pad, 0).astype(int)
    x1, y1 = np.minimum(hi + pad, [w, h]).astype(int)
    return x0, y0, x1, y1


def read_frames(video, indices: Sequence[int]) -> dict:
    """``{index: BGR frame}`` of the given frame indices of a video."""
    from kdkit.predict.core import iter_video
    want = set(int(i) for i in indices)
    return {i: img for i, img in iter_video(video) if i in want}


def pick_frames(teacher: dict, student: dict, n: int = 3) -> list[int]:
    """``n`` frames spread over the clip where both have a person."""
    both = sorted(t for t in teacher if teacher[t] and student.get(t))
    if not both:
        return []
    return sorted({both[int(i)] for i in np.linspace(0, len(both) - 1, min(n, len(both)))})


def show_teacher_vs_student(video, teacher: dict, student: dict, frames: Sequence[int],
                            kpt_thr: float = 0.3, student_thr: float = 0.0,
                            names=('teacher', 'student')):
    """Rows: frames of ``video``; columns: the teacher's skeletons (its key
    points scored ``>= kpt_thr``, the labels) and the student's (scored
    ``>= student_thr``: by default all, so a weak student still shows where
    it looks), cropped to the people. Returns the figure."""
    import cv2
    import matplotlib.pyplot as plt
    from kdkit.evaluation.coco import default_metainfo
    from kdkit.predict import draw_pose
    meta = default_metainfo(17)  # MMPose's packaged COCO metainfo: skeleton, colours
    images = read_frames(video, frames)
    frames = [t for t in frames if t in images]
    if not frames:
        raise InputError(f'{video}: none of the frames {list(frames)} could be read')
    fig, axes = plt.subplots(len(frames), 2, squeeze=False, figsize=(6.0, 3.2 * len(frames)))
    for row, t in enumerate(frames):
        img = images[t]
        h, w = img.shape[:2]
        x0, y0, x1, y1 = _crop_box(teacher.get(t, []) + student.get(t, []), w, h)
        for col, (name, people, thr) in enumerate(zip(names, (teacher, student),
                                                      (kpt_thr, student_thr))):
            drawn = img.copy()
            for p in people.get(t, []):
                draw_pose(drawn, p[:, :2], p[:, 2], meta, thr)
            ax = axes[row, col]
            ax.imshow(cv2.cvtColor(drawn[y0:y1, x0:x1], cv2.COLOR_BGR2RGB))
            ax.axis('off')
            ax.set_title(f'{name}, frame {t}', fontsize=9)
    return fig


# --------------------------------------------------------------- multi-view
def multiview_check(labels: dict, cameras: dict, held_out: str, student: dict,
                    min_score: float = 0.3) -> dict:
    """:func:`kdkit.evaluation.multiview.multiview_report`: the teacher's
    labels of the other views triangulated and projected into ``held_out``;
    there the teacher's own key points and the student's are scored against
    the projection (px)."""
    from kdkit.evaluation.multiview import multiview_report
    return multiview_report(cameras, labels, predictions={held_out: student},
                            held_out=held_out, min_score=min_score)


def multiview_table(report: dict):
    """Teacher vs student on the held-out view: reprojection error (px)."""
    import pandas as pd
    h = report['held_out']
    rows = []
    for who, key in (('teacher', 'reference'), ('student', 'predictions')):
        r = h[key]
        rows.append(dict(model=who, median_px=r['overall']['median_px'],
                         mean_px=r['overall']['mean_px'],
                         within_10px=r['overall']['within_px']['10'],
                         key_points=r['overall']['count'], people_matched=r['people_matched'],
                         people_3d=r['people_3d']))
    return pd.DataFrame(rows).set_index('model')


def plot_multiview_joints(report: dict):
    """Median reprojection error per joint on the held-out view, teacher vs
    student (px). Returns the figure."""
    import matplotlib.pyplot as plt
    h = report['held_out']
    names = list(h['reference']['per_joint'])
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for k, (who, key) in enumerate((('teacher', 'reference'), ('student', 'predictions'))):
        vals = [h[key]['per_joint'][n]['median_px'] for n in names]
        vals = [np.nan if v is None else v for v in vals]
        ax.bar(x + (k - 0.5) * 0.4, vals, width=0.4, label=who,
               color='tab:gray' if who == 'teacher' else 'tab:red')
    ax.set_xticks(x, names, rotation=60, ha='right', fontsize=8)
    ax.set_ylabel('median px to the projection')
    ax.set_title(f"held-out view {h['view']}: 3D from the teacher's other views")
    ax.legend()
    return fig


# -------------------------------------------------------------------- cost
def model_cost(config, checkpoint, onnx_path, iters: int = 50, threads: int = 1,
               export: bool = True) -> dict:
    """Params, GFLOPs (MMEngine's count at the config's input size) and ONNX
    Runtime CPU latency (``threads`` threads, batch 1, median of ``iters``)
    of a model exported by ``kdkit export`` to ``onnx_path`` (``export=False``:
    an existing export of it). Without ``config``: the .onnx's latency only."""
    from kdkit.evaluation import model_complexity, onnx_latency
    from kdkit.export import build_student, export_onnx
    from kdkit.export.onnx import codec_input_size, load_config
    out = dict(params_M=None, GFLOPs=None, threads=threads, onnx=str(onnx_path))
    if config is not None:
        if export or not Path(onnx_path).is_file():
            shape = export_onnx(config, checkpoint, onnx_path)['input_shape']
        else:
            w, h = codec_input_size(load_config(config))
            shape = (1, 3, int(h), int(w))
        cost = model_complexity(build_student(config, checkpoint), shape)
        out.update(params_M=cost['params'] / 1e6, GFLOPs=cost['flops'], input_shape=shape)
    lat = onnx_latency(str(onnx_path), threads=threads, warmup=min(10, iters), iters=iters)
    return dict(out, ort_ms=lat['median_ms'], ort_p90_ms=lat['p90_ms'])


def summary_table(teacher: dict, student: dict, agree: dict, report: Optional[dict] = None):
    """The one table: per model its params, GFLOPs, 1-thread ONNX Runtime
    latency, held-out reprojection error (when calibrated) and the
    student's agreement with the teacher. ``teacher``/``student``:
    ``dict(name=..., **model_cost)`` (teacher cost may be missing)."""
    import pandas as pd
    rows = []
    for role, info in (('teacher', teacher), ('student', student)):
        row = dict(model=info.get('name', role), role=role,
                   params_M=info.get('params_M'), GFLOPs=info.get('GFLOPs'),
                   ort_1t_ms=info.get('ort_ms'))
        if report is not None:
            key = 'reference' if role == 'teacher' else 'predictions'
            row['heldout_reproj_median_px'] = report['held_out'][key]['overall']['median_px']
        row['vs_teacher_median_px'] = 0.0 if role == 'teacher' else agree['median_px']
        row['vs_teacher_PCK0.2'] = 1.0 if role == 'teacher' else agree['pck02']
        rows.append(row)
    table = pd.DataFrame(rows).set_index('model')
    numeric = [c for c in table.columns if c != 'role']
    table[numeric] = table[numeric].apply(pd.to_numeric, errors='coerce')
    return table
