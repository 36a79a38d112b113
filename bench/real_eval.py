"""Issue #15's evaluation on the held-out view of Demo_MultiPerson (cam04).

For each student trained by ``bench/real_students.sh`` (and the MediaPipe
teacher's own labels as the reference row):

* AP / PCK@0.2 / jitter against the teacher's pseudo-labels of cam04
  (``kdkit evaluate keypoints``), the student run top-down on the teacher's boxes;
* multi-view consistency: cam01-03's teacher labels triangulated with the
  wheel's calibration and reprojected into cam04, median / mean px
  (``kdkit evaluate multiview``);
* params, GFLOPs (1x3x128x96) and ONNX Runtime latency on 1 thread.

Usage: ``python bench/real_eval.py [--runs work_dirs/real_students/10e] [--out bench/results/real_students_10e]``
Writes ``<out>.json`` and ``<out>.md`` (machine and command included).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REAL = REPO / 'data' / 'real'
VIDEO = REAL / 'Demo_MultiPerson' / 'videos' / 'cam04.mp4'
CALIB = REAL / 'Demo_MultiPerson' / 'calibration' / 'Calib.qca.txt'
LABELS = REAL / 'labels_mediapipe.json'
GT = REAL / 'demo_multiperson' / 'annotations' / 'person_keypoints_val.json'
STUDENTS = ('generated-only', 'real-only', 'mixed')


def best_checkpoint(run: Path) -> Path:
    """The run's last epoch (model selection on cam04 would tune on the test view)."""
    ckpts = sorted(run.glob('epoch_*.pth'), key=lambda p: int(p.stem.split('_')[1]))
    if not ckpts:
        raise FileNotFoundError(f'{run}: no epoch_*.pth')
    return ckpts[-1]


def evaluate_student(name: str, run: Path, out_dir: Path) -> dict:
    """A training run's last epoch, with the config it dumped."""
    return evaluate_checkpoint(name, next(run.glob('*.py')), best_checkpoint(run), out_dir)


def evaluate_checkpoint(name: str, config: Path, ckpt: Path, out_dir: Path) -> dict:
    from kdkit.evaluation import (keypoints_report, model_complexity, multiview_cli_report,
                                  onnx_latency)
    from kdkit.export.onnx import build_student, export_onnx
    from kdkit.predict.core import predict
    preds = out_dir / name / 'preds.json'
    predict(str(config), str(ckpt), preds, video=str(VIDEO), boxes=str(LABELS),
            progress=False, log=None)
    kp = keypoints_report(GT, preds)
    mv = multiview_cli_report(CALIB, LABELS, predictions=preds, held_out='cam04')
    model = build_student(str(config), str(ckpt))
    cx = model_complexity(model, (1, 3, 128, 96))
    onnx = out_dir / name / 'student.onnx'
    export_onnx(str(config), str(ckpt), onnx)
    lat = onnx_latency(str(onnx), (1, 3, 128, 96), threads=1)
    return dict(name=name, checkpoint=str(ckpt), keypoints=kp,
                multiview=mv, params_M=cx['params'] / 1e6, gflops=cx['flops'],
                ort_1t_ms=lat['median_ms'])


def teacher_row(out_dir: Path) -> dict:
    """The teacher's cam04 labels scored as predictions (AP and PCK 1 by
    construction; its jitter is what the students' is compared with)."""
    from kdkit.evaluation import keypoints_report, multiview_cli_report
    from kdkit.evaluation.real import write_json_atomic
    gt = json.loads(GT.read_text())
    preds = [dict(image_id=a['image_id'], category_id=1, keypoints=a['keypoints'], bbox=a['bbox'],
                  score=float(a.get('score', 1.0))) for a in gt['annotations']]
    path = write_json_atomic(out_dir / 'teacher' / 'preds.json', preds)
    kp = keypoints_report(GT, path)
    mv = multiview_cli_report(CALIB, LABELS, held_out='cam04')
    return dict(name='MediaPipe BlazePose full (teacher)', keypoints=kp, multiview=mv)


def held_out(mv: dict) -> dict:
    """The held-out view's figures, whichever key the report keeps them under."""
    h = mv['held_out']
    return (h.get('predictions') or h['reference'])['overall']


def markdown(rows: list, teacher: dict, command: str) -> str:
    ref = held_out(teacher['multiview'])
    lines = [
        '# Issue #15: students on the held-out view cam04 of Demo_MultiPerson', '',
        f'Command: `{command}`  ', f'Machine: {platform.node()}, {platform.processor() or platform.machine()}, '
        f'Python {platform.python_version()}; {time.strftime("%Y-%m-%d %H:%M")}', '',
        'AP / PCK@0.2 / jitter against the MediaPipe teacher\'s cam04 labels (student top-down on '
        'the teacher\'s boxes); reprojection: cam01-03 teacher labels triangulated, reprojected '
        'into cam04; latency: ONNX Runtime, 1 thread, batch 1, 128x96.', '',
        '| model | AP | PCK@0.2 | jitter | reproj. median px | reproj. mean px | params (M) | GFLOPs | ORT 1-thread ms |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
        f"| {teacher['name']} | 1 (its own labels) | 1 | {teacher['keypoints']['jitter']:.4f} | "
        f"{ref.get('median_px', float('nan')):.1f} | "
        f"{ref.get('mean_px', float('nan')):.1f} | – | – | – |"]
    for r in rows:
        kp, h = r['keypoints'], held_out(r['multiview'])
        lines.append(
            f"| MobileNetV2 {r['name']} | {kp.get('AP', float('nan')):.3f} | "
            f"{kp.get('PCK', kp.get('PCK@0.2', float('nan'))):.3f} | {kp.get('jitter', float('nan')):.4f} | "
            f"{h.get('median_px', float('nan')):.1f} | {h.get('mean_px', float('nan')):.1f} | "
            f"{r['params_M']:.2f} | {r['gflops']:.3f} | {r['ort_1t_ms']:.2f} |")
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--runs', default='work_dirs/real_students/10e')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default='bench/results/real_students_10e')
    p.add_argument('--students', nargs='*', default=list(STUDENTS),
                   help='runs <runs>/<name>_seed<seed> to score (default: the three students)')
    p.add_argument('--shipped', action='store_true',
                   help='also score the shipped fp16 student (checkpoints/kd-pseudo_*.pth)')
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO))
    out_dir = REPO / 'work_dirs' / 'real_eval' / Path(args.out).name
    rows = []
    for name in args.students:
        run = REPO / args.runs / f'{name}_seed{args.seed}'
        if not run.is_dir():
            print(f'{name}: no run at {run}, skipped')
            continue
        rows.append(evaluate_student(name, run, out_dir))
        print(name, 'done')
    if args.shipped:
        # imported here as the others are: kdkit comes from this checkout (sys.path above)
        from kdkit.demo import SHIPPED_REAL_STUDENT, SHIPPED_REAL_STUDENT_CONFIG
        rows.append(evaluate_checkpoint('shipped (fp16)', REPO / SHIPPED_REAL_STUDENT_CONFIG,
                                        REPO / SHIPPED_REAL_STUDENT, out_dir))
    teacher = teacher_row(out_dir)
    command = 'python bench/real_eval.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
    out = REPO / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    from kdkit.evaluation.real import write_json_atomic
    write_json_atomic(out.with_suffix('.json'), dict(command=command, rows=rows, teacher=teacher,
                                                     machine=platform.node()))
    md = markdown(rows, teacher, command)
    out.with_suffix('.md').write_text(md)
    print(md)
    return 0


if __name__ == '__main__':
    sys.exit(main())
