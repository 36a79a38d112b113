"""``kdkit bench``: targets, tables and files on hand-made numbers (mean ± sd
over seeds, "inconclusive", the refusal of a pair whose teacher is not ahead);
the run's orchestration with the training replaced by hand-made results; the
run's pieces (options, step times, teacher lookup); stored records re-checked;
one tiny end-to-end run of the SimCC pair (stride-16 RTMPose-s teacher, plain /
kdkit KD / DWPoseDistiller students, two seeds, two jobs at a time)."""
import json
import shlex
import statistics
from pathlib import Path

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
    assert '| KD gain over plain | heatmap | +2.5 PCK | – |' in md  # no PCK@0.1 measured
    assert '| teacher-student gap closed | heatmap | 0.25 | – |' in md
    assert '| kdkit KD over DWPoseDistiller | simcc | -2.0 PCK | – |' in md
    assert 'teacher not 1 point ahead' in md


def test_pck_view_repeats_the_comparisons_on_pck_at_0_1():
    rows = hand_rows()
    for key, pck, strict in [('heatmap_teacher', 0.80, 0.60), ('heatmap_plain', 0.70, 0.30),
                             ('heatmap_kd', 0.725, 0.40), ('simcc_teacher', 0.50, 0.20),
                             ('simcc_plain', 0.55, 0.202), ('simcc_kd', 0.60, 0.25),
                             ('simcc_dwpose', 0.62, 0.21)]:
        rows[key].update({'PCK': pck, 'PCK@0.1': strict})
    view = {(v['comparison'], v['pair']): v for v in bench.pck_view(rows)}
    heat = view[('teacher-student gap closed', 'heatmap')]
    assert heat['value'] == pytest.approx(0.25) and heat['strict'] == pytest.approx(0.1 / 0.3)
    assert view[('KD gain over plain', 'simcc')]['strict'] == pytest.approx(4.8)
    # the SimCC teacher is behind at PCK@0.2 and 0.2 points behind at PCK@0.1
    assert view[('teacher-student gap closed', 'simcc')]['strict'] is None
    md = bench.format_pck_view(list(view.values()))
    assert '| KD gain over plain | heatmap | +2.5 PCK | +10.0 PCK |' in md
    assert '| teacher-student gap closed | heatmap | 0.25 | 0.33 |' in md
    assert ('| teacher-student gap closed | simcc | – (teacher not 1 point ahead of the plain '
            'student) | – (teacher not 1 point ahead of the plain student) |') in md


def test_epochs_of_trained_and_reused_teachers_are_described():
    rows = hand_rows()
    rows['simcc_teacher'].update(epochs=30, checkpoint_epoch=20, teacher_source='trained',
                                 checkpoint='a.pth')
    rows['heatmap_teacher'].update(checkpoint_epoch=21, teacher_source='reused',
                                   checkpoint='b.pth')
    text = bench.describe_epochs(dict(rows=rows, epochs=None))
    assert 'simcc teacher 30 epochs, checkpoint of epoch 20 (trained)' in text
    assert 'heatmap teacher checkpoint of epoch 21 (reused)' in text


