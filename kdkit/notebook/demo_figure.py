"""The figure ``kdkit demo`` ends with: PCK@0.2 and PCK@0.1 (or AP) bars per
model (mean and sample sd over seeds, the teacher's value as a dashed line, the
mean-pose floor as a dotted one) above a grid
of test frames (rows) by models (columns) with the ground truth (green) and
each model's predicted skeleton (red), cropped around the person.

Plot functions take plain data (rows of per-seed values, predictions as
:func:`kdkit.notebook.eval_plots.predict_split` returns them), so the tests
call them directly. Nothing here touches pyplot's global state: the figure is
a bare :class:`matplotlib.figure.Figure` drawn by the Agg canvas.
"""
from __future__ import annotations

import io
import textwrap
import warnings
from pathlib import Path

import numpy as np

from kdkit.notebook.eval_plots import _draw_pose, coco_meta, pose_legend, read_annotations
from kdkit.utils.io import atomic_write_bytes

TITLES = {'PCK': 'PCK@0.2', 'PCK@0.1': 'PCK@0.1', 'AP': 'AP'}  # row key -> axis title
ROLE_COLOURS = dict(teacher='tab:gray', plain='tab:blue', distilled='tab:red')


# ------------------------------------------------------------------ numbers
def seed_stats(values) -> tuple[float, float | None, int]:
    """``(mean, sample sd or None, n)`` of one metric's per-seed values (a
    number counts as one seed; NaNs, e.g. a metric a run did not report, are
    dropped; no finite value gives a NaN mean)."""
    v = np.atleast_1d(np.asarray(values, float)).ravel()
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float('nan'), None, 0
    return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else None), len(v)


def model_role(name: str) -> str:
    """'teacher', 'distilled' or 'plain', from a row's name."""
    low = name.lower()
    if 'teacher' in low:
        return 'teacher'
    if 'distil' in low or low.endswith(' kd') or low.startswith('kd'):
        return 'distilled'
    return 'plain'


def _pair_of(name: str) -> str:
    """The student pair a row belongs to ('RTMPose-t plain' -> 'RTMPose-t')."""
    for suffix in (' plain', ' distilled', ' kd'):
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    return name


def _bar_positions(names) -> np.ndarray:
    """x of each bar: consecutive rows of one pair touch, a gap between groups."""
    xs, x, prev = [], 0.0, None
    for name in names:
        group = 'teacher' if model_role(name) == 'teacher' else _pair_of(name)
        if prev is not None:
            x += 1.0 if group == prev else 1.5
        xs.append(x)
        prev = group
    return np.asarray(xs)


# ------------------------------------------------------------------- bars
def plot_model_bars(rows: dict, ax_pck, ax_ap=None, teacher: str | None = None,
                    floor: dict | None = None, second: str = 'AP') -> dict:
    """One bar per model (rows' order) for PCK@0.2 on ``ax_pck`` and ``second``
    ('AP' or 'PCK@0.1') on ``ax_ap``: height = mean over seeds, error bar =
    sample sd when more than one seed ran (none for one seed), the value on
    each bar and the teacher's value as a dashed line labelled 'teacher'.
    ``rows``: ``{model: {'PCK': [per seed], 'AP': [per seed], ...}}`` (0-1
    scale). ``teacher``: the teacher's row (default: the first name containing
    'teacher'). ``floor``: the mean-pose floor's values by the same keys
    (:func:`kdkit.evaluation.baseline.mean_pose_floor`), a dotted line.
    Returns ``{metric: {model: (mean, sd, n)}}``."""
    names = list(rows)
    if not names:
        raise ValueError('plot_model_bars: no rows')
    if teacher is None:
        teacher = next((n for n in names if model_role(n) == 'teacher'), None)
    elif teacher not in rows:
        raise ValueError(f'teacher: {teacher!r} is not a row ({names})')
    xs = _bar_positions(names)
    out = {}
    if second not in TITLES:
        raise ValueError(f'second: expected one of {list(TITLES)}, got {second!r}')
    for key, ax in (('PCK', ax_pck), (second, ax_ap)):
        if ax is None:
            continue
        title = TITLES[key]
        stats = {n: seed_stats(rows[n].get(key, np.nan)) for n in names}
        out[key] = stats
        top = 0.0
        for x, name in zip(xs, names):
            mean, sd, n = stats[name]
            colour = ROLE_COLOURS[model_role(name)]
            bars = ax.bar(x, mean if n else 0.0, width=0.8, color=colour, alpha=0.85,
                          edgecolor='k', linewidth=0.5, label=name,
                          **(dict(yerr=sd, capsize=4, ecolor='k') if sd is not None else {}))
            label = 'n/a' if not n else (f'{mean:.3f}' if sd is None else f'{mean:.3f}\n±{sd:.3f}')
            ax.bar_label(bars, labels=[label], padding=2, fontsize=7)
            if n:
                top = max(top, mean + (sd or 0.0))
        lines = []
        if teacher is not None and stats[teacher][2]:
            lines.append(ax.axhline(stats[teacher][0], ls='--', lw=1.0, color='k', alpha=0.7,
                                    label='teacher', zorder=0.5))
        if (floor or {}).get(key) is not None:
            lines.append(ax.axhline(floor[key], ls=':', lw=1.2, color='tab:purple',
                                    label='mean pose, no network (floor)', zorder=0.5))
            top = max(top, floor[key])
        seeds = sorted({s[2] for s in stats.values() if s[2]})
        spread = ' (mean ± sd over seeds)' if seeds and seeds[-1] > 1 else ''
        ax.set_title(f'{title} on the test split{spread}', fontsize=9)
        ax.set_ylabel(title, fontsize=8)
        ax.set_ylim(0, max(top, 1e-3) * 1.3)
        ax.set_xticks(xs, [textwrap.fill(n, 12) for n in names], fontsize=7)
        ax.set_xlim(xs[0] - 0.7, xs[-1] + 0.7)
        ax.tick_params(axis='y', labelsize=7)
        ax.spines[['top', 'right']].set_visible(False)
        if lines:
            ax.legend(handles=lines, fontsize=7, loc='upper right', frameon=False)
    return out


