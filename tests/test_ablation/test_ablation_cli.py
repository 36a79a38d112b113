"""``kdkit ablate``: grid files, a real one-setting run, the cached rerun."""
import json

import pytest

from kdkit.ablation.cli import read_grid
from kdkit.cli import main

HM_CFG = 'configs/distill/kd-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'


def test_ablate_runs_then_reuses_the_cache(tiny_data, teacher_ckpt, tmp_path, capsys):
    grid = tmp_path / 'grid.yaml'
    grid.write_text('rule: [weighted_sum]\nkd_weight: 2.0\n')
    out = tmp_path / 'abl'
    argv = ['ablate', HM_CFG, '--grid', str(grid), '--seeds', '0', '--epochs', '1',
            '--out', str(out), '--data-root', str(tiny_data),
            '--teacher-checkpoint', str(teacher_ckpt), '--cfg-options',
            'train_dataloader.dataset.indices=2', 'train_dataloader.batch_size=2',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
            'model.test_cfg.flip_test=False']
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert 'weighted_sum gt=1 kd=2' in printed and '(1 runs, 0 from the cache' in printed
    assert (out / 'results.csv').is_file() and len(list((out / 'results').glob('*.json'))) == 1
    assert 'Mean ± sd over seeds' in printed
    assert (out / 'summary.md').read_text().startswith('| setting | seeds | AP (%)')

    assert main(argv) == 0
    assert '(1 runs, 1 from the cache' in capsys.readouterr().out


def test_grid_files(tmp_path):
    j = tmp_path / 'g.json'
    j.write_text(json.dumps([dict(rule='uncertainty'), dict(kd_weight=0.5)]))
    assert read_grid(j) == [dict(rule='uncertainty'), dict(kd_weight=0.5)]
    bad = tmp_path / 'bad.yaml'
    bad.write_text('rule: [weighted_sum\n')
    with pytest.raises(ValueError, match=r'--grid: .*bad.yaml is not valid YAML'):
        read_grid(bad)
    with pytest.raises(ValueError, match='does not exist'):
        read_grid(tmp_path / 'missing.yaml')
    txt = tmp_path / 'g.txt'
    txt.write_text('rule: x')
    with pytest.raises(ValueError, match='must end in .yaml, .yml or .json'):
        read_grid(txt)
    scalar = tmp_path / 's.yaml'
    scalar.write_text('3\n')
    with pytest.raises(ValueError, match='a list of settings or a dict of lists'):
        read_grid(scalar)


def test_help_lists_ablate():
    from kdkit.cli import build_parser
    assert 'ablate' in build_parser().format_help()