def test_the_floor_is_the_first_row_of_the_table():
    floor = {'label': 'mean pose (floor)', 'AP': None, 'PCK': 0.855, 'PCK@0.1': 0.274,
             'jitter': 0.0173, 'excess_jitter': 0.0108}
    lines = bench.format_table(hand_rows(), floor).splitlines()
    assert lines[2] == ('| – | mean pose (floor) | – | – | 85.5 | 27.4 | 0.0173 | 0.0108 | – | – '
                        '| – | – | – | – |')
    assert lines[3].startswith('| heatmap | heatmap teacher |')
    assert bench.format_table(hand_rows()).splitlines()[2].startswith('| heatmap |')


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
    line = next(x for x in md.splitlines() if x.startswith('| simcc | simcc kd |'))
    cells = [c.strip() for c in line.strip('|').split('|')]
    assert cells[3:7] == ['66.0', '81.2', '–', '–']  # AP x 100, PCK@0.2 %, no PCK@0.1, jitter
    assert cells[10:12] == ['300', '1.50×']  # step ms, vs plain
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
    cmd = bench.format_command(profile='full', seeds=(3, 4), epochs=2, data_root='data/x',
                               pairs=('simcc',), reuse=True, teacher='ckpt/t.pth',
                               cfg_options={'train_dataloader.num_workers': 0}, jobs=4,
                               min_teacher_lead=2.5, pair_teachers={'simcc': 'w/s16'})
    args = build_parser().parse_args(shlex.split(cmd)[1:])
    assert (args.profile, args.seeds, args.epochs, args.data_root) == ('full', [3, 4], 2, 'data/x')
    assert args.pairs == ['simcc'] and args.reuse and args.teacher_epochs is None
    assert args.teacher == 'ckpt/t.pth' and args.jobs == 4 and args.min_teacher_lead == 2.5
    assert args.cfg_options == {'train_dataloader.num_workers': 0}
    assert bench.parse_pair_teachers(args.pair_teacher) == {'simcc': 'w/s16'}
    assert not args.allow_weak_teacher and args.seed is None
    args = build_parser().parse_args(shlex.split(bench.format_command(min_teacher_lead=None))[1:])
    assert args.allow_weak_teacher and args.seeds == [0] and args.jobs == 1
    # an earlier record's command (--seed) still parses
    assert build_parser().parse_args(['bench', '--seed', '2']).seed == 2


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
    cfgs = bench.pair_configs(profile)
    assert list(cfgs) == list(bench.PAIRS)
    for pair, roles in cfgs.items():
        for role in set(roles) & {'kd', 'skd', 'tkd'}:
            index = int(hook_option(roles[role], 'teacher').split('.')[1])
            hooks = load_config(roles[role]).custom_hooks
            assert hooks[index]['type'] == 'DistillLossHook', roles[role]
    assert 'kd_temporal' in load_config(cfgs['temporal']['tkd']).custom_hooks[1]['weights']
    dwpose = load_config(cfgs['simcc']['dwpose'])
    assert dwpose.model.type == 'DWPoseDistiller'
    assert 'rtmpose-s-s16' in dwpose.model.teacher_cfg
    assert 'rtmpose-s-s16' in cfgs['simcc']['teacher']
    assert 'res50' in cfgs['speed8x']['teacher'] and 'from-res50' in cfgs['speed8x']['kd']
    # every MODELS row names a role of its pair
    assert {(p, r) for _, p, r, _ in bench.MODELS} == {(p, r) for p in cfgs for r in cfgs[p]}


def test_student_options(tmp_path):
    from kdkit.distill.cli import load_config
    cfgs = bench.pair_configs('quick')
    ckpt = tmp_path / 'teacher.pth'
    ckpt.write_bytes(b'x')
    opts = bench.student_options(cfgs['heatmap']['kd'], 'kd', 'heatmap', ckpt, {'a.b': 1},
                                 'configs/teacher/t.py')
    hooks = load_config(cfgs['heatmap']['kd'], opts).custom_hooks
    assert hooks[1]['teacher']['checkpoint'] == str(ckpt)
    assert hooks[1]['teacher']['config'] == 'configs/teacher/t.py'
    assert hooks[-1]['type'] == 'TeacherCacheHook' and opts['a.b'] == 1
    opts = bench.student_options(cfgs['simcc']['kd'], 'kd', 'simcc', ckpt, {})
    assert opts == {'custom_hooks.1.teacher.checkpoint': str(ckpt)}
    # the temporal pair: frame KD is its config with the motion term off, same batches
    frame = bench.student_options(cfgs['temporal']['kd'], 'kd', 'temporal', ckpt, {})
    both = bench.student_options(cfgs['temporal']['tkd'], 'tkd', 'temporal', ckpt, {})
    assert load_config(cfgs['temporal']['kd'], frame).custom_hooks[1]['weights'] == dict(
        gt=1.0, kd_heatmap=1.0, kd_temporal=0.0)
    assert both == {'custom_hooks.1.teacher.checkpoint': str(ckpt)}
    # the sharp-target ablation: the same term with its fit along the clip off
    sharp = bench.student_options(cfgs['temporal']['skd'], 'skd', 'temporal', ckpt, {})
    term = load_config(cfgs['temporal']['skd'], sharp).custom_hooks[1]['terms']['kd_temporal']
    assert term['type'] == 'TemporalSmoothedHeatmapDistillLoss' and term['degree'] is None
    tkd_term = load_config(cfgs['temporal']['tkd'], both).custom_hooks[1]['terms']['kd_temporal']
    assert tkd_term['degree'] is not None
    names = {bench.run_dir_name(cfgs['temporal'][r], 'temporal', r, 1) for r in ('kd', 'skd', 'tkd')}
    assert len(names) == 3
    run = tmp_path / 'teacher_run'
    run.mkdir()
    (run / 'epoch_3.pth').write_bytes(b'x')
    (run / 'last_checkpoint').write_text(str(run / 'epoch_3.pth'))
    opts = bench.student_options(cfgs['simcc']['dwpose'], 'dwpose', 'simcc', run, {})
    assert opts == {'model.teacher_pretrained': str(run / 'epoch_3.pth')}
    assert bench.student_options(cfgs['simcc']['plain'], 'plain', 'simcc', run, {}) == {}