# -------------------------------------------------------------- skeletons
def crop_box(sample: dict, shape, margin: float = 0.2, aspect: float = 0.75) -> tuple:
    """``(x0, x1, y0, y1)``: the person box (bbox and visible ground truth)
    grown by ``margin`` of its larger side, widened to ``aspect`` (w / h),
    shrunk (aspect kept, person kept) where larger than the ``shape`` (H, W)
    image, and shifted inside it."""
    h_img, w_img = shape[:2]
    x, y, w, h = np.asarray(sample['bbox'], float)
    gt = np.asarray(sample['gt'], float)
    vis = gt[gt[:, 2] > 0, :2] if gt.shape[1] > 2 else gt[:, :2]
    x0, y0 = min([x, *vis[:, 0]]), min([y, *vis[:, 1]])
    x1, y1 = max([x + w, *vis[:, 0]]), max([y + h, *vis[:, 1]])
    pad = margin * max(x1 - x0, y1 - y0, 1.0)
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    person_w, person_h = min(x1 - x0 - 2 * pad, w_img), min(y1 - y0 - 2 * pad, h_img)
    cw, ch = max(x1 - x0, (y1 - y0) * aspect), max(y1 - y0, (x1 - x0) / aspect)
    s = min(1.0, w_img / cw, h_img / ch)  # larger than the frame: shrink, keep the aspect
    cw, ch = max(cw * s, person_w), max(ch * s, person_h)  # but keep the person
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    x0, x1, y0, y1 = cx - cw / 2, cx + cw / 2, cy - ch / 2, cy + ch / 2

    def fit(a, b, size):  # shift [a, b] into [0, size]; centred on it if larger
        if b - a >= size - 1e-6:
            return (size - (b - a)) / 2, (size + (b - a)) / 2
        shift = max(0.0, -a) - max(0.0, b - size)
        return a + shift, b + shift
    x0, x1 = fit(x0, x1, w_img)
    y0, y1 = fit(y0, y1, h_img)
    return x0, x1, y0, y1


