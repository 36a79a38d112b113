"""``kdkit bench``: the side-by-side benchmark of the distillers, in one run.

On the generated data, with the same data, epochs and seeds for every student,
five teacher-student pairs (``--pairs``):

* ``heatmap``: ResNet-18 teacher (the shipped one on the kit's default data),
  plain MobileNetV2, kdkit heatmap KD (DistillLossHook + TeacherCacheHook:
  the teacher runs once, not per step);
* ``hm2simcc``: the same teacher, plain RTMPose-t, kdkit heatmap -> SimCC KD;
* ``simcc``: the stride-16 RTMPose-s teacher (``rtmpose-s-s16``), plain
  RTMPose-t, kdkit SimCC KD (online teacher: SimCC outputs cannot be cached
  under geometric augmentation) and MMPose's own ``DWPoseDistiller``;
* ``speed8x``: ResNet-50 teacher, plain RTMPose-t, kdkit heatmap -> SimCC KD
  (the pair that is 8x faster than its teacher in ONNX Runtime);
* ``temporal``: the ResNet-18 teacher, plain MobileNetV2, frame KD, frame KD +
  the teacher's key points as sharp targets, and frame + temporal KD
  (``TemporalSmoothedHeatmapDistillLoss``: those key points fitted along each
  clip), all on clip batches of the temporal config (its temporal term
  weighted 0 for frame KD, its fit off for the sharp-target ablation): PCK,
  AP, jitter and excess jitter on the test clips; the temporal student's
  jitter is held to 0.7x the plain student's, its PCK to not lower.

Teachers are given (``--teacher-checkpoint``, the ResNet-18 pairs), shipped,
reused (``<work-dir>/<teacher config name>``) or trained once (seed: the first
of ``--seeds``). Every student is trained with every seed of ``--seeds``; the
plain students shared by pairs are trained once per seed. A pair whose teacher
is not at least ``--min-teacher-lead`` PCK@0.2 points (5) ahead of its plain
student (mean over seeds) on the test split, the split everything is scored
on, is refused: the record says so in one line and its KD students are not
trained (the other pairs go on: a refused pair costs no more than its plain
students, and one weak teacher does not throw away hours of the others' runs).

Every model is evaluated on the test split (COCO AP, PCK@0.2, PCK@0.1, jitter
and excess jitter via ``kdkit test``'s metrics), costed (params, GFLOPs), timed
in training (median over the iterations of MMEngine's ``time - data_time``,
read from the run's MessageHub) and, per architecture, exported to ONNX
(checked against PyTorch) and timed in ONNX Runtime with 1 thread and all
threads (``--latency-iters 0`` skips this). ``--jobs N`` trains N students
at a time, each in its own process (a GPU fits many of these small models;
the data loading of each uses its dataloader workers).

The table opens with its floor: the train labels' mean pose drawn in every
test box (:mod:`kdkit.evaluation.baseline`), a predictor that never looks at
the image (85.5 % PCK@0.2 on the quick test split, 27.4 % PCK@0.1): PCK@0.2
alone cannot tell a model that learned the pose from one that learned the
average, so every PCK comparison is also made at 0.1.

Rows hold the mean over seeds, the sd (sample sd, None for one seed) and
each seed's run. Gains and gap-closed figures are computed from the means;
their sd is the sd of the same figure computed seed by seed (paired by seed).
Writes ``<out>/<profile>_<timestamp>.{json,md}`` and ``<out>/latest_<profile>.md``
with the machine, the command, the seeds and the epochs used; the targets are
checked on this run's numbers and printed PASS / FAIL / inconclusive (within
one sd of the goal) / n/a, and the AP comparisons are repeated on PCK@0.2 and
PCK@0.1 without verdicts. ``kdkit bench --report RUN.json`` re-checks a stored run's
targets with the current rules, training nothing (records of earlier
versions, one seed and two pairs, included).

torch, MMPose and the kdkit modules that import them are imported inside the
functions: ``kdkit --help`` builds every sub-command's parser and must stay fast.
"""
from __future__ import annotations

import json
import math
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

# the issues' targets; see check_targets
GOALS = dict(kd_gain_ap=3.0, gap_closed=0.5, over_dwpose_ap=1.0, step_ratio=1.10, speedup=8.0,
             teacher_lead_pck=5.0, temporal_jitter_ratio=0.7, temporal_pck_gain=0.0)
# a bench pair's teacher must be this many PCK@0.2 points ahead of its plain student
MIN_TEACHER_LEAD = GOALS['teacher_lead_pck']

# (key, pair, role, label): the rows of the table, in order
MODELS = (
    ('heatmap_teacher', 'heatmap', 'teacher', 'ResNet-18 teacher'),
    ('heatmap_plain', 'heatmap', 'plain', 'MobileNetV2 plain'),
    ('heatmap_kd', 'heatmap', 'kd', 'MobileNetV2 kdkit KD (cached teacher)'),
    ('hm2simcc_teacher', 'hm2simcc', 'teacher', 'ResNet-18 teacher'),
    ('hm2simcc_plain', 'hm2simcc', 'plain', 'RTMPose-t plain'),
    ('hm2simcc_kd', 'hm2simcc', 'kd', 'RTMPose-t kdkit heatmap→SimCC KD'),
    ('simcc_teacher', 'simcc', 'teacher', 'RTMPose-s stride-16 teacher'),
    ('simcc_plain', 'simcc', 'plain', 'RTMPose-t plain'),
    ('simcc_kd', 'simcc', 'kd', 'RTMPose-t kdkit SimCC KD'),
    ('simcc_dwpose', 'simcc', 'dwpose', 'RTMPose-t DWPoseDistiller'),
    ('speed8x_teacher', 'speed8x', 'teacher', 'ResNet-50 teacher'),
    ('speed8x_plain', 'speed8x', 'plain', 'RTMPose-t plain'),
    ('speed8x_kd', 'speed8x', 'kd', 'RTMPose-t kdkit heatmap→SimCC KD'),
    ('temporal_teacher', 'temporal', 'teacher', 'ResNet-18 teacher'),
    ('temporal_plain', 'temporal', 'plain', 'MobileNetV2 plain'),
    ('temporal_kd', 'temporal', 'kd', 'MobileNetV2 frame KD (clip batches)'),
    ('temporal_skd', 'temporal', 'skd', 'MobileNetV2 frame KD + sharp teacher key points'),
    ('temporal_tkd', 'temporal', 'tkd', 'MobileNetV2 frame + temporal KD'),
)
PAIRS = ('heatmap', 'hm2simcc', 'simcc', 'speed8x', 'temporal')
# pairs that distil from the ResNet-18 heatmap teacher (--teacher-checkpoint, the shipped one)
RES18_PAIRS = ('heatmap', 'hm2simcc', 'temporal')
# 'PCK' is PCK@0.2 (the key of records written before PCK@0.1 was added)
METRICS = ('AP', 'PCK', 'PCK@0.1', 'jitter', 'excess_jitter', 'step_s')
EPS = 1e-9  # a value exactly at its goal passes despite float rounding (0.63 - 0.60)
# A teacher-student gap under one point (AP x 100 or PCK %) gives no "fraction
# closed": it divides noise by noise (seed-to-seed sd of a student's PCK here is
# 0.5-1.6 points, bench/results/rules_full_2e.md): a run once printed "4.09"
# from AP 0.0002 (teacher) vs 0.0000 (plain).
MIN_GAP = 0.01