def test_find_teacher_reuses_a_trained_one_only(tmp_path):
    cfg = bench.pair_configs('quick')['simcc']['teacher']
    assert bench.find_teacher('simcc', 'quick', cfg, tmp_path, True) == (None, '', cfg)
    run = tmp_path / 'rtmpose-s-s16_quick_kdkit-video-128x96'
    run.mkdir()
    (run / 'best_coco_AP_epoch_2.pth').write_bytes(b'x')
    assert bench.find_teacher('simcc', 'quick', cfg, tmp_path, True) == (
        run / 'best_coco_AP_epoch_2.pth', 'reused', cfg)


def test_find_teacher_of_the_resnet18_pairs(tmp_path):
    from kdkit.demo import SHIPPED_TEACHER, SHIPPED_TEACHER_CONFIG
    from kdkit.utils import repo_root
    cfgs = bench.pair_configs('full')
    given = tmp_path / 'teacher.pth'
    given.write_bytes(b'x')
    for pair in ('heatmap', 'hm2simcc', 'temporal'):
        cfg = cfgs[pair]['teacher']
        assert bench.find_teacher(pair, 'full', cfg, tmp_path, True, str(given)) == (
            given, 'given', cfg)
        # the shipped teacher on the default data of either profile
        assert bench.find_teacher(pair, 'full', cfg, tmp_path, True) == (
            repo_root() / SHIPPED_TEACHER, 'shipped', SHIPPED_TEACHER_CONFIG)
        # other data: reuse one trained there, else train
        assert bench.find_teacher(pair, 'full', cfg, tmp_path, False) == (None, '', cfg)
    # --teacher-checkpoint names the ResNet-18 pairs' teacher, never another pair's
    for pair in ('simcc', 'speed8x'):
        assert bench.find_teacher(pair, 'full', cfgs[pair]['teacher'], tmp_path, True,
                                  str(given)) == (None, '', cfgs[pair]['teacher'])
    # --pair-teacher PAIR=... names any pair's own teacher, before anything else
    for pair in ('simcc', 'heatmap'):
        assert bench.find_teacher(pair, 'full', cfgs[pair]['teacher'], tmp_path, True,
                                  None, str(given)) == (given, 'given', cfgs[pair]['teacher'])


def test_pair_teacher_options_are_checked_in_one_line(capsys):
    assert bench.parse_pair_teachers(['simcc=a/b.pth', 'speed8x=w']) == {
        'simcc': 'a/b.pth', 'speed8x': 'w'}
    for bad in ('simcc', 'nope=x.pth', 'simcc='):
        with pytest.raises(ValueError, match='--pair-teacher: expected PAIR=CHECKPOINT'):
            bench.parse_pair_teachers([bad])
    assert main(['bench', '--pairs', 'heatmap', '--pair-teacher', 'simcc=x.pth']) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("kdkit bench: error: --pair-teacher: ['simcc'] not among the pairs")
    assert len(err.splitlines()) == 1


# --------------------------------------------------- seeds, sd, inconclusive
def runs(values, key='AP', **kw):
    return [dict(seed=s, **{key: v}, checkpoint=f'c{s}', **kw) for s, v in enumerate(values)]


def seeded(pair, role, key, values, **kw):
    r = dict(label=f'{pair} {role}', pair=pair, role=role, runs=runs(values, key), **kw)
    r.update(bench.summarise_runs(r['runs']))
    return r


def test_mean_and_sd_over_seeds_on_hand_made_numbers():
    r = bench.summarise_runs(runs([0.60, 0.62, 0.67]) + [dict(seed=3, error='boom')])
    assert r['AP'] == pytest.approx(0.63)
    assert r['sd']['AP'] == pytest.approx(0.0360555, abs=1e-6)  # sample sd (n - 1)
    assert r['PCK'] is None and r['sd']['PCK'] is None  # measured by no run
    assert r['checkpoint'] == 'c0' and r['checkpoints'] == ['c0', 'c1', 'c2']  # not the failed
    one = bench.summarise_runs(runs([0.5]))
    assert one['AP'] == 0.5 and one['sd']['AP'] is None  # one seed: no spread made up
    assert bench.mean_sd([None, 2.0, 4.0]) == (3.0, pytest.approx(2 ** 0.5))


