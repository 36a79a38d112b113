"""``kdkit demo``: the main job on the embedded generated data.

Generates the data (if absent), trains (or reuses) the teacher, trains the
plain mobile student and the distilled student with the same seed, evaluates
all three on the held-out test split and prints

    model | AP | PCK@0.2 | params (M) | GFLOPs | KD gain (AP) | KD gain (PCK@0.2)

The table is also written to ``work_dirs/demo_<profile>/results.{json,md}``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

PROFILE_CONFIGS = {
    'quick': dict(
        data='data/kdkit_quick',
        teacher='configs/teacher/td-hm_res18_quick_kdkit-video-128x96.py',
        student='configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py',
        distilled='configs/distill/kd-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'),
    'full': dict(
        data='data/kdkit_full',
        teacher='configs/teacher/td-hm_res18_60e_kdkit-video-128x96.py',
        student='configs/student/td-hm_mobilenetv2_60e_kdkit-video-128x96.py',
        distilled='configs/distill/kd-hm_mobilenetv2-from-res18_60e_kdkit-video-128x96.py'),
}


DATA_SEED = 0  # the embedded default data; --seed varies training only


def ensure_data(profile: str, root: str) -> Path:
    from kdkit.data import generate_dataset
    path = Path(root)
    if (path / 'meta.json').is_file():
        return path
    return generate_dataset(path, profile=profile, seed=DATA_SEED)


def last_checkpoint(work_dir: Path) -> Path | None:
    """A run's best (else last) checkpoint; None before its first one."""
    from kdkit.distill.teacher import resolve_checkpoint
    try:
        return resolve_checkpoint(work_dir)
    except FileNotFoundError:
        return None


# teacher shipped with the kit for the quick demo: trained on the full default
# data, whose train split shares no clip or subject with the quick val/test splits
# (see configs/teacher/td-hm_res18_16e_kdkit-video-128x96.py)
SHIPPED_TEACHER = Path('checkpoints/td-hm_res18_16e_kdkit-video-128x96.pth')


def trained_teacher(profile: str, default_data: bool,
                    work_root: str | Path = 'work_dirs') -> tuple[Path | None, str]:
    """The profile's heatmap teacher, if one is trained: ``(checkpoint, 'reused')``
    from its work_dir, else ``(SHIPPED_TEACHER, 'shipped')`` on the quick default
    data, else ``(None, '')``: train it."""
    from kdkit.utils import repo_root
    ckpt = last_checkpoint(Path(work_root) / Path(PROFILE_CONFIGS[profile]['teacher']).stem)
    if ckpt is not None:
        return ckpt, 'reused'
    shipped = repo_root() / SHIPPED_TEACHER
    if profile == 'quick' and default_data and shipped.is_file():
        return shipped, 'shipped'
    return None, ''


def train_or_reuse(config: str, work_dir: Path, seed: int, retrain: bool,
                   cfg_options: dict | None = None, max_epochs: int | None = None) -> Path:
    from kdkit.distill.cli import train
    ckpt = None if retrain else last_checkpoint(work_dir)
    if ckpt is None:
        train(config, str(work_dir), seed=seed, cfg_options=cfg_options,
              max_epochs=max_epochs)
        ckpt = last_checkpoint(work_dir)
    return ckpt


def evaluate(config: str, ckpt: Path, work_dir: Path, cfg_options: dict | None) -> dict:
    from kdkit.distill.cli import load_config, test
    from kdkit.distill.teacher import build_pose_model
    from kdkit.evaluation import model_complexity
    metrics = test(config, str(ckpt), str(work_dir / 'test'), cfg_options=cfg_options)
    cfg = load_config(config, cfg_options)
    w, h = cfg.codec['input_size']
    cx = model_complexity(build_pose_model(cfg), input_shape=(1, 3, h, w))
    return dict(AP=float(metrics['coco/AP']), PCK=float(metrics.get('kdkit/PCK@0.2', float('nan'))),
                params_M=cx['params'] / 1e6, GFLOPs=float(cx['flops']))


def format_table(rows: dict) -> str:
    lines = ['| model | AP | PCK@0.2 | params (M) | GFLOPs | KD gain (AP) | KD gain (PCK@0.2) |',
             '|---|---:|---:|---:|---:|---:|---:|']
    for name, r in rows.items():
        gains = [f'{r[k]:+.3f}' if k in r else '' for k in ('kd_gain', 'kd_gain_pck')]
        lines.append(f'| {name} | {r["AP"]:.3f} | {r["PCK"]:.3f} | {r["params_M"]:.2f} '
                     f'| {r["GFLOPs"]:.3f} | {gains[0]} | {gains[1]} |')
    return '\n'.join(lines)


def run_demo(profile: str = 'quick', seed: int = 0, retrain: bool = False,
             data_root: str | None = None, work_root: str = 'work_dirs',
             max_epochs: int | None = None) -> dict:
    from kdkit.distill.cli import data_root_options
    from kdkit.distill.hook import hook_option
    from kdkit.utils.io import atomic_write_text
    if profile not in PROFILE_CONFIGS:
        raise ValueError(f'--profile: expected one of {sorted(PROFILE_CONFIGS)}, got {profile!r}')
    cfgs = PROFILE_CONFIGS[profile]
    t0 = time.time()
    root = ensure_data(profile, data_root or cfgs['data'])
    data_opts = data_root_options(root)
    work = Path(work_root)
    ckpts = {}
    if not retrain:
        ckpts['teacher'] = trained_teacher(profile, root == Path(cfgs['data']), work)[0]
    for role in ('teacher', 'student', 'distilled'):
        opts = dict(data_opts)
        if role == 'distilled':
            opts[hook_option(cfgs[role], 'teacher.checkpoint')] = str(ckpts['teacher'])
        if ckpts.get(role) is None:
            ckpts[role] = train_or_reuse(cfgs[role], work / Path(cfgs[role]).stem, seed,
                                         True, opts, max_epochs)
    rows = {role: evaluate(cfgs[role], ckpts[role], work / Path(cfgs[role]).stem, data_opts)
            for role in ('teacher', 'student', 'distilled')}
    # AP is strict on these small synthetic people; the PCK gain shows progress before AP does
    rows['distilled']['kd_gain'] = rows['distilled']['AP'] - rows['student']['AP']
    rows['distilled']['kd_gain_pck'] = rows['distilled']['PCK'] - rows['student']['PCK']
    table = format_table(rows)
    out = work / f'demo_{profile}'
    record = dict(profile=profile, seed=seed, seconds=round(time.time() - t0, 1),
                  configs=cfgs, results=rows)
    atomic_write_text(out / 'results.json', json.dumps(record, indent=2))
    atomic_write_text(out / 'results.md', table + '\n')
    print(table)
    print(f'(test split of {root}; {record["seconds"]} s; written to {out}/results.md)')
    return record


def _demo_cmd(args) -> int:
    run_demo(args.profile, args.seed, args.retrain, args.data_root, args.work_root,
             args.max_epochs)
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser('demo', help='teacher vs plain vs distilled student on generated data')
    p.add_argument('--profile', default='quick', choices=sorted(PROFILE_CONFIGS))
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--data-root', help='default: data/kdkit_<profile>')
    p.add_argument('--retrain', action='store_true', help='retrain the teacher too')
    p.add_argument('--work-root', default='work_dirs', help='where the runs go')
    p.add_argument('--max-epochs', type=int, help="override the configs' epochs")
    p.set_defaults(func=_demo_cmd)
