"""``kdkit bench``: targets, tables and files on hand-made numbers; the run's
pieces (options, step times, teacher lookup); one tiny end-to-end run of the
SimCC pair (RTMPose-s teacher, plain / kdkit KD / DWPoseDistiller students)."""
import json
import shlex

import pytest
import torch

from kdkit import bench
from kdkit.cli import build_parser, main


def row(pair, role, ap, **kw):
    return dict(label=f'{pair} {role}', pair=pair, role=role, AP=ap, **kw)


def hand_rows():
    rows = {
        'heatmap_teacher': row('heatmap', 'teacher', 0.50, ort_1t_ms=30.0),
        'heatmap_plain': row('heatmap', 'plain', 0.52, step_s=0.100, ort_1t_ms=10.0),
        'heatmap_kd': row('heatmap', 'kd', 0.53, step_s=0.105, teacher_cache=True,
                          ort_1t_ms=10.0),
        'simcc_teacher': row('simcc', 'teacher', 0.70, ort_1t_ms=40.0),
        'simcc_plain': row('simcc', 'plain', 0.60, step_s=0.2, ort_1t_ms=4.0),
        'simcc_kd': row('simcc', 'kd', 0.66, step_s=0.3, teacher_cache=False, ort_1t_ms=4.0),
        'simcc_dwpose': row('simcc', 'dwpose', 0.64, step_s=0.32, ort_1t_ms=4.0),
    }
    bench.add_ratios(rows)
    return rows


def by_name(targets):
    return {(t['target'], t['pair']): t for t in targets}


# ------------------------------------------------------------------ targets
def test_ratios_are_relative_to_the_plain_student_of_the_pair():
    rows = hand_rows()
    assert rows['heatmap_kd']['step_ratio'] == pytest.approx(1.05)
    assert rows['simcc_dwpose']['step_ratio'] == pytest.approx(1.6)
    assert rows['simcc_plain']['step_ratio'] == pytest.approx(1.0)
    assert 'step_ratio' not in rows['simcc_teacher']


def test_targets_on_hand_computed_cases():
    t = by_name(bench.check_targets(hand_rows()))
    gain = t[('KD gain over plain', 'simcc')]
    assert gain['value'] == pytest.approx(6.0) and gain['status'] == 'PASS'
    assert t[('KD gain over plain', 'heatmap')]['status'] == 'FAIL'  # +1.0 AP
    closed = t[('teacher-student gap closed', 'simcc')]
    assert closed['value'] == pytest.approx(0.6) and closed['status'] == 'PASS'
    # the heatmap teacher (0.50) is behind its plain student (0.52): not measurable
    assert t[('teacher-student gap closed', 'heatmap')]['status'] == 'n/a'
    step = t[('KD train step time vs plain (teacher cache)', 'heatmap')]
    assert step['value'] == pytest.approx(1.05) and step['status'] == 'PASS'
    # only a cached-teacher run is held to the step-time goal
    assert ('KD train step time vs plain (teacher cache)', 'simcc') not in t
    assert t[('student speed-up over teacher (ORT, 1 thread)', 'simcc')]['status'] == 'PASS'
    assert t[('student speed-up over teacher (ORT, 1 thread)', 'heatmap')]['value'] == 3.0
    over = t[('kdkit KD over DWPoseDistiller', 'simcc')]
    assert over['value'] == pytest.approx(2.0) and over['status'] == 'PASS'


def test_a_value_at_its_goal_passes_and_a_slow_cached_run_fails():
    rows = hand_rows()
    rows['simcc_kd']['AP'] = 0.63  # exactly +3 AP, 0.63 - 0.60 = 0.0299999...
    rows['heatmap_kd']['step_s'] = 0.12
    bench.add_ratios(rows)
    t = by_name(bench.check_targets(rows))
    assert t[('KD gain over plain', 'simcc')]['status'] == 'PASS'
    assert t[('KD train step time vs plain (teacher cache)', 'heatmap')]['status'] == 'FAIL'


def test_gap_closed():
    assert bench.gap_closed(0.8, 0.6, 0.7) == pytest.approx(0.5)
    assert bench.gap_closed(0.8, 0.6, 0.9) == pytest.approx(1.5)
    assert bench.gap_closed(0.6, 0.6, 0.7) is None
    # a gap of a point or more counts; under it the ratio is noise over noise
    assert bench.gap_closed(0.61, 0.60, 0.605) == pytest.approx(0.5)
    assert bench.gap_closed(0.60005, 0.6, 0.6002) is None


