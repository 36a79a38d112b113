#!/usr/bin/env python3
"""Fetch the real demo video: pose2sim's ``Demo_MultiPerson`` from its PyPI wheel.

Runs with the system Python 3.11 and the standard library only (pip is called
as ``python -m pip``). pose2sim 0.10.49's wheel (BSD-3-Clause) ships a
multi-camera demo: four synchronised videos ``cam01.mp4`` .. ``cam04.mp4``
(100 frames each at 60 fps, two people), the calibration
``calibration/Calib.qca.txt`` and ``Config.toml``. Only
``Pose2Sim/Demo_MultiPerson/`` is extracted, into
``data/real/Demo_MultiPerson/``, with the wheel's license text as
``LICENSE``; the wheel's other demos are deliberately left in the wheel
(they are reserved for an independent check).

The wheel is downloaded once (``pip download --no-deps``) into
``~/.cache/kdkit/wheels/pose2sim-0.10.49`` (``$KDKIT_WHEEL_CACHE``), as
tools/setup_env.py caches its wheels. Extraction goes to a temporary folder
that is renamed into place, so a killed run leaves no half-written demo.
Idempotent: a complete ``data/real/Demo_MultiPerson`` is left as it is.

Usage: python3 tools/fetch_real_data.py [--out data/real] [--force]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
WHEEL_CACHE = Path(os.environ.get(
    'KDKIT_WHEEL_CACHE', Path.home() / '.cache' / 'kdkit' / 'wheels'))
PACKAGE = 'pose2sim'
VERSION = '0.10.49'
PREFIX = 'Pose2Sim/Demo_MultiPerson/'
DEMO = 'Demo_MultiPerson'
# Relative to the demo folder: what a complete extraction holds.
EXPECTED = ['Config.toml', 'calibration/Calib.qca.txt'] + [
    f'videos/cam0{i}.mp4' for i in range(1, 5)]


def run(cmd: list[str]) -> None:
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def cached_wheel() -> Path:
    """pose2sim's wheel, downloaded once into the kdkit wheel cache."""
    folder = WHEEL_CACHE / f'{PACKAGE}-{VERSION}'
    pattern = f'{PACKAGE}-{VERSION}-*.whl'
    wheels = sorted(folder.glob(pattern)) if folder.is_dir() else []
    if not wheels:
        tmp = folder.with_name(folder.name + '.tmp')
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        t0 = time.time()
        try:
            run([sys.executable, '-m', 'pip', 'download', '--disable-pip-version-check',
                 '--no-deps', '--only-binary', ':all:', '-d', str(tmp),
                 f'{PACKAGE}=={VERSION}'])
        except subprocess.CalledProcessError:
            sys.exit(f'pip could not download {PACKAGE}=={VERSION} (see above)')
        print(f'downloaded {PACKAGE}=={VERSION} in {time.time() - t0:.0f} s', flush=True)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)  # atomic: a killed download leaves only *.tmp
        wheels = sorted(folder.glob(pattern))
    if len(wheels) != 1:
        sys.exit(f'{folder}: expected one {pattern}, found {len(wheels)}')
    return wheels[0]


def find_license(names: list[str]) -> str | None:
    """The wheel's license file (``*.dist-info/licenses/LICENSE`` or
    ``*.dist-info/LICENSE``), or None."""
    for name in names:
        p = PurePosixPath(name)
        if p.parts[0].endswith('.dist-info') and p.name.upper().startswith(
                ('LICENSE', 'LICENCE', 'COPYING')):
            return name
    return None


def extract_demo(wheel: Path, dest: Path) -> list[str]:
    """Extract ``PREFIX`` of ``wheel`` into ``dest`` (and LICENSE); return the
    relative paths written."""
    written = []
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        members = [n for n in names if n.startswith(PREFIX) and not n.endswith('/')]
        if not members:
            sys.exit(f'{wheel.name}: holds no {PREFIX}')
        for name in members:
            rel = PurePosixPath(name[len(PREFIX):])
            if rel.is_absolute() or '..' in rel.parts:
                sys.exit(f'{wheel.name}: unsafe member name {name!r}')
            target = dest.joinpath(*rel.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(name) as src, open(target, 'wb') as dst:
                shutil.copyfileobj(src, dst)
            written.append(str(rel))
        lic = find_license(names)
        if lic is not None:
            (dest / 'LICENSE').write_bytes(
                zf.read(lic) + f'\n\n(From {wheel.name}: {lic}; the files of this '
                f'folder are its {PREFIX}.)\n'.encode())
            written.append('LICENSE')
        else:
            print(f'note: {wheel.name} holds no license file', flush=True)
    return written


def complete(folder: Path) -> bool:
    return all((folder / rel).is_file() for rel in EXPECTED)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT / 'data' / 'real'),
                    help='folder that receives Demo_MultiPerson/ (default data/real)')
    ap.add_argument('--force', action='store_true', help='extract again')
    args = ap.parse_args()

    out = Path(args.out)
    final = out / DEMO
    if not args.force and complete(final):
        print(f'{final}: already there (pose2sim {VERSION} {DEMO})')
        return
    t0 = time.time()
    wheel = cached_wheel()
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f'{DEMO}.tmp-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        written = extract_demo(wheel, tmp)
        if not complete(tmp):
            missing = [rel for rel in EXPECTED if not (tmp / rel).is_file()]
            sys.exit(f'{wheel.name}: {PREFIX} lacks {", ".join(missing)}')
        old = out / f'{DEMO}.old-{os.getpid()}'
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    size = sum((final / rel).stat().st_size for rel in written)
    print(f'{final}: {len(written)} files, {size / 1e6:.1f} MB, from {wheel.name} '
          f'in {time.time() - t0:.0f} s')


if __name__ == '__main__':
    main()
