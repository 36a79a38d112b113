"""The GPU device recipe's parts that need no GPU (Python standard library only).

``bench/device/run.sh`` sets kdkit up on a lent GPU machine that has Python 3.12
and torch but no network, from files carried along, then runs ``kdkit bench``
with three seeds inside one call of at most 10 minutes. This module holds:

* the fetch list: what the device image lacks (its package list is in the
  workplace's device notes) and is carried as files, with versions pinned in
  ``environment.yml`` (the one dependency list) or, for what that file only gets
  transitively, in :data:`EXTRA_PINS`; ``fetch`` downloads them here with
  ``pip download --no-deps`` (``bench/device/fetch.sh``);
* the time plan: how the call's seconds are split between setup (measured),
  the teachers and plain students, the distilled students and the record, and
  the epochs that fit (``plan``, called by run.sh after setup with the seconds
  already spent).

Usage::

    python3 bench/device/recipe.py fetch [--python 3.12] [--dest build/device-wheels]
    python3 bench/device/recipe.py plan --elapsed SECONDS [--budget 570] [--jobs auto] ...
    python3 bench/device/recipe.py carried   # the carried names, one a line
"""
from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = ROOT / 'environment.yml'
DEFAULT_DEST = 'build/device-wheels'

# (distribution, kind, why it is carried). kind: 'wheel' = a wheel for the
# device's Python (pure or manylinux), 'sdist' = source built there.
CARRIED = (
    ('setuptools', 'wheel', 'mmengine imports pkg_resources, removed in setuptools 81; '
     'also builds mmcv and xtcocotools there'),
    ('mmengine', 'wheel', 'not in the image'),
    ('mmcv', 'sdist', 'compiled there with its ops against the image\'s torch (no wheel '
     'exists for torch 2.11)'),
    ('mmpose', 'wheel', 'not in the image (installed without its broken chumpy pin)'),
    ('mmdet', 'wheel', 'RTMPose\'s CSPNeXt backbone'),
    ('addict', 'wheel', 'mmengine, mmcv'),
    ('yapf', 'wheel', 'mmengine, mmcv'),
    ('platformdirs', 'wheel', 'yapf'),
    ('termcolor', 'wheel', 'mmengine'),
    ('json_tricks', 'wheel', 'mmpose'),
    ('munkres', 'wheel', 'mmpose'),
    ('xtcocotools', 'sdist', 'mmpose\'s COCO evaluation; PyPI has no cp312 wheel: built there '
     '(Cython and numpy are in the image)'),
    ('pycocotools', 'wheel', 'mmdet'),
    ('shapely', 'wheel', 'mmdet'),
    ('terminaltables', 'wheel', 'mmdet'),
)
# versions of carried packages that come in as dependencies of the stack; environment.yml
# pins the same versions, so `make setup` installs what is carried and tested
EXTRA_PINS = {'platformdirs': '4.14.8', 'termcolor': '3.3.0'}

# What the device image already has, of what the stack imports (the device
# notes' package list, read 2026-11-17). run.sh checks the imports there.
DEVICE_HAS = frozenset({
    'torch', 'torchvision', 'numpy', 'scipy', 'matplotlib', 'opencv-python-headless',
    'pyyaml', 'pillow', 'packaging', 'six', 'tqdm', 'pandas', 'seaborn', 'onnx',
    'onnxruntime', 'rich', 'imageio', 'cython', 'wheel', 'ninja', 'pip', 'regex',
    'pytest'})
# names a requirement may use for what the image has under another name
ALIASES = {'opencv-python': 'opencv-python-headless'}

MANYLINUX = ('manylinux_2_28_x86_64', 'manylinux_2_27_x86_64', 'manylinux_2_17_x86_64',
             'manylinux2014_x86_64', 'manylinux1_x86_64')


def canonical(name: str) -> str:
    return re.sub(r'[-_.]+', '-', name).lower()


def env_pins(path: Path = ENV_FILE) -> dict:
    """``{canonical name: version}`` of environment.yml's ``name==version`` lines."""
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r'\s*-\s+([A-Za-z0-9_.\-]+)\s*===?\s*([^\s#]+)', line)
        if m:
            pins[canonical(m.group(1))] = m.group(2)
    return pins