def test_gains_come_from_the_means_with_the_sd_of_the_paired_differences():
    p = seeded('simcc', 'plain', 'AP', [0.60, 0.59, 0.58])
    k = seeded('simcc', 'kd', 'AP', [0.64, 0.60, 0.62])   # seed by seed: +4, +1, +4
    t = dict(label='t', pair='simcc', role='teacher', AP=0.70)  # one model, every seed
    value, spread = bench.gain(k, p, 'AP')
    assert value == pytest.approx(3.0) and spread == pytest.approx(3 ** 0.5)
    value, spread = bench.closed(t, p, k, 'AP')  # (0.62 - 0.59) / (0.70 - 0.59)
    assert value == pytest.approx(0.03 / 0.11)
    per_seed = [0.04 / 0.10, 0.01 / 0.11, 0.04 / 0.12]
    assert spread == pytest.approx(statistics.stdev(per_seed))
    # only the seeds both rows ran are paired
    k['runs'][1] = dict(seed=1, error='boom')
    k.update(bench.summarise_runs(k['runs']))
    assert bench.paired('AP', k, p) == [(0.64, 0.60), (0.62, 0.58)]


def test_a_target_within_one_sd_of_its_goal_is_inconclusive():
    rows = {'simcc_teacher': dict(label='t', pair='simcc', role='teacher', AP=0.70),
            'simcc_plain': seeded('simcc', 'plain', 'AP', [0.60, 0.59, 0.58]),
            'simcc_kd': seeded('simcc', 'kd', 'AP', [0.64, 0.60, 0.62])}
    t = by_name(bench.check_targets(rows))
    gain = t[('KD gain over plain', 'simcc')]
    assert gain['value'] == pytest.approx(3.0) and gain['status'] == 'inconclusive'
    assert gain['sd'] == pytest.approx(3 ** 0.5)
    # +5.0 ± 0.2: more than one sd above the goal of +3
    rows['simcc_kd'] = seeded('simcc', 'kd', 'AP', [0.65, 0.642, 0.628])
    t = by_name(bench.check_targets(rows))
    assert t[('KD gain over plain', 'simcc')]['status'] == 'PASS'
    # +1.0 ± 0.2: more than one sd below it
    rows['simcc_kd'] = seeded('simcc', 'kd', 'AP', [0.61, 0.602, 0.588])
    assert by_name(bench.check_targets(rows))[('KD gain over plain', 'simcc')]['status'] == 'FAIL'
    # the rule itself, both directions, and a measurement without sd (one seed)
    assert bench._target('x', 'p', 2.5, 3.0, spread=0.6)['status'] == 'inconclusive'
    assert bench._target('x', 'p', 2.5, 3.0, spread=0.4)['status'] == 'FAIL'
    assert bench._target('x', 'p', 1.15, 1.10, higher=False, spread=0.1)['status'] == 'inconclusive'
    assert bench._target('x', 'p', 1.15, 1.10, higher=False, spread=0.01)['status'] == 'FAIL'
    assert bench._target('x', 'p', 2.99, 3.0)['status'] == 'FAIL'
    md = bench.format_targets(bench.check_targets(rows))
    assert '| KD gain over plain | simcc | +1.0 ± 0.2 AP | ≥ +3.0 AP | FAIL |' in md



def test_temporal_targets_jitter_ratio_and_pck_not_lower():
    plain = seeded('temporal', 'plain', 'jitter', [0.10, 0.08, 0.12], PCK=0.80)
    tkd = seeded('temporal', 'tkd', 'jitter', [0.06, 0.05, 0.07], PCK=0.81)
    for r, pcks in ((plain, [0.80, 0.79, 0.81]), (tkd, [0.81, 0.80, 0.82])):
        for run, v in zip(r['runs'], pcks):
            run['PCK'] = v
        r.update(bench.summarise_runs(r['runs']))
    t = by_name(bench.check_targets({'temporal_plain': plain, 'temporal_tkd': tkd}))
    ratio = t[('temporal KD jitter vs plain', 'temporal')]
    assert ratio['value'] == pytest.approx(0.06 / 0.10)     # from the means
    assert ratio['sd'] == pytest.approx(statistics.stdev([0.6, 0.625, 0.07 / 0.12]))
    assert ratio['status'] == 'PASS'
    pck = t[('temporal KD PCK@0.2 gain over plain', 'temporal')]
    assert pck['value'] == pytest.approx(1.0) and pck['status'] == 'PASS'  # +1.0 ± 0.0
    # smoother only by being worse: the PCK target fails; near 0.7 is inconclusive
    tkd['runs'] = [dict(r, PCK=r['PCK'] - 0.05, jitter=r['jitter'] * 1.15) for r in tkd['runs']]
    tkd.update(bench.summarise_runs(tkd['runs']))
    t = by_name(bench.check_targets({'temporal_plain': plain, 'temporal_tkd': tkd}))
    assert t[('temporal KD PCK@0.2 gain over plain', 'temporal')]['status'] == 'FAIL'
    assert t[('temporal KD jitter vs plain', 'temporal')]['status'] == 'inconclusive'
    md = bench.format_targets(bench.check_targets({'temporal_plain': plain, 'temporal_tkd': tkd}))
    assert '| temporal KD jitter vs plain | temporal | 0.69 ± 0.02x | ≤ 0.70x | inconclusive |' in md

