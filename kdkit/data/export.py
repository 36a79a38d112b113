"""Build a whole dataset: plan clips per split, render them (in parallel),
write COCO-format annotations with PoseTrack-style video fields and
``meta.json``, and move the result into place atomically.

Layout under the dataset root::

    images/{split}/{video_name}/{frame:06d}.jpg
    annotations/person_keypoints_{split}.json     split in train / val / test
    annotations/person_keypoints_train_full.json  train, every frame labelled
    videos/{split}/{video_name}.gif
    meta.json
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .config import GENERATOR_VERSION, SPLIT_CODE, SPLITS, resolve_config
from .generator import ClipJob, ClipResult, render_clip
from .skeleton import COCO_KEYPOINTS, COCO_SKELETON, NUM_KEYPOINTS

META_FILE = 'meta.json'
MARKER = 'kdkit_dataset'
_STREAM_MOTIONS = 11


def ann_file(split: str) -> str:
    """Annotation path relative to the dataset root."""
    return f'annotations/person_keypoints_{split}.json'


def video_id(split: str, index: int) -> int:
    """PoseTrack-style video id, unique across splits (train 10001, ...)."""
    return SPLIT_CODE[split] * 10000 + index + 1


def frame_id(vid: int, frame_index: int) -> int:
    """PoseTrack-style image id: ``vid * 10000 + frame``."""
    return vid * 10000 + frame_index


# ------------------------------------------------------------------ planning
def plan_jobs(root: Path, cfg: dict, seed: int) -> list[ClipJob]:
    """Clips of every split. Subject ids live in a per-split range (train
    10000.., val 20000.., test 30000..): no subject is shared between splits,
    and a clip does not change when another split grows."""
    jobs = []
    for split in SPLITS:
        n = cfg[f'n_{split}_clips']
        motions = _balanced_motions(cfg['motions'], n, seed, split)
        for i in range(n):
            subject = SPLIT_CODE[split] * 10000 + i // cfg['clips_per_subject']
            jobs.append(ClipJob(str(root), split, i, seed, subject, motions[i],
                                f'{split}_{i:04d}_{motions[i]}', cfg))
    return jobs


def _balanced_motions(names, n: int, seed: int, split: str) -> list[str]:
    """Every motion about equally often, in a seeded order."""
    order = [names[i % len(names)] for i in range(n)]
    rng = np.random.default_rng([seed, _STREAM_MOTIONS, SPLIT_CODE[split]])
    return [order[i] for i in rng.permutation(n)]


def run_jobs(jobs: list[ClipJob], workers: int, progress: bool) -> list[ClipResult]:
    """Render every clip; results come back in job order."""
    from tqdm.auto import tqdm
    total = sum(j.cfg['frames_per_clip'] for j in jobs)
    bar = tqdm(total=total, unit='frame', desc='kdkit data', disable=not progress)
    results: list = [None] * len(jobs)
    try:
        if workers <= 1:
            for i, job in enumerate(jobs):
                results[i] = render_clip(job)
                bar.update(job.cfg['frames_per_clip'])
        else:
            from concurrent.futures import ProcessPoolExecutor, as_completed
            with ProcessPoolExecutor(workers, mp_context=_mp_context()) as ex:
                futures = {ex.submit(render_clip, job): i for i, job in enumerate(jobs)}
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
                    bar.update(jobs[futures[fut]].cfg['frames_per_clip'])
    finally:
        bar.close()
    return results


def _mp_context():
    """fork where available: a spawned worker would re-import kdkit (and with
    it torch and MMPose, seconds each); the workers only use numpy, OpenCV and
    Pillow, so inheriting the parent is safe."""
    import multiprocessing as mp
    methods = mp.get_all_start_methods()
    return mp.get_context('fork' if 'fork' in methods else 'spawn')


# --------------------------------------------------------------- annotations
def coco_categories() -> list[dict]:
    return [{'id': 1, 'name': 'person', 'supercategory': 'person',
             'keypoints': list(COCO_KEYPOINTS),
             'skeleton': [list(link) for link in COCO_SKELETON]}]


def build_coco(split: str, results: list[ClipResult], full: bool = False) -> dict:
    """COCO key-point json of one split. Unlabelled train frames keep their
    box but their key points are zeroed (``full=True`` keeps every label)."""
    images, anns = [], []
    for res in results:
        job = res.job
        vid = video_id(split, job.index)
        n = len(res.frames)
        for fr in res.frames:
            fid = frame_id(vid, fr.frame_index)
            images.append({
                'id': fid, 'file_name': f'{split}/{job.video_name}/{fr.frame_index:06d}.jpg',
                'width': job.cfg['width'], 'height': job.cfg['height'],
                'vid_id': vid, 'frame_id': fid, 'frame_index': fr.frame_index,
                'nframes': n, 'video_name': job.video_name,
                'subject_id': job.subject_id, 'motion': job.motion,
                'is_labeled': bool(fr.labelled)})
            keep = full or fr.labelled
            kps = fr.keypoints if keep else [0.0] * (3 * NUM_KEYPOINTS)
            anns.append({
                'id': fid, 'image_id': fid, 'category_id': 1, 'bbox': fr.bbox,
                'area': fr.area, 'iscrowd': 0, 'keypoints': kps,
                'num_keypoints': int(sum(1 for v in kps[2::3] if v > 0)),
                'track_id': 0})
    return {'info': {'description': f'kdkit generated pose video, {split} split',
                     'version': GENERATOR_VERSION},
            'licenses': [], 'images': images, 'annotations': anns,
            'categories': coco_categories()}


def split_stats(results: list[ClipResult]) -> dict:
    frames = [fr for r in results for fr in r.frames]
    v = np.array([fr.keypoints[2::3] for fr in frames]).reshape(-1)
    return {'clips': len(results), 'frames': len(frames),
            'labeled_frames': int(sum(fr.labelled for fr in frames)),
            'subjects': len({r.job.subject_id for r in results}),
            'keypoints_visible': int((v == 2).sum()),
            'keypoints_occluded': int((v == 1).sum()),
            'keypoints_outside': int((v == 0).sum())}


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, separators=(',', ':')) + '\n')


def write_annotations(root: Path, results: list[ClipResult]) -> dict:
    """All json files; returns per-split statistics."""
    stats = {}
    for split in SPLITS:
        rs = [r for r in results if r.job.split == split]
        _write_json(root / ann_file(split), build_coco(split, rs))
        stats[split] = split_stats(rs)
    train = [r for r in results if r.job.split == 'train']
    _write_json(root / ann_file('train_full'), build_coco('train', train, full=True))
    return stats


def build_meta(profile: str, seed: int, cfg: dict, stats: dict | None = None,
               results: list[ClipResult] | None = None) -> dict:
    """What was generated and how: enough to regenerate it byte for byte."""
    meta = {MARKER: True, 'generator_version': GENERATOR_VERSION,
            'profile': profile, 'seed': seed,
            'knobs': {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
            'image_prefix': 'images/',
            'annotation_files': {s: ann_file(s) for s in (*SPLITS, 'train_full')},
            'keypoints': list(COCO_KEYPOINTS)}
    if stats is not None:
        meta['splits'] = stats
    if results is not None:
        meta['clips'] = [{'split': r.job.split, 'video_name': r.job.video_name,
                          'vid_id': video_id(r.job.split, r.job.index),
                          'subject_id': r.job.subject_id, 'motion': r.job.motion,
                          'nframes': len(r.frames)} for r in results]
    return meta


# -------------------------------------------------------------------- target
def read_meta(root: Path) -> dict | None:
    """``meta.json`` of a kdkit dataset at ``root``, else None."""
    try:
        meta = json.loads((Path(root) / META_FILE).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get(MARKER) else None


def _same_request(meta: dict, want: dict) -> bool:
    keys = ('generator_version', 'profile', 'seed', 'knobs')
    return all(meta.get(k) == want.get(k) for k in keys)


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished build onto ``out``; an old dataset is moved aside
    first and removed only after the new one is in place."""
    old = None
    if out.exists() and not _is_empty_dir(out):
        old = Path(tempfile.mkdtemp(prefix=out.name + '.old-', dir=out.parent))
        os.replace(out, old / 'data')
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def dataset_up_to_date(out: str | Path, profile: str = 'quick', seed: int = 0,
                       **knobs) -> bool:
    """True when ``out`` holds a kdkit dataset made with exactly this request
    (then :func:`generate_dataset` reuses it)."""
    meta = read_meta(Path(out).expanduser())
    return meta is not None and _same_request(
        meta, build_meta(profile, int(seed), resolve_config(profile, knobs)))