def fetch_list(path: Path = ENV_FILE) -> list[dict]:
    """The carried files: ``[{name, version, kind, why}]`` in install order."""
    pins = env_pins(path)
    out = []
    for name, kind, why in CARRIED:
        version = pins.get(canonical(name)) or EXTRA_PINS.get(name)
        if version is None:
            raise ValueError(f'{name}: no version in {path.name} or EXTRA_PINS')
        out.append(dict(name=name, version=version, kind=kind, why=why))
    return out


def download_commands(python: str = '3.12', dest: str = DEFAULT_DEST, pip=None,
                      path: Path = ENV_FILE) -> list[list[str]]:
    """One ``pip download --no-deps`` per carried file: wheels for CPython
    ``python`` on x86-64 manylinux (or pure), source archives where ``kind`` is
    ``sdist``."""
    pip = list(pip or [sys.executable, '-m', 'pip'])
    cmds = []
    for item in fetch_list(path):
        req = f"{item['name']}=={item['version']}"
        cmd = [*pip, 'download', '--no-deps', '--disable-pip-version-check', '-d', dest]
        if item['kind'] == 'sdist':
            cmd += ['--no-binary', ':all:']
        else:
            cmd += ['--only-binary', ':all:', '--python-version', python,
                    '--implementation', 'cp']
            for plat in MANYLINUX:
                cmd += ['--platform', plat]
        cmds.append(cmd + [req])
    return cmds