def pair_configs(profile: str) -> dict:
    """``{pair: {role: config}}`` of a profile; the ResNet-18 pairs' teacher is the
    profile's teacher config (the shipped teacher's config when it is used)."""
    from kdkit.demo import PROFILE_CONFIGS
    if profile not in PROFILE_CONFIGS:
        raise ValueError(f'--profile: expected one of {sorted(PROFILE_CONFIGS)}, got {profile!r}')
    hm = PROFILE_CONFIGS[profile]
    tag = 'quick' if profile == 'quick' else '60e'

    def cfg(kind, name):
        return f'configs/{kind}/{name}_{tag}_kdkit-video-128x96.py'

    rtm_t = cfg('student', 'rtmpose-t')
    temporal = cfg('distill', 'kd-temporal-hm_mobilenetv2-from-res18')
    return dict(
        heatmap=dict(teacher=hm['teacher'], plain=hm['student'], kd=hm['distilled']),
        hm2simcc=dict(teacher=hm['teacher'], plain=rtm_t,
                      kd=cfg('distill', 'kd-hm2simcc_rtmpose-t-from-res18')),
        simcc=dict(teacher=cfg('teacher', 'rtmpose-s-s16'), plain=rtm_t,
                   kd=cfg('distill', 'kd-simcc_rtmpose-t-from-rtmpose-s-s16'),
                   dwpose=cfg('distill', 'dwpose_rtmpose-t-from-rtmpose-s-s16')),
        speed8x=dict(teacher=cfg('teacher', 'td-hm_res50'), plain=rtm_t,
                     kd=cfg('distill', 'kd-hm2simcc_rtmpose-t-from-res50')),
        temporal=dict(teacher=hm['teacher'], plain=hm['student'], kd=temporal, skd=temporal,
                      tkd=temporal))


# ------------------------------------------------------------------ training
def clear_checkpoints(work_dir: Path) -> None:
    """Drop an earlier run's checkpoints, so the one picked afterwards is this run's."""
    for path in [*work_dir.glob('*.pth'), work_dir / 'last_checkpoint']:
        path.unlink(missing_ok=True)


def train_student(config: str, work_dir: Path, seed: int, cfg_options: dict,
                  epochs: int | None, reuse: bool = False,
                  stage: str | None = None) -> tuple[Path, dict]:
    """Train (or, with ``reuse``, reuse an identical earlier run); returns the
    checkpoint and the run's step-time summary (kept in ``bench_run.json``)."""
    from kdkit.demo import last_checkpoint
    from kdkit.distill.cli import train
    from kdkit.utils.io import atomic_write_text
    marker = work_dir / 'bench_run.json'
    spec = json.loads(json.dumps(dict(config=config, seed=seed, epochs=epochs,
                                      cfg_options=cfg_options), default=str))
    if reuse and marker.is_file() and last_checkpoint(work_dir):
        done = json.loads(marker.read_text())
        if done.get('spec') == spec:
            return last_checkpoint(work_dir), done['steps']
    clear_checkpoints(work_dir)
    marker.unlink(missing_ok=True)
    runner = train(config, str(work_dir), seed=seed, cfg_options=cfg_options, max_epochs=epochs,
                   stage=stage)
    steps = step_time(runner.message_hub)
    atomic_write_text(marker, json.dumps(dict(spec=spec, steps=steps), indent=2))
    return last_checkpoint(work_dir), steps


def find_teacher(pair: str, profile: str, config: str, work_root: Path,
                 default_data: bool, given: str | None = None,
                 own: str | None = None) -> tuple[Path | None, str, str]:
    """``(checkpoint, source, config)`` of a pair's trained teacher: ``own``
    (``--pair-teacher PAIR=...``, any pair) first; the ResNet-18 pairs then take
    ``given`` (``--teacher-checkpoint``), else the shipped teacher on the kit's
    default data (quick or full: it never saw their val/test clips); every pair
    then reuses the last/best checkpoint in ``<work_root>/<config name>``;
    ``(None, '', config)``: train it."""
    from kdkit.demo import SHIPPED_TEACHER, SHIPPED_TEACHER_CONFIG, last_checkpoint
    from kdkit.distill.teacher import resolve_checkpoint
    from kdkit.utils import repo_root
    if own:
        return resolve_checkpoint(own), 'given', config
    if pair in RES18_PAIRS:
        if given:
            return resolve_checkpoint(given), 'given', config
        shipped = repo_root() / SHIPPED_TEACHER
        if default_data and shipped.is_file():
            return shipped, 'shipped', SHIPPED_TEACHER_CONFIG
    ckpt = last_checkpoint(work_root / Path(config).stem)
    return (ckpt, 'reused', config) if ckpt else (None, '', config)


def with_hooks(config: str, cfg_options: dict, hooks: list) -> dict:
    """``cfg_options`` that also append ``hooks`` to the config's custom_hooks
    (a list is replaced whole by an override, so the full list is given)."""
    from kdkit.distill.cli import load_config
    if not hooks:
        return cfg_options
    current = list(load_config(config, cfg_options).get('custom_hooks', []))
    rest = {k: v for k, v in cfg_options.items() if not k.startswith('custom_hooks')}
    return dict(rest, custom_hooks=[*current, *hooks])


def uses_cache(role: str, pair: str) -> bool:
    """kdkit KD distils from cached teacher outputs where it can: the heatmap
    pair (SimCC outputs cannot be mapped into augmented crops; the temporal
    pair's clip batches stay as its config has them)."""
    return role == 'kd' and pair == 'heatmap'


def student_options(config: str, role: str, pair: str, teacher_ckpt: Path, base: dict,
                    teacher_config: str | None = None) -> dict:
    """cfg_options of a student run given its teacher: the KD hook's teacher (and,
    for heatmaps, the teacher cache; for the temporal pair's frame KD, the
    motion term weighted 0), or DWPose's ``teacher_pretrained``."""
    from kdkit.distill.teacher import resolve_checkpoint
    opts = dict(base)
    if role in ('kd', 'skd', 'tkd'):
        from kdkit.distill.hook import hook_option
        opts[hook_option(config, 'teacher.checkpoint')] = str(teacher_ckpt)
        if teacher_config:
            opts[hook_option(config, 'teacher.config')] = str(teacher_config)
        if pair == 'temporal' and role == 'kd':
            opts[hook_option(config, 'weights.kd_temporal')] = 0.0
        if pair == 'temporal' and role == 'skd':  # the ablation: no fit along the clip
            opts[hook_option(config, 'terms.kd_temporal.degree')] = None
        if uses_cache(role, pair):
            opts = with_hooks(config, opts, [dict(type='TeacherCacheHook')])
    elif role == 'dwpose':  # a file: mmengine's load_checkpoint takes no work_dir
        opts['model.teacher_pretrained'] = str(resolve_checkpoint(teacher_ckpt))
    return opts


def run_dir_name(config: str, pair: str, role: str, seed: int) -> str:
    """A student run's folder: one per config, variant and seed (the temporal
    pair's frame KD is the temporal config with the motion term off)."""
    variant = {('temporal', 'kd'): '-frame', ('temporal', 'skd'): '-sharp'}.get((pair, role), '')
    return f'{Path(config).stem}{variant}_seed{seed}'


# -------------------------------------------------------------------- jobs
def run_job(spec: dict) -> dict:
    """One model: train it (a student, or a teacher without ``checkpoint``),
    then evaluate it on the test split. ``spec`` is JSON (see :func:`job_spec`);
    returns ``{checkpoint, steps, metrics}``."""
    from kdkit.demo import evaluate, last_checkpoint
    from kdkit.distill.cli import train
    work = Path(spec['work_dir'])
    steps = {}
    ckpt = spec.get('checkpoint')
    if ckpt is None and spec['role'] == 'teacher':
        train(spec['config'], str(work), seed=spec['seed'], cfg_options=spec['cfg_options'],
              max_epochs=spec['epochs'], stage=f"{spec['label']}: train")
        ckpt = last_checkpoint(work)
    elif ckpt is None:
        ckpt, steps = train_student(spec['config'], work, spec['seed'], spec['cfg_options'],
                                    spec['epochs'], spec['reuse'],
                                    stage=f"{spec['label']} (seed {spec['seed']}): train")
    metrics = evaluate(spec['config'], Path(ckpt), work, spec['cfg_options'],
                       stage=f"{spec['label']}: test", missing=None)
    return dict(checkpoint=str(ckpt), steps=steps, metrics=metrics)