def test_pck_view_on_hand_computed_cases():
    rows = hand_rows()
    for key, pck in [('heatmap_teacher', 0.80), ('heatmap_plain', 0.70),
                     ('heatmap_kd', 0.725), ('simcc_teacher', 0.50), ('simcc_plain', 0.55),
                     ('simcc_kd', 0.60), ('simcc_dwpose', 0.62)]:
        rows[key]['PCK'] = pck
    view = {(v['comparison'], v['pair']): v['value'] for v in bench.pck_view(rows)}
    assert view[('KD gain over plain', 'heatmap')] == pytest.approx(2.5)
    assert view[('teacher-student gap closed', 'heatmap')] == pytest.approx(0.25)
    assert view[('KD gain over plain', 'simcc')] == pytest.approx(5.0)
    assert view[('teacher-student gap closed', 'simcc')] is None  # teacher behind
    assert view[('kdkit KD over DWPoseDistiller', 'simcc')] == pytest.approx(-2.0)
    md = bench.format_pck_view(bench.pck_view(rows))
    assert '| KD gain over plain | heatmap | +2.5 PCK |' in md
    assert '| teacher-student gap closed | heatmap | 0.25 |' in md
    assert '| kdkit KD over DWPoseDistiller | simcc | -2.0 PCK |' in md
    assert 'teacher not 1 point ahead' in md


def test_pck_view_skips_rows_without_pck():
    assert bench.pck_view(hand_rows()) == []


def test_targets_of_a_single_pair():
    rows = {k: v for k, v in hand_rows().items() if k.startswith('heatmap')}
    pairs = {t['pair'] for t in bench.check_targets(rows)}
    assert pairs == {'heatmap'}


# ------------------------------------------------------------------- report
def record_of(rows):
    return dict(profile='quick', seed=0, epochs=1, data_root='data/x', stamp='20260101_000000',
                started='2026-01-01 00:00:00', seconds=12.0, command='kdkit bench --profile quick',
                machine=dict(cpu='Test CPU', cores=2, torch_threads=1, platform='Linux',
                             torch='2', mmpose='1.3.2', onnxruntime='1', loadavg_before=1.0,
                             loadavg_after=2.0),
                rows=rows, targets=bench.check_targets(rows))


def test_markdown_table_and_targets():
    rows = hand_rows()
    rows['simcc_kd'].update(PCK=0.81234, jitter=None, params_M=2.95, GFLOPs=0.093)
    md = bench.format_markdown(record_of(rows))
    line = next(x for x in md.splitlines() if x.startswith('| simcc kd |'))
    cells = [c.strip() for c in line.strip('|').split('|')]
    assert cells[1:4] == ['66.0', '81.2', '–']  # AP x 100, PCK %, no jitter
    assert cells[7:9] == ['300', '1.50×']  # step ms, vs plain
    assert 'kdkit bench --profile quick' in md and 'Test CPU' in md
    assert '| KD gain over plain | simcc | +6.0 AP | ≥ +3.0 AP | PASS |' in md
    assert ('| KD train step time vs plain (teacher cache) | heatmap | 1.05x | ≤ 1.10x '
            '| PASS |') in md
    assert 'teacher not 1 point ahead of the plain student' in md


def test_results_are_written_atomically(tmp_path):
    paths = bench.write_results(record_of(hand_rows()), tmp_path / 'out')
    assert json.loads(paths['json'].read_text())['rows']['simcc_kd']['AP'] == 0.66
    assert paths['json'].name == 'quick_20260101_000000.json'
    assert paths['latest'].read_text() == paths['md'].read_text()
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == [
        'latest_quick.md', 'quick_20260101_000000.json', 'quick_20260101_000000.md']


