"""Ablation grids: setting resolution and config translation (fast), and a real
two-setting grid on the quick-profile config with tiny data (cached on rerun)."""
import json
import math

import pytest

from kdkit.ablation import expand_grid, resolve_setting, run_grid
from kdkit.ablation import runner as ablation_runner
from kdkit.ablation.settings import apply_setting, base_spec
from kdkit.distill.cli import load_config

HM_CFG = 'configs/distill/kd-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'


@pytest.fixture(scope='module')
def base():
    return base_spec(load_config(HM_CFG))


# ------------------------------------------------------------------- grids
def test_dict_grid_is_crossed_and_list_grid_kept():
    grid = expand_grid(dict(rule=['weighted_sum', 'uncertainty'], kd_weight=[0.5, 1.0, 2.0],
                            schedule='cosine'))
    assert len(grid) == 6 and all(s['schedule'] == 'cosine' for s in grid)
    assert {(s['rule'], s['kd_weight']) for s in grid} == {
        (r, w) for r in ('weighted_sum', 'uncertainty') for w in (0.5, 1.0, 2.0)}
    assert expand_grid([dict(gt_weight=0.5), {}]) == [dict(gt_weight=0.5), {}]


@pytest.mark.parametrize('grid,match', [
    ([dict(kd_wieght=1.0)], "grid setting 0: unknown key 'kd_wieght'"),
    ([dict(rule='weighted_sum', synthesis=dict(type='WeightedSum'))], "'rule' or 'synthesis'"),
    ([], 'grid: no settings'),
    ('weighted_sum', 'grid: expected a list of settings or a dict of lists'),
])
def test_bad_grids_are_named(grid, match):
    with pytest.raises(ValueError, match=match):
        expand_grid(grid)


# -------------------------------------------------------------- resolution
def test_weights_rule_and_schedule_resolve(base):
    r = resolve_setting(dict(rule='weighted_sum', gt_weight=0.5, kd_weight=2.0,
                             schedule='linear'), base)
    assert r['weights'] == {'gt': 0.5, 'kd_heatmap': 2.0}
    assert r['schedules'] == {'kd_heatmap': dict(type='linear', start=2.0, end=0.0)}
    assert r['route'] == 'hook' and r['label'] == 'weighted_sum gt=0.5 kd=2 linear'
    assert math.isnan(r['temperature'])


def test_uncertainty_needs_the_wrapper_route(base):
    r = resolve_setting(dict(rule='uncertainty'), base)
    assert r['route'] == 'wrapper'
    assert r['synthesis'] == dict(type='UncertaintyWeighting', terms=['gt', 'kd_heatmap'])
    gating = resolve_setting(dict(rule='confidence_gating'), base)['synthesis']
    assert gating == dict(type='ConfidenceGating', kind='heatmap')


def test_temperature_goes_to_kl_terms_only(base):
    kl = dict(kd_heatmap=dict(type='HeatmapKLDistillLoss'))
    r = resolve_setting(dict(terms=kl, temperature=0.2), base)
    assert r['terms']['kd_heatmap'] == dict(type='HeatmapKLDistillLoss', temperature=0.2)
    assert r['temperature'] == 0.2
    assert r['label'] == 'weighted_sum gt=1 kd=1 T=0.2 [kd_heatmap=HeatmapKL]'
    with pytest.raises(ValueError, match=r'grid setting 3: temperature=0.2 but no term takes one '
                                         r'\(kd_heatmap=HeatmapMSEDistillLoss\)'):
        resolve_setting(dict(temperature=0.2), base, 3)


@pytest.mark.parametrize('setting,match', [
    (dict(rule='softmax'), "rule='softmax'; expected one of"),
    (dict(kd_weight=-1.0), "weight of term 'kd_heatmap' is -1.0"),
    (dict(weights=dict(kd_feat=1.0)), r"weights for unknown terms \['kd_feat'\]"),
    (dict(schedule='exponential'), "schedule: 'exponential' is not one of"),
    (dict(terms=dict(kd_heatmap=dict(type='HeatmapKLDistillLoss')), temperature=0),
     'temperature=0; expected a number > 0'),
])
def test_bad_settings_are_named(base, setting, match):
    with pytest.raises(ValueError, match=match):
        resolve_setting(setting, base)