def job_spec(role: str, label: str, config: str, work_dir: Path, seed: int, cfg_options: dict,
             epochs: int | None, reuse: bool = False, checkpoint=None) -> dict:
    return json.loads(json.dumps(dict(
        role=role, label=label, config=config, work_dir=str(work_dir), seed=seed,
        cfg_options=cfg_options, epochs=epochs, reuse=reuse,
        checkpoint=None if checkpoint is None else str(checkpoint)), default=str))


def one_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {' '.join(str(e).split())}"


def run_job_in_process(spec: dict) -> dict:
    try:
        return run_job(spec)
    except Exception as e:  # noqa: BLE001 -- one failed model must not lose the others
        return dict(error=one_line(e))


def job_files(work_dir) -> tuple[Path, Path, Path]:
    """``(spec, result, log)`` of a job: files beside its work_dir (kdkit's run
    checks refuse a work_dir holding files that are not an MMEngine run's)."""
    work = Path(work_dir)
    return tuple(work.with_name(work.name + suffix)
                 for suffix in ('.job.json', '.job-result.json', '.job.log'))


def run_job_subprocess(spec: dict) -> dict:
    """:func:`run_job` in a fresh ``python -m kdkit.bench SPEC`` process (its
    own MMEngine runner, CUDA context and dataloader workers), output in
    ``<work_dir>.job.log``."""
    import subprocess
    spec_path, result_path, log = job_files(spec['work_dir'])
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.unlink(missing_ok=True)
    spec_path.write_text(json.dumps(spec, indent=2))
    with open(log, 'w') as out:
        proc = subprocess.run([sys.executable, '-m', 'kdkit.bench', str(spec_path)],
                              stdout=out, stderr=subprocess.STDOUT,
                              env=dict(os.environ, PYTHONUNBUFFERED='1'))
    if proc.returncode == 0 and result_path.is_file():
        return json.loads(result_path.read_text())
    tail = [line for line in log.read_text(errors='replace').splitlines() if line.strip()]
    return dict(error=f"exit {proc.returncode} ({tail[-1].strip() if tail else 'no output'}); "
                      f"log: {log}")


def run_jobs(specs: list[dict], jobs: int = 1) -> list[dict]:
    """Results of ``specs`` in order: in this process one by one (``jobs`` 1),
    else ``jobs`` at a time, each in its own process. A failed job gives
    ``{error: one line}`` and is reported on stderr; the others go on."""
    t0 = time.time()

    def done(spec, result):
        what = f"{spec['label']} (seed {spec['seed']})"
        if 'error' in result:
            print(f"kdkit bench: {what} failed: {result['error']}", file=sys.stderr, flush=True)
        elif jobs > 1:
            print(f'kdkit bench: {what} done ({time.time() - t0:.0f} s)', flush=True)
        return result

    if jobs <= 1:
        return [done(s, run_job_in_process(s)) for s in specs]
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda s: done(s, run_job_subprocess(s)), specs))


# ---------------------------------------------------------------- measuring
def summarise_steps(steps: list, skip: int = 1) -> dict:
    """Median step (s) after ``skip`` warm-up iterations (kept if that is all)."""
    if not steps:
        raise ValueError('no training iterations were timed')
    kept = steps[skip:] if len(steps) > skip else steps
    return dict(step_s=statistics.median(kept), step_n=len(kept))


def step_time(message_hub, skip: int = 1) -> dict:
    """Train step = IterTimerHook's ``time - data_time`` of every iteration
    (forward, losses, backward, optimizer, hooks; data loading excluded, it
    is the same for every student), from the run's MessageHub."""
    scalars = message_hub.log_scalars
    times, data = (scalars[f'train/{k}'].data[0] for k in ('time', 'data_time'))
    return summarise_steps([float(t - d) for t, d in zip(times, data)], skip)


def complexity(config) -> dict:
    """Params (M) and GFLOPs at the codec's input size; ``config``: a path or a Config."""
    from mmengine.config import Config
    from kdkit.distill.cli import load_config
    from kdkit.distill.teacher import build_pose_model
    from kdkit.evaluation import model_complexity
    cfg = config if isinstance(config, Config) else load_config(config)
    w, h = cfg.codec['input_size']
    cx = model_complexity(build_pose_model(cfg), input_shape=(1, 3, h, w))
    return dict(params_M=cx['params'] / 1e6, GFLOPs=float(cx['flops']))


def config_epochs(config: str) -> int | None:
    from kdkit.distill.cli import load_config
    return load_config(config).train_cfg.get('max_epochs')


def mean_pose_row(root: Path, config: str) -> dict:
    """The floor of the table: the train labels' mean pose drawn in every test
    box, no network (:mod:`kdkit.evaluation.baseline`), cropped at ``config``'s
    input size."""
    from kdkit.demo import floor_of
    return dict(label='mean pose of the train labels (no network: the floor)', AP=None,
                **floor_of(root, config))


def onnx_timing(config: str, ckpt: Path, path: Path, warmup: int, iters: int) -> dict:
    """Export (checked against PyTorch) and time in ONNX Runtime, 1 and all threads."""
    from kdkit.evaluation.latency import all_threads, onnx_latency
    from kdkit.export import export_onnx
    info = export_onnx(config, ckpt, path)
    one = onnx_latency(path, threads=1, warmup=warmup, iters=iters)
    n = all_threads()
    many = one if n == 1 else onnx_latency(path, threads=n, warmup=warmup, iters=iters)
    return dict(onnx=str(path), onnx_max_abs_diff=info['max_abs_diff'],
                ort_1t_ms=one['median_ms'], ort_all_ms=many['median_ms'], ort_all_threads=n)


