"""``kdkit demo``: the main job on the embedded generated data.

Generates the data (if absent), takes the shipped teacher (on the kit's default
data; else reuses or trains one), then for each student pair trains the plain
mobile student and the distilled one with the same seeds, checks that the
teacher is ahead of the plain student on the validation split (distilling
from a teacher that is not only teaches its errors), evaluates every model on
the held-out test split and prints

    model | AP | PCK@0.2 | PCK@0.1 | params (M) | GFLOPs | KD gains | gaps closed

with mean ± sd over ``--seeds``, under a first row that is the floor: the
train labels' mean pose drawn in every test box, which never looks at the
image (:mod:`kdkit.evaluation.baseline`; on the quick test split it scores
85.5 % PCK@0.2 and 27.4 % PCK@0.1, so PCK@0.2 alone cannot tell a student that
learned the pose from one that learned the average). The table and a figure
(PCK@0.2 and PCK@0.1 bars per model with the teacher's and the floor's lines,
skeletons of teacher, plain and distilled student side by side on test frames)
go to ``work_dirs/demo_<profile>/``.

torch and MMPose are imported inside the functions: ``kdkit --help`` builds
every sub-command's parser and must stay fast.
"""
from __future__ import annotations

import json
import math
import shlex
import statistics
import time
from pathlib import Path

# The students a phone would run, each with the config that distils it from
# the heatmap teacher. RTMPose-t (SimCC) learns through HeatmapToSimCCDistillLoss.
TAGS = {'quick': 'quick', 'full': '60e'}  # profile -> the configs' schedule tag
PAIRS = {
    profile: {
        'RTMPose-t': dict(
            plain=f'configs/student/rtmpose-t_{tag}_kdkit-video-128x96.py',
            distilled=f'configs/distill/kd-hm2simcc_rtmpose-t-from-res18_{tag}_kdkit-video-128x96.py'),
        'MobileNetV2': dict(
            plain=f'configs/student/td-hm_mobilenetv2_{tag}_kdkit-video-128x96.py',
            distilled=f'configs/distill/kd-hm_mobilenetv2-from-res18_{tag}_kdkit-video-128x96.py'),
    } for profile, tag in TAGS.items()
}

# data root, the teacher to train when none is shipped or reused, and the heatmap
# pair (notebooks 02-04 and the bench read these keys)
PROFILE_CONFIGS = {
    profile: dict(data=f'data/kdkit_{profile}',
                  teacher=f'configs/teacher/td-hm_res18_{tag}_kdkit-video-128x96.py',
                  student=PAIRS[profile]['MobileNetV2']['plain'],
                  distilled=PAIRS[profile]['MobileNetV2']['distilled'])
    for profile, tag in TAGS.items()
}

DATA_SEED = 0  # the embedded default data; --seeds vary training only

# teacher shipped with the kit: trained on the full default data, whose train
# split shares no clip or subject with the quick or full val/test splits
# (see configs/teacher/td-hm_res18_16e_kdkit-video-128x96.py)
SHIPPED_TEACHER = Path('checkpoints/td-hm_res18_16e_kdkit-video-128x96.pth')
SHIPPED_TEACHER_CONFIG = 'configs/teacher/td-hm_res18_16e_kdkit-video-128x96.py'

# real-video student shipped with the kit (`make real-student`): trained on
# cam01-03 of pose2sim's Demo_MultiPerson, cam04 held out
SHIPPED_REAL_STUDENT_CONFIG = \
    'configs/real/kd-pseudo_mobilenetv2_gen20-mix60e_kdkit-video+demo-multiperson-128x96.py'
SHIPPED_REAL_STUDENT = Path(f'checkpoints/{Path(SHIPPED_REAL_STUDENT_CONFIG).stem}.pth')

# the teacher must beat the plain student on val PCK@0.2 by at least this much
MIN_TEACHER_LEAD = 0.01


