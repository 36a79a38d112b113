"""kdkit/utils/console.py: what a stage shows on the terminal and what it keeps
in its log file."""
import io
import sys
import uuid
import warnings

import pytest
from mmengine.logging import MMLogger

from kdkit.utils import console
from kdkit.utils.console import is_verbose, quiet_stage, set_verbose


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    """Quiet mode, whatever the environment; verbose reset afterwards."""
    monkeypatch.delenv('KDKIT_VERBOSE', raising=False)
    set_verbose(False)
    yield
    set_verbose(False)


def run_logger(log_file) -> MMLogger:
    """An MMLogger as a Runner builds one (console handler on sys.stdout, a file)."""
    return MMLogger.get_instance(f'kdkit-test-{uuid.uuid4().hex}', log_file=str(log_file),
                                 file_mode='a')


def test_quiet_stage_swallows_stdout_and_restores_it(capsys):
    stdout, showwarning = sys.stdout, warnings.showwarning
    with quiet_stage('x'):
        print('noise from the run')
        assert sys.stdout is not stdout
    assert sys.stdout is stdout and warnings.showwarning is showwarning
    print('after the stage')
    out = capsys.readouterr().out
    assert 'noise' not in out and 'after the stage' in out


def test_quiet_stage_restores_everything_on_an_exception(capsys):
    stdout, showwarning = sys.stdout, warnings.showwarning
    with pytest.raises(RuntimeError, match='boom'):
        with quiet_stage('x'):
            print('noise from the run')
            raise RuntimeError('boom')
    assert sys.stdout is stdout and warnings.showwarning is showwarning
    assert 'noise' not in capsys.readouterr().out


def test_verbose_passes_everything_through(capsys, monkeypatch):
    set_verbose(True)
    assert is_verbose()
    with quiet_stage('x'):
        print('log line of the run')
    assert 'log line of the run' in capsys.readouterr().out
    set_verbose(False)
    assert not is_verbose()
    monkeypatch.setenv('KDKIT_VERBOSE', '1')
    assert is_verbose()
    with quiet_stage('x'):
        print('again')
    assert 'again' in capsys.readouterr().out


def test_the_run_log_gets_console_log_and_warnings_the_terminal_one_line(tmp_path, capsys):
    log = tmp_path / 'run.log'
    with quiet_stage('teacher val') as stage:
        logger = run_logger(log)
        logger.info('Config: the dump')
        warnings.warn('kdkit-test: a third-party warning', UserWarning)
    assert stage.log_file == str(log)
    out, err = capsys.readouterr()
    assert 'Config: the dump' not in out + err
    assert 'kdkit-test: a third-party warning' not in out + err
    assert err.strip().splitlines() == [f'teacher val: log {log}']
    text = log.read_text()
    assert 'Config: the dump' in text and 'kdkit-test: a third-party warning' in text


def test_a_stage_logger_shows_only_warnings_after_the_stage(tmp_path, capsys):
    with quiet_stage('x'):
        logger = run_logger(tmp_path / 'run.log')
    capsys.readouterr()
    logger.info('an info line')
    logger.warning('kdkit-test: a late warning')
    out, err = capsys.readouterr()
    assert 'an info line' not in out + err
    assert 'kdkit-test: a late warning' in err
    assert not any(h.stream is not None and isinstance(h.stream, console._Discard)
                   for h in logger.handlers if hasattr(h, 'stream'))


def test_a_failed_stage_names_its_log(tmp_path, capsys):
    log = tmp_path / 'run.log'
    with pytest.raises(RuntimeError):
        with quiet_stage('student train') as stage:
            stage.attach(type('Runner', (), {'logger': run_logger(log)})())
            raise RuntimeError('boom')
    assert f'student train: failed; see log {log}' in capsys.readouterr().err


def test_warnings_without_a_log_reach_stderr(capsys):
    """A stage that fails before its Runner exists has no log to keep them."""
    with quiet_stage('x'):
        warnings.warn('kdkit-test: before any runner', UserWarning)
    assert 'kdkit-test: before any runner' in capsys.readouterr().err


def test_import_and_config_loading_show_no_known_warnings():
    """kdkit/__init__.py silences its dependencies' notices (a subprocess:
    pytest resets warning filters set while it collects)."""
    import subprocess
    code = ('import kdkit; from kdkit.distill.cli import load_config; '
            "load_config('configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py')")
    proc = subprocess.run([sys.executable, '-W', 'default', '-c', code],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'Warning' not in proc.stderr, proc.stderr


def test_errors_logged_by_the_run_surface_during_the_stage(tmp_path, capsys):
    log = tmp_path / 'run.log'
    with quiet_stage('x') as stage:
        stage.attach(type('Runner', (), {'logger': run_logger(log)})())
        stage.logger.info('Epoch(train) [1][1/1]')
        stage.logger.warning('kdkit-test: an MMEngine notice')
        stage.logger.error('kdkit-test: a logged error')
    out, err = capsys.readouterr()
    assert 'kdkit-test: a logged error' in err
    assert 'Epoch(train)' not in out + err and 'an MMEngine notice' not in out + err
    assert 'an MMEngine notice' in log.read_text()


class KernelStream(io.StringIO):
    """Stands in for ipykernel's OutStream (kdkit tells a kernel by the module)."""


KernelStream.__module__ = 'ipykernel.iostream'


def test_progress_goes_to_the_cells_stdout_in_a_notebook(monkeypatch):
    """A notebook draws stderr as an error-coloured block: in a Jupyter kernel
    progress bars and stage lines go to the cell's stdout, also while a quiet
    stage hides stdout from MMEngine; on a terminal, to stderr."""
    assert console.console() is sys.stderr
    out, err = KernelStream(), KernelStream()
    monkeypatch.setattr(sys, 'stdout', out)
    monkeypatch.setattr(sys, 'stderr', err)
    assert console.console() is out
    with quiet_stage('student'):
        assert sys.stdout is not out
        assert console.console() is out
