"""slider_view: range checks, nearest cached run, seed means, on-demand runs."""
import json
import math

import pytest

from kdkit.ablation.runner import load_results
from kdkit.notebook import sliders
from kdkit.notebook.sliders import slider_view

HM_CFG = 'configs/distill/kd-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'


def fake_run(out, rule, gt, kd, seed, ap, temperature=math.nan, schedule='constant',
             loss0=1.0):
    """One cached result file, as run_grid writes it."""
    label = f'{rule} gt={gt:g} kd={kd:g}'
    label += '' if math.isnan(temperature) else f' T={temperature:g}'
    if schedule != 'constant':
        label += f' {schedule}'
    key = f'{abs(hash((label, seed))):016x}'[:16]
    record = dict(key=key, seed=seed, epochs=1, status='ok', wall_s=1.0,
                  setting={}, resolved=dict(rule=rule, gt_weight=gt, kd_weight=kd,
                                            temperature=temperature, schedule=schedule,
                                            label=label),
                  metrics={'AP': ap, 'PCK@0.2': ap + 0.1, 'jitter': 0.01, 'excess_jitter': 0.0},
                  losses={'loss': loss0 / 3},
                  curve={'iter': [1, 2, 3], 'loss': [loss0, loss0 / 2, loss0 / 3],
                         'loss_gt': [loss0 / 2] * 3})
    path = out / 'results' / f'{key}.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


@pytest.fixture
def cache_dir(tmp_path):
    for seed, ap in ((0, 0.40), (1, 0.50)):
        fake_run(tmp_path, 'weighted_sum', 1.0, 1.0, seed, ap, loss0=2.0 + seed)
    fake_run(tmp_path, 'weighted_sum', 1.0, 4.0, 0, 0.30)
    fake_run(tmp_path, 'uncertainty', 1.0, 1.0, 0, 0.60)
    fake_run(tmp_path, 'weighted_sum', 0.5, 1.0, 0, 0.20, schedule='cosine')
    return tmp_path


def test_exact_match_averages_seeds(cache_dir):
    view = slider_view(1.0, 1.0, 1.0, 'constant', cache_dir)
    assert view['message'].startswith('exact match: weighted_sum gt=1 kd=1')
    assert 'T=1 has no effect' in view['message']  # MSE runs: no temperature
    m = view['metrics']
    assert m['n_seeds'] == 2 and m['AP'] == pytest.approx(0.45)
    assert m['AP_std'] == pytest.approx(math.sqrt(0.005))
    assert list(view['curve']['loss']) == pytest.approx([2.5, 1.25, 2.5 / 3])
    assert view['setting']['rule'] == 'weighted_sum'


def test_nearest_setting_rule_and_schedule(cache_dir):
    table = load_results(cache_dir)
    view = slider_view(1.0, 3.5, 1.0, 'constant', table)
    assert view['setting']['kd_weight'] == 4.0 and view['distance'] == pytest.approx(0.1)
    assert view['message'].startswith('nearest cached run: weighted_sum gt=1 kd=4, distance 0.10')
    assert slider_view(1.0, 1.0, 1.0, 'constant', table, rule='uncertainty')['metrics']['AP'] == 0.6
    assert slider_view(0.6, 1.0, 1.0, 'cosine', table)['setting']['schedule'] == 'cosine'


def test_temperature_picks_kl_runs_when_there_are_some(tmp_path):
    fake_run(tmp_path, 'weighted_sum', 1.0, 1.0, 0, 0.1, temperature=0.1)
    fake_run(tmp_path, 'weighted_sum', 1.0, 1.0, 0, 0.2, temperature=1.0)
    fake_run(tmp_path, 'weighted_sum', 1.0, 1.0, 0, 0.3)  # MSE
    assert slider_view(1, 1, 0.12, 'constant', tmp_path)['metrics']['AP'] == 0.1
    assert slider_view(1, 1, 0.9, 'constant', tmp_path)['metrics']['AP'] == 0.2


@pytest.mark.parametrize('args,match', [
    ((2.5, 1, 1, 'constant'),
     r'^gt_weight=2.5 out of range: the gt_weight slider allows \[0, 2\]$'),
    ((1, -0.1, 1, 'constant'), r'^kd_weight=-0.1 out of range: .* allows \[0, 5\]$'),
    ((1, 1, 0.01, 'constant'), r'^temperature=0.01 out of range: .* allows \[0.05, 5\]$'),
    ((1, 1, 'hot', 'constant'), r"^temperature='hot' out of range"),
    ((1, 1, 1, 'exp'), r"^schedule='exp' unknown: the schedule dropdown allows \['constant'"),
])
def test_out_of_range_values_give_one_line(cache_dir, args, match):
    with pytest.raises(ValueError, match=match):
        slider_view(*args, cache_dir)


def test_empty_cache_and_unknown_rule(tmp_path, cache_dir):
    with pytest.raises(FileNotFoundError, match='no ablation results'):
        slider_view(1, 1, 1, 'constant', tmp_path / 'nothing')
    with pytest.raises(LookupError, match="for rule 'confidence_gating'.*run_on_demand"):
        slider_view(1, 1, 1, 'constant', cache_dir, rule='confidence_gating')


def test_run_on_demand_trains_the_missing_setting(cache_dir, monkeypatch):
    calls = []

    def fake_run_grid(base_config, grid, seeds, progress, **kw):
        calls.append((base_config, grid, seeds))
        fake_run(cache_dir, 'weighted_sum', 1.5, 2.0, 0, 0.7)
        table = load_results(cache_dir)
        return table[table['gt_weight'] == 1.5]
    import kdkit.ablation.runner as runner
    monkeypatch.setattr(runner, 'run_grid', fake_run_grid)
    view = slider_view(1.5, 2.0, 1.0, 'constant', cache_dir, run_on_demand=True,
                       base_config=HM_CFG,
                       seeds=[0], epochs=1)
    assert view['message'].startswith('exact match: weighted_sum gt=1.5 kd=2')
    (_, grid, seeds), = calls
    # the base config's MSE term takes no temperature, so none is set
    assert grid == [dict(gt_weight=1.5, kd_weight=2.0, schedule='constant')] and seeds == [0]
    # an exact cached match trains nothing
    slider_view(1.0, 1.0, 1.0, 'constant', cache_dir, run_on_demand=True, base_config='x')
    assert len(calls) == 1


def test_panel_builds_widgets(cache_dir):
    import ipywidgets as w
    panel = sliders.make_panel(cache_dir)
    assert isinstance(panel, w.VBox)
    found = {type(c).__name__ for box in panel.children[:2] for c in box.children}
    assert {'FloatSlider', 'FloatLogSlider', 'Dropdown'} <= found
    rule = panel.children[2]
    assert list(rule.options) == ['any', 'uncertainty', 'weighted_sum']
    image = panel.children[-1]  # the nearest run's curve, drawn at once
    assert isinstance(image, w.Image) and image.value[:4] == b'\x89PNG'
    before = image.value
    panel.children[0].children[1].value = 4.0  # kd weight: another nearest run
    assert image.value != before


def test_view_is_drawn_with_metrics_caption(cache_dir):
    import matplotlib
    matplotlib.use('Agg')
    from kdkit.notebook.sliders import draw_view
    ax = draw_view(slider_view(1.0, 1.0, 1.0, 'constant', cache_dir))
    assert {line.get_label() for line in ax.lines} == {'loss', 'loss_gt'}
    caption = ax.texts[-1].get_text()
    assert 'AP=0.450±0.071' in caption and '(seeds: 2)' in caption
