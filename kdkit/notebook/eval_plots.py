"""Notebook 04's pieces: the bench record as a table, the accuracy-latency
Pareto plot, per-joint PCK bars, skeletons side by side and the ONNX check on
real test crops. Plot functions take plain data, so the tests call them."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

COLUMNS = ('label', 'pair', 'role', 'AP', 'PCK', 'PCK@0.1', 'jitter', 'excess_jitter', 'params_M',
           'GFLOPs', 'step_s', 'step_ratio', 'ort_1t_ms', 'ort_all_ms')
ROLE_COLOURS = dict(teacher='tab:gray', plain='tab:blue', kd='tab:red', dwpose='tab:orange')


# ------------------------------------------------------------------ tables
def load_bench(path) -> dict:
    """A ``kdkit bench`` results JSON; one-line errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'results: {path} does not exist (a bench/results/*.json)')
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f'results: {path} is not valid JSON ({e.msg}, line {e.lineno})') from None
    if not isinstance(record, dict) or not isinstance(record.get('rows'), dict):
        raise ValueError(f"results: {path} has no 'rows'; is it a kdkit bench JSON?")
    return record


def bench_table(record: dict):
    """One DataFrame row per model of a bench record (AP in [0, 1])."""
    import pandas as pd
    rows = [{c: r.get(c) for c in COLUMNS} | {'key': k} for k, r in record['rows'].items()]
    table = pd.DataFrame(rows).set_index('key')
    numeric = [c for c in COLUMNS if c not in ('label', 'pair', 'role')]
    table[numeric] = table[numeric].apply(pd.to_numeric, errors='coerce')  # None -> NaN
    return table


def pareto_front(latency, accuracy) -> list[int]:
    """Indices of the non-dominated points (no other point is at least as fast
    and at least as accurate, and better in one), fastest first."""
    lat, acc = np.asarray(latency, float), np.asarray(accuracy, float)
    front = [i for i in range(len(lat))
             if not any((lat[j] <= lat[i] and acc[j] >= acc[i]) and
                        (lat[j] < lat[i] or acc[j] > acc[i]) for j in range(len(lat)))]
    return sorted(front, key=lambda i: (lat[i], -acc[i]))


