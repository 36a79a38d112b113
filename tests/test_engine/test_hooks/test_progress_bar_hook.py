"""ProgressBarHook and quiet stages in real few-iteration runs: a bar and one
log line on the terminal, MMEngine's log in the run's log file; ``--verbose``
brings the log back."""
from pathlib import Path

import pytest

from kdkit.cli import main
from kdkit.distill import cli  # not its test(): pytest would collect it
from kdkit.distill.teacher import resolve_checkpoint
from kdkit.engine.hooks import ProgressBarHook
from kdkit.utils.console import set_verbose

CFG = 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'
MMENGINE_LOG = ('Config:', 'System environment', 'Epoch(train)', 'Epoch(val)', 'Epoch(test)')


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.delenv('KDKIT_VERBOSE', raising=False)
    set_verbose(False)
    yield
    set_verbose(False)  # kdkit.cli.main sets it for the process


def stage_lines(err: str, name: str) -> list[str]:
    return [line.strip() for line in err.splitlines() if line.strip().startswith(f'{name}: log ')]


def test_quiet_train_and_test_show_a_bar_and_their_log(tiny_data, tmp_path, run_options,
                                                        capsys):
    opts = run_options(tiny_data, tmp_path / 'run', n_train=8)  # 2 iterations
    runner = cli.train(CFG, cfg_options=opts, stage='student train')
    out, err = capsys.readouterr()
    assert not [m for m in MMENGINE_LOG if m in out + err], out + err
    assert 'student train: 100%' in err and '2/2' in err and 'loss' in err
    [line] = stage_lines(err, 'student train')
    log = Path(line.split(': log ', 1)[1])
    assert log.resolve() == Path(runner.logger.log_file).resolve() and log.is_file()
    assert log.parent.parent == (tmp_path / 'run').resolve()
    text = log.read_text()
    assert 'Config:' in text and 'Epoch(train)' in text and 'Epoch(val)' in text
    assert not [h for h in runner.hooks if isinstance(h, ProgressBarHook) and h.bar]

    metrics = cli.test(CFG, str(resolve_checkpoint(tmp_path / 'run')), str(tmp_path / 'test'), cfg_options=opts)
    out, err = capsys.readouterr()
    assert 'coco/AP' in metrics
    assert not [m for m in MMENGINE_LOG if m in out + err], out + err
    name = Path(CFG).stem  # the default stage name
    assert f'{name}: 100%' in err
    [line] = stage_lines(err, name)
    assert 'Epoch(test)' in Path(line.split(': log ', 1)[1]).read_text()


def test_kdkit_train_verbose_prints_mmengine_log(tiny_data, tmp_path, run_options, capsys):
    opts = run_options(tiny_data, tmp_path / 'run')
    pairs = [f'{k}={v}' for k, v in opts.items() if k != 'work_dir']
    argv = ['train', CFG, '--work-dir', str(tmp_path / 'run'), '--cfg-options', *pairs]
    assert main([*argv, '--verbose']) == 0
    out, err = capsys.readouterr()
    assert 'Config:' in out and 'Epoch(train)' in out
    assert '100%' not in err  # no bar: the log is on the terminal

    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert 'Config:' not in out + err and 'Epoch(train)' not in out + err
    assert len(stage_lines(err, Path(CFG).stem)) == 1
