"""The demo's table and the shipped-teacher packing."""
from pathlib import Path

import torch

from kdkit.demo import format_table
from kdkit.distill.cli import pack_teacher


def test_table_shows_gain_only_for_distilled():
    rows = dict(teacher=dict(AP=0.7, PCK=0.9, params_M=12.8, GFLOPs=0.6),
                student=dict(AP=0.5, PCK=0.8, params_M=2.5, GFLOPs=0.1),
                distilled=dict(AP=0.55, PCK=0.82, params_M=2.5, GFLOPs=0.1, kd_gain=0.05,
                               kd_gain_pck=-0.01))
    lines = format_table(rows).splitlines()
    assert lines[0].startswith('| model | AP | PCK@0.2 |')
    assert lines[-1] == '| distilled | 0.550 | 0.820 | 2.50 | 0.100 | +0.050 | -0.010 |'
    assert lines[3].endswith('|  |  |')


def test_pack_teacher_halves_and_keeps_log(tmp_path, teacher_ckpt):
    work = tmp_path / 'td-hm_res18_x'
    (work / '20260101_000000').mkdir(parents=True)
    (work / '20260101_000000' / '20260101_000000.log').write_text('epoch 1 ...')
    (work / 'best_coco_AP_epoch_1.pth').write_bytes(teacher_ckpt.read_bytes())
    out = pack_teacher(work, tmp_path / 'ckpts')
    packed = torch.load(out)
    assert all(v.dtype == torch.float16 for v in packed['state_dict'].values() if v.is_floating_point())
    assert packed['meta']['source'] == 'best_coco_AP_epoch_1.pth'
    assert (tmp_path / 'ckpts' / 'td-hm_res18_x.log').read_text() == 'epoch 1 ...'
    assert out.stat().st_size < teacher_ckpt.stat().st_size * 0.6


def test_demo_end_to_end_on_tiny_data(tiny_data, tmp_path):
    """The README's main job, shrunk: teacher, plain and distilled student, table."""
    import json

    from kdkit.demo import run_demo
    record = run_demo('quick', seed=0, data_root=str(tiny_data),
                      work_root=str(tmp_path / 'work'), max_epochs=1)
    rows = record['results']
    assert set(rows) == {'teacher', 'student', 'distilled'}
    assert rows['distilled']['kd_gain'] == rows['distilled']['AP'] - rows['student']['AP']
    assert rows['distilled']['kd_gain_pck'] == rows['distilled']['PCK'] - rows['student']['PCK']
    assert rows['teacher']['params_M'] > rows['student']['params_M'] > 0
    saved = json.loads((tmp_path / 'work' / 'demo_quick' / 'results.json').read_text())
    assert saved['results'] == rows
    assert (tmp_path / 'work' / 'demo_quick' / 'results.md').read_text().startswith('| model |')


def test_trained_teacher_prefers_the_users_own_then_the_shipped_one(tmp_path):
    from kdkit.demo import PROFILE_CONFIGS, SHIPPED_TEACHER, trained_teacher
    from kdkit.utils import repo_root
    shipped = repo_root() / SHIPPED_TEACHER
    assert shipped.is_file(), 'the shipped teacher is part of the kit'
    assert trained_teacher('quick', True, tmp_path) == (shipped, 'shipped')
    # other data, or the full profile: the shipped teacher is not assumed
    assert trained_teacher('quick', False, tmp_path) == (None, '')
    assert trained_teacher('full', True, tmp_path) == (None, '')
    own = tmp_path / Path(PROFILE_CONFIGS['quick']['teacher']).stem
    own.mkdir()
    (own / 'best_coco_AP_epoch_4.pth').write_bytes(b'x')
    assert trained_teacher('quick', True, tmp_path) == (own / 'best_coco_AP_epoch_4.pth', 'reused')
