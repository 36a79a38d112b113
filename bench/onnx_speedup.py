"""ONNX Runtime speed-up of every teacher/student pair the kit's configs allow.

    .venv/bin/python bench/onnx_speedup.py [--rounds 3] [--warmup 10] [--iters 50]
        [--out bench/results/onnx_speedup]

Issue #6 asks for a student >= 8x faster than its teacher in ONNX Runtime.
Latency does not depend on the weights, so every architecture is exported with
random weights (``kdkit.export.export_onnx``, checked against PyTorch) and timed
at the kit's 96x128 input, batch 1, 1 thread and all threads. The architectures
are timed round-robin for ``--rounds`` rounds (the order rotated each round) and
the median of the rounds' medians is kept, so drifting load on a shared machine
hits all alike; speed-ups are ratios of those medians, measured in this one run.
Also listed: GFLOPs and params (mmengine's counter) and, as a candidate, the
MobileNetV2 student reading stage 6 (320 channels) instead of the 1,280-channel
last stage (its head costs more FLOPs than its backbone; the first deconvolution
reads that wide stage). The cross-family pairs (a heatmap ResNet teacher, the
SimCC RTMPose-t student, distilled through ``HeatmapToSimCCDistillLoss`` as in
the ``kd-hm2simcc`` configs) are listed because RTMPose-t's head is ~10x
lighter than the deconvolution head.
"""
from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARCHS = {
    'MobileNetV2 (student)': 'configs/student/td-hm_mobilenetv2_60e_kdkit-video-128x96.py',
    'MobileNetV2 stage-6 head (candidate)':
        'configs/student/td-hm_mobilenetv2_60e_kdkit-video-128x96.py',
    'RTMPose-t (student)': 'configs/student/rtmpose-t_60e_kdkit-video-128x96.py',
    'ResNet-18 (teacher)': 'configs/teacher/td-hm_res18_60e_kdkit-video-128x96.py',
    'ResNet-50 (teacher)': 'configs/teacher/td-hm_res50_60e_kdkit-video-128x96.py',
    'RTMPose-s (teacher)': 'configs/teacher/rtmpose-s_60e_kdkit-video-128x96.py',
}
PAIRS = [('ResNet-18 (teacher)', 'MobileNetV2 (student)'),
         ('ResNet-50 (teacher)', 'MobileNetV2 (student)'),
         ('ResNet-18 (teacher)', 'MobileNetV2 stage-6 head (candidate)'),
         ('ResNet-50 (teacher)', 'MobileNetV2 stage-6 head (candidate)'),
         ('RTMPose-s (teacher)', 'RTMPose-t (student)'),
         # cross-family: heatmap teacher -> SimCC student (kd-hm2simcc configs)
         ('ResNet-18 (teacher)', 'RTMPose-t (student)'),
         ('ResNet-50 (teacher)', 'RTMPose-t (student)')]
GOAL = 8.0


# config overrides of the variants that have no config file of their own
OVERRIDES = {'MobileNetV2 stage-6 head (candidate)':
             {'model.backbone.out_indices': (6, ), 'model.head.in_channels': 320}}


def arch_config(name: str):
    """The config of ``name``, with its :data:`OVERRIDES` if it is a variant."""
    from kdkit.distill.cli import load_config
    return load_config(ARCHS[name], OVERRIDES.get(name))


def time_round_robin(paths: dict, threads: int, rounds: int, warmup: int, iters: int) -> dict:
    """``{name: median over rounds of the per-round median ms}``, order rotated per round."""
    from kdkit.evaluation.latency import onnx_latency
    names = list(paths)
    per_round = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            per_round[n].append(onnx_latency(paths[n], threads=threads, warmup=warmup,
                                             iters=iters)['median_ms'])
    return {n: dict(median_ms=statistics.median(v), rounds_ms=v) for n, v in per_round.items()}


def format_markdown(record: dict) -> str:
    m = record['machine']
    lines = ['# ONNX Runtime speed-up of teacher/student pairs (random weights, 96x128, batch 1)',
             '', f"Command: `{record['command']}`  ",
             f"Machine: {m['cpu']}, {m['cores']} cores; torch {m['torch']}, onnxruntime "
             f"{m['onnxruntime']}; load average {m['loadavg_before']:.1f}; {record['seconds']} s",
             '', '| architecture | params (M) | GFLOPs | ORT 1 thread (ms) | ORT all threads (ms) |',
             '|---|---:|---:|---:|---:|']
    for name, a in record['archs'].items():
        lines.append(f"| {name} | {a['params_M']:.2f} | {a['GFLOPs']:.3f} | "
                     f"{a['ort_1t_ms']:.2f} | {a['ort_all_ms']:.2f} |")
    lines += ['', f'| teacher → student | FLOPs ratio | ORT 1 thread speed-up | '
              f'ORT all threads speed-up | ≥ {GOAL:g}× |', '|---|---:|---:|---:|:---:|']
    for p in record['pairs']:
        ok = 'PASS' if p['speedup_1t'] >= GOAL else 'FAIL'
        lines.append(f"| {p['teacher']} → {p['student']} | {p['flops_ratio']:.1f}× | "
                     f"{p['speedup_1t']:.2f}× | {p['speedup_all']:.2f}× | {ok} |")
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--iters', type=int, default=50)
    parser.add_argument('--out', default='bench/results/onnx_speedup',
                        help='writes OUT.json and OUT.md')
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from kdkit.bench import complexity, machine_info
    from kdkit.evaluation.latency import all_threads
    from kdkit.export import export_onnx
    from kdkit.utils.io import atomic_write_text
    t0, machine = time.time(), machine_info()
    archs, paths = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(ARCHS):
            cfg = arch_config(name)
            info = export_onnx(cfg, None, Path(tmp) / f'arch{i}.onnx')
            paths[name] = info['path']
            archs[name] = dict(config=ARCHS[name], onnx_max_abs_diff=info['max_abs_diff'],
                               **complexity(cfg))
        one = time_round_robin(paths, 1, args.rounds, args.warmup, args.iters)
        many = time_round_robin(paths, all_threads(), args.rounds, args.warmup, args.iters)
    for name, a in archs.items():
        a.update(ort_1t_ms=one[name]['median_ms'], ort_1t_rounds_ms=one[name]['rounds_ms'],
                 ort_all_ms=many[name]['median_ms'], ort_all_rounds_ms=many[name]['rounds_ms'])
    pairs = [dict(teacher=t, student=s, flops_ratio=archs[t]['GFLOPs'] / archs[s]['GFLOPs'],
                  speedup_1t=archs[t]['ort_1t_ms'] / archs[s]['ort_1t_ms'],
                  speedup_all=archs[t]['ort_all_ms'] / archs[s]['ort_all_ms'])
             for t, s in PAIRS]
    record = dict(command=' '.join(['python bench/onnx_speedup.py',
                                    *map(shlex.quote, argv or sys.argv[1:])]),
                  machine=machine, all_threads=all_threads(), rounds=args.rounds,
                  warmup=args.warmup, iters=args.iters, seconds=round(time.time() - t0, 1),
                  archs=archs, pairs=pairs, goal=GOAL)
    out = Path(args.out)
    atomic_write_text(out.with_suffix('.json'), json.dumps(record, indent=2))
    report = format_markdown(record)
    atomic_write_text(out.with_suffix('.md'), report)
    print(report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
