"""Look at a generated (or any COCO-format, video-annotated) dataset: skeleton
overlays, a clip animation, per-joint visibility and motion statistics, and a
pycocotools round trip. Used by ``notebooks/01_dataset_prep.ipynb``.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from .skeleton import COCO_KEYPOINTS, COCO_SKELETON

_LEFT = {i for i, n in enumerate(COCO_KEYPOINTS) if n.startswith('left')}
_RIGHT = {i for i, n in enumerate(COCO_KEYPOINTS) if n.startswith('right')}


def _colour(i: int) -> tuple:
    """Left = blue, right = orange, centre = green (RGB)."""
    return (60, 120, 255) if i in _LEFT else (255, 140, 0) if i in _RIGHT else (0, 200, 0)


def load_coco(root: str | Path, split: str = 'train', full: bool = False) -> dict:
    """The COCO json of ``split`` (``full``: the complete train labels)."""
    name = 'train_full' if (full and split == 'train') else split
    return json.loads(Path(root, 'annotations', f'person_keypoints_{name}.json').read_text())


def draw_pose(img_rgb: np.ndarray, keypoints, bbox=None, radius: int = 2) -> np.ndarray:
    """Skeleton overlay: visible joints filled, occluded (v=1) hollow."""
    out = img_rgb.copy()
    k = np.asarray(keypoints, float).reshape(-1, 3)
    for a, b in COCO_SKELETON:
        a, b = a - 1, b - 1
        if k[a, 2] > 0 and k[b, 2] > 0:
            cv2.line(out, _ip(k[a]), _ip(k[b]), _colour(b), 1, cv2.LINE_AA)
    for i, (x, y, v) in enumerate(k):
        if v > 0:
            cv2.circle(out, _ip((x, y)), radius, _colour(i), -1 if v == 2 else 1, cv2.LINE_AA)
    if bbox is not None:
        x, y, w, h = bbox
        cv2.rectangle(out, _ip((x, y)), _ip((x + w, y + h)), (255, 255, 255), 1)
    return out


def _ip(p) -> tuple[int, int]:
    return int(round(p[0])), int(round(p[1]))


def read_rgb(root: str | Path, file_name: str) -> np.ndarray:
    img = cv2.imread(str(Path(root, 'images', file_name)))
    if img is None:
        raise FileNotFoundError(f'{Path(root, "images", file_name)}: cannot read image')
    return img[..., ::-1]


def frames_table(coco: dict):
    """One row per image: video, frame, labels (pandas DataFrame)."""
    import pandas as pd
    anns = {a['image_id']: a for a in coco['annotations']}
    rows = []
    for im in coco['images']:
        a = anns.get(im['id'], {})
        rows.append({**{k: im.get(k) for k in ('id', 'file_name', 'vid_id', 'video_name',
                                                 'frame_index', 'nframes', 'subject_id',
                                                 'motion', 'is_labeled')},
                     'num_keypoints': a.get('num_keypoints', 0), 'bbox': a.get('bbox'),
                     'keypoints': a.get('keypoints')})
    return pd.DataFrame(rows)


def keypoints_table(coco: dict):
    """One row per (image, joint): x, y, v, plus clip fields (long format)."""
    import pandas as pd
    frames = frames_table(coco)
    k = np.array(frames['keypoints'].tolist(), float).reshape(len(frames), -1, 3)
    n = len(COCO_KEYPOINTS)
    out = pd.DataFrame({
        'video_name': np.repeat(frames['video_name'].to_numpy(), n),
        'motion': np.repeat(frames['motion'].to_numpy(), n),
        'frame_index': np.repeat(frames['frame_index'].to_numpy(), n),
        'is_labeled': np.repeat(frames['is_labeled'].to_numpy(), n),
        'joint': np.tile(np.array(COCO_KEYPOINTS), len(frames)),
        'x': k[..., 0].reshape(-1), 'y': k[..., 1].reshape(-1),
        'v': k[..., 2].reshape(-1).astype(int)})
    return out


def visibility_summary(kp_table):
    """Fraction of visible / occluded / not-labelled per joint."""
    names = {2: 'visible', 1: 'occluded', 0: 'outside'}
    t = kp_table.assign(state=kp_table['v'].map(names))
    frac = t.groupby('joint')['state'].value_counts(normalize=True).unstack(fill_value=0)
    return frac.reindex(list(COCO_KEYPOINTS))[[c for c in names.values() if c in frac]]


def motion_table(coco: dict):
    """Per joint and frame: displacement since the previous frame of the same
    clip, in pixels and relative to the person box diagonal (both labelled)."""
    import pandas as pd
    f = frames_table(coco).sort_values(['vid_id', 'frame_index']).reset_index(drop=True)
    k = np.array(f['keypoints'].tolist(), float).reshape(len(f), -1, 3)
    diag = np.array([np.hypot(b[2], b[3]) for b in f['bbox']])
    same = (f['vid_id'].to_numpy()[1:] == f['vid_id'].to_numpy()[:-1])
    both = (k[1:, :, 2] > 0) & (k[:-1, :, 2] > 0) & same[:, None]
    step = np.linalg.norm(k[1:, :, :2] - k[:-1, :, :2], axis=2)
    i, j = np.nonzero(both)
    return pd.DataFrame({'joint': np.array(COCO_KEYPOINTS)[j],
                         'motion': f['motion'].to_numpy()[1:][i],
                         'pixels': step[i, j],
                         'relative': step[i, j] / np.maximum(diag[1:][i], 1.0)})


def show_frames(root: str | Path, split: str = 'train', n: int = 8, cols: int = 4,
                seed: int = 0, full: bool = True):
    """A grid of random frames with their skeletons; returns the figure."""
    import matplotlib.pyplot as plt
    coco = load_coco(root, split, full)
    anns = {a['image_id']: a for a in coco['annotations']}
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(coco['images']), size=min(n, len(coco['images'])), replace=False)
    rows = int(np.ceil(len(pick) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    for ax, i in zip(axes.flat, sorted(pick)):
        im = coco['images'][i]
        a = anns[im['id']]
        ax.imshow(draw_pose(read_rgb(root, im['file_name']), a['keypoints'], a['bbox']))
        ax.set_title(f"{im['motion']} f{im['frame_index']}"
                     + ('' if im.get('is_labeled', True) else ' (unlab.)'), fontsize=8)
    fig.tight_layout()
    return fig


def clip_animation(root: str | Path, split: str = 'train', video_name: str | None = None,
                   full: bool = True, interval: int | None = None):
    """Matplotlib animation of one clip with its skeleton (display with
    ``IPython.display.HTML(anim.to_jshtml())``)."""
    import matplotlib.pyplot as plt
    from matplotlib import animation
    coco = load_coco(root, split, full)
    video_name = video_name or coco['images'][0]['video_name']
    ims = sorted((im for im in coco['images'] if im['video_name'] == video_name),
                 key=lambda im: im['frame_index'])
    if not ims:
        raise ValueError(f'video_name={video_name!r}: no such clip in split {split!r}')
    anns = {a['image_id']: a for a in coco['annotations']}
    frames = [draw_pose(read_rgb(root, im['file_name']), anns[im['id']]['keypoints'],
                        anns[im['id']]['bbox']) for im in ims]
    fig, ax = plt.subplots(figsize=(2.8, 2.8), dpi=80)  # light: frames are embedded
    ax.axis('off')
    shown = ax.imshow(frames[0])
    ax.set_title(video_name, fontsize=8)
    fps = json.loads(Path(root, 'meta.json').read_text())['knobs']['fps'] \
        if Path(root, 'meta.json').exists() else 15
    anim = animation.FuncAnimation(fig, lambda i: (shown.set_data(frames[i]),),
                                   frames=len(frames), interval=interval or 1000 / fps)
    plt.close(fig)
    return anim


def plot_visibility(kp_table, ax=None):
    """Stacked bars: how often each joint is visible / occluded / outside."""
    import matplotlib.pyplot as plt
    summary = visibility_summary(kp_table)
    ax = ax or plt.subplots(figsize=(8, 3))[1]
    summary.plot.bar(stacked=True, ax=ax, color=['#4c9f70', '#e0a030', '#b0b0b0'],
                     width=0.8)
    ax.set_ylabel('fraction of frames')
    ax.set_xlabel('')
    ax.legend(loc='lower right', fontsize=8)
    return ax


def plot_motion(motion, ax=None):
    """Per-joint frame-to-frame displacement (relative to the box size)."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    ax = ax or plt.subplots(figsize=(8, 3))[1]
    sns.boxplot(data=motion, x='joint', y='relative', order=list(COCO_KEYPOINTS),
                ax=ax, fliersize=1, color='#7aa6c2')
    ax.set_ylabel('step / box diagonal')
    ax.set_xlabel('')
    ax.tick_params(axis='x', rotation=90)
    return ax


def coco_roundtrip(root: str | Path, split: str = 'val') -> dict:
    """Load a split with pycocotools and score its ground truth as if it were
    a prediction: the format is right when COCOeval runs and AP = 1."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    ann = Path(root, 'annotations', f'person_keypoints_{split}.json')
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann))
        dets = [{'image_id': a['image_id'], 'category_id': 1, 'keypoints': a['keypoints'],
                 'score': 1.0} for a in gt.dataset['annotations'] if a['num_keypoints'] > 0]
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, 'keypoints')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {'images': len(gt.getImgIds()), 'annotations': len(gt.getAnnIds()),
            'labelled': len(dets), 'AP': float(ev.stats[0]), 'AR': float(ev.stats[5])}
