"""Predictions of a trained model on dataset frames, drawn against the ground truth."""
from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path

import numpy as np


def init_checked_model(cfg, checkpoint, device: str = 'cpu'):
    """MMPose's ``init_model`` on a checkpoint that fits the config's model
    (``init_model`` would only warn), without its console chatter: MMEngine
    prints "Loads checkpoint by ..." with ``print`` and MMPose warns about
    metainfo files; neither helps a figure or a notebook."""
    from mmpose.apis import init_model  # lazy: MMPose is heavy, notebook helpers import this module
    from kdkit.utils.validate import check_model_checkpoint
    check_model_checkpoint(cfg, str(checkpoint), 'checkpoint')
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter('ignore')
        return init_model(cfg, str(checkpoint), device=device)


def predict_frames(config, checkpoint, data_root, split: str = 'val', n: int = 6,
                   device: str = 'cpu', cfg_options: dict | None = None):
    """Run top-down inference with the GT boxes on the first ``n`` frames of a split.

    Returns a list of dicts: ``image`` (RGB array), ``pred`` (K,2), ``gt`` (K,3).
    """
    import cv2
    from mmpose.apis import inference_topdown
    from kdkit.distill.cli import load_config
    from kdkit.distill.teacher import student_model_cfg
    cfg = load_config(str(config), cfg_options)
    cfg.model = student_model_cfg(cfg.model)
    model = init_checked_model(cfg, checkpoint, device)
    ann = json.loads((Path(data_root) / 'annotations' / f'person_keypoints_{split}.json').read_text())
    by_image = {a['image_id']: a for a in ann['annotations']}
    out = []
    for img in ann['images'][:n]:
        a = by_image[img['id']]
        x, y, w, h = a['bbox']
        path = Path(data_root) / 'images' / img['file_name']
        result = inference_topdown(model, str(path), np.array([[x, y, x + w, y + h]]))[0]
        out.append(dict(image=cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB),
                        pred=result.pred_instances.keypoints[0],
                        gt=np.array(a['keypoints'], dtype=float).reshape(-1, 3)))
    return out


def show_predictions(samples, skeleton=None, cols: int = 3):
    """Grid of frames: ground truth (green) and prediction (red) key points."""
    import matplotlib.pyplot as plt
    rows = int(np.ceil(len(samples) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for ax, s in zip(axes.flat, samples):
        ax.imshow(s['image'])
        vis = s['gt'][:, 2] > 0
        ax.scatter(s['gt'][vis, 0], s['gt'][vis, 1], s=12, c='lime', label='ground truth')
        ax.scatter(s['pred'][:, 0], s['pred'][:, 1], s=12, c='red', marker='x', label='prediction')
        for i, j in skeleton or []:
            ax.plot(s['pred'][[i, j], 0], s['pred'][[i, j], 1], c='red', lw=0.8)
    for ax in axes.flat:
        ax.axis('off')
    axes.flat[0].legend(loc='lower left', fontsize=7)
    return fig
