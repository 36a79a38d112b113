#!/usr/bin/env python3
"""Build (or verify) kdkit's virtual environment from ``environment.yml``.

Runs with the system Python 3.11 and the standard library only. Stages come
from the ``# -- stage: NAME`` comments in environment.yml's pip section; the
flags each stage needs are encoded here, with the reason next to them.

Idempotent: a stamp holding the hash of environment.yml and of this script is
written into the venv when setup succeeds; a second run with the same hash
returns at once.

Usage: python3 tools/setup_env.py [--venv .venv] [--force]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = ROOT / 'environment.yml'
STAMP_NAME = '.kdkit-setup-stamp'
# Wheels we compile (mmcv, xtcocotools) are kept here, keyed by what they were
# built against, so a fresh clone reuses them instead of compiling for 15 min.
WHEEL_CACHE = Path(os.environ.get(
    'KDKIT_WHEEL_CACHE', Path.home() / '.cache' / 'kdkit' / 'wheels'))


def read_stages(path: Path) -> dict[str, list[str]]:
    """Return ``{stage: [requirement, ...]}`` from the pip section, in order."""
    stages: dict[str, list[str]] = {}
    current = None
    in_pip = False
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if line == '- pip:':
            in_pip = True
            continue
        if not in_pip:
            continue
        m = re.match(r'#\s*--\s*stage:\s*(\w+)', line)
        if m:
            current = m.group(1)
            stages[current] = []
        elif line.startswith('- '):
            if current is None:
                sys.exit(f'{path}:{lineno}: requirement before any '
                         f'"# -- stage: NAME" comment')
            stages[current].append(line[2:].strip())
    expected = ['base', 'torch', 'runtime', 'mmcv', 'xtcocotools', 'nodeps',
                'kdkit']
    if list(stages) != expected:
        sys.exit(f'{path}: pip stages are {list(stages)}, expected {expected}')
    return stages


def env_hash() -> str:
    h = hashlib.sha256(ENV_FILE.read_bytes())
    h.update(Path(__file__).read_bytes())
    h.update((ROOT / 'pyproject.toml').read_bytes())
    return h.hexdigest()


def run(cmd: list[str], env: dict | None = None) -> None:
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, env={**os.environ, **(env or {})})


def has_cuda_toolchain() -> bool:
    """CUDA ops only when both a GPU driver and nvcc are present."""
    return shutil.which('nvidia-smi') is not None and (
        shutil.which('nvcc') is not None or Path(os.environ.get(
            'CUDA_HOME', '/usr/local/cuda'), 'bin', 'nvcc').exists())


def cached_wheel(py: str, req: str, tag: str, env: dict) -> list[str]:
    """Build ``req`` once into a cache folder named by ``tag``; return wheels."""
    folder = WHEEL_CACHE / tag
    wheels = sorted(folder.glob('*.whl')) if folder.is_dir() else []
    if not wheels:
        tmp = folder.with_name(folder.name + '.tmp')
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        t0 = time.time()
        run([py, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
             '--no-binary', req.split('=')[0], '-w', str(tmp), req], env=env)
        print(f'built {req} in {time.time() - t0:.0f} s', flush=True)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)  # atomic: a killed build leaves only *.tmp
        wheels = sorted(folder.glob('*.whl'))
    return [str(w) for w in wheels]


def torch_tag(py: str) -> str:
    out = subprocess.run(
        [py, '-c', 'import torch, numpy; print(torch.__version__, '
         'numpy.__version__)'], check=True, capture_output=True, text=True)
    torch_v, numpy_v = out.stdout.split()
    return f'torch{torch_v}-numpy{numpy_v}-py{sys.version_info[0]}{sys.version_info[1]}'


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--venv', default=str(ROOT / '.venv'))
    ap.add_argument('--force', action='store_true')
    args = ap.parse_args()

    if sys.version_info[:2] != (3, 11):
        sys.exit(f'kdkit setup needs Python 3.11, this is {sys.version.split()[0]}')
    venv_dir = Path(args.venv)
    stamp = venv_dir / STAMP_NAME
    want = env_hash()
    if not args.force and stamp.exists() and stamp.read_text() == want:
        print(f'{venv_dir}: up to date with environment.yml')
        return

    stages = read_stages(ENV_FILE)
    t0 = time.time()
    if not (venv_dir / 'bin' / 'python').exists():
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    py = str(venv_dir / 'bin' / 'python')
    pip = [py, '-m', 'pip', 'install', '--disable-pip-version-check']

    run(pip + stages['base'])
    run(pip + stages['torch'])
    run(pip + stages['runtime'])

    cuda = has_cuda_toolchain()
    tag = torch_tag(py)
    build_env = {'MMCV_WITH_OPS': '1', 'FORCE_CUDA': '1' if cuda else '0',
                 'MAX_JOBS': str(os.cpu_count() or 2)}
    for stage in ('mmcv', 'xtcocotools'):
        for req in stages[stage]:
            name = req.replace('==', '-')
            suffix = ('-cuda' if cuda else '-cpu') if stage == 'mmcv' else ''
            wheels = cached_wheel(py, req, f'{name}-{tag}{suffix}', build_env)
            run(pip + ['--no-deps', '--force-reinstall'] + wheels)

    run(pip + ['--no-deps'] + stages['nodeps'])
    # kdkit itself: editable, its dependencies are all above.
    run(pip + ['--no-deps', '--no-build-isolation', '-e', str(ROOT)])

    stamp.write_text(want)
    print(f'{venv_dir}: set up in {time.time() - t0:.0f} s')


if __name__ == '__main__':
    main()
