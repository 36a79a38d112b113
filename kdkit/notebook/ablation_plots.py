"""Plots of an ablation table (:func:`kdkit.ablation.run_grid`): a heatmap of
a metric over the weight grid, and the synthesis rules side by side with
error bars over seeds."""
from __future__ import annotations

import math
import textwrap

# lower is better for these; the rest (AP, PCK) higher is better
LOWER_IS_BETTER = ('jitter', 'excess_jitter')
# AP is shown only when it spreads at least this much across the runs: OKS AP
# stays ~0 until key points are within a few pixels (short CPU schedules on the
# kit's small people), while PCK@0.2 already separates the models
MIN_AP_SPREAD = 0.01


def ok_rows(table):
    return table[table['status'] == 'ok'] if 'status' in table else table


def separating_metric(table, min_spread: float = MIN_AP_SPREAD) -> tuple[str, str]:
    """``(metric, reason)`` for the plots: 'AP' when its spread (max - min
    over the finished runs) is at least ``min_spread``, else 'PCK@0.2'; the
    reason is one sentence for the caption."""
    rows = ok_rows(table)
    has_pck = 'PCK@0.2' in rows and bool(rows['PCK@0.2'].notna().any())
    ap = rows['AP'].dropna() if 'AP' in rows else rows.iloc[:0]
    if len(ap) == 0:
        if not has_pck:
            raise ValueError('separating metric: no finished run reports AP or PCK@0.2')
        return 'PCK@0.2', 'PCK@0.2: the runs report no AP'
    spread = float(ap.max() - ap.min())
    if spread >= min_spread:
        return 'AP', f'AP: it separates the runs (spread {spread:.3f} >= {min_spread:g})'
    if not has_pck:
        return 'AP', f'AP, though it barely differs (spread {spread:.3f}): no PCK@0.2 to show'
    return 'PCK@0.2', (f'PCK@0.2: AP spans only {ap.min():.3f} to {ap.max():.3f} across the '
                       f'runs (spread {spread:.3f} < {min_spread:g}), the models are not yet '
                       'precise enough for OKS-based AP')


def weight_grid(table, metric: str = 'AP', rule: str | None = 'weighted_sum',
                x: str = 'kd_weight', y: str = 'gt_weight'):
    """Mean ``metric`` over seeds on the (``y``, ``x``) weight grid, as a pivot table."""
    rows = ok_rows(table)
    if rule is not None:
        rows = rows[rows['rule'] == rule]
    if metric not in rows or rows.empty:
        raise ValueError(f'weight grid: no finished runs with {metric!r}'
                         + (f' for rule {rule!r}' if rule else ''))
    return rows.pivot_table(index=y, columns=x, values=metric, aggfunc='mean')


def plot_weight_heatmap(table, metric: str = 'AP', rule: str | None = 'weighted_sum',
                        x: str = 'kd_weight', y: str = 'gt_weight', ax=None,
                        note: str | None = None):
    """seaborn heatmap of the mean ``metric`` over the weight grid (annotated);
    ``note`` (e.g. :func:`separating_metric`'s reason) is a second title line."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    grid = weight_grid(table, metric, rule, x, y)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 * grid.shape[1] + 2.5, 0.9 * grid.shape[0] + 1.5))
    cmap = 'rocket' if metric in LOWER_IS_BETTER else 'rocket_r'
    sns.heatmap(grid, annot=True, fmt='.3f', cmap=cmap, cbar_kws=dict(label=metric), ax=ax)
    ax.invert_yaxis()  # larger GT weight up
    title = f'{metric} over the weight grid' + (f' ({rule})' if rule else '')
    ax.set(xlabel=x.replace('_', ' '), ylabel=y.replace('_', ' '),
           title=title + (f'\n{wrap(note, 60)}' if note else ''))
    if note:
        ax.title.set_fontsize(8)
    return ax


def wrap(text: str, width: int) -> str:
    return '\n'.join(textwrap.wrap(text, width))


def rule_rows(table, at: dict | None = None):
    """Rows comparing rules: only settings equal to ``at`` in the other fields
    (default: the most common gt/kd weights, temperature and schedule)."""
    rows = ok_rows(table)
    at = dict(at or common_setting(rows))
    keep = rows.index == rows.index
    for k, v in at.items():
        col = rows[k]
        keep &= col.isna() if isinstance(v, float) and math.isnan(v) else (col == v)
    return rows[keep]


def common_setting(rows) -> dict:
    """The gt/kd weight, temperature and schedule shared by the most rules."""
    fields = ['gt_weight', 'kd_weight', 'temperature', 'schedule']
    counts = rows.fillna({'temperature': -1.0}).groupby(fields)['rule'].nunique()
    best = counts.idxmax()
    out = dict(zip(fields, best))
    if out['temperature'] == -1.0:
        out['temperature'] = math.nan
    return out


def summarise_rules(table, metrics=('AP', 'PCK@0.2', 'jitter'), at: dict | None = None):
    """Mean, std and seed count per rule (for reports)."""
    rows = rule_rows(table, at)
    present = [m for m in metrics if m in rows]
    return rows.groupby('rule')[present].agg(['mean', 'std', 'count'])


def plot_rule_comparison(table, metrics=('AP', 'PCK@0.2', 'jitter'), at: dict | None = None,
                         axes=None, note: str | None = None):
    """One bar panel per metric: mean over seeds per rule, error bar = standard
    deviation over seeds, dots = the single seeds; ``note`` (e.g.
    :func:`separating_metric`'s reason) becomes the figure's title."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    rows = rule_rows(table, at)
    metrics = [m for m in metrics if m in rows]
    if rows.empty or not metrics:
        raise ValueError('rule comparison: no finished runs to compare')
    if axes is None:
        _, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.4), squeeze=False)
        axes = axes[0]
    order = sorted(rows['rule'].unique())
    for ax, m in zip(axes, metrics):
        sns.barplot(data=rows, x='rule', y=m, order=order, errorbar='sd', capsize=0.15,
                    ax=ax, color='#8fb3d9')
        sns.stripplot(data=rows, x='rule', y=m, order=order, color='k', size=4, ax=ax)
        better = 'lower' if m in LOWER_IS_BETTER else 'higher'
        ax.set(xlabel='', title=f'{m} ({better} is better)')
        ax.tick_params(axis='x', labelrotation=20)
    if note:
        axes[0].figure.suptitle(wrap(note, 110), fontsize=9)
    return axes