# ----------------------------------------------------------------------- data
def ensure_data(profile: str, root: str | Path) -> Path:
    """The data at ``root``: a kdkit dataset found there, else the profile's
    default data generated there."""
    from kdkit.data import generate_dataset
    path = Path(root)
    if (path / 'meta.json').is_file():
        return path
    return generate_dataset(path, profile=profile, seed=DATA_SEED)


def is_default_data(root: str | Path, profile: str) -> bool:
    """True when ``root`` holds the kit's default data of ``profile``, wherever
    it lives and however the path is written (its meta.json says what it is)."""
    from kdkit.data.export import dataset_up_to_date
    return dataset_up_to_date(root, profile, DATA_SEED)


# -------------------------------------------------------------------- teacher
def last_checkpoint(work_dir: Path) -> Path | None:
    """A run's best (else last) checkpoint; None before its first one."""
    from kdkit.distill.teacher import resolve_checkpoint
    try:
        return resolve_checkpoint(work_dir)
    except FileNotFoundError:
        return None


def trained_teacher(profile: str, default_data: bool,
                    work_root: str | Path = 'work_dirs') -> tuple[Path | None, str]:
    """The profile's heatmap teacher, if one is trained: ``(checkpoint, 'reused')``
    from its work_dir, else ``(SHIPPED_TEACHER, 'shipped')`` on the quick default
    data (see :func:`is_default_data`), else ``(None, '')``: train it."""
    from kdkit.utils import repo_root
    ckpt = last_checkpoint(Path(work_root) / Path(PROFILE_CONFIGS[profile]['teacher']).stem)
    if ckpt is not None:
        return ckpt, 'reused'
    shipped = repo_root() / SHIPPED_TEACHER
    if profile == 'quick' and default_data and shipped.is_file():
        return shipped, 'shipped'
    return None, ''


def plan_teacher(profile: str, root: Path, work: Path, retrain: bool = False,
                 given: tuple | None = None) -> tuple[Path | None, str, str]:
    """``(checkpoint, source, config)`` of the demo's teacher; checkpoint None:
    it will be trained. ``given``: ``(checkpoint, config)`` the user named.
    Data that is not there yet will be the default data."""
    if given and given[0]:
        from kdkit.distill.teacher import resolve_checkpoint
        return resolve_checkpoint(given[0]), 'given', given[1] or SHIPPED_TEACHER_CONFIG
    default = not (Path(root) / 'meta.json').is_file() or is_default_data(root, profile)
    ckpt, source = (None, '') if retrain else trained_teacher(profile, default, work)
    config = SHIPPED_TEACHER_CONFIG if source == 'shipped' else PROFILE_CONFIGS[profile]['teacher']
    return ckpt, source or 'to train', config


def train_or_reuse(config: str, work_dir: Path, seed: int, retrain: bool,
                   cfg_options: dict | None = None, max_epochs: int | None = None,
                   stage: str | None = None) -> Path:
    from kdkit.distill.cli import train
    ckpt = None if retrain else last_checkpoint(work_dir)
    if ckpt is None:
        train(config, str(work_dir), seed=seed, cfg_options=cfg_options,
              max_epochs=max_epochs, stage=stage)
        ckpt = last_checkpoint(work_dir)
    return ckpt


def check_teacher_ahead(teacher_pck: float, plain_pck: float, pair: str) -> None:
    """One-line refusal to distil from a teacher that is not ahead of the plain student."""
    if teacher_pck - plain_pck < MIN_TEACHER_LEAD:
        raise ValueError(
            f'demo: the teacher (val PCK@0.2 {teacher_pck:.3f}) is not ahead of the plain '
            f'{pair} student ({plain_pck:.3f}); distilling from it would teach the student its '
            f'errors. Train a stronger teacher (kdkit train {SHIPPED_TEACHER_CONFIG}) or use '
            'the kit\'s default data, for which the shipped teacher is used')


# ----------------------------------------------------------------- evaluation
VAL = {'test_dataloader.dataset.ann_file': 'annotations/person_keypoints_val.json'}