# ------------------------------------------------------------------- plots
def plot_pareto(table, threshold: float | None = 0.5, latency: str = 'ort_1t_ms',
                metric: str = 'AP', ax=None):
    """Accuracy vs ONNX Runtime latency, marker area proportional to GFLOPs,
    the Pareto front as a line and ``threshold`` (the preset accuracy the
    student must reach) as a horizontal line."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    t = table.dropna(subset=[latency, metric])
    size = 60 + 900 * t['GFLOPs'] / max(float(t['GFLOPs'].max()), 1e-9)
    for role, group in t.groupby('role'):
        ax.scatter(group[latency], group[metric], s=size[group.index], alpha=0.6,
                   c=ROLE_COLOURS.get(role, 'tab:green'), edgecolors='k', label=role)
    for i, (_, r) in enumerate(t.sort_values([latency, metric]).iterrows()):
        # staggered offsets: students of one architecture share a latency
        ax.annotate(r['label'], (r[latency], r[metric]), fontsize=7,
                    xytext=(6, 4 - 10 * (i % 3)), textcoords='offset points')
    front = t.iloc[pareto_front(t[latency], t[metric])]
    ax.plot(front[latency], front[metric], 'k--', lw=0.8, label='Pareto front')
    if threshold is not None:
        ax.axhline(threshold, color='tab:purple', lw=1.2,
                   label=f'threshold {metric} = {threshold:g}')
    ax.set(xlabel=f'ONNX Runtime latency, batch 1 ({latency}, ms)', ylabel=metric,
           title='accuracy vs latency (marker area ∝ GFLOPs)')
    # outside the axes, with markers of one size: it covered the points
    legend = ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    for handle in legend.legend_handles:
        if hasattr(handle, 'set_sizes'):
            handle.set_sizes([40])
    return ax


def plot_per_joint(per_joint: dict, ax=None, thr: float = 0.2):
    """Grouped bars: PCK per joint for each model (``{model: {joint: value}}``)."""
    import matplotlib.pyplot as plt
    import pandas as pd
    frame = pd.DataFrame(per_joint)
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 3.5))
    frame.plot.bar(ax=ax, width=0.8)
    ax.set(ylabel=f'PCK@{thr:g}', ylim=(0, 1.05), title='PCK per joint (test split)')
    ax.legend(fontsize=8)
    return ax


def show_side_by_side(data_root, preds: dict, image_ids, skeleton=(), split: str = 'test'):
    """Rows: frames of a clip; columns: models. Green = ground truth, red = prediction,
    as the key under the figure says. The figure lays itself out (constrained
    layout), so ``tight_layout`` is not needed and would only warn."""
    import cv2
    import matplotlib.pyplot as plt
    images = {i['id']: i for i in read_annotations(data_root, split)['images']}
    fig, axes = plt.subplots(len(image_ids), len(preds), squeeze=False, layout='constrained',
                             figsize=(2.6 * len(preds), 2.6 * len(image_ids) + 0.3))
    for row, img_id in enumerate(image_ids):
        img = cv2.imread(str(Path(data_root) / 'images' / images[img_id]['file_name']))
        for col, (name, samples) in enumerate(preds.items()):
            ax = axes[row, col]
            ax.imshow(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
            _draw_pose(ax, samples[img_id], skeleton)
            ax.set(xlim=(0, img.shape[1]), ylim=(img.shape[0], 0))  # stray points off-frame
            ax.axis('off')
            if row == 0:
                ax.set_title(name, fontsize=9)
    pose_legend(fig)
    return fig


GT_COLOUR, PRED_COLOUR = 'lime', 'red'


def _draw_pose(ax, sample: dict, skeleton) -> None:
    gt, pred = sample['gt'], sample['pred']
    vis = gt[:, 2] > 0
    ax.scatter(gt[vis, 0], gt[vis, 1], s=8, c=GT_COLOUR)
    ax.scatter(pred[:, 0], pred[:, 1], s=8, c=PRED_COLOUR, marker='x')
    for i, j in skeleton:
        ax.plot(pred[[i, j], 0], pred[[i, j], 1], c=PRED_COLOUR, lw=0.8)


def pose_legend(fig) -> None:
    """Says under ``fig`` (constrained layout) what :func:`_draw_pose`'s colours
    mean: a reader of a saved PNG has no other key."""
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], ls='', marker='o', ms=4, c=GT_COLOUR, label='labelled key points'),
               Line2D([], [], marker='x', ms=4, lw=0.8, c=PRED_COLOUR,
                      label="model's key points and skeleton")]
    fig.legend(handles=handles, loc='outside lower center', ncols=2, fontsize=8, frameon=False)


# ------------------------------------------------------------- predictions
def read_annotations(data_root, split: str = 'test') -> dict:
    path = Path(data_root) / 'annotations' / f'person_keypoints_{split}.json'
    if not path.is_file():
        raise FileNotFoundError(f'data_root: {path} does not exist')
    return json.loads(path.read_text())


def coco_meta() -> dict:
    """MMPose's COCO key-point metainfo (names, skeleton links)."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    return parse_pose_metainfo(dict(from_file='configs/_base_/datasets/coco.py'))


def predict_split(config, checkpoint, data_root, split: str = 'test',
                  image_ids=None, device: str = 'cpu') -> dict:
    """Top-down predictions with the ground-truth boxes of every labelled person
    of a split (or of ``image_ids``): ``{image_id: dict(pred (K, 2), gt (K, 3),
    bbox xywh)}``. A distillation config predicts with its student."""
    from mmpose.apis import inference_topdown

    from kdkit.export import load_config, student_model_cfg
    from kdkit.notebook.predictions import init_checked_model
    cfg = load_config(config)
    cfg.model = student_model_cfg(cfg)
    model = init_checked_model(cfg, checkpoint, device)
    ann = read_annotations(data_root, split)
    files = {i['id']: i['file_name'] for i in ann['images']}
    wanted = None if image_ids is None else set(image_ids)
    out = {}
    for a in ann['annotations']:
        if wanted is not None and a['image_id'] not in wanted:
            continue
        x, y, w, h = a['bbox']
        path = Path(data_root) / 'images' / files[a['image_id']]
        result = inference_topdown(model, str(path), np.array([[x, y, x + w, y + h]]))[0]
        out[a['image_id']] = dict(pred=np.asarray(result.pred_instances.keypoints[0]),
                                  gt=np.asarray(a['keypoints'], float).reshape(-1, 3),
                                  bbox=np.asarray(a['bbox'], float))
    return out


