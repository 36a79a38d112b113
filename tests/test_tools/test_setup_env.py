"""tools/setup_env.py reads environment.yml's staged pip section (the one list)."""
import importlib.util
import re

import pytest

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

spec = importlib.util.spec_from_file_location('setup_env', REPO / 'tools' / 'setup_env.py')
setup_env = importlib.util.module_from_spec(spec)
spec.loader.exec_module(setup_env)


def test_stages_in_install_order():
    stages = setup_env.read_stages(REPO / 'environment.yml')
    assert list(stages) == ['base', 'torch', 'runtime', 'mmcv', 'xtcocotools', 'nodeps', 'kdkit']
    assert stages['torch'][0] == 'torch===2.13.0'
    assert stages['mmcv'] == ['mmcv==2.1.0']
    assert set(stages['nodeps']) == {'mmpose==1.3.2', 'mmdet==3.3.0'}
    for reqs in stages.values():
        for req in reqs:
            assert req == '-e .' or re.fullmatch(r'[\w.-]+===?[\w.+]+', req), f'unpinned: {req}'


def test_installed_versions_match_pins():
    from importlib.metadata import version
    stages = setup_env.read_stages(REPO / 'environment.yml')
    for req in stages['torch'] + stages['mmcv'] + stages['nodeps'] + stages['runtime'][:1]:
        name, pin = re.split(r'===?', req)
        assert version(name) == pin, name


def test_misplaced_requirement_is_reported(tmp_path):
    bad = tmp_path / 'environment.yml'
    bad.write_text('dependencies:\n  - pip:\n      - numpy==2.2.6\n')
    with pytest.raises(SystemExit, match='before any'):
        setup_env.read_stages(bad)


def test_setup_is_idempotent():
    """The stamp of the current environment.yml is in place: setup returns at once."""
    import subprocess
    import sys
    from pathlib import Path
    venv = Path(sys.prefix)
    if not (venv / setup_env.STAMP_NAME).exists():
        pytest.skip('not running inside a kdkit-built venv')
    proc = subprocess.run(['python3', str(REPO / 'tools' / 'setup_env.py'), '--venv', str(venv)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert 'up to date' in proc.stdout