def default_workers(total_frames: int) -> int:
    """Processes: one for tiny sets (spawn costs ~1 s), else every core."""
    return 1 if total_frames < 400 else max(1, min(8, os.cpu_count() or 1))


def generate_dataset(out: str | Path, profile: str = 'quick', seed: int = 0,
                     overwrite: bool = False, progress: bool = True,
                     workers: int | None = None, **knobs) -> Path:
    """Generate the annotated pose-video dataset at ``out``; returns the root.

    ``profile`` ('quick' | 'full') sets the defaults, ``knobs`` override them
    (see :data:`kdkit.data.config.KNOBS`). The same seed and knobs give the
    same bytes in every file. If ``out`` already holds a kdkit dataset made
    with the same request it is reused (unless ``overwrite``); another kdkit
    dataset is replaced; any other non-empty folder is an error unless
    ``overwrite``. The build happens in a sibling temporary folder that is
    renamed onto ``out`` at the end, so a killed run leaves ``out`` untouched.
    ``workers`` (processes) does not change the output.
    """
    cfg = resolve_config(profile, knobs)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f'seed={seed!r} invalid: expected an int >= 0')
    seed = int(seed)
    out = Path(out).expanduser().resolve()
    want = build_meta(profile, seed, cfg)
    if out.exists() and not (out.is_dir() and _is_empty_dir(out)):
        meta = read_meta(out)
        if meta is None and not overwrite:
            raise FileExistsError(f'{out}: exists and is not a kdkit dataset; '
                                  'pass overwrite=True (--overwrite) to replace it')
        if meta is not None and not overwrite and _same_request(meta, want):
            return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + '.tmp-', dir=out.parent))
    try:
        jobs = plan_jobs(tmp, cfg, seed)
        n_frames = len(jobs) * cfg['frames_per_clip']
        results = run_jobs(jobs, workers or default_workers(n_frames), progress)
        stats = write_annotations(tmp, results)
        _write_json(tmp / META_FILE, build_meta(profile, seed, cfg, stats, results))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
