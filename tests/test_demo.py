"""The demo: its table, the teacher it picks, its refusal of a weak teacher,
a tiny end-to-end run, and the shipped-teacher packing."""
import json
from pathlib import Path

import pytest
import torch

from kdkit.demo import (PAIRS, PROFILE_CONFIGS, SHIPPED_TEACHER, check_teacher_ahead,
                        demo_command, format_table, is_default_data, plan_teacher, run_demo, summarise,
                        trained_teacher)
from kdkit.data.config import resolve_config
from kdkit.data.export import build_meta
from kdkit.distill.cli import pack_checkpoint
from kdkit.utils import repo_root


def fake_default_data(root: Path, profile: str = 'quick', seed: int = 0) -> Path:
    """A folder whose meta.json says it holds the profile's default data."""
    root.mkdir(parents=True, exist_ok=True)
    (root / 'meta.json').write_text(json.dumps(build_meta(profile, seed, resolve_config(profile, {}))))
    return root


def test_table_gives_mean_sd_gains_and_gap_closed():
    rows = summarise({
        'teacher': dict(AP=[0.7], PCK=[0.9], params_M=12.8, GFLOPs=0.6),
        'S plain': dict(AP=[0.5, 0.4], PCK=[0.70, 0.60], params_M=2.5, GFLOPs=0.1),
        'S distilled': dict(AP=[0.55, 0.45], PCK=[0.80, 0.74], params_M=2.5, GFLOPs=0.1,
                            plain_of='S plain')})
    assert rows['S distilled']['gain_PCK'] == pytest.approx([0.10, 0.14])
    # gap from the means: teacher 0.9, plain 0.65, distilled 0.77 -> 0.12 / 0.25
    assert rows['S distilled']['gap_closed_PCK'] == pytest.approx(0.48)
    lines = format_table(rows).splitlines()
    assert lines[0].startswith('| model | AP | PCK@0.2 | PCK@0.1 |')
    assert lines[2] == '| teacher | 0.700 | 0.900 |  | 12.80 | 0.600 |  |  |  |  |  |'
    assert lines[3].startswith('| S plain | 0.450 ± 0.071 | 0.650 ± 0.071 |  |')
    assert lines[4].endswith('| +0.050 ± 0.000 | +0.120 ± 0.028 |  | 0.48 |  |')


def test_table_repeats_gains_at_pck_0_1_under_the_floor():
    rows = summarise({
        'teacher': {'AP': [0.7], 'PCK': [0.9], 'PCK@0.1': [0.6], 'params_M': 12.8,
                    'GFLOPs': 0.6},
        'S plain': {'AP': [0.5], 'PCK': [0.70], 'PCK@0.1': [0.20], 'params_M': 2.5,
                    'GFLOPs': 0.1},
        'S distilled': {'AP': [0.55], 'PCK': [0.80], 'PCK@0.1': [0.40], 'params_M': 2.5,
                        'GFLOPs': 0.1, 'plain_of': 'S plain'}})
    d = rows['S distilled']
    assert d['gain_PCK@0.1'] == pytest.approx([0.20])
    assert d['gap_closed_PCK@0.1'] == pytest.approx(0.5)  # 0.2 of the 0.4 gap
    lines = format_table(rows, {'PCK': 0.855, 'PCK@0.1': 0.274, 'jitter': 0.02}).splitlines()
    assert lines[2] == ('| mean pose, no network (floor) |  | 0.855 | 0.274 | 0 | 0 |  |  |  |  '
                        '|  |')
    assert lines[5].endswith('| +0.100 | +0.200 | 0.50 | 0.50 |')


def test_no_gap_closed_without_a_teacher_lead():
    rows = summarise({'teacher': dict(AP=[0.1], PCK=[0.6]),
                      'p': dict(AP=[0.1], PCK=[0.6]),
                      'd': dict(AP=[0.1], PCK=[0.7], plain_of='p')})
    assert rows['d']['gap_closed_PCK'] is None


def test_refuses_a_teacher_not_ahead_in_one_line():
    check_teacher_ahead(0.90, 0.80, 'RTMPose-t')
    with pytest.raises(ValueError) as e:
        check_teacher_ahead(0.73, 0.836, 'RTMPose-t')
    msg = str(e.value)
    assert '\n' not in msg and '0.730' in msg and '0.836' in msg and 'RTMPose-t' in msg


@pytest.mark.parametrize('form', ['relative', 'absolute', 'dotted'])
def test_default_data_is_recognised_whatever_the_path(tmp_path, monkeypatch, form):
    monkeypatch.chdir(tmp_path)
    fake_default_data(tmp_path / 'd' / 'q')
    root = dict(relative='d/q', absolute=str(tmp_path / 'd' / 'q'), dotted='./d/../d/q/')[form]
    assert is_default_data(root, 'quick')
    ckpt, source, config = plan_teacher('quick', Path(root), tmp_path / 'work')
    assert (ckpt, source) == (repo_root() / SHIPPED_TEACHER, 'shipped')
    assert config == 'configs/teacher/td-hm_res18_16e_kdkit-video-128x96.py'


def test_other_data_gets_no_shipped_teacher(tmp_path, tiny_data):
    assert not is_default_data(tiny_data, 'quick')
    assert not is_default_data(fake_default_data(tmp_path / 'seed1', seed=1), 'quick')
    assert plan_teacher('quick', tiny_data, tmp_path)[:2] == (None, 'to train')
    # absent data will be generated as the default data
    assert plan_teacher('quick', tmp_path / 'absent', tmp_path)[1] == 'shipped'


