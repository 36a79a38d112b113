"""`kdkit demo` where a newcomer starts: a fresh `git clone`, empty work_dirs/.

The shipped teacher must be used (and no teacher trained) whether the data
path is the default, absolute or relative; the run must stay quiet and end
with the table and the figure's path.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kdkit.demo import SHIPPED_TEACHER
from kdkit.utils import repo_root

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def clone(tmp_path_factory) -> Path:
    if shutil.which('git') is None or not (repo_root() / '.git').exists():
        pytest.skip('needs git and a git checkout of kdkit')
    dest = tmp_path_factory.mktemp('fresh') / 'kdkit'
    subprocess.run(['git', 'clone', '-q', str(repo_root()), str(dest)], check=True)
    assert not (dest / 'work_dirs').exists() and not (dest / 'data').exists()
    return dest


@pytest.fixture(scope='module')
def default_data(tmp_path_factory) -> Path:
    """The quick profile's default data, generated outside the clone."""
    from kdkit.data import generate_dataset
    from kdkit.demo import DATA_SEED
    return generate_dataset(tmp_path_factory.mktemp('data') / 'kdkit_quick', profile='quick',
                            seed=DATA_SEED, progress=False)


def kdkit_in(clone: Path, *args: str) -> subprocess.CompletedProcess:
    """`kdkit ARGS` run from the clone, importing the clone's kdkit."""
    env = dict(os.environ, PYTHONPATH=str(clone), PYTHONWARNINGS='default')
    env.pop('KDKIT_VERBOSE', None)
    return subprocess.run([sys.executable, '-m', 'kdkit.cli', *args], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=1200)


def test_the_clone_imports_its_own_kdkit(clone):
    out = subprocess.run([sys.executable, '-c', 'import kdkit, sys; print(kdkit.__file__)'],
                         cwd=clone, env=dict(os.environ, PYTHONPATH=str(clone)),
                         capture_output=True, text=True, check=True).stdout
    assert Path(out.strip()).resolve().is_relative_to(clone.resolve())


def test_plan_uses_the_shipped_teacher_for_every_path_form(clone, default_data):
    rel = os.path.relpath(default_data, clone)
    for args in ([], ['--data-root', str(default_data)], ['--data-root', rel]):
        res = kdkit_in(clone, 'demo', '--dry-run', *args)
        assert res.returncode == 0, res.stderr
        assert f'teacher: shipped {clone.resolve() / SHIPPED_TEACHER}' in res.stdout, args


def test_fresh_clone_demo_is_quiet_uses_the_shipped_teacher_and_ends_with_table_and_figure(
        clone, default_data):
    rel = os.path.relpath(default_data, clone)
    res = kdkit_in(clone, 'demo', '--data-root', rel, '--pairs', 'RTMPose-t',
                   '--max-epochs', '1')
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert 'teacher (shipped)' in res.stdout
    # no teacher was trained: no teacher run folder, only the demo's evaluations
    runs = sorted(p.name for p in (clone / 'work_dirs').iterdir())
    assert not [r for r in runs if r.startswith('td-hm_res18')], runs
    assert out.count('\n') <= 60, out  # progress bars redraw with '\r', on one line each
    for noise in ('Config:', 'Epoch(train)', 'Warning', 'Loads checkpoint'):
        assert noise not in out, out
    tail = res.stdout.strip().splitlines()
    assert tail[-1].startswith('figure: ') and tail[-1].endswith('.png')
    assert (clone / tail[-1][len('figure: '):]).is_file()
    assert any(line.startswith('| RTMPose-t distilled |') for line in tail)
