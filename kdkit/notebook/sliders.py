"""The notebook-03 slider panel and the pure function behind it.

:func:`slider_view` maps slider values (GT-loss weight, distillation weight,
temperature, schedule) to the nearest cached ablation run -- or trains it on
demand -- and returns its loss curve, metrics and a one-line message. The
widgets (:func:`make_panel`) only call it and draw, so the tests call it
directly.
"""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Optional

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

SLIDERS = {  # name: (low, high) of the widget
    'gt_weight': (0.0, 2.0),
    'kd_weight': (0.0, 5.0),
    'temperature': (0.05, 5.0),
}
SCHEDULES = ('constant', 'linear', 'cosine', 'warmup', 'step')
# a run without a temperature (MSE term) is this far from any slider temperature
NO_TEMPERATURE_DISTANCE = 0.25
EXACT = 1e-9


def check_slider(name: str, value, ranges: Optional[dict] = None) -> float:
    """The value as a float, or a one-line ValueError naming the slider and
    its range; ``ranges``: ``{name: (low, high)}``, default :data:`SLIDERS`."""
    lo, hi = (SLIDERS if ranges is None else ranges)[name]
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if isinstance(value, bool) or not (lo <= v <= hi):
        raise ValueError(f'{name}={value!r} out of range: the {name} slider allows '
                         f'[{lo:g}, {hi:g}]')
    return v


def check_schedule(schedule) -> str:
    if schedule not in SCHEDULES:
        raise ValueError(f'schedule={schedule!r} unknown: the schedule dropdown allows '
                         f'{list(SCHEDULES)}')
    return schedule


def setting_distance(row, gt: float, kd: float, temperature: float, schedule: str,
                     temperature_matters: bool = True) -> float:
    """How far a run is from the sliders: weights relative to their slider
    range, temperature in decades (over 2, its slider's span), a schedule
    mismatch = 1. Without ``temperature_matters`` (no run has a
    temperature) the temperature slider is ignored."""
    d = abs(row['gt_weight'] - gt) / 2.0 + abs(row['kd_weight'] - kd) / 5.0
    t = row.get('temperature', math.nan)
    if temperature_matters:
        d += (NO_TEMPERATURE_DISTANCE if t is None or math.isnan(t)
              else abs(math.log10(t) - math.log10(temperature)) / 2.0)
    return d + (0.0 if row['schedule'] == schedule else 1.0)


def slider_view(gt_weight, kd_weight, temperature, schedule, results, rule: Optional[str] = None,
                run_on_demand: bool = False, **run_kwargs) -> dict:
    """What the panel shows for these slider values.

    Args:
        gt_weight, kd_weight, temperature, schedule: the slider values (ranges
            in :data:`SLIDERS`, schedule in :data:`SCHEDULES`).
        results: the tidy table of :func:`kdkit.ablation.run_grid`, or its
            ``out_dir`` (the cache is read).
        rule: restrict to one synthesis rule (None: any).
        run_on_demand: when no run matches exactly, train this setting now
            (``run_kwargs``: ``base_config``, ``seeds``, ``epochs``,
            ``data_root``, ``out_dir``, ... of ``run_grid``).

    Returns:
        ``dict(curve=DataFrame (iter + loss columns, mean over seeds),
        metrics={AP, PCK@0.2, jitter, each with _std, n_seeds}, setting=the
        matched run's setting, distance=float, message=str)``.
    """
    gt = check_slider('gt_weight', gt_weight)
    kd = check_slider('kd_weight', kd_weight)
    temp = check_slider('temperature', temperature)
    schedule = check_schedule(schedule)
    table = ok_runs(results, rule)
    matched, distance = nearest(table, gt, kd, temp, schedule)
    if distance > EXACT and run_on_demand:
        table = run_setting(gt, kd, temp, schedule, rule, table, **run_kwargs)
        matched, distance = nearest(table, gt, kd, temp, schedule)
    if matched is None:
        raise LookupError(f'no finished ablation run{f" for rule {rule!r}" if rule else ""} '
                          'to show; run kdkit ablate or pass run_on_demand=True')
    return dict(curve=mean_curve(matched), metrics=seed_metrics(matched),
                setting=setting_of(matched.iloc[0]), distance=distance,
                message=describe(matched.iloc[0], distance, temp))


def ok_runs(results, rule):
    import pandas as pd
    if isinstance(results, (str, Path)):
        from kdkit.ablation.runner import load_results
        results = load_results(results)
    if not isinstance(results, pd.DataFrame):
        raise TypeError('results: expected the run_grid table or its out_dir')
    table = results[results['status'] == 'ok'] if 'status' in results else results
    return table[table['rule'] == rule] if rule is not None else table


def nearest(table, gt, kd, temperature, schedule):
    """The rows (all seeds) of the setting nearest the sliders, and its
    distance; ties go to the weighted sum, then to the label order."""
    if table is None or len(table) == 0:
        return None, math.inf
    matters = 'temperature' in table and bool(table['temperature'].notna().any())
    ranked = table.assign(
        _d=table.apply(lambda r: setting_distance(r, gt, kd, temperature, schedule, matters),
                       axis=1),
        _other_rule=table['rule'] != 'weighted_sum')
    best = ranked.sort_values(['_d', '_other_rule', 'label'], kind='stable').iloc[0]
    group = 'setting_id' if 'setting_id' in table else 'label'
    return table[table[group] == best[group]], float(best['_d'])