def test_step_ratio_over_seeds():
    plain = seeded('heatmap', 'plain', 'step_s', [0.10, 0.20])
    kd = seeded('heatmap', 'kd', 'step_s', [0.11, 0.20], teacher_cache=True)
    rows = {'heatmap_plain': plain, 'heatmap_kd': kd}
    bench.add_ratios(rows)
    assert kd['step_ratio'] == pytest.approx(0.155 / 0.15)  # from the means
    assert kd['sd']['step_ratio'] == pytest.approx(statistics.stdev([1.1, 1.0]))
    t = by_name(bench.check_targets(rows))[('KD train step time vs plain (teacher cache)',
                                            'heatmap')]
    assert t['status'] == 'inconclusive'  # 1.03 ± 0.07 against <= 1.10


# ------------------------------------------------------------ the refusal
def lead_rows(teacher_pck, plain_pcks):
    return {'speed8x_teacher': dict(label='ResNet-50 teacher', pair='speed8x', role='teacher',
                                    AP=0.1, PCK=teacher_pck),
            'speed8x_plain': seeded('speed8x', 'plain', 'PCK', plain_pcks, AP=0.0)}


def test_a_pair_whose_teacher_is_not_ahead_is_refused():
    line = bench.refusal('speed8x', lead_rows(0.80, [0.77, 0.76, 0.78]))  # 3 points ahead
    assert line.startswith("pair 'speed8x' refused: its teacher (ResNet-50 teacher, test "
                           'PCK@0.2 80.0 %) is +3.0 points ahead of its plain student '
                           '(speed8x plain, 77.0 %, mean of 3 seeds); a bench pair needs 5.')
    assert '\n' not in line and '--allow-weak-teacher' in line
    assert 'is -2.0 points' in bench.refusal('speed8x', lead_rows(0.75, [0.77, 0.76, 0.78]))
    assert bench.refusal('speed8x', lead_rows(0.83, [0.77, 0.76, 0.78])) is None  # 6 ahead
    assert bench.refusal('speed8x', lead_rows(0.82, [0.77, 0.76, 0.78])) is None  # exactly 5
    assert bench.refusal('speed8x', lead_rows(0.80, [0.77]), min_lead=2.0) is None
    assert bench.refusal('speed8x', lead_rows(0.70, [0.77]), min_lead=None) is None
    no_pck = lead_rows(None, [0.77])
    assert 'could not be measured' in bench.refusal('speed8x', no_pck)
    # the gate is a target of every pair too
    t = by_name(bench.check_targets(lead_rows(0.80, [0.77, 0.76, 0.78]), {'speed8x': line}))
    lead = t[('teacher lead over plain student', 'speed8x')]
    assert lead['value'] == pytest.approx(3.0) and lead['status'] == 'FAIL'
    assert lead['note'] == 'pair refused: KD students not trained'


def fake_results(spec):
    """What a job would measure: per config family, a fixed test PCK (+ 1 point
    a seed for students, + 3 for distilled ones)."""
    pck = {'rtmpose-s-s16': 0.70, 'td-hm_res50': 0.90, 'td-hm_res18': 0.85,
           'rtmpose-t': 0.72, 'mobilenetv2': 0.75}
    stem = Path(spec['config']).stem
    base = next(v for k, v in pck.items() if k in stem)
    if spec['role'] != 'teacher':
        base += 0.01 * spec['seed'] + (0.03 if spec['role'] != 'plain' else 0.0)
    metrics = {'AP': base / 10, 'PCK': base, 'PCK@0.1': base / 2, 'jitter': 0.05,
               'excess_jitter': 0.01}
    steps = {} if spec['role'] == 'teacher' else dict(step_s=0.1, step_n=5)
    return dict(checkpoint=spec['checkpoint'] or f"{spec['work_dir']}/epoch_1.pth",
                steps=steps, metrics=metrics)


