"""Per-setting summary of an ablation table: mean, standard deviation and seed
count of each metric, one row per setting in grid order, as a DataFrame or a
markdown table (``kdkit ablate`` prints it and writes ``summary.md``)."""
from __future__ import annotations

import math

# PCK@0.1 beside PCK@0.2: the mean pose alone reaches 85.5 % PCK@0.2 on the quick data
SUMMARY_METRICS = ('AP', 'PCK@0.2', 'PCK@0.1', 'jitter')
# AP and PCK read as percentages in reports (COCO tables print AP x 100)
PERCENT = ('AP', 'PCK@0.2', 'PCK@0.1')


def summarise_settings(table, metrics=SUMMARY_METRICS):
    """``label``, ``n`` (finished seeds) and ``<metric>_mean`` / ``<metric>_std``
    per setting of ``table`` (a :func:`kdkit.ablation.run_grid` table); failed
    runs are left out. Settings keep their first-appearance order."""
    import pandas as pd
    rows = table[table['status'] == 'ok']
    present = [m for m in metrics if m in rows.columns]
    out = []
    for setting_id, group in rows.groupby('setting_id', sort=False):
        rec = dict(label=group['label'].iloc[0], setting_id=setting_id, n=len(group))
        for m in present:
            values = group[m].astype(float)
            rec[f'{m}_mean'] = values.mean()
            # one seed has no spread: NaN, printed as "–", never a made-up 0
            rec[f'{m}_std'] = values.std(ddof=1) if len(values) > 1 else math.nan
        out.append(rec)
    return pd.DataFrame(out)


def format_summary(summary, metrics=SUMMARY_METRICS) -> str:
    """Markdown table: ``mean ± sd`` per metric (AP and PCK in %), seeds ``n``."""
    present = [m for m in metrics if f'{m}_mean' in summary.columns]
    head = ['setting', 'seeds'] + [f'{m} (%)' if m in PERCENT else m for m in present]
    lines = ['| ' + ' | '.join(head) + ' |', '|---|---:|' + '---:|' * len(present)]
    for _, r in summary.iterrows():
        cells = [str(r['label']), str(int(r['n']))]
        for m in present:
            scale, fmt = (100.0, '.1f') if m in PERCENT else (1.0, '.4f')
            cells.append(_mean_sd(r[f'{m}_mean'] * scale, r[f'{m}_std'] * scale, fmt))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def _mean_sd(mean: float, sd: float, fmt: str) -> str:
    if math.isnan(mean):
        return '–'
    return f'{mean:{fmt}}' + ('' if math.isnan(sd) else f' ± {sd:{fmt}}')