def run_setting(gt, kd, temperature, schedule, rule, table, base_config: str,
                seeds=(0,), setting: Optional[dict] = None, **kwargs):
    """Train the slider setting (short run) and add it to the table.
    ``setting``: fixed extra setting keys (e.g. ``terms`` swapping in a KL term)."""
    import pandas as pd
    from kdkit.ablation.runner import run_grid
    setting = dict(setting or {}, gt_weight=gt, kd_weight=kd, schedule=schedule)
    if rule is not None:
        setting['rule'] = rule
    if kd_terms_take_temperature(base_config, setting.get('terms') or {}):
        setting['temperature'] = temperature
    new = run_grid(base_config, [setting], seeds=list(seeds), progress=False, **kwargs)
    return pd.concat([table, new[new['status'] == 'ok']], ignore_index=True)


def kd_terms_take_temperature(base_config: str, term_overrides: dict) -> bool:
    from kdkit.ablation.settings import base_spec, merge_terms, takes_temperature
    from kdkit.distill.cli import load_config
    terms = merge_terms(base_spec(load_config(base_config))['terms'], term_overrides, 'setting')
    return any(takes_temperature(cfg['type']) for cfg in terms.values())


def mean_curve(rows):
    """Per-iteration losses averaged over the seeds of one setting."""
    import pandas as pd
    from kdkit.ablation.runner import load_curve
    curves = [load_curve(f) for f in rows['result_file']]
    if not curves:
        return pd.DataFrame()
    return pd.concat(curves).groupby('iter', as_index=False).mean()


def seed_metrics(rows) -> dict:
    out = {'n_seeds': int(len(rows))}
    for m in ('AP', 'PCK@0.2', 'jitter'):
        if m in rows:
            out[m] = float(rows[m].mean())
            out[f'{m}_std'] = float(rows[m].std(ddof=1)) if len(rows) > 1 else math.nan
    return out


def setting_of(row) -> dict:
    return {k: row[k] for k in ('rule', 'gt_weight', 'kd_weight', 'temperature', 'schedule')
            if k in row}


def describe(row, distance: float, temperature: float) -> str:
    note = ''
    if 'temperature' not in row or math.isnan(row['temperature']):
        note = f' (its KD terms take no temperature: T={temperature:g} has no effect)'
    if distance <= EXACT:
        return f"exact match: {row['label']}{note}"
    return f"nearest cached run: {row['label']}, distance {distance:.2f}{note}"


# ------------------------------------------------------------------ widgets
def make_panel(results, rule: Optional[str] = None, run_on_demand: bool = False,
               **run_kwargs):
    """ipywidgets sliders (GT weight, KD weight, temperature, schedule, and
    the rule when the table has several), each move redrawing
    :func:`slider_view`'s loss-curve plot into an ``Image`` widget."""
    import ipywidgets as w
    table = ok_runs(results, None)
    rules = ['any', *sorted(table['rule'].unique())]
    controls = dict(
        gt_weight=w.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1, description='GT weight'),
        kd_weight=w.FloatSlider(value=1.0, min=0.0, max=5.0, step=0.25, description='KD weight'),
        # min on the 0.1-decade grid through 1.0: the browser snaps the value to
        # that grid, and an off-grid start (log10(0.05)) turned 1.0 into 0.998
        temperature=w.FloatLogSlider(value=1.0, base=10, min=-1.3,
                                     max=math.log10(5.0), step=0.1, description='temperature'),
        schedule=w.Dropdown(options=list(SCHEDULES), value='constant', description='schedule'),
        rule=w.Dropdown(options=rules, value=rule or 'any', description='rule'))

    image, message = w.Image(format='png'), w.Label()

    def redraw(_=None):
        values = {name: c.value for name, c in controls.items()}
        rule = values.pop('rule')
        try:
            view = slider_view(results=results, rule=None if rule == 'any' else rule,
                               run_on_demand=run_on_demand, **values, **run_kwargs)
        except (ValueError, LookupError) as e:  # the last figure stays
            message.value = str(e)
            return
        message.value = ''
        fig = Figure(figsize=(7, 3.6), layout='tight')
        FigureCanvasAgg(fig)
        draw_view(view, ax=fig.subplots())
        image.value = figure_png(fig)

    # an Image, not interactive_output's Output widget: captured output can
    # deadlock papermill/nbclient runs of the notebook (jupyter/nbclient#312)
    for control in controls.values():
        control.observe(redraw, names='value')
    redraw()
    boxes = list(controls.values())
    return w.VBox([w.HBox(boxes[:2]), w.HBox(boxes[2:4]), boxes[4], message, image])


def figure_png(fig: Figure) -> bytes:
    """A matplotlib figure as PNG bytes (for an ``ipywidgets.Image``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format='png')
    return buf.getvalue()


def metric_text(metrics: dict, name: str) -> str:
    """'AP=0.412±0.013' (no ± for a single seed)."""
    std = metrics.get(f'{name}_std', math.nan)
    return f'{name}={metrics[name]:.3f}' + ('' if math.isnan(std) else f'±{std:.3f}')


def draw_view(view: dict, ax=None):
    """Loss terms per iteration and a metrics caption, for one slider view."""
    import matplotlib.pyplot as plt
    curve, m = view['curve'], view['metrics']
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    for col in sorted(c for c in curve.columns if c.startswith('loss')):
        ax.plot(curve['iter'], curve[col], label=col, marker='o' if len(curve) < 20 else None)
    ax.set(xlabel='iteration', ylabel='loss', yscale='symlog', title=view['message'])
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    caption = '  '.join(metric_text(m, k) for k in ('AP', 'PCK@0.2', 'jitter') if k in m)
    ax.text(0.0, -0.32, f'{caption}  (seeds: {m["n_seeds"]})', transform=ax.transAxes, fontsize=9)
    return ax