def test_trained_teacher_prefers_the_users_own_then_the_shipped_one(tmp_path):
    shipped = repo_root() / SHIPPED_TEACHER
    assert shipped.is_file(), 'the shipped teacher is part of the kit'
    assert trained_teacher('quick', True, tmp_path) == (shipped, 'shipped')
    assert trained_teacher('quick', False, tmp_path) == (None, '')
    assert trained_teacher('full', True, tmp_path) == (None, '')
    own = tmp_path / Path(PROFILE_CONFIGS['quick']['teacher']).stem
    own.mkdir()
    (own / 'best_coco_AP_epoch_4.pth').write_bytes(b'x')
    assert trained_teacher('quick', True, tmp_path) == (own / 'best_coco_AP_epoch_4.pth', 'reused')


def test_pairs_distil_from_the_heatmap_teacher():
    from kdkit.distill.cli import load_config
    for profile, pairs in PAIRS.items():
        assert list(pairs)[0] == 'RTMPose-t', 'the phone-class SimCC student comes first'
        cfg = load_config(pairs['RTMPose-t']['distilled'])
        terms = [h for h in cfg.custom_hooks if h['type'] == 'DistillLossHook'][0]['terms']
        assert [t['type'] for t in terms.values()] == ['HeatmapToSimCCDistillLoss']


@pytest.mark.slow
def test_demo_end_to_end_on_tiny_data(tiny_data, tmp_path):
    """The README's main job, shrunk: teacher, plain and distilled student, table, figure."""
    record = run_demo('quick', seeds=[0], data_root=str(tiny_data), pairs=['RTMPose-t'],
                      work_root=str(tmp_path / 'work'), max_epochs=1, allow_weak_teacher=True)
    rows = record['rows']
    assert set(rows) == {'teacher', 'RTMPose-t plain', 'RTMPose-t distilled'}
    assert rows['teacher']['source'] == 'trained'  # tiny data is not the default data
    d, p = rows['RTMPose-t distilled'], rows['RTMPose-t plain']
    assert d['gain_PCK'] == [d['PCK'][0] - p['PCK'][0]]
    assert rows['teacher']['params_M'] > p['params_M'] > 0
    out = tmp_path / 'work' / 'demo_quick'
    assert json.loads((out / 'results.json').read_text())['rows']['teacher']['AP'] == \
        rows['teacher']['AP']
    assert (out / 'results.md').read_text().startswith('| model |')
    floor = record['floor']  # the tiny data's mean pose, the table's first row
    assert 0 <= floor['PCK@0.1'] <= floor['PCK'] <= 1
    assert '| mean pose, no network (floor) |' in (out / 'results.md').read_text()
    assert 0 <= p['PCK@0.1'][0] <= p['PCK'][0] <= 1 and 'gain_PCK@0.1' in d
    assert Path(record['figure']).stat().st_size > 10_000
    assert record['command'] == (
        f"kdkit demo --profile quick --seeds 0 --pairs RTMPose-t --data-root {tiny_data} "
        f"--max-epochs 1 --work-root {tmp_path / 'work'} --allow-weak-teacher")
    assert record['machine']['cores'] >= 1


def test_demo_command_reproduces_the_run():
    assert demo_command('quick', [0, 1, 2]) == 'kdkit demo --profile quick --seeds 0 1 2'
    assert demo_command('full', [0], retrain=True, work_root='my runs',
                        teacher=('t.pth', None)) == (
        "kdkit demo --profile full --seeds 0 --teacher-checkpoint t.pth "
        "--work-root 'my runs' --retrain")


def test_pack_checkpoint_halves_and_keeps_log(tmp_path, teacher_ckpt):
    work = tmp_path / 'td-hm_res18_x'
    (work / '20260101_000000').mkdir(parents=True)
    (work / '20260101_000000' / '20260101_000000.log').write_text('epoch 1 ...')
    (work / 'best_coco_AP_epoch_1.pth').write_bytes(teacher_ckpt.read_bytes())
    out = pack_checkpoint(work, tmp_path / 'ckpts')
    packed = torch.load(out)
    assert all(v.dtype == torch.float16 for v in packed['state_dict'].values() if v.is_floating_point())
    assert packed['meta']['source'] == 'best_coco_AP_epoch_1.pth'
    assert (tmp_path / 'ckpts' / 'td-hm_res18_x.log').read_text() == 'epoch 1 ...'
    assert out.stat().st_size < teacher_ckpt.stat().st_size * 0.6
    # one checkpoint of the run, named by the config it was trained with
    (work / 'epoch_2.pth').write_bytes(teacher_ckpt.read_bytes())
    out = pack_checkpoint(work / 'epoch_2.pth', tmp_path / 'ckpts', config='configs/real/s.py')
    assert out.name == 's.pth' and torch.load(out)['meta']['source'] == 'epoch_2.pth'
    assert (tmp_path / 'ckpts' / 's.log').read_text() == 'epoch 1 ...'


def test_a_given_teacher_is_used_as_given(tmp_path):
    ckpt, source, config = plan_teacher('quick', tmp_path / 'absent', tmp_path,
                                        given=(str(SHIPPED_TEACHER), 'configs/teacher/x.py'))
    assert Path(ckpt).resolve() == (repo_root() / SHIPPED_TEACHER).resolve()
    assert (source, config) == ('given', 'configs/teacher/x.py')
    with pytest.raises(FileNotFoundError, match='nope.pth does not exist'):
        plan_teacher('quick', tmp_path, tmp_path, given=('nope.pth', None))