def test_the_bench_skips_the_kd_students_of_a_refused_pair(tmp_path, monkeypatch, capsys):
    """run_bench with every training replaced by hand-made results: the
    stride-16 teacher (70 %) is behind its plain RTMPose-t (72-74 %), so the
    SimCC pair is refused and its kdkit KD and DWPose students never start;
    the other pairs go on, the plain students they share run once a seed."""
    import kdkit.demo
    calls = []

    partials = []

    def jobs(specs, n):
        calls.append([(s['role'], s['label'], s['seed'], s['cfg_options']) for s in specs])
        partials.extend(json.loads(f.read_text())
                        for f in (tmp_path / 'out').glob('*.partial.json'))
        return [fake_results(s) for s in specs]

    monkeypatch.setattr(bench, 'run_jobs', jobs)
    monkeypatch.setattr(bench, 'complexity', lambda cfg: dict(params_M=1.0, GFLOPs=0.1))
    monkeypatch.setattr(bench, 'machine_info', lambda: dict(
        cpu='Test CPU', cores=2, torch_threads=1, platform='Linux', torch='2', mmpose='1.3.2',
        onnxruntime='1', loadavg_before=1.0))
    monkeypatch.setattr(kdkit.demo, 'ensure_data', lambda profile, root: Path(root))
    monkeypatch.setattr(kdkit.demo, 'is_default_data', lambda root, profile: True)
    floors = []
    monkeypatch.setattr(bench, 'mean_pose_row', lambda root, config: floors.append(
        (root, config)) or {'label': 'mean pose (floor)', 'AP': None, 'PCK': 0.6,
                            'PCK@0.1': 0.2, 'jitter': 0.01, 'excess_jitter': 0.005})
    record = bench.run_bench('full', seeds=(0, 1, 2), epochs=3, teacher_epochs=6,
                             out=str(tmp_path / 'out'), data_root=str(tmp_path / 'data'),
                             work_dir=str(tmp_path / 'work'), latency_iters=0, jobs=4)
    assert list(record['refused']) == ['simcc']
    assert "pair 'simcc' refused" in capsys.readouterr().err
    rows = record['rows']
    assert 'simcc_kd' not in rows and 'simcc_dwpose' not in rows
    assert {'heatmap_kd', 'hm2simcc_kd', 'speed8x_kd', 'temporal_kd', 'temporal_skd',
            'temporal_tkd'} <= set(rows)
    # phase 1: the two teachers to train and the two plain students x 3 seeds, once each
    phase1 = calls[0]
    assert sorted(label for role, label, _, _ in phase1 if role == 'teacher') == [
        'RTMPose-s stride-16 teacher', 'ResNet-18 teacher', 'ResNet-50 teacher']
    assert sorted((label, seed) for role, label, seed, _ in phase1 if role == 'plain') == sorted(
        (label, s) for label in ('MobileNetV2 plain', 'RTMPose-t plain') for s in (0, 1, 2))
    # phase 2: the 6 distilled students of the accepted pairs x 3 seeds, none of the SimCC pair
    phase2 = calls[1]
    assert len(phase2) == 6 * 3
    assert not {label for _, label, _, _ in phase2} & {'RTMPose-t kdkit SimCC KD',
                                                      'RTMPose-t DWPoseDistiller'}
    frame = [o for role, label, _, o in phase2 if label == 'MobileNetV2 frame KD (clip batches)']
    assert len(frame) == 3 and all(o['custom_hooks.1.weights.kd_temporal'] == 0.0 for o in frame)
    sharp = [o for role, _, _, o in phase2 if role == 'skd']
    assert len(sharp) == 3 and all(o['custom_hooks.1.terms.kd_temporal.degree'] is None
                                   for o in sharp)
    # the shipped ResNet-18 serves its three pairs; its row says so
    assert rows['heatmap_teacher']['teacher_source'] == 'shipped'
    assert rows['heatmap_teacher']['epochs'] == 16
    assert rows['speed8x_teacher']['teacher_source'] == 'trained'
    assert rows['speed8x_teacher']['epochs'] == 6
    # mean ± sd over the seeds: 75, 76, 77 % for the plain MobileNetV2
    plain = rows['heatmap_plain']
    assert plain['PCK'] == pytest.approx(0.76) and plain['sd']['PCK'] == pytest.approx(0.01)
    assert plain['seeds'] == [0, 1, 2] and plain['epochs'] == 3
    assert rows['temporal_plain']['runs'] == plain['runs']  # one run, two pairs
    t = by_name(record['targets'])
    gain = t[('KD gain over plain', 'heatmap')]  # AP = PCK / 10: +0.3 points, sd 0
    assert gain['value'] == pytest.approx(0.3) and gain['sd'] == pytest.approx(0.0)
    assert t[('teacher lead over plain student', 'simcc')]['status'] == 'FAIL'
    view = {v['comparison']: v for v in record['temporal_view']}
    assert view['frame + temporal KD vs frame KD']['PCK'] == pytest.approx(0.0)
    assert view['frame KD vs plain']['PCK'] == pytest.approx(3.0)
    assert view['frame KD vs plain']['PCK@0.1'] == pytest.approx(1.5)
    # the floor: the mean pose of the data's train labels, cropped as the first pair's student
    assert floors == [(tmp_path / 'data', 'configs/student/td-hm_mobilenetv2_60e_kdkit-video-128x96.py')]
    assert record['floor']['PCK'] == 0.6
    md = Path(record['written']['md']).read_text()
    assert '| – | mean pose (floor) | – | – | 60.0 | 20.0 |' in md
    assert "**Refused:** pair 'simcc' refused" in md
    assert 'seeds 0, 1, 2; students 3 epochs (--epochs; the configs say more)' in md
    assert '| heatmap | MobileNetV2 plain | 3 | 7.6 ± 0.1 | 76.0 ± 1.0 | 38.0 ± 0.5 |' in md
    assert '## Temporal distillation' in md
    assert '| frame KD vs plain | +3.0 ± 0.0 | +1.5 ± 0.0 |' in md
    assert record['command'].startswith('kdkit bench --profile full --seeds 0 1 2 ')
    # while the distilled students trained, a partial record held phase 1 (a device
    # call cut short keeps it); the finished run removed it
    assert len(partials) == 1 and 'plain students only' in partials[0]['partial']
    assert set(partials[0]['rows']) == {f'{p}_{r}' for p in bench.PAIRS
                                        for r in ('teacher', 'plain')}
    assert list(partials[0]['refused']) == ['simcc']
    assert not list((tmp_path / 'out').glob('*.partial.json'))