def test_report_rechecks_the_targets_of_a_stored_record(tmp_path, capsys):
    rows = hand_rows()
    rows['simcc_teacher']['AP'] = 0.60005  # 0.005 AP points ahead: no gap to close
    record = record_of(rows)
    record['targets'] = [dict(record['targets'][0], status='STALE')]
    stored = bench.write_results(record, tmp_path / 'run')['json']
    assert main(['bench', '--report', str(stored), '--out', str(tmp_path / 'new')]) == 0
    new = json.loads((tmp_path / 'new' / stored.name).read_text())
    assert new['rows'] == json.loads(stored.read_text())['rows']
    t = by_name(new['targets'])
    assert 'STALE' not in {x['status'] for x in new['targets']}
    assert t[('teacher-student gap closed', 'simcc')]['status'] == 'n/a'
    assert 'Re-checked on' in (tmp_path / 'new' / 'latest_quick.md').read_text()
    assert '| KD gain over plain | simcc | +6.0 AP' in capsys.readouterr().out


def test_report_of_a_bad_file_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / 'x.json'
    bad.write_text('{"rows": ')
    assert main(['bench', '--report', str(bad), '--out', str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith('kdkit bench: error:') and 'x.json' in err and '\n' not in err


def test_the_recorded_command_parses_back_to_the_same_run():
    cmd = bench.format_command(profile='full', seed=3, epochs=2, data_root='data/x',
                               pairs=('simcc',), reuse=True, teacher='ckpt/t.pth',
                               cfg_options={'train_dataloader.num_workers': 0})
    args = build_parser().parse_args(shlex.split(cmd)[1:])
    assert (args.profile, args.seed, args.epochs, args.data_root) == ('full', 3, 2, 'data/x')
    assert args.pairs == ['simcc'] and args.reuse and args.teacher_epochs is None
    assert args.teacher == 'ckpt/t.pth'
    assert args.cfg_options == {'train_dataloader.num_workers': 0}


def test_unknown_pair_is_a_one_line_error(capsys):
    with pytest.raises(ValueError, match='--pairs'):
        bench.run_bench(pairs=('hm',), out=None)
    with pytest.raises(SystemExit):
        main(['bench', '--pairs', 'hm'])


# ------------------------------------------------------------------- pieces
def test_step_time_skips_warm_up():
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('kdkit-test-bench-steps')
    for t, d in ((5.0, 0.5), (1.1, 0.1), (2.2, 0.2), (3.3, 0.3)):
        hub.update_scalar('train/time', t)
        hub.update_scalar('train/data_time', d)
    assert bench.step_time(hub) == dict(step_s=pytest.approx(2.0), step_n=3)
    assert bench.summarise_steps([4.0], skip=1) == dict(step_s=4.0, step_n=1)
    with pytest.raises(ValueError, match='no training iterations'):
        bench.summarise_steps([])


@pytest.mark.parametrize('profile', ['quick', 'full'])
def test_kd_configs_have_the_distill_hook_where_the_bench_sets_the_teacher(profile):
    from kdkit.distill.cli import load_config
    from kdkit.distill.hook import hook_option
    for pair, cfgs in bench.pair_configs(profile).items():
        index = int(hook_option(cfgs['kd'], 'teacher').split('.')[1])
        hooks = load_config(cfgs['kd']).custom_hooks
        assert hooks[index]['type'] == 'DistillLossHook', cfgs['kd']
    dwpose = load_config(bench.pair_configs(profile)['simcc']['dwpose'])
    assert dwpose.model.type == 'DWPoseDistiller'


def test_student_options(tmp_path):
    from kdkit.distill.cli import load_config
    cfgs = bench.pair_configs('quick')
    ckpt = tmp_path / 'teacher.pth'
    ckpt.write_bytes(b'x')
    opts = bench.student_options(cfgs['heatmap']['kd'], 'kd', 'heatmap', ckpt, {'a.b': 1})
    hooks = load_config(cfgs['heatmap']['kd'], opts).custom_hooks
    assert hooks[1]['teacher']['checkpoint'] == str(ckpt)
    assert hooks[-1]['type'] == 'TeacherCacheHook' and opts['a.b'] == 1
    opts = bench.student_options(cfgs['simcc']['kd'], 'kd', 'simcc', ckpt, {})
    assert opts == {'custom_hooks.1.teacher.checkpoint': str(ckpt)}
    run = tmp_path / 'teacher_run'
    run.mkdir()
    (run / 'epoch_3.pth').write_bytes(b'x')
    (run / 'last_checkpoint').write_text(str(run / 'epoch_3.pth'))
    opts = bench.student_options(cfgs['simcc']['dwpose'], 'dwpose', 'simcc', run, {})
    assert opts == {'model.teacher_pretrained': str(run / 'epoch_3.pth')}
    assert bench.student_options(cfgs['simcc']['plain'], 'plain', 'simcc', run, {}) == {}


def test_find_teacher_reuses_a_trained_one_only(tmp_path):
    cfg = bench.pair_configs('quick')['simcc']['teacher']
    assert bench.find_teacher('simcc', 'quick', cfg, tmp_path, True) == (None, '')
    run = tmp_path / 'rtmpose-s_quick_kdkit-video-128x96'
    run.mkdir()
    (run / 'best_coco_AP_epoch_2.pth').write_bytes(b'x')
    assert bench.find_teacher('simcc', 'quick', cfg, tmp_path, True) == (
        run / 'best_coco_AP_epoch_2.pth', 'reused')


def test_find_teacher_takes_a_given_heatmap_teacher(tmp_path):
    cfgs = bench.pair_configs('full')
    given = tmp_path / 'teacher.pth'
    given.write_bytes(b'x')
    assert bench.find_teacher('heatmap', 'full', cfgs['heatmap']['teacher'], tmp_path,
                              True, str(given)) == (given, 'given')
    # --teacher names the heatmap pair's teacher, never the SimCC pair's
    assert bench.find_teacher('simcc', 'full', cfgs['simcc']['teacher'], tmp_path,
                              True, str(given)) == (None, '')


# -------------------------------------------------------------- end to end
@pytest.mark.slow
def test_tiny_simcc_bench_end_to_end(tiny_data, tmp_path, run_options):
    """One epoch of everything on tiny data: teacher trained here, three
    students, test metrics, ONNX latency, targets and the written files."""
    from kdkit.utils.checkpoint import read_state_dict
    opts = run_options(tiny_data, tmp_path)
    opts.pop('work_dir')
    record = bench.run_bench('quick', seed=0, epochs=1, teacher_epochs=1, out=str(tmp_path / 'out'),
                             data_root=str(tiny_data), work_dir=str(tmp_path / 'work'),
                             pairs=('simcc',), latency_warmup=1, latency_iters=2,
                             cfg_options=opts)
    rows = record['rows']
    assert list(rows) == ['simcc_teacher', 'simcc_plain', 'simcc_kd', 'simcc_dwpose']
    assert rows['simcc_teacher']['teacher_source'] == 'trained'
    for r in rows.values():
        assert 0.0 <= r['AP'] <= 1.0 and r['ort_1t_ms'] > 0 and r['GFLOPs'] > 0
    for key in ('simcc_plain', 'simcc_kd', 'simcc_dwpose'):
        assert rows[key]['step_s'] > 0 and rows[key]['step_ratio'] > 0
    assert rows['simcc_kd']['onnx_max_abs_diff'] < 1e-3
    assert rows['simcc_teacher']['GFLOPs'] > rows['simcc_kd']['GFLOPs']
    assert {t['target'] for t in record['targets']} >= {'kdkit KD over DWPoseDistiller'}
    assert all(t['status'] in ('PASS', 'FAIL', 'n/a') for t in record['targets'])

    md = (tmp_path / 'out' / 'latest_quick.md').read_text()
    assert record['command'] in md and 'RTMPose-t DWPoseDistiller' in md
    saved = json.loads(open(record['written']['json']).read())
    assert saved['machine']['cores'] >= 1 and saved['params']['pairs'] == ['simcc']

    # DWPoseDistiller trained against the trained teacher (teacher_pretrained
    # loaded): its frozen teacher weights are the teacher checkpoint's
    teacher = read_state_dict(rows['simcc_teacher']['checkpoint'])
    dw = read_state_dict(rows['simcc_dwpose']['checkpoint'])
    key = 'backbone.stem.0.conv.weight'
    assert torch.equal(dw[f'teacher.{key}'], teacher[key])


def test_complexity_takes_a_path_or_a_config():
    from kdkit.distill.cli import load_config
    path = 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'
    by_path = bench.complexity(path)
    assert bench.complexity(load_config(path)) == by_path
    assert 5.0 < by_path['params_M'] < 6.0 and 0.1 < by_path['GFLOPs'] < 0.3
