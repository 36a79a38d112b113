"""``kdkit.ablation.summary``: mean ± sd over seeds per setting, by hand."""
import math

import pandas as pd
import pytest

from kdkit.ablation.summary import format_summary, summarise_settings


def table():
    return pd.DataFrame([
        dict(label='b', setting_id='s2', seed=0, AP=0.10, **{'PCK@0.2': 0.70}, jitter=0.1,
             status='ok'),
        dict(label='a', setting_id='s1', seed=0, AP=0.00, **{'PCK@0.2': 0.60}, jitter=0.3,
             status='ok'),
        dict(label='b', setting_id='s2', seed=1, AP=0.30, **{'PCK@0.2': 0.80}, jitter=0.2,
             status='ok'),
        dict(label='b', setting_id='s2', seed=2, AP=math.nan, **{'PCK@0.2': math.nan},
             jitter=math.nan, status='failed: RuntimeError: x'),
    ])


def test_mean_sd_and_count_per_setting_in_grid_order():
    s = summarise_settings(table())
    assert list(s['label']) == ['b', 'a']  # first appearance, not alphabetical
    b = s.iloc[0]
    assert b['n'] == 2  # the failed seed is left out
    assert b['AP_mean'] == pytest.approx(0.2)
    assert b['AP_std'] == pytest.approx(math.sqrt(0.02))  # sample sd of 0.1, 0.3
    assert b['PCK@0.2_mean'] == pytest.approx(0.75)
    assert math.isnan(s.iloc[1]['AP_std'])  # one seed: no spread, not 0


def test_markdown_in_percent_with_dash_for_one_seed():
    text = format_summary(summarise_settings(table()))
    lines = text.splitlines()
    assert lines[0] == '| setting | seeds | AP (%) | PCK@0.2 (%) | jitter |'
    assert lines[2] == '| b | 2 | 20.0 ± 14.1 | 75.0 ± 7.1 | 0.1500 ± 0.0707 |'
    assert lines[3] == '| a | 1 | 0.0 | 60.0 | 0.3000 |'


def test_pck_at_0_1_in_percent_when_the_runs_report_it():
    rows = table().assign(**{'PCK@0.1': [0.30, 0.20, 0.40, math.nan]})
    lines = format_summary(summarise_settings(rows)).splitlines()
    assert lines[0] == '| setting | seeds | AP (%) | PCK@0.2 (%) | PCK@0.1 (%) | jitter |'
    assert lines[2] == '| b | 2 | 20.0 ± 14.1 | 75.0 ± 7.1 | 35.0 ± 7.1 | 0.1500 ± 0.0707 |'