def test_a_failed_job_is_reported_and_the_others_kept(tmp_path, monkeypatch):
    import kdkit.demo

    def jobs(specs, n):
        return [dict(error='RuntimeError: CUDA out of memory') if s['seed'] == 1
                and s['role'] == 'kd' else fake_results(s) for s in specs]

    monkeypatch.setattr(bench, 'run_jobs', jobs)
    monkeypatch.setattr(bench, 'complexity', lambda cfg: dict(params_M=1.0, GFLOPs=0.1))
    monkeypatch.setattr(bench, 'machine_info', lambda: dict(
        cpu='Test CPU', cores=2, torch_threads=1, platform='Linux', torch='2', mmpose='1.3.2',
        onnxruntime='1', loadavg_before=1.0))
    monkeypatch.setattr(kdkit.demo, 'ensure_data', lambda profile, root: Path(root))
    monkeypatch.setattr(kdkit.demo, 'is_default_data', lambda root, profile: True)
    monkeypatch.setattr(bench, 'mean_pose_row', lambda root, config: None)
    record = bench.run_bench('quick', seeds=(0, 1), out=str(tmp_path / 'out'),
                             data_root=str(tmp_path / 'data'), work_dir=str(tmp_path / 'w'),
                             pairs=('heatmap',), latency_iters=0)
    kd = record['rows']['heatmap_kd']
    assert [r['seed'] for r in kd['runs'] if 'error' in r] == [1]
    assert kd['PCK'] == pytest.approx(0.78)  # seed 0's: 75 % + 3 points
    assert kd['sd']['PCK'] is None  # one seed left
    assert record['failed'] == [dict(label=kd['label'], seed=1,
                                     error='RuntimeError: CUDA out of memory')]
    assert '**Failed:** MobileNetV2 kdkit KD (cached teacher) (seed 1)' in Path(
        record['written']['md']).read_text()


# ------------------------------------------------------- stored records
@pytest.mark.parametrize('stored', sorted(Path('bench/results').glob('full_*.json')),
                         ids=lambda p: p.name)