# -------------------------------------------------------------- statistics
def mean_sd(values) -> tuple[float | None, float | None]:
    """Mean and sample sd of the values that are not None (sd None for fewer
    than two: no spread is made up; mean None for none)."""
    values = [float(v) for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def summarise_runs(runs: list[dict]) -> dict:
    """A student row's numbers from its per-seed ``runs``: the mean of each
    metric over the seeds that ran, its sd, and the first run's checkpoint."""
    ok = [r for r in runs if 'error' not in r]
    out = dict(sd={}, checkpoints=[r['checkpoint'] for r in ok])
    for key in METRICS:
        out[key], out['sd'][key] = mean_sd(r.get(key) for r in ok)
    out['checkpoint'] = out['checkpoints'][0] if ok else None
    return out


def per_seed(row: dict, key: str) -> dict:
    """``{seed: value}`` of a row's metric: its runs', or ``{None: value}`` for a
    row measured once (a teacher, or a record of an earlier version)."""
    if row.get('runs'):
        return {r['seed']: r[key] for r in row['runs']
                if 'error' not in r and r.get(key) is not None}
    return {} if row.get(key) is None else {None: row[key]}


def paired(key: str, *rows) -> list[tuple]:
    """Per-seed tuples of ``rows``' ``key``: seeds all the per-seed rows share;
    a row measured once joins every seed."""
    vals = [per_seed(r, key) for r in rows]
    seeds = [set(v) for v in vals if None not in v]
    common = sorted(set.intersection(*seeds), key=str) if seeds else [None]
    if not all(vals):
        return []
    return [tuple(v[None] if None in v else v[s] for v in vals) for s in common]


def sd_of(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.stdev(values) if len(values) > 1 else None


def sd(row: dict, key: str):
    return (row.get('sd') or {}).get(key)


# ------------------------------------------------------------------ targets
def _target(name: str, pair: str, value, goal: float, unit: str = '', note: str = '',
            higher: bool = True, spread: float | None = None) -> dict:
    """One target: PASS / FAIL against ``goal`` (``>=``, or ``<=`` if not
    ``higher``); inconclusive when the value is within one sd (``spread``) of
    the goal; n/a when it cannot be measured (``value`` None)."""
    if value is None:
        status = 'n/a'
    elif spread is not None and abs(value - goal) <= spread + EPS:
        status = 'inconclusive'
    else:
        met = value >= goal - EPS if higher else value <= goal + EPS
        status = 'PASS' if met else 'FAIL'
    return dict(target=name, pair=pair, value=value, sd=spread, goal=goal, unit=unit,
                op='>=' if higher else '<=', status=status, note=note)


def gap_closed(teacher: float, plain: float, kd: float):
    """Fraction of the teacher - plain gap (AP or PCK, in [0, 1]) the KD
    student closes (None unless the teacher is at least MIN_GAP ahead)."""
    gap = teacher - plain
    return (kd - plain) / gap if gap >= MIN_GAP - EPS else None


def pairs_in(rows: dict) -> list[str]:
    """The pairs of ``rows``, in row order."""
    return list(dict.fromkeys(r['pair'] for r in rows.values()))


def gain(a: dict, b: dict, metric: str, scale: float = 100.0) -> tuple:
    """``(mean a - mean b, sd of the seed-paired differences)``, times ``scale``."""
    diffs = [x - y for x, y in paired(metric, a, b)]
    spread = sd_of(diffs)
    return scale * (a[metric] - b[metric]), None if spread is None else scale * spread


def closed(t: dict, p: dict, k: dict, metric: str) -> tuple:
    """Gap closed from the means, and its sd over the seeds (paired)."""
    value = gap_closed(t[metric], p[metric], k[metric])
    per = [gap_closed(*v) for v in paired(metric, t, p, k)]
    return value, (sd_of(per) if value is not None and None not in per else None)


def comparisons(rows: dict, metric: str) -> list[dict]:
    """The issues' accuracy comparisons on ``metric`` ('AP' or 'PCK', in [0, 1]):
    KD gain over plain and gap closed per pair, kdkit KD over DWPoseDistiller;
    gains in points (x 100), each with its sd over seeds. A comparison whose
    rows lack ``metric`` is left out."""
    def has(*rs):
        return all(r and r.get(metric) is not None for r in rs)
    out = []
    for pair in pairs_in(rows):
        t, p, k, d = (rows.get(f'{pair}_{r}') for r in ('teacher', 'plain', 'kd', 'dwpose'))
        if has(p, k):
            value, spread = gain(k, p, metric)
            out.append(dict(comparison='KD gain over plain', pair=pair, value=value, sd=spread))
            if has(t):
                value, spread = closed(t, p, k, metric)
                out.append(dict(comparison='teacher-student gap closed', pair=pair,
                                value=value, sd=spread))
        if has(k, d):
            value, spread = gain(k, d, metric)
            out.append(dict(comparison='kdkit KD over DWPoseDistiller', pair=pair,
                            value=value, sd=spread))
    return out


# goal and unit of each AP comparison
AP_GOALS = {'KD gain over plain': ('kd_gain_ap', ' AP'),
            'teacher-student gap closed': ('gap_closed', ''),
            'kdkit KD over DWPoseDistiller': ('over_dwpose_ap', ' AP')}
NOT_AHEAD = 'teacher not 1 point ahead of the plain student'
LEAD = 'teacher lead over plain student'


def lead_target(pair: str, rows: dict) -> dict | None:
    """How far the pair's teacher is ahead of its plain student (test PCK@0.2
    points, mean over the student's seeds): the gate of a bench pair."""
    t, p = rows.get(f'{pair}_teacher'), rows.get(f'{pair}_plain')
    if not (t and p):
        return None
    if t.get('PCK') is None or p.get('PCK') is None:
        return _target(LEAD, pair, None, GOALS['teacher_lead_pck'], ' PCK')
    value, spread = gain(t, p, 'PCK')
    return _target(LEAD, pair, value, GOALS['teacher_lead_pck'], ' PCK', spread=spread)


def refusal(pair: str, rows: dict, min_lead: float | None = MIN_TEACHER_LEAD) -> str | None:
    """The one-line refusal of a pair whose teacher is not ``min_lead`` PCK@0.2
    points ahead of its plain student on the test split (None: accepted, or
    ``min_lead`` None: not checked)."""
    if min_lead is None:
        return None
    t, p = rows[f'{pair}_teacher'], rows[f'{pair}_plain']
    n = len(per_seed(p, 'PCK'))
    if t.get('PCK') is None or p.get('PCK') is None:
        return (f"pair {pair!r} refused: the lead of its teacher ({t['label']}) over the plain "
                f"student ({p['label']}) could not be measured (no test PCK@0.2); its KD "
                'students are not trained')
    lead = 100 * (t['PCK'] - p['PCK'])
    if lead >= min_lead - EPS:
        return None
    return (f"pair {pair!r} refused: its teacher ({t['label']}, test PCK@0.2 "
            f"{100 * t['PCK']:.1f} %) is {lead:+.1f} points ahead of its plain student "
            f"({p['label']}, {100 * p['PCK']:.1f} %, mean of {n} seed{'s' if n != 1 else ''}); "
            f'a bench pair needs {min_lead:g}. Its KD students are not trained: a teacher not '
            'clearly ahead has nothing to teach (train a stronger one, or pass '
            '--allow-weak-teacher)')


def cost_targets(pair: str, rows: dict) -> list[dict]:
    """Step time (cached-teacher KD vs plain) and ONNX speed-up of one pair."""
    t, k = rows.get(f'{pair}_teacher'), rows.get(f'{pair}_kd')
    out = []
    if k and k.get('teacher_cache') and k.get('step_ratio') is not None:
        # "with the cache": only a cached-teacher run is held to 1.10x
        out.append(_target('KD train step time vs plain (teacher cache)', pair,
                           k['step_ratio'], GOALS['step_ratio'], 'x', higher=False,
                           spread=sd(k, 'step_ratio')))
    if t and k and t.get('ort_1t_ms') and k.get('ort_1t_ms'):
        out.append(_target('student speed-up over teacher (ORT, 1 thread)', pair,
                           t['ort_1t_ms'] / k['ort_1t_ms'], GOALS['speedup'], 'x'))
    return out


def temporal_targets(rows: dict) -> list[dict]:
    """The temporal student against the plain one: its jitter as a fraction of
    the plain student's (ratio of the means; sd over the seed-paired ratios)
    and its PCK@0.2 gain in points (not lower: >= 0)."""
    tkd, plain = rows.get('temporal_tkd'), rows.get('temporal_plain')
    if not (tkd and plain):
        return []
    out = []
    if tkd.get('jitter') is not None and plain.get('jitter'):
        ratios = [a / b for a, b in paired('jitter', tkd, plain) if b]
        out.append(_target('temporal KD jitter vs plain', 'temporal',
                           tkd['jitter'] / plain['jitter'], GOALS['temporal_jitter_ratio'],
                           'x', higher=False, spread=sd_of(ratios)))
    if tkd.get('PCK') is not None and plain.get('PCK') is not None:
        value, spread = gain(tkd, plain, 'PCK')
        out.append(_target('temporal KD PCK@0.2 gain over plain', 'temporal', value,
                           GOALS['temporal_pck_gain'], ' PCK', spread=spread))
    return out


def check_targets(rows: dict, refused: dict | None = None) -> list[dict]:
    """The issues' targets on this run's numbers (AP in [0, 1] in ``rows``);
    ``refused``: ``{pair: line}`` of the pairs whose KD students were skipped."""
    out = []
    for pair in pairs_in(rows):
        lead = lead_target(pair, rows)
        if lead:
            if (refused or {}).get(pair):
                lead['note'] = 'pair refused: KD students not trained'
            out.append(lead)
    for c in comparisons(rows, 'AP'):
        goal, unit = AP_GOALS[c['comparison']]
        note = NOT_AHEAD if c['value'] is None else ''
        out.append(_target(c['comparison'], c['pair'], c['value'], GOALS[goal], unit, note,
                           spread=c['sd']))
    out += [t for pair in pairs_in(rows) for t in cost_targets(pair, rows)]
    out += temporal_targets(rows)
    order = pairs_in(rows)
    return sorted(out, key=lambda t: order.index(t['pair']))  # stable: grouped by pair


def pck_view(rows: dict) -> list[dict]:
    """The AP targets' comparisons redone on PCK@0.2 (``value``, ``sd``) and on
    PCK@0.1 (``strict``, ``strict_sd``), in points, without verdicts: the issue
    sets no PCK goals, but short schedules leave AP near 0 for every model, and
    PCK still tells the models apart (PCK@0.1 further above the mean-pose floor)."""
    strict = {(c['comparison'], c['pair']): c for c in comparisons(rows, 'PCK@0.1')}
    out = []
    for c in comparisons(rows, 'PCK'):
        other = strict.get((c['comparison'], c['pair']))
        out.append(dict(c, unit='' if c['comparison'] == 'teacher-student gap closed' else ' PCK',
                        **(dict(strict=other['value'], strict_sd=other['sd']) if other else {})))
    return out


# (comparison, row role a, row role b): a - b on the temporal pair
TEMPORAL_COMPARISONS = (('frame + temporal KD vs frame KD', 'tkd', 'kd'),
                        ('frame + temporal KD vs the same without the temporal fit', 'tkd', 'skd'),
                        ('frame KD vs plain', 'kd', 'plain'),
                        ('frame + temporal KD vs plain', 'tkd', 'plain'))


def temporal_view(rows: dict) -> list[dict]:
    """What the motion term changes on the temporal pair: differences of PCK
    and AP (points) and of jitter and excess jitter (bbox units, lower is
    smoother), from the means, each with its seed-paired sd."""
    out = []
    for name, a, b in TEMPORAL_COMPARISONS:
        ra, rb = rows.get(f'temporal_{a}'), rows.get(f'temporal_{b}')
        if not (ra and rb):
            continue
        entry = dict(comparison=name)
        for metric, scale in (('PCK', 100.0), ('PCK@0.1', 100.0), ('AP', 100.0),
                              ('jitter', 1.0), ('excess_jitter', 1.0)):
            has = ra.get(metric) is not None and rb.get(metric) is not None
            entry[metric], entry[f'{metric}_sd'] = (gain(ra, rb, metric, scale) if has
                                                    else (None, None))
        out.append(entry)
    return out


def add_ratios(rows: dict) -> None:
    """Each student's step time relative to the plain student of its pair: the
    ratio of the mean step times, its sd over the seed-paired ratios."""
    for row in rows.values():
        plain = rows.get(f"{row['pair']}_plain")
        if row['role'] != 'teacher' and plain and row.get('step_s') and plain.get('step_s'):
            row['step_ratio'] = row['step_s'] / plain['step_s']
            ratios = [a / b for a, b in paired('step_s', row, plain) if b]
            if row.get('runs'):
                row.setdefault('sd', {})['step_ratio'] = sd_of(ratios)


# ------------------------------------------------------------------- report
def _f(value, fmt: str, scale: float = 1.0) -> str:
    return '–' if value is None else format(value * scale, fmt)


def _ms(value, spread, fmt: str, scale: float = 1.0, unit: str = '') -> str:
    """``mean ± sd`` (the sd left out when there is none)."""
    if value is None:
        return '–'
    text = format(value * scale, fmt)
    if spread is not None:
        text += f" ± {format(spread * scale, fmt.lstrip('+'))}"
    return text + unit


def format_table(rows: dict, floor: dict | None = None) -> str:
    """The models' table; ``floor`` (:func:`mean_pose_row`) is its first row."""
    lines = ['| pair | model | epochs | AP | PCK@0.2 (%) | PCK@0.1 (%) | jitter | excess jitter '
             '| params (M) | GFLOPs | train step (ms) | step vs plain | ORT 1 thread (ms) '
             '| ORT all threads (ms) |',
             '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for r in ([dict(floor, pair='–', role='floor')] if floor else []) + list(rows.values()):
        ratio = _ms(r.get('step_ratio'), sd(r, 'step_ratio'), '.2f', unit='×')
        lines.append(
            f"| {r['pair']} | {r['label']} | {r.get('epochs') or '–'} "
            f"| {_ms(r['AP'], sd(r, 'AP'), '.1f', 100)} "
            f"| {_ms(r.get('PCK'), sd(r, 'PCK'), '.1f', 100)} "
            f"| {_ms(r.get('PCK@0.1'), sd(r, 'PCK@0.1'), '.1f', 100)} "
            f"| {_ms(r.get('jitter'), sd(r, 'jitter'), '.4f')} "
            f"| {_ms(r.get('excess_jitter'), sd(r, 'excess_jitter'), '.4f')} "
            f"| {_f(r.get('params_M'), '.2f')} | {_f(r.get('GFLOPs'), '.3f')} "
            f"| {_ms(r.get('step_s'), sd(r, 'step_s'), '.0f', 1e3)} | {ratio} "
            f"| {_f(r.get('ort_1t_ms'), '.2f')} | {_f(r.get('ort_all_ms'), '.2f')} |")
    return '\n'.join(lines)


def format_targets(targets: list[dict]) -> str:
    lines = ['| target | pair | measured | goal | result |', '|---|---|---:|---:|---|']
    for t in targets:
        fmt = '+.1f' if t['unit'] in (' AP', ' PCK') else '.2f'
        measured = '–' if t['value'] is None else _ms(t['value'], t.get('sd'), fmt,
                                                        unit=t['unit'])
        if t['note']:
            measured += f" ({t['note']})"
        goal = f"{'≥' if t['op'] == '>=' else '≤'} {t['goal']:{fmt}}{t['unit']}"
        lines.append(f"| {t['target']} | {t['pair']} | {measured} | {goal} | {t['status']} |")
    return '\n'.join(lines)


def format_pck_view(view: list[dict]) -> str:
    lines = ['| comparison | pair | PCK@0.2 | PCK@0.1 |', '|---|---|---:|---:|']
    for v in view:
        cells = []
        for key, spread in (('value', 'sd'), ('strict', 'strict_sd')):
            if v.get(key) is None:  # absent: not measured; None: the teacher is not ahead
                cells.append(f'– ({NOT_AHEAD})' if key in v else '–')
            else:
                cells.append(_ms(v[key], v.get(spread), '+.1f' if v['unit'] else '.2f',
                                 unit=v['unit']))
        lines.append(f"| {v['comparison']} | {v['pair']} | {' | '.join(cells)} |")
    return '\n'.join(lines)


def format_temporal_view(view: list[dict]) -> str:
    lines = ['| comparison | Δ PCK@0.2 (points) | Δ PCK@0.1 (points) | Δ AP (points) '
             '| Δ jitter | Δ excess jitter |',
             '|---|---:|---:|---:|---:|---:|']
    for v in view:
        cells = [_ms(v.get(m), v.get(f'{m}_sd'), f) for m, f in
                 (('PCK', '+.1f'), ('PCK@0.1', '+.1f'), ('AP', '+.1f'), ('jitter', '+.4f'),
                  ('excess_jitter', '+.4f'))]
        lines.append(f"| {v['comparison']} | {' | '.join(cells)} |")
    return '\n'.join(lines)


def record_seeds(record: dict) -> list:
    """The students' seeds of a record (an earlier version's has one ``seed``)."""
    return list(record.get('seeds') or [record.get('seed', 0)])


def describe_epochs(record: dict) -> str:
    """The epochs of a record's students and trained teachers, in words."""
    rows = record['rows'].values()
    students = sorted({r['epochs'] for r in rows if r['role'] != 'teacher' and r.get('epochs')})
    def epochs(n):
        return f"{n} epoch{'' if n == 1 else 's'}"
    if students:
        text = f"students {', '.join(map(str, students[:-1]))}{', ' if students[1:] else ''}" \
               f"{epochs(students[-1])}"
    else:
        text = 'students ' + (epochs(record['epochs']) if record.get('epochs')
                              else 'the configs’ epochs')
    if record.get('epochs'):
        text += ' (--epochs; the configs say more)' if any(
            (r.get('config_epochs') or 0) > record['epochs'] for r in rows) else ' (--epochs)'
    def trained(r):
        saved = r.get('checkpoint_epoch')
        text = ', '.join(x for x in (epochs(r['epochs']) if r.get('epochs') else '',
                                     f'checkpoint of epoch {saved}'
                                     if saved and saved != r.get('epochs') else '') if x)
        return f"{r['label']} {text} ({r.get('teacher_source', '')})"
    teachers = {(r['label'], r.get('checkpoint')): trained(r) for r in rows
                if r['role'] == 'teacher' and (r.get('epochs') or r.get('checkpoint_epoch'))}
    teachers = list(teachers.values())
    if teachers:
        text += '; teachers: ' + ', '.join(teachers)
    return text


def format_markdown(record: dict) -> str:
    m = record['machine']
    seeds = record_seeds(record)
    refused = record.get('refused') or {}
    failed = record.get('failed') or []
    temporal = record.get('temporal_view') or temporal_view(record['rows'])
    return '\n'.join([
        f"# kdkit bench: {record['profile']} profile",
        '',
        f"Command: `{record['command']}`  ",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch threads {m['torch_threads']}, "
        f"{m['platform']}; torch {m['torch']}, mmpose {m['mmpose']}, "
        f"onnxruntime {m['onnxruntime']}{'; CUDA ' + m['gpu'] if m.get('gpu') else ''}; "
        f"load average {m['loadavg_before']:.1f} → {m['loadavg_after']:.1f}  ",
        f"Data: `{record['data_root']}` (test split); seed{'s' if len(seeds) > 1 else ''} "
        f"{', '.join(map(str, seeds))}; {describe_epochs(record)}; "
        f"{record['seconds']:.0f} s; started {record['started']}",
        '',
        'AP = COCO AP × 100 (OKS), PCK@0.2 and PCK@0.1 bbox-normalised, jitter = mean key-point '
        'acceleration in bbox units (excess: over the ground truth\'s); train step = '
        'median `time - data_time` over the iterations; ORT = ONNX Runtime CPU, '
        'batch 1, median, per architecture (the distilled students share their plain '
        'student\'s network; timed with the kdkit KD weights). Students: mean ± sd over '
        'the seeds; teachers: one model. The first row is the floor: the train labels\' '
        'mean pose drawn in every test box, which uses no image; a model near it has '
        'learned little of the pose, whatever its PCK.',
        '',
        *([f"**Partial record:** {record['partial']}.", ''] if record.get('partial') else []),
        *[f'**Refused:** {line}' for line in refused.values()],
        *([''] if refused else []),
        *[f"**Failed:** {f['label']} (seed {f['seed']}): {f['error']}" for f in failed],
        *([''] if failed else []),
        format_table(record['rows'], record.get('floor')),
        '',
        '## Targets (measured in this run)',
        '',
        'Gains and gaps closed from the means, ± the sd of the same figure seed by seed; '
        '"inconclusive": within one sd of the goal.',
        '',
        *([f"Re-checked on {record['reported']} by `kdkit bench --report` (same "
           "measurements, this version's target rules).", ''] if record.get('reported')
          else []),
        format_targets(record['targets']),
        '',
        '## The same comparisons on PCK (no goals in the issue)',
        '',
        format_pck_view(pck_view(record['rows'])),
        *(['', '## Temporal distillation (test clips; the goals are in the targets above)', '',
           format_temporal_view(temporal)] if temporal else []),
        ''])


def machine_info() -> dict:
    import platform

    import mmpose
    import onnxruntime
    import torch
    from kdkit.evaluation.latency import all_threads
    cpu = platform.processor() or 'unknown CPU'
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f
                       if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    cuda = torch.cuda.is_available()
    return dict(platform=platform.platform(), cpu=cpu, cores=os.cpu_count(),
                usable_cores=all_threads(), torch_threads=torch.get_num_threads(),
                torch=torch.__version__, mmpose=mmpose.__version__,
                onnxruntime=onnxruntime.__version__, python=platform.python_version(),
                cuda=cuda, gpu=torch.cuda.get_device_name(0) if cuda else None,
                loadavg_before=os.getloadavg()[0])


def write_results(record: dict, out: Path) -> dict:
    """``<profile>_<stamp>.json`` / ``.md`` and ``latest_<profile>.md``, atomically."""
    from kdkit.utils.io import atomic_write_text
    stem = Path(out) / f"{record['profile']}_{record['stamp']}"
    md = format_markdown(record)
    paths = dict(json=atomic_write_text(stem.with_suffix('.json'),
                                        json.dumps(record, indent=2, default=str) + '\n'),
                 md=atomic_write_text(stem.with_suffix('.md'), md))
    paths['latest'] = atomic_write_text(Path(out) / f"latest_{record['profile']}.md", md)
    return paths


# ---------------------------------------------------------------------- run
def format_command(profile='quick', seeds=(0,), epochs=None, out='bench/results', data_root=None,
                   work_dir='work_dirs', teacher_epochs=None, pairs=PAIRS, reuse=False,
                   latency_warmup=10, latency_iters=50, cfg_options=None, teacher=None,
                   jobs=1, min_teacher_lead=MIN_TEACHER_LEAD, pair_teachers=None) -> str:
    """The ``kdkit bench`` command line that reproduces a run."""
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    parts = ['kdkit', 'bench', '--profile', profile, '--seeds', *map(str, seeds),
             '--out', str(out), '--work-dir', str(work_dir), '--pairs', *pairs,
             '--latency-warmup', str(latency_warmup), '--latency-iters', str(latency_iters),
             '--jobs', str(jobs)]
    for flag, value in (('--epochs', epochs), ('--teacher-epochs', teacher_epochs),
                        ('--data-root', data_root), ('--teacher-checkpoint', teacher)):
        if value is not None:
            parts += [flag, str(value)]
    if min_teacher_lead is None:
        parts.append('--allow-weak-teacher')
    elif min_teacher_lead != MIN_TEACHER_LEAD:
        parts += ['--min-teacher-lead', f'{min_teacher_lead:g}']
    if pair_teachers:
        parts += ['--pair-teacher', *(f'{k}={v}' for k, v in pair_teachers.items())]
    if reuse:
        parts.append('--reuse')
    if cfg_options:
        parts += ['--cfg-options', *(f'{k}={v}' for k, v in cfg_options.items())]
    return ' '.join(shlex.quote(p) for p in parts)


def arch_of(cfgs: dict, role: str) -> str:
    """The config of the network a row deploys: a distilled student (kdkit or
    DWPose) is the plain student's architecture."""
    return cfgs['teacher' if role == 'teacher' else 'plain']


def teacher_specs(pairs, configs: dict, run: dict) -> dict:
    """``{pair: spec}`` of the pairs' teachers (a trained one is evaluated, a
    missing one trained into ``<work_root>/<config name>``); pairs with the same
    teacher share one spec."""
    specs, by_teacher = {}, {}
    for pair in pairs:
        ckpt, source, config = find_teacher(pair, run['profile'], configs[pair]['teacher'],
                                            run['work_root'], run['default_data'], run['teacher'],
                                            (run['pair_teachers'] or {}).get(pair))
        configs[pair]['teacher'] = config
        key = (config, str(ckpt))
        if key not in by_teacher:
            label = next(lb for _, p, r, lb in MODELS if p == pair and r == 'teacher')
            work = (run['work_root'] / Path(config).stem if ckpt is None
                    else run['dir'] / f'teacher_{Path(config).stem}')
            spec = job_spec('teacher', label, config, work, run['seeds'][0], run['base'],
                            run['teacher_epochs'], checkpoint=ckpt)
            spec['source'] = source or 'trained'
            by_teacher[key] = spec
        specs[pair] = by_teacher[key]
    return specs


def student_specs(pair: str, roles, cfgs: dict, teacher: dict | None, run: dict) -> list[dict]:
    """One spec per role and seed (``teacher``: the pair's teacher spec and result)."""
    specs = []
    for key, p, role, label in MODELS:
        if p != pair or role not in roles:
            continue
        for seed in run['seeds']:
            opts = run['base'] if teacher is None else student_options(
                cfgs[role], role, pair, teacher['checkpoint'], run['base'], teacher['config'])
            work = run['dir'] / run_dir_name(cfgs[role], pair, role, seed)
            specs.append(dict(job_spec(role, label, cfgs[role], work, seed, opts, run['epochs'],
                                       run['reuse']), key=key))
    return specs


def run_unique(specs: list[dict], jobs: int) -> dict:
    """``{work_dir: result}``: specs with the same work_dir (a plain student
    shared by pairs) run once."""
    unique = {s['work_dir']: s for s in specs}
    return dict(zip(unique, run_jobs(list(unique.values()), jobs)))


def student_row(key: str, specs: list[dict], results: dict, cfgs: dict) -> dict:
    first = specs[0]
    runs = []
    for s in specs:
        res = results[s['work_dir']]
        run = dict(seed=s['seed'])
        if 'error' in res:
            run['error'] = res['error']
        else:
            run.update(res['metrics'], checkpoint=res['checkpoint'], **res.get('steps', {}))
        runs.append(run)
    row = dict(label=first['label'], pair=next(p for k, p, _, _ in MODELS if k == key),
               role=first['role'], config=first['config'], seeds=[s['seed'] for s in specs],
               epochs=first['epochs'] or config_epochs(first['config']),
               config_epochs=config_epochs(first['config']), runs=runs)
    row.update(summarise_runs(runs))
    if row['role'] != 'plain':
        row['teacher_cache'] = uses_cache(row['role'], row['pair'])
    return row


def teacher_row(pair: str, spec: dict, result: dict) -> dict:
    """A teacher's row; ``checkpoint_epoch``: the epoch its checkpoint was saved
    after (the best on val AP of a run trained here, or a reused run's)."""
    from kdkit.utils.checkpoint import checkpoint_epoch
    label = next(lb for _, p, r, lb in MODELS if p == pair and r == 'teacher')
    epochs = {'trained': spec['epochs'] or config_epochs(spec['config']),
              'shipped': config_epochs(spec['config'])}.get(spec['source'])  # else unknown
    row = dict(label=label, pair=pair, role='teacher', config=spec['config'],
               teacher_source=spec['source'], epochs=epochs)
    if 'error' in result:
        row.update(error=result['error'], checkpoint=spec['checkpoint'], AP=None)
    else:
        row.update(result['metrics'], checkpoint=result['checkpoint'],
                   checkpoint_epoch=checkpoint_epoch(result['checkpoint']))
    return row


def run_bench(profile: str = 'quick', seeds=(0,), epochs: int | None = None,
              out: str | None = 'bench/results', data_root: str | None = None,
              work_dir: str = 'work_dirs', teacher_epochs: int | None = None,
              pairs=PAIRS, reuse: bool = False, latency_warmup: int = 10,
              latency_iters: int = 50, cfg_options: dict | None = None,
              teacher: str | None = None, jobs: int = 1,
              min_teacher_lead: float | None = MIN_TEACHER_LEAD,
              pair_teachers: dict | None = None) -> dict:
    """Run the benchmark (see the module doc); returns the record it writes.

    ``seeds``: the students' training seeds (an int: one). ``out=None`` writes
    nothing (the notebook); ``reuse`` keeps student runs whose config, seed,
    epochs and options match (else they are retrained); ``min_teacher_lead``
    None trains the KD students of every pair, however weak its teacher;
    ``pair_teachers``: ``{pair: checkpoint or work_dir}``, a pair's own trained
    teacher (its architecture is the pair's teacher config's).
    """
    from kdkit.demo import PROFILE_CONFIGS, ensure_data, is_default_data
    from kdkit.distill.cli import data_root_options
    seeds = [int(seeds)] if isinstance(seeds, int) else [int(s) for s in seeds]
    pairs = tuple(pairs)
    params = dict(profile=profile, seeds=seeds, epochs=epochs, out=out, data_root=data_root,
                  work_dir=work_dir, teacher_epochs=teacher_epochs, pairs=pairs,
                  reuse=reuse, latency_warmup=latency_warmup, latency_iters=latency_iters,
                  cfg_options=cfg_options, teacher=teacher, jobs=jobs,
                  min_teacher_lead=min_teacher_lead, pair_teachers=pair_teachers or None)
    unknown = set(pairs) - set(PAIRS)
    if unknown:
        raise ValueError(f'--pairs: {sorted(unknown)} unknown; expected some of {list(PAIRS)}')
    unknown = set(pair_teachers or {}) - set(pairs)
    if unknown:
        raise ValueError(f'--pair-teacher: {sorted(unknown)} not among the pairs run; expected '
                         f'some of {list(pairs)}')
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f'--seeds: expected distinct seeds, got {seeds}')
    configs = {p: c for p, c in pair_configs(profile).items() if p in pairs}
    t0, machine = time.time(), machine_info()
    root = ensure_data(profile, data_root or Path(PROFILE_CONFIGS[profile]['data']))
    floor = mean_pose_row(root, configs[pairs[0]]['plain'])
    run = dict(params, base=dict(data_root_options(root), **(cfg_options or {})),
               work_root=Path(work_dir), dir=Path(work_dir) / f'bench_{profile}',
               default_data=is_default_data(root, profile))

    # phase 1: teachers (trained where missing) and plain students, side by side
    t_specs = teacher_specs(pairs, configs, run)
    plain = {p: student_specs(p, ('plain',), configs[p], None, run) for p in pairs}
    unique_t = list({s['work_dir']: s for s in t_specs.values()}.values())
    results = run_unique(unique_t + [s for specs in plain.values() for s in specs], jobs)
    rows = {}
    for pair in pairs:
        spec = t_specs[pair]
        rows[f'{pair}_teacher'] = teacher_row(pair, spec, results[spec['work_dir']])
        rows[f'{pair}_plain'] = student_row(f'{pair}_plain', plain[pair], results,
                                            configs[pair])

    # the gate: a teacher not clearly ahead of the plain student teaches nothing
    refused = {p: line for p in pairs
               if (line := refusal(p, rows, min_teacher_lead)) is not None}
    for line in refused.values():
        print(f'kdkit bench: {line}', file=sys.stderr, flush=True)
    if out is not None:
        write_partial(make_record(params, machine, t0, root, configs, rows, refused, floor=floor,
                                  partial='teachers and plain students only (the distilled '
                                  'students were still training)'), out)

    # phase 2: the distilled students of the accepted pairs
    kd = {}
    for pair in pairs:
        trow = rows[f'{pair}_teacher']
        if pair in refused or not trow.get('checkpoint') or 'error' in trow:
            continue
        teacher_info = dict(checkpoint=trow['checkpoint'], config=trow['config'])
        kd[pair] = student_specs(pair, ('kd', 'dwpose', 'skd', 'tkd'), configs[pair], teacher_info,
                                 run)
    results.update(run_unique([s for specs in kd.values() for s in specs], jobs))
    for pair, specs in kd.items():
        for key in dict.fromkeys(s['key'] for s in specs):
            rows[key] = student_row(key, [s for s in specs if s['key'] == key], results,
                                    configs[pair])
    order = [k for k, *_ in MODELS]
    rows = dict(sorted(rows.items(), key=lambda kv: order.index(kv[0])))

    # cost per architecture: params/GFLOPs; ONNX Runtime latency unless latency_iters is 0
    cost = {}
    for key, row in rows.items():
        arch = arch_of(configs[row['pair']], row['role'])
        if arch not in cost:
            cost[arch] = complexity(arch)
            if latency_iters > 0:
                ckpt = (row['checkpoint'] if row['role'] == 'teacher' else  # KD weights
                        (rows.get(f"{row['pair']}_kd") or {}).get('checkpoint')
                        or row['checkpoint'])
                if ckpt:
                    cost[arch].update(onnx_timing(
                        arch, Path(ckpt), run['dir'] / 'onnx' / f'{Path(arch).stem}.onnx',
                        latency_warmup, latency_iters))
        row.update(cost[arch])
    add_ratios(rows)
    record = make_record(params, machine, t0, root, configs, rows, refused, floor=floor)
    if out is not None:
        record['written'] = {k: str(v) for k, v in write_results(record, Path(out)).items()}
        partial_path(record, out).unlink(missing_ok=True)
    return record


def make_record(params: dict, machine: dict, t0: float, root: Path, configs: dict, rows: dict,
                refused: dict, partial: str | None = None, floor: dict | None = None) -> dict:
    """The record of a run (``partial``: what is missing, in words; ``floor``:
    :func:`mean_pose_row`)."""
    failed = [dict(label=r['label'], seed=x['seed'], error=x['error'])
              for r in rows.values() for x in r.get('runs', []) if 'error' in x]
    failed += [dict(label=r['label'], seed=None, error=r['error'])
               for r in rows.values() if r['role'] == 'teacher' and 'error' in r]
    machine = dict(machine, loadavg_after=os.getloadavg()[0])
    record = dict(profile=params['profile'], seeds=params['seeds'], seed=params['seeds'][0],
                  epochs=params['epochs'], teacher_epochs=params['teacher_epochs'],
                  data_root=str(root), command=format_command(**params), params=params,
                  machine=machine,
                  started=time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(t0)),
                  stamp=time.strftime('%Y%m%d_%H%M%S', time.localtime(t0)),
                  seconds=round(time.time() - t0, 1), configs=configs, floor=floor, rows=rows,
                  refused=refused, failed=failed,
                  targets=check_targets(rows, refused), pck_view=pck_view(rows),
                  temporal_view=temporal_view(rows))
    if partial:
        record['partial'] = partial
    return record


def partial_path(record: dict, out) -> Path:
    return Path(out) / f"{record['profile']}_{record['stamp']}.partial.json"


def write_partial(record: dict, out) -> Path:
    """The record so far, as JSON (``kdkit bench --report`` renders it): a run
    cut short (a device call's time limit) still leaves its teachers and plain
    students. The finished run removes it."""
    from kdkit.utils.io import atomic_write_text
    return atomic_write_text(partial_path(record, out),
                             json.dumps(record, indent=2, default=str) + '\n')


def rereport(path: str, out: str) -> dict:
    """A stored run's record with its targets re-checked by this version's
    rules (the measurements untouched), rewritten to ``out``."""
    try:
        record = json.loads(Path(path).read_text())
        rows = record['rows']
        record.update(targets=check_targets(rows, record.get('refused')),
                      pck_view=pck_view(rows), temporal_view=temporal_view(rows),
                      reported=time.strftime('%Y-%m-%d %H:%M:%S'))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f'{path}: expected a kdkit bench record (.json with rows): {e}')
    record['written'] = {k: str(v) for k, v in write_results(record, Path(out)).items()}
    return record