def fetch(python: str, dest: str) -> int:
    Path(dest).mkdir(parents=True, exist_ok=True)
    for cmd in download_commands(python, dest):
        print('+', ' '.join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    files = sorted(p for p in Path(dest).iterdir() if p.is_file())
    size = sum(p.stat().st_size for p in files)
    print(f'{dest}: {len(files)} files, {size / 2**20:.1f} MiB (carry it: run(carry=[{dest!r}]))')
    return 0


# ---------------------------------------------------------------- time plan
# Estimates for one H200 machine (16 cores), to be replaced by what the first
# device run measures (its bench.log prints each job's end time): a training
# job (one MMEngine process, batch 32, its dataloader workers) turns over at
# most JOB_RATE samples/s, all jobs together at most MACHINE_RATE (the
# augmentation of 16 cores); each job also spends JOB_OVERHEAD_S on imports,
# building the runner, starting workers, saving and testing on the 960 test frames.
EST = dict(job_rate=1200.0, machine_rate=8000.0, job_overhead_s=35.0, final_s=45.0,
           safety=0.8)
# the full profile's samples per epoch: students see all 6,400 train frames (the
# unlabelled half for the KD terms), teachers the 3,200 labelled ones
STUDENT_SAMPLES, TEACHER_SAMPLES = 6400, 3200
CONFIG_EPOCHS = 60  # the 60e configs' schedule
# kdkit bench --pairs heatmap hm2simcc simcc speed8x temporal: teachers trained
# there (the ResNet-18 is shipped), plain student configs, distilled student configs
TEACHERS_TO_TRAIN = 2  # rtmpose-s-s16, td-hm_res50
PLAIN_CONFIGS = 2      # MobileNetV2, RTMPose-t (shared by the pairs)
KD_CONFIGS = 8         # heatmap, hm2simcc, simcc + DWPose, speed8x, temporal frame + sharp + frame-temporal


JOB_CHOICES = range(4, 17)  # jobs tried by plan_best (GPU memory is no limit for these models)


def plan_best(budget_s: float, elapsed_s: float, seeds: int = 3, est: dict | None = None,
              max_epochs: int = CONFIG_EPOCHS) -> dict:
    """The :func:`time_plan` of the ``jobs`` (in :data:`JOB_CHOICES`) that fits
    the most epochs; of equals, the fewest jobs (less contention, spare time)."""
    plans = [time_plan(budget_s, elapsed_s, seeds, j, est, max_epochs) for j in JOB_CHOICES]
    return max(plans, key=lambda p: (p['epochs'], p['spare_s'], -p['jobs']))


def time_plan(budget_s: float, elapsed_s: float, seeds: int = 3, jobs: int = 8,
              est: dict | None = None, max_epochs: int = CONFIG_EPOCHS) -> dict:
    """The students' and teachers' epochs that fit in ``budget_s`` after
    ``elapsed_s`` (setup and data) with ``jobs`` training jobs at a time.

    Phase 1 trains the teachers and the plain students side by side; phase 2
    the distilled students. Every job of a phase lasts about the same (a
    teacher gets twice the student's epochs: its epoch has half the samples),
    so a phase is ``ceil(jobs in it / jobs)`` waves of one job's time.
    ``safety`` keeps a share of the training time spare, as the rates are
    estimates. Returns the epochs (0: nothing fits) and the seconds of each part.
    """
    e = dict(EST, **(est or {}))
    if jobs < 1 or seeds < 1:
        raise ValueError(f'jobs and seeds must be >= 1, got {jobs}, {seeds}')
    phase1 = TEACHERS_TO_TRAIN + PLAIN_CONFIGS * seeds
    phase2 = KD_CONFIGS * seeds
    waves = math.ceil(phase1 / jobs) + math.ceil(phase2 / jobs)
    rate = min(e['job_rate'], e['machine_rate'] / min(jobs, max(phase1, phase2)))
    epoch_s = STUDENT_SAMPLES / rate
    train_s = (budget_s - elapsed_s - e['final_s']) * e['safety']
    fit = math.floor((train_s / waves - e['job_overhead_s']) / epoch_s) if train_s > 0 else 0
    epochs = max(0, min(max_epochs, fit))
    teacher_epochs = min(max_epochs, 2 * epochs)
    job_s = e['job_overhead_s'] + epochs * epoch_s
    return dict(budget_s=budget_s, elapsed_s=round(elapsed_s), seeds=seeds, jobs=jobs,
                epochs=epochs, teacher_epochs=teacher_epochs, full_schedule=epochs >= max_epochs,
                waves=waves, job_s=round(job_s), train_s=round(waves * job_s),
                final_s=e['final_s'], spare_s=round(budget_s - elapsed_s - waves * job_s
                                                     - e['final_s']),
                samples_per_s_per_job=round(rate),
                full_schedule_s=round(waves * (e['job_overhead_s'] + max_epochs * epoch_s)))


def format_plan(p: dict) -> str:
    lines = [
        f"time plan: {p['budget_s']:.0f} s in all; setup and data took {p['elapsed_s']} s",
        f"  training: {p['waves']} waves of {p['jobs']} jobs x {p['job_s']} s = {p['train_s']} s "
        f"({p['seeds']} seeds; students {p['epochs']} epochs, teachers {p['teacher_epochs']}; "
        f"~{p['samples_per_s_per_job']} samples/s a job, estimated)",
        f"  record: {p['final_s']:.0f} s; spare {p['spare_s']} s",
    ]
    if not p['full_schedule']:
        lines.append(f"  the configs' {CONFIG_EPOCHS} epochs would need ~{p['full_schedule_s']} s "
                     'of training: the record states the epochs used')
    lines.append(f"EPOCHS={p['epochs']} TEACHER_EPOCHS={p['teacher_epochs']} JOBS={p['jobs']}")
    return '\n'.join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    f = sub.add_parser('fetch', help='download the carried files (needs the package registry)')
    f.add_argument('--python', default='3.12', help="the device's Python (default 3.12)")
    f.add_argument('--dest', default=DEFAULT_DEST)
    pl = sub.add_parser('plan', help='the epochs that fit in the rest of the call')
    pl.add_argument('--elapsed', type=float, required=True, help='seconds spent so far')
    pl.add_argument('--budget', type=float, default=570.0,
                    help='seconds of the whole call to use (default 570 of the 600 limit)')
    pl.add_argument('--seeds', type=int, default=3)
    pl.add_argument('--jobs', default='auto',
                    help="training jobs at a time (default auto: the number that fits most epochs)")
    pl.add_argument('--max-epochs', type=int, default=CONFIG_EPOCHS)
    sub.add_parser('carried', help='the carried distributions, one a line')
    args = ap.parse_args(argv)
    if args.cmd == 'fetch':
        return fetch(args.python, args.dest)
    if args.cmd == 'plan':
        if args.jobs == 'auto':
            plan = plan_best(args.budget, args.elapsed, args.seeds, max_epochs=args.max_epochs)
        else:
            plan = time_plan(args.budget, args.elapsed, args.seeds, int(args.jobs),
                             max_epochs=args.max_epochs)
        print(format_plan(plan))
        return 0
    for item in fetch_list():
        print(f"{item['name']}=={item['version']} {item['kind']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