def test_report_rechecks_the_stored_records(stored, tmp_path):
    """The records of earlier versions (two pairs, one seed) re-check under
    this version's rules, the teacher-lead gate included."""
    record = bench.rereport(str(stored), str(tmp_path))
    before = json.loads(stored.read_text())
    assert record['rows'] == before['rows']
    t = by_name(record['targets'])
    if 'simcc_teacher' in record['rows'] and record['rows']['simcc_teacher'].get('PCK'):
        lead = t[('teacher lead over plain student', 'simcc')]
        assert lead['status'] in ('PASS', 'FAIL') and lead['sd'] is None  # one seed
    md = (tmp_path / stored.with_suffix('.md').name).read_text()
    assert 'Re-checked on' in md and f"seed {before['seed']};" in md


# -------------------------------------------------------------- end to end
@pytest.mark.slow
def test_tiny_simcc_bench_end_to_end(tiny_data, tmp_path, run_options):
    """One epoch of everything on tiny data: the stride-16 teacher trained
    here, three students x two seeds, two jobs at a time (each in its own
    process), test metrics, ONNX latency, targets and the written files."""
    from kdkit.utils.checkpoint import read_state_dict
    opts = run_options(tiny_data, tmp_path)
    opts.pop('work_dir')
    record = bench.run_bench('quick', seeds=(0, 1), epochs=1, teacher_epochs=1,
                             out=str(tmp_path / 'out'), data_root=str(tiny_data),
                             work_dir=str(tmp_path / 'work'), pairs=('simcc',),
                             latency_warmup=1, latency_iters=2, cfg_options=opts, jobs=2,
                             min_teacher_lead=None)
    rows = record['rows']
    assert record['failed'] == [], record['failed']
    assert list(rows) == ['simcc_teacher', 'simcc_plain', 'simcc_kd', 'simcc_dwpose']
    assert rows['simcc_teacher']['teacher_source'] == 'trained'
    for r in rows.values():
        assert 0.0 <= r['AP'] <= 1.0 and r['ort_1t_ms'] > 0 and r['GFLOPs'] > 0
        assert 0.0 <= r['PCK@0.1'] <= r['PCK'] <= 1.0
    floor = record['floor']  # the tiny data's train labels' mean pose, on its test clip
    assert 0.0 <= floor['PCK@0.1'] <= floor['PCK'] <= 1.0 and floor['jitter'] >= 0
    for key in ('simcc_plain', 'simcc_kd', 'simcc_dwpose'):
        assert [x['seed'] for x in rows[key]['runs']] == [0, 1]
        assert rows[key]['step_s'] > 0 and rows[key]['step_ratio'] > 0
        assert 'AP' in rows[key]['sd']
        run_dir = Path(rows[key]['checkpoint']).parent
        assert bench.job_files(run_dir)[2].is_file()  # trained in a job process
    assert rows['simcc_kd']['onnx_max_abs_diff'] < 1e-3
    assert {t['target'] for t in record['targets']} >= {'kdkit KD over DWPoseDistiller',
                                                         'teacher lead over plain student'}
    assert all(t['status'] in ('PASS', 'FAIL', 'inconclusive', 'n/a')
               for t in record['targets'])

    md = (tmp_path / 'out' / 'latest_quick.md').read_text()
    assert record['command'] in md and 'RTMPose-t DWPoseDistiller' in md and 'seeds 0, 1' in md
    saved = json.loads(open(record['written']['json']).read())
    assert saved['machine']['cores'] >= 1 and saved['params']['pairs'] == ['simcc']

    # DWPoseDistiller trained against the trained stride-16 teacher (teacher_pretrained
    # loaded): its frozen teacher weights are the teacher checkpoint's
    teacher = read_state_dict(rows['simcc_teacher']['checkpoint'])
    dw = read_state_dict(rows['simcc_dwpose']['checkpoint'])
    key = 'backbone.stem.0.conv.weight'
    assert torch.equal(dw[f'teacher.{key}'], teacher[key])
    assert teacher['head.final_layer.weight'].shape[-1] == 7  # the stride-16 head's 7x7


def test_complexity_takes_a_path_or_a_config():
    from kdkit.distill.cli import load_config
    path = 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'
    by_path = bench.complexity(path)
    assert bench.complexity(load_config(path)) == by_path
    assert 5.0 < by_path['params_M'] < 6.0 and 0.1 < by_path['GFLOPs'] < 0.3