def parse_pair_teachers(items) -> dict:
    """``['simcc=work_dirs/x', ...]`` -> ``{'simcc': 'work_dirs/x'}``; a one-line
    error for an item that is not ``PAIR=CHECKPOINT`` with a known pair."""
    out = {}
    for item in items or []:
        pair, sep, path = item.partition('=')
        if not sep or not path or pair not in PAIRS:
            raise ValueError(f'--pair-teacher: expected PAIR=CHECKPOINT with PAIR one of '
                             f'{list(PAIRS)}, got {item!r}')
        out[pair] = path
    return out


def _bench_cmd(args) -> int:
    try:
        if args.report:
            record = rereport(args.report, args.out)
        else:
            seeds = [args.seed] if args.seed is not None else args.seeds
            lead = None if args.allow_weak_teacher else args.min_teacher_lead
            record = run_bench(args.profile, seeds, args.epochs, args.out, args.data_root,
                               args.work_dir, args.teacher_epochs, args.pairs, args.reuse,
                               args.latency_warmup, args.latency_iters, args.cfg_options,
                               args.teacher, args.jobs, lead, parse_pair_teachers(args.pair_teacher))
    except (FileNotFoundError, ValueError) as e:
        print(f"kdkit bench: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    print(format_table(record['rows'], record.get('floor')))
    print()
    print(format_targets(record['targets']))
    for line in (record.get('refused') or {}).values():
        print(f'\nrefused: {line}')
    print(f"\n({record['seconds']:.0f} s; written to {record['written']['md']})")
    return 1 if record.get('failed') and not args.report else 0


def add_parser(subparsers) -> None:
    import argparse

    from mmengine.config import DictAction
    p = subparsers.add_parser(
        'bench', help='side-by-side benchmark: teachers, plain and distilled students',
        description='Train plain and distilled students (kdkit KD, DWPoseDistiller, temporal '
        'KD) of five teacher-student pairs with the same data, epochs and seeds; write AP, '
        'PCK, jitter (mean ± sd over the seeds), step-time ratios and ONNX latency to '
        'OUT/<profile>_<time>.{json,md}.')
    p.add_argument('--profile', default='quick', choices=['quick', 'full'])
    p.add_argument('--seeds', type=int, nargs='+', default=[0],
                   help='training seeds of every student (the record gives mean ± sd over them)')
    p.add_argument('--seed', type=int, help=argparse.SUPPRESS)  # earlier records' commands
    p.add_argument('--epochs', type=int, help="students' epochs (default: the configs')")
    p.add_argument('--teacher-epochs', type=int,
                   help="epochs of a teacher trained here (default: its config's)")
    p.add_argument('--teacher-checkpoint', dest='teacher',
                   help="the ResNet-18 pairs' teacher (a .pth or a work_dir; default: the "
                   "shipped one on the kit's default data, else WORK_DIR/<teacher config>/, "
                   'else trained there)')
    p.add_argument('--out', default='bench/results')
    p.add_argument('--data-root', help='default: data/kdkit_<profile> (generated if absent)')
    p.add_argument('--work-dir', default='work_dirs',
                   help='teachers in WORK_DIR/<config>, students in WORK_DIR/bench_<profile>/')
    p.add_argument('--pairs', nargs='+', default=list(PAIRS), choices=list(PAIRS))
    p.add_argument('--jobs', type=int, default=1,
                   help='students trained at a time, each in its own process (default 1: '
                   'one after the other in this process)')
    p.add_argument('--min-teacher-lead', type=float, default=MIN_TEACHER_LEAD, metavar='POINTS',
                   help='refuse a pair whose teacher is fewer test PCK@0.2 points ahead of its '
                   'plain student (default %(default)g)')
    p.add_argument('--allow-weak-teacher', action='store_true',
                   help='distil in every pair, however far its teacher is ahead')
    p.add_argument('--reuse', action='store_true',
                   help='keep student runs of identical settings instead of retraining')
    p.add_argument('--latency-warmup', type=int, default=10)
    p.add_argument('--latency-iters', type=int, default=50,
                   help='ONNX Runtime timing iterations per architecture (0: no ONNX export '
                   'and timing, e.g. while other jobs load the CPU)')
    p.add_argument('--pair-teacher', nargs='+', metavar='PAIR=CHECKPOINT',
                   help="a pair's own trained teacher (a .pth or a work_dir, the pair's "
                   'teacher architecture), e.g. simcc=work_dirs/rtmpose-s-s16_60e_kdkit-video-128x96')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='config overrides for every run, e.g. train_dataloader.num_workers=0')
    p.add_argument('--verbose', action='store_true',
                   help="show MMEngine's logs on the terminal instead of progress bars")
    p.add_argument('--report', metavar='JSON',
                   help="train nothing: re-check a stored run's targets with this "
                   "version's rules and rewrite its .json/.md in OUT")
    p.set_defaults(func=_bench_cmd)


def _job_main(spec_path: str) -> int:
    """``python -m kdkit.bench SPEC.json``: one job of ``--jobs`` (see run_jobs)."""
    from kdkit.utils.io import atomic_write_text
    spec = json.loads(Path(spec_path).read_text())
    result = run_job(spec)
    atomic_write_text(job_files(spec['work_dir'])[1], json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit('usage: python -m kdkit.bench JOB.json (one job of kdkit bench --jobs)')
    sys.exit(_job_main(sys.argv[1]))