# row key -> `kdkit test`'s metric, for the demo's and the bench's rows
METRIC_KEYS = {'AP': 'coco/AP', 'PCK': 'kdkit/PCK@0.2', 'PCK@0.1': 'kdkit/PCK@0.1',
               'jitter': 'kdkit/jitter', 'excess_jitter': 'kdkit/excess_jitter'}
ROW_METRICS = ('AP', 'PCK', 'PCK@0.1', 'jitter')  # what the demo's rows keep per seed


def evaluate(config: str, ckpt: Path, work_dir: Path, cfg_options: dict | None,
             stage: str | None, split: str = 'test', missing=math.nan) -> dict:
    """:data:`METRIC_KEYS` of ``ckpt`` on ``split`` ('test' or 'val'); a metric
    the run does not report is ``missing`` (the bench's JSON records write None)."""
    from kdkit.distill.cli import test
    opts = dict(cfg_options or {}, **(VAL if split == 'val' else {}))
    metrics = test(config, str(ckpt), str(work_dir / split), cfg_options=opts, stage=stage)
    return {row: float(metrics[key]) if metrics.get(key) is not None else missing
            for row, key in METRIC_KEYS.items()}


def floor_of(root: Path, config: str) -> dict:
    """The mean-pose floor on ``root``'s test split (``{'PCK', 'PCK@0.1', 'jitter',
    'excess_jitter'}``), cropped at ``config``'s input size."""
    from kdkit.distill.cli import load_config
    from kdkit.evaluation.baseline import mean_pose_floor
    ann = Path(root) / 'annotations'
    floor = mean_pose_floor(ann / 'person_keypoints_train.json',
                            ann / 'person_keypoints_test.json',
                            load_config(config).codec['input_size'])
    return {'PCK': floor['PCK@0.2'], 'PCK@0.1': floor['PCK@0.1'], 'jitter': floor['jitter'],
            'excess_jitter': floor['excess_jitter']}


# ---------------------------------------------------------------------- table
def mean_sd(values) -> tuple[float, float | None]:
    """Mean and sample sd (None for a single value: no spread is made up)."""
    values = [float(v) for v in values]
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def fmt(values, digits: int = 3, sign: bool = False) -> str:
    if not values:
        return ''
    mean, sd = mean_sd(values)
    text = f'{mean:+.{digits}f}' if sign else f'{mean:.{digits}f}'
    return text if sd is None else f'{text} ± {sd:.{digits}f}'


def summarise(rows: dict) -> dict:
    """Per distilled row, the KD gains over its plain student (means over seeds,
    sd of the seed-paired differences) and the share of the teacher-plain gap
    closed, from the means, on PCK@0.2 and PCK@0.1 (where the rows have it)."""
    teacher = rows['teacher']
    for name, r in rows.items():
        plain = r.get('plain_of')
        if not plain:
            continue
        p = rows[plain]
        for metric in ('AP', 'PCK', 'PCK@0.1'):
            if metric in r and metric in p:
                r[f'gain_{metric}'] = [d - q for d, q in zip(r[metric], p[metric])]
        for metric in ('PCK', 'PCK@0.1'):
            if not all(metric in x for x in (teacher, p, r)):
                continue
            gap = mean_sd(teacher[metric])[0] - mean_sd(p[metric])[0]
            r[f'gap_closed_{metric}'] = (mean_sd(r[metric])[0] - mean_sd(p[metric])[0]) / gap \
                if gap > MIN_TEACHER_LEAD else None
    return rows


FLOOR = 'mean pose, no network (floor)'