def test_hook_config_is_translated_into_the_wrapper(base):
    cfg = load_config(HM_CFG)
    r = resolve_setting(dict(rule='uncertainty', schedule='cosine'), base)
    apply_setting(cfg, r, base['teacher'])
    assert cfg.model.type == 'KDPoseEstimator'
    assert cfg.model.distill.synthesis.type == 'UncertaintyWeighting'
    assert cfg.model.teacher == base['teacher']
    assert cfg.model.backbone.type == 'MobileNetV2'  # still the student
    types = [h['type'] for h in cfg.custom_hooks]
    assert 'DistillLossHook' not in types and types[-1] == 'WeightScheduleHook'

    cfg = load_config(HM_CFG)
    apply_setting(cfg, resolve_setting(dict(kd_weight=3.0), base), base['teacher'])
    assert cfg.custom_hooks[1]['type'] == 'DistillLossHook'
    assert cfg.custom_hooks[1]['weights'] == {'gt': 1.0, 'kd_heatmap': 3.0}
    assert cfg.model.type == 'TopdownPoseEstimator'


# ------------------------------------------------------------- real grid
def tiny_options(run_options, tiny_data, tmp_path):
    """Two iterations of 2 frames (a schedule has two points), a quick validation."""
    opts = run_options(tiny_data, tmp_path / 'unused', n_train=4, batch_size=2)
    opts.pop('work_dir')
    opts['model.test_cfg.flip_test'] = False
    return opts


def test_grid_runs_caches_and_reuses(tiny_data, teacher_ckpt, tmp_path, run_options,
                                     monkeypatch):
    grid = [dict(rule='weighted_sum', schedule='linear'), dict(rule='uncertainty')]
    kwargs = dict(seeds=[0], epochs=1, out_dir=tmp_path / 'abl', teacher_checkpoint=teacher_ckpt,
                  cfg_options=tiny_options(run_options, tiny_data, tmp_path), on_error='raise',
                  progress=False)
    table = run_grid(HM_CFG, grid, **kwargs)

    assert len(table) == 2 and list(table['status']) == ['ok', 'ok']
    assert list(table['rule']) == ['weighted_sum', 'uncertainty']
    assert not table['cached'].any()
    for col in ('AP', 'PCK@0.2', 'PCK@0.1', 'jitter', 'loss', 'loss_gt', 'loss_kd_heatmap',
                'wall_s'):
        assert table[col].notna().all(), col
    assert 0 <= table['PCK@0.1'].max() <= table['PCK@0.2'].max() <= 1
    assert (table['PCK@0.1'] <= table['PCK@0.2']).all()
    record = json.loads(open(table['result_file'][0]).read())
    # the linear schedule's hook moved the weight 1 -> 0 over the 2 iterations
    assert record['curve']['w_kd_heatmap'] == pytest.approx([1.0, 0.0])
    assert 'sigma_gt' not in record['curve']  # logged, but not a loss or weight
    assert (tmp_path / 'abl' / 'results.csv').is_file()

    def no_training(*args, **kw):
        raise AssertionError('a cached run was trained again')
    monkeypatch.setattr(ablation_runner, 'run_job', no_training)
    again = run_grid(HM_CFG, grid, **kwargs)
    assert again['cached'].all()
    assert list(again['AP']) == list(table['AP']) and list(again['key']) == list(table['key'])
    # another budget is another run
    with pytest.raises(AssertionError, match='trained again'):
        run_grid(HM_CFG, grid[:1], **dict(kwargs, epochs=2))


def test_failed_run_is_recorded_not_cached(tiny_data, teacher_ckpt, tmp_path, run_options,
                                           monkeypatch):
    import kdkit.distill.cli as dcli

    def broken(cfg, *a, **k):
        raise FloatingPointError("loss term 'kd_heatmap' is nan at distillation step 3")
    monkeypatch.setattr(dcli, 'build_runner', broken)
    table = run_grid(HM_CFG, [dict(kd_weight=5.0)], seeds=[1], epochs=1, out_dir=tmp_path / 'a',
                     teacher_checkpoint=teacher_ckpt, progress=False,
                     cfg_options=tiny_options(run_options, tiny_data, tmp_path))
    assert table['status'][0].startswith("failed: FloatingPointError: loss term 'kd_heatmap'")
    assert not list((tmp_path / 'a' / 'results').glob('*.json'))


def test_bad_arguments_fail_before_training(tmp_path):
    with pytest.raises(ValueError, match='seeds: expected a non-empty list of ints'):
        run_grid(HM_CFG, [{}], seeds=[], out_dir=tmp_path)
    with pytest.raises(ValueError, match='epochs: expected an int >= 1'):
        run_grid(HM_CFG, [{}], epochs=0, out_dir=tmp_path)
    with pytest.raises(ValueError, match='grid setting 1: unknown key'):
        run_grid(HM_CFG, [{}, dict(gt=1)], out_dir=tmp_path)
