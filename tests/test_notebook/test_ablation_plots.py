"""Ablation plots: the AP heatmap over the weight grid, rules with error bars."""
import math

import matplotlib
import pandas as pd
import pytest

from kdkit.notebook.ablation_plots import (plot_rule_comparison, plot_weight_heatmap,
                                           separating_metric, summarise_rules, weight_grid)

matplotlib.use('Agg')


def table():
    rows = []
    for seed in (0, 1, 2):
        for gt in (0.5, 1.0):
            for kd in (0.5, 1.0, 2.0):
                rows.append(dict(rule='weighted_sum', gt_weight=gt, kd_weight=kd,
                                 temperature=math.nan, schedule='constant', seed=seed,
                                 AP=gt + kd / 10 + seed / 100, jitter=0.01, status='ok'))
        for rule, ap in (('uncertainty', 0.9), ('confidence_gating', 0.8)):
            rows.append(dict(rule=rule, gt_weight=1.0, kd_weight=1.0, temperature=math.nan,
                             schedule='constant', seed=seed, AP=ap + seed / 100, jitter=0.02,
                             status='ok'))
    rows.append(dict(rows[-1], rule='weighted_sum', AP=math.nan, status='failed: nan'))
    return pd.DataFrame(rows)


def test_weight_grid_means_over_seeds():
    grid = weight_grid(table())
    assert grid.shape == (2, 3)
    assert grid.loc[1.0, 2.0] == pytest.approx(1.0 + 0.2 + 0.01)


def test_heatmap_annotates_every_cell():
    ax = plot_weight_heatmap(table())
    assert len(ax.texts) == 6
    assert ax.get_xlabel() == 'kd weight' and 'AP over the weight grid' in ax.get_title()
    with pytest.raises(ValueError, match="no finished runs with 'AP' for rule 'uncertaint'"):
        plot_weight_heatmap(table(), rule='uncertaint')


def test_rules_compared_at_a_shared_setting_with_error_bars():
    summary = summarise_rules(table(), metrics=('AP', 'jitter'))
    assert sorted(summary.index) == ['confidence_gating', 'uncertainty', 'weighted_sum']
    assert summary.loc['weighted_sum', ('AP', 'count')] == 3  # the failed run is left out
    assert summary.loc['uncertainty', ('AP', 'mean')] == pytest.approx(0.91)
    assert summary.loc['uncertainty', ('AP', 'std')] == pytest.approx(0.01)
    axes = plot_rule_comparison(table(), metrics=('AP', 'jitter'))
    assert len(axes) == 2
    assert len(axes[0].patches) == 3 and len(axes[0].lines) >= 3  # bars + error bars
    assert 'lower is better' in axes[1].get_title()


def quick_profile_table():
    """AP 0 everywhere (as after the quick CPU schedules), PCK@0.2 spread out."""
    t = table().assign(AP=0.0)
    return t.assign(**{'PCK@0.2': 0.5 + t['kd_weight'] / 10})


def test_separating_metric_is_pck_when_ap_does_not_move():
    metric, why = separating_metric(quick_profile_table())
    assert metric == 'PCK@0.2'
    assert 'AP spans only 0.000 to 0.000' in why and 'spread 0.000 < 0.01' in why
    small = quick_profile_table()
    assert separating_metric(small.assign(AP=0.009 * (small.index % 2)))[0] == 'PCK@0.2'
    ax = plot_weight_heatmap(quick_profile_table(), metric=metric, note=why)
    assert ax.get_title().startswith('PCK@0.2 over the weight grid (weighted_sum)\nPCK@0.2: AP')
    axes = plot_rule_comparison(quick_profile_table(), metrics=(metric, 'jitter'), note=why)
    assert axes[0].get_title() == 'PCK@0.2 (higher is better)'
    assert axes[0].figure._suptitle.get_text().startswith('PCK@0.2: AP spans only')


def test_separating_metric_is_ap_when_it_spreads():
    t = table().assign(**{'PCK@0.2': 0.5})
    metric, why = separating_metric(t)  # AP from 0.55 to 1.22 (the failed run left out)
    assert metric == 'AP' and why == 'AP: it separates the runs (spread 0.670 >= 0.01)'
    assert separating_metric(quick_profile_table().drop(columns='AP'))[0] == 'PCK@0.2'
    assert separating_metric(quick_profile_table().drop(columns='PCK@0.2'))[0] == 'AP'
    with pytest.raises(ValueError, match='no finished run reports AP or PCK@0.2'):
        separating_metric(table().drop(columns='AP'))