def format_table(rows: dict, floor: dict | None = None) -> str:
    """The demo's table; ``floor`` (:func:`floor_of`) is its first row."""
    def gap(value):
        return '' if value is None else f'{value:.2f}'
    lines = ['| model | AP | PCK@0.2 | PCK@0.1 | params (M) | GFLOPs | KD gain (AP) '
             '| KD gain (PCK@0.2) | KD gain (PCK@0.1) | gap closed (PCK@0.2) '
             '| gap closed (PCK@0.1) |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    if floor:
        lines.append(f"| {FLOOR} |  | {fmt([floor['PCK']])} | {fmt([floor['PCK@0.1']])} "
                     '| 0 | 0 |  |  |  |  |  |')
    for name, r in rows.items():
        lines.append(
            f'| {name} | {fmt(r["AP"])} | {fmt(r["PCK"])} | {fmt(r.get("PCK@0.1"))} '
            f'| {r["params_M"]:.2f} | {r["GFLOPs"]:.3f} | {fmt(r.get("gain_AP"), sign=True)} '
            f'| {fmt(r.get("gain_PCK"), sign=True)} | {fmt(r.get("gain_PCK@0.1"), sign=True)} '
            f'| {gap(r.get("gap_closed_PCK"))} | {gap(r.get("gap_closed_PCK@0.1"))} |')
    return '\n'.join(lines)


# ----------------------------------------------------------------------- demo
def demo_command(profile: str = 'quick', seeds=(0,), retrain: bool = False,
                 data_root: str | None = None, work_root: str = 'work_dirs',
                 max_epochs: int | None = None, pairs=None,
                 allow_weak_teacher: bool = False, teacher: tuple | None = None) -> str:
    """The ``kdkit demo`` command line that reproduces a run (defaults left out)."""
    ckpt, config = teacher or (None, None)
    parts = ['kdkit', 'demo', '--profile', profile, '--seeds', *map(str, seeds)]
    if pairs:
        parts += ['--pairs', *pairs]
    for flag, value in (('--data-root', data_root), ('--max-epochs', max_epochs),
                        ('--teacher-checkpoint', ckpt), ('--teacher-config', config)):
        if value is not None:
            parts += [flag, str(value)]
    if str(work_root) != 'work_dirs':
        parts += ['--work-root', str(work_root)]
    parts += ['--retrain'] * retrain + ['--allow-weak-teacher'] * allow_weak_teacher
    return ' '.join(shlex.quote(p) for p in parts)


def run_demo(profile: str = 'quick', seeds=(0,), retrain: bool = False,
             data_root: str | None = None, work_root: str = 'work_dirs',
             max_epochs: int | None = None, pairs=None, figure: bool = True,
             allow_weak_teacher: bool = False, teacher: tuple | None = None) -> dict:
    """Run the demo (see the module doc); returns the record it writes."""
    from kdkit.distill.cli import data_root_options
    from kdkit.utils.io import atomic_write_text
    if profile not in PROFILE_CONFIGS:
        raise ValueError(f'--profile: expected one of {sorted(PROFILE_CONFIGS)}, got {profile!r}')
    command = demo_command(profile, seeds, retrain, data_root, work_root, max_epochs, pairs,
                           allow_weak_teacher, teacher)
    pairs = list(pairs or PAIRS[profile])
    unknown = [p for p in pairs if p not in PAIRS[profile]]
    if unknown:
        raise ValueError(f'--pairs: {unknown} unknown; expected some of {list(PAIRS[profile])}')
    seeds = [int(s) for s in seeds]
    t0, work = time.time(), Path(work_root)
    root = ensure_data(profile, data_root or PROFILE_CONFIGS[profile]['data'])
    data_opts = data_root_options(root)
    teacher_ckpt, source, t_cfg = plan_teacher(profile, root, work, retrain, teacher)
    if teacher_ckpt is None:
        teacher_ckpt = train_or_reuse(t_cfg, work / Path(t_cfg).stem, seeds[0], True,
                                      data_opts, max_epochs, stage='teacher train')
        source = 'trained'
    print(f'teacher ({source}): {teacher_ckpt}', flush=True)
    teacher_dir = work / f'demo_{profile}' / 'teacher'
    teacher_val = evaluate(t_cfg, teacher_ckpt, teacher_dir, data_opts, 'teacher val', 'val')
    teacher_test = evaluate(t_cfg, teacher_ckpt, teacher_dir, data_opts, 'teacher test')
    rows = {'teacher': dict({k: teacher_test[k] for k in ROW_METRICS}, config=t_cfg,
                            checkpoint=str(teacher_ckpt), source=source,
                            val_PCK=teacher_val['PCK'])}
    for pair in pairs:
        rows.update(run_pair(pair, PAIRS[profile][pair], seeds, teacher_ckpt, t_cfg,
                             None if allow_weak_teacher else teacher_val['PCK'],
                             work, data_opts, max_epochs))
    from kdkit.bench import complexity, machine_info
    rows = {name: dict(r, **complexity(r['config'])) for name, r in rows.items()}
    rows['teacher'] = {k: ([v] if k in ROW_METRICS else v)
                       for k, v in rows['teacher'].items()}
    summarise(rows)
    floor = floor_of(root, t_cfg)
    table = format_table(rows, floor)
    out = work / f'demo_{profile}'
    record = dict(profile=profile, seeds=seeds, data_root=str(root), machine=machine_info(),
                  seconds=round(time.time() - t0, 1), floor=floor, rows=rows,
                  command=command)
    note = (f'{FLOOR}: the train labels\' mean pose drawn in every test box; a student near '
            'it has learned little of the pose, whatever its PCK@0.2')
    atomic_write_text(out / 'results.md', f'{table}\n\n{note}\n')
    atomic_write_text(out / 'results.json', json.dumps(record, indent=2, default=str))
    print(table)
    print(note)
    print(f'test split of {root}; seeds {" ".join(map(str, seeds))}; '
          f'{record["seconds"]:.0f} s; table: {out}/results.md', flush=True)
    if figure:  # after the table: a failure here loses no result
        record['figure'] = str(demo_figure(rows, pairs[0], root, out / 'demo.png', floor))
        atomic_write_text(out / 'results.json', json.dumps(record, indent=2, default=str))
        print(f'figure: {record["figure"]}')
    return record


def run_pair(pair: str, cfgs: dict, seeds, teacher_ckpt: Path, t_cfg: str,
             teacher_val_pck: float | None, work: Path, data_opts: dict,
             max_epochs: int | None) -> dict:
    """Plain and distilled student of one pair, per seed, evaluated on test;
    the plain student of the first seed is checked against the teacher's val
    PCK (unless None)."""
    from kdkit.distill.hook import hook_option
    kd_opts = dict(data_opts, **{hook_option(cfgs['distilled'], 'teacher.checkpoint'):
                                 str(teacher_ckpt),
                                 hook_option(cfgs['distilled'], 'teacher.config'): t_cfg})
    names = {'plain': f'{pair} plain', 'distilled': f'{pair} distilled'}
    rows = {names[role]: {'config': cfgs[role], **{k: [] for k in ROW_METRICS},
                          'checkpoints': []}
            for role in ('plain', 'distilled')}
    rows[names['distilled']]['plain_of'] = names['plain']
    for seed in seeds:
        for role in ('plain', 'distilled'):
            name, run = names[role], work / f'{Path(cfgs[role]).stem}_seed{seed}'
            ckpt = train_or_reuse(cfgs[role], run, seed, True,
                                  data_opts if role == 'plain' else kd_opts, max_epochs,
                                  stage=f'{name} (seed {seed}) train')
            if role == 'plain' and seed == seeds[0] and teacher_val_pck is not None:
                val = evaluate(cfgs[role], ckpt, run, data_opts, f'{name} val', 'val')
                check_teacher_ahead(teacher_val_pck, val['PCK'], pair)
            res = evaluate(cfgs[role], ckpt, run, data_opts, f'{name} (seed {seed}) test')
            for k in ROW_METRICS:
                rows[name][k].append(res[k])
            rows[name]['checkpoints'].append(str(ckpt))
    return rows


def demo_figure(rows: dict, pair: str, data_root: Path, out_png: Path,
                floor: dict | None = None, frames: int = 3) -> Path:
    """PCK@0.2 and PCK@0.1 bars per model (mean ± sd over seeds, the teacher's and
    the floor's lines) and the skeletons of the teacher, plain and distilled
    ``pair`` student on test frames."""
    from kdkit.notebook.demo_figure import save_demo_figure
    from kdkit.notebook.eval_plots import clip_frames, predict_split
    image_ids = clip_frames(data_root, 'test', 0, frames)
    shown = ('teacher', f'{pair} plain', f'{pair} distilled')
    preds = {name: predict_split(rows[name]['config'],
                                 rows[name].get('checkpoint') or rows[name]['checkpoints'][0],
                                 data_root, 'test', image_ids)
             for name in shown}
    bars = {name: {k: r[k] for k in ('PCK', 'PCK@0.1', 'AP') if k in r}
            for name, r in rows.items()}
    return save_demo_figure(bars, preds, image_ids, data_root, out_png, floor=floor,
                            second='PCK@0.1')


def print_plan(profile: str, data_root: str | None, work_root: str, retrain: bool,
               pairs, teacher: tuple | None = None) -> None:
    """What ``kdkit demo`` would do, without doing it (``--dry-run``)."""
    root = Path(data_root or PROFILE_CONFIGS[profile]['data'])
    ckpt, source, config = plan_teacher(profile, root, Path(work_root), retrain, teacher)
    print(f'data: {root} ({"present" if (root / "meta.json").is_file() else "to generate"})')
    print(f'teacher: {source} {ckpt or config}')
    for pair in pairs or PAIRS[profile]:
        print(f'pair {pair}: {PAIRS[profile][pair]["plain"]} -> {PAIRS[profile][pair]["distilled"]}')


def _demo_cmd(args) -> int:
    from kdkit.distill.cli import _UserErrors
    if args.dry_run:
        print_plan(args.profile, args.data_root, args.work_root, args.retrain, args.pairs,
                   (args.teacher_checkpoint, args.teacher_config))
        return 0
    with _UserErrors('demo') as caught:
        run_demo(args.profile, args.seeds, args.retrain, args.data_root, args.work_root,
                 args.max_epochs, args.pairs, allow_weak_teacher=args.allow_weak_teacher,
                 teacher=(args.teacher_checkpoint, args.teacher_config))
    return caught.code


def add_parser(subparsers) -> None:
    p = subparsers.add_parser('demo', help='teacher vs plain vs distilled student on generated data')
    p.add_argument('--profile', default='quick', choices=sorted(PROFILE_CONFIGS))
    p.add_argument('--seeds', type=int, nargs='+', default=[0],
                   help='training seeds; the table gives mean ± sd over them')
    p.add_argument('--pairs', nargs='+', choices=list(PAIRS['quick']),
                   help='student pairs (default: all)')
    p.add_argument('--data-root', help='default: data/kdkit_<profile>')
    p.add_argument('--retrain', action='store_true', help='retrain the teacher too')
    p.add_argument('--work-root', default='work_dirs', help='where the runs go')
    p.add_argument('--max-epochs', type=int, help="override the configs' epochs")
    p.add_argument('--teacher-checkpoint',
                   help='your heatmap teacher (.pth, work_dir or URL) instead of the shipped one')
    p.add_argument('--teacher-config', help=f'its config (default: {SHIPPED_TEACHER_CONFIG})')
    p.add_argument('--allow-weak-teacher', action='store_true',
                   help='distil even from a teacher not ahead of the plain student on val')
    p.add_argument('--dry-run', action='store_true',
                   help='say which data, teacher and pairs would be used, and stop')
    p.add_argument('--verbose', action='store_true',
                   help="show MMEngine's logs on the terminal instead of progress bars")
    p.set_defaults(func=_demo_cmd)