def per_joint_pck(preds: dict, thr: float = 0.2, names=None) -> dict:
    """``{joint name: PCK@thr}`` of :func:`predict_split`'s output (bbox-normalised)."""
    from kdkit.evaluation import bbox_size, pck_accuracy
    samples = list(preds.values())
    if not samples:
        raise ValueError('per_joint_pck: no predictions')
    pred = np.stack([s['pred'][:, :2] for s in samples])
    gt = np.stack([s['gt'] for s in samples])
    norm = bbox_size(np.stack([s['bbox'] for s in samples]))
    res = pck_accuracy(pred, gt[..., :2], gt[..., 2] > 0, norm, thr)
    names = names or [f'joint {k}' for k in range(gt.shape[1])]
    return dict(zip(names, res['per_joint'].tolist()))


def clip_frames(data_root, split: str = 'test', clip: int = 0, n: int = 4) -> list[int]:
    """``n`` evenly spaced labelled frames (image ids) of the ``clip``-th clip."""
    ann = read_annotations(data_root, split)
    labelled = {a['image_id'] for a in ann['annotations']}
    clips = sorted({i['vid_id'] for i in ann['images']})
    if not 0 <= clip < len(clips):
        raise ValueError(f'clip: {clip} out of range; {split} has {len(clips)} clips')
    frames = sorted((i['frame_index'], i['id']) for i in ann['images']
                    if i['vid_id'] == clips[clip] and i['id'] in labelled)
    picks = np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int)
    return [frames[p][1] for p in picks]


# -------------------------------------------------------------- ONNX check
def check_export(config, checkpoint, onnx_path, data_root, split: str = 'test',
                 n: int = 4) -> dict:
    """Export the student (ONNX Runtime vs PyTorch on a random input, by
    :func:`kdkit.export.export_onnx`), then run both on ``n`` real test crops
    and decode them: the max output difference and the max key-point
    difference in image pixels."""
    import onnxruntime as ort
    import torch

    from kdkit.export import build_student, decode_outputs, export_onnx
    info = export_onnx(config, checkpoint, onnx_path)
    model = build_student(config, checkpoint)
    session = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    out_diff, kpt_diff = 0.0, 0.0
    for inputs, center, scale in model_crops(model, config, data_root, split, n):
        with torch.no_grad():
            ref = model(inputs, None, mode='tensor')
        ref = [t.numpy() for t in (ref if isinstance(ref, (tuple, list)) else (ref,))]
        got = session.run(None, {session.get_inputs()[0].name: inputs.numpy()})
        out_diff = max(out_diff, *(float(np.abs(a - b).max()) for a, b in zip(got, ref)))
        k_ref = decode_outputs(ref, info['codec'], center, scale)[0]
        k_got = decode_outputs(got, info['codec'], center, scale)[0]
        kpt_diff = max(kpt_diff, float(np.abs(k_ref - k_got).max()))
    return dict(info, frames=n, frame_max_abs_diff=out_diff, keypoint_max_px_diff=kpt_diff)


def model_crops(model, config, data_root, split: str, n: int):
    """``(inputs (1, 3, H, W), center, scale)`` of the first ``n`` labelled
    persons through the config's test pipeline and the model's preprocessor."""
    from mmcv.transforms import Compose
    from mmengine.dataset import pseudo_collate

    from kdkit.export import load_config
    cfg = load_config(config)
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    ann = read_annotations(data_root, split)
    files = {i['id']: i['file_name'] for i in ann['images']}
    for a in ann['annotations'][:n]:
        x, y, w, h = a['bbox']
        data = pipeline(dict(img_path=str(Path(data_root) / 'images' / files[a['image_id']]),
                             bbox=np.array([[x, y, x + w, y + h]], np.float32),
                             bbox_score=np.ones(1, np.float32)))
        batch = model.data_preprocessor(pseudo_collate([data]), False)
        meta = batch['data_samples'][0].metainfo
        yield batch['inputs'], meta['input_center'], meta['input_scale']