def plot_skeleton_grid(fig, subplotspec, data_root, preds_by_model: dict, image_ids,
                       skeleton=None, split: str = 'test', margin: float = 0.2,
                       aspect: float = 0.75) -> np.ndarray:
    """Rows: ``image_ids``; columns: models (``preds_by_model``'s order, each
    ``{image_id: dict(pred, gt, bbox)}`` from ``predict_split``). Each panel:
    the frame cropped around the person, ground truth as green dots, the
    prediction as a red skeleton (``skeleton``: index pairs; default COCO-17's
    links), the model's name over its column. ``subplotspec``: the figure
    region to fill (None: the whole figure); ``margin``, ``aspect``: of the
    crops (:func:`crop_box`). Returns the (rows, columns) axes."""
    import cv2
    image_ids, models = list(image_ids), list(preds_by_model)
    if not image_ids or not models:
        raise ValueError('plot_skeleton_grid: needs at least one frame and one model')
    if skeleton is None:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # 'matched config file ... will be used instead'
            skeleton = coco_meta()['skeleton_links']
    files = {i['id']: i['file_name'] for i in read_annotations(data_root, split)['images']}
    missing = [i for i in image_ids if i not in files]
    if missing:
        raise ValueError(f'image_ids: {missing} are not {split} frames of {data_root}')
    grid = (fig.add_gridspec(len(image_ids), len(models)) if subplotspec is None else
            subplotspec.subgridspec(len(image_ids), len(models), wspace=0.04, hspace=0.06))
    axes = np.empty((len(image_ids), len(models)), dtype=object)
    for r, img_id in enumerate(image_ids):
        path = Path(data_root) / 'images' / files[img_id]
        img = cv2.imread(str(path))
        if img is None:
            raise FileNotFoundError(f'frame {img_id}: cannot read {path}')
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        box = next((crop_box(p[img_id], img.shape, margin, aspect) for p in preds_by_model.values()
                    if img_id in p), (0, img.shape[1], 0, img.shape[0]))
        for c, name in enumerate(models):
            ax = axes[r, c] = fig.add_subplot(grid[r, c])
            ax.imshow(img)
            sample = preds_by_model[name].get(img_id)
            if sample is None:
                ax.text(0.5, 0.5, 'no prediction', transform=ax.transAxes, ha='center',
                        color='w', fontsize=8)
            else:
                _draw_pose(ax, sample, skeleton)
            ax.set(xlim=box[:2], ylim=(box[3], box[2]), xticks=[], yticks=[])
            ax.set_aspect('equal')
            if r == 0:
                ax.set_title(name, fontsize=9, color=ROLE_COLOURS[model_role(name)])
            if c == 0:
                ax.set_ylabel(f'frame {img_id}', fontsize=8)
    return axes


# ------------------------------------------------------------------ figure
def make_demo_figure(rows: dict, preds_by_model: dict | None = None, image_ids=(),
                     data_root=None, skeleton=None, split: str = 'test',
                     title: str | None = None, floor: dict | None = None,
                     second: str = 'AP'):
    """The demo's figure (a bare Agg-backed ``Figure``): bars on top (see
    :func:`plot_model_bars` for ``floor`` and ``second``), the skeleton grid
    below (left out when there are no predictions or frames)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    image_ids = list(image_ids)
    n_models = len(preds_by_model or {})
    with_grid = bool(n_models and image_ids)
    width = max(9.0, 2.5 * len(rows) + 1.5, 2.3 * n_models + 0.8)
    col_w = (width - 0.8) / max(n_models, 1)
    cell = min(2.8, col_w)  # panel height (in)
    aspect = float(np.clip(0.95 * col_w / cell, 0.6, 1.1))  # crops fill their columns
    bars_h = 3.4
    height = bars_h + (cell * len(image_ids) + 0.8 if with_grid else 0) + (0.4 if title else 0)
    fig = Figure(figsize=(width, height), layout='constrained')
    FigureCanvasAgg(fig)
    outer = fig.add_gridspec(2 if with_grid else 1, 1, height_ratios=(
        [bars_h, cell * len(image_ids) + 0.5] if with_grid else [1]))
    top = outer[0].subgridspec(1, 2, wspace=0.08)
    ax_pck, ax_ap = fig.add_subplot(top[0, 0]), fig.add_subplot(top[0, 1])
    plot_model_bars(rows, ax_pck, ax_ap, floor=floor, second=second)
    if with_grid:
        plot_skeleton_grid(fig, outer[1], data_root, preds_by_model, image_ids, skeleton, split,
                           aspect=aspect)
        pose_legend(fig)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def save_demo_figure(rows: dict, preds_by_model: dict | None, image_ids, data_root, out_png,
                     skeleton=None, split: str = 'test', title: str | None = None,
                     dpi: int = 120, floor: dict | None = None, second: str = 'AP') -> Path:
    """:func:`make_demo_figure` as a PNG at ``out_png``, written to a temp file in
    the same folder then renamed (never half-written); the figure is cleared
    afterwards. Returns the path."""
    fig = make_demo_figure(rows, preds_by_model, image_ids, data_root, skeleton, split, title,
                           floor, second)
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format='png', dpi=dpi)
    finally:
        fig.clear()
    return atomic_write_bytes(out_png, buf.getvalue())
