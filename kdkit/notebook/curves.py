"""Training curves from MMEngine's ``vis_data/scalars.json`` logs."""
from __future__ import annotations

import json
from pathlib import Path


def find_scalar_logs(work_dir) -> list[Path]:
    """Every run's scalars.json under a work_dir, oldest first (runs are timestamped)."""
    logs = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))
    if not logs:
        raise FileNotFoundError(f'{work_dir}: no */vis_data/scalars.json (has it been trained?)')
    return logs


def load_scalars(work_dir):
    """Two DataFrames: train rows (per logged iteration) and val rows (per validation)."""
    import pandas as pd
    rows = [json.loads(line) for log in find_scalar_logs(work_dir)
            for line in log.read_text().splitlines() if line.strip()]
    train = pd.DataFrame([r for r in rows if 'loss' in r])
    val = pd.DataFrame([r for r in rows if 'loss' not in r])
    return train, val


def plot_training_curves(work_dir, metric: str = 'coco/AP', ax=None):
    """Loss terms per iteration (left) and the validation metric per epoch (right)."""
    import matplotlib.pyplot as plt
    train, val = load_scalars(work_dir)
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(11, 3.5))
    for col in sorted(c for c in train.columns if c.startswith('loss')):
        ax[0].plot(train['step'], train[col], label=col)
    ax[0].set(xlabel='iteration', ylabel='loss', yscale='log', title='training loss terms')
    ax[0].legend(fontsize=8)
    if metric in val.columns:
        ax[1].plot(val['step'], val[metric], marker='o')
    ax[1].set(xlabel='epoch', ylabel=metric, title=f'validation {metric}')
    return ax
