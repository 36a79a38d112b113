"""The kdkit console entry point lists every command group."""
import subprocess
import sys

from kdkit.cli import build_parser, main


def test_help_lists_commands():
    help_text = build_parser().format_help()
    for cmd in ('doctor', 'data', 'demo', 'train', 'test', 'export'):
        assert cmd in help_text


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert 'usage: kdkit' in capsys.readouterr().out


def test_console_script_runs_doctor():
    bin_dir = __import__('pathlib').Path(sys.executable).parent
    proc = subprocess.run([str(bin_dir / 'kdkit'), 'doctor'], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'all green' in proc.stdout
