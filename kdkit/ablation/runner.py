"""``run_grid``: train a grid of distillation settings under one budget and
seed list, cache every (setting, seed) result on disk, return a tidy table.

    table = run_grid('configs/distill/kd-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py',
                     dict(rule=['weighted_sum', 'uncertainty', 'confidence_gating']),
                     seeds=[0, 1, 2], epochs=6, data_root='data/kdkit_quick',
                     out_dir='work_dirs/ablation')

Layout of ``out_dir``::

    results/<key>.json   one finished run: setting, metrics, final losses, loss curve
    runs/<key>/          its MMEngine work_dir (logs; no checkpoints)
    teacher_cache/       shared teacher outputs (with ``teacher_cache=True``)
    results.csv          the last table

``key`` hashes the resolved setting, seed, epochs, the base config's content,
the data root and the teacher checkpoint (path, size, mtime), so a rerun
reuses finished runs and any change reruns exactly what it affects. Result
files are written atomically; a killed grid resumes where it stopped.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Iterable, Optional

from .settings import (apply_setting, base_spec, expand_grid, resolve_setting,
                       setting_key)

METRICS = {'AP': 'coco/AP', 'PCK@0.2': 'kdkit/PCK@0.2', 'PCK@0.1': 'kdkit/PCK@0.1',
           'jitter': 'kdkit/jitter', 'excess_jitter': 'kdkit/excess_jitter'}
SETTING_COLUMNS = ('label', 'rule', 'gt_weight', 'kd_weight', 'temperature', 'schedule',
                   'setting_id')
MAX_CURVE_POINTS = 2000


def run_grid(base_config: str, grid, seeds: Iterable[int] = (0,), epochs: Optional[int] = None,
             data_root: Optional[str] = None, out_dir: str = 'work_dirs/ablation',
             teacher_checkpoint: Optional[str] = None, cfg_options: Optional[dict] = None,
             teacher_cache: bool = False, on_error: str = 'record', progress: bool = True,
             quiet: bool = True):
    """Train every (setting, seed) not cached yet; return the tidy table.

    Args:
        base_config: a distillation config (``DistillLossHook`` or
            ``KDPoseEstimator``).
        grid: list of settings or dict of lists (:func:`expand_grid`).
        seeds: one run per seed and setting.
        epochs: the shared budget (None: the config's ``max_epochs``); epoch
            LR schedules are stretched to it.
        data_root: generated data folder (None: the config's).
        out_dir: results cache and work dirs (see module doc).
        teacher_checkpoint: overrides the config's teacher checkpoint.
        cfg_options: extra config overrides for every run.
        teacher_cache: distil from one shared :class:`TeacherCacheHook` cache.
        on_error: ``'record'`` a failed run as a row with its error, or ``'raise'``.
        progress: print one line per run started.
        quiet: one progress bar and log line per run; MMEngine's log (config
            dump, per-iteration lines, warnings) and the COCO evaluator's
            prints go to the run's log file only (see :mod:`kdkit.utils.console`).

    Returns:
        pandas DataFrame, one row per (setting, seed): the setting columns,
        ``seed``, ``AP``, ``PCK@0.2``, ``jitter``, ``excess_jitter``, the final
        ``loss*`` values, ``wall_s``, ``epochs``, ``status``, ``cached``, ``key``
        and ``result_file``.
    """
    if on_error not in ('record', 'raise'):
        raise ValueError(f"on_error: expected 'record' or 'raise', got {on_error!r}")
    from kdkit.utils.io import atomic_write_text
    seeds = check_seeds(seeds)
    out = Path(out_dir)
    plan = plan_runs(base_config, grid, seeds, epochs, data_root, teacher_checkpoint,
                     cfg_options, teacher_cache)
    rows = {}
    # seed-major order: a grid stopped early has every setting at the first seeds
    order = sorted(range(len(plan)), key=lambda i: (plan[i]['seed_index'], i))
    for n, i in enumerate(order, 1):
        job = plan[i]
        path = out / 'results' / f"{job['key']}.json"
        record = read_result(path)
        cached = record is not None
        if not cached:
            if progress:
                print(f"[{n}/{len(plan)}] {job['resolved']['label']} seed={job['seed']}",
                      flush=True)
            record = run_job(job, out, on_error, quiet)
            if record['status'] == 'ok':
                atomic_write_text(path, json.dumps(record, indent=1))
        rows[i] = table_row(record, cached, path)
    table = tidy([rows[i] for i in range(len(plan))])  # setting-major, as the grid reads
    atomic_write_text(out / 'results.csv', table.to_csv(index=False))
    return table


def check_seeds(seeds) -> list[int]:
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                            for s in seeds):
        raise ValueError(f'seeds: expected a non-empty list of ints >= 0, got {seeds!r}')
    return seeds


def plan_runs(base_config, grid, seeds, epochs, data_root, teacher_checkpoint,
              cfg_options, teacher_cache) -> list[dict]:
    """Resolve and validate every setting before anything trains."""
    from kdkit.distill.cli import load_config
    if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f'epochs: expected an int >= 1, got {epochs!r}')
    cfg = load_config(base_config, run_options(data_root, cfg_options))
    base = base_spec(cfg)
    teacher = dict(base['teacher'])
    if teacher_checkpoint is not None:
        teacher['checkpoint'] = str(teacher_checkpoint)
    budget = int(epochs or cfg.train_cfg.max_epochs)
    common = dict(config=str(base_config), config_sha=config_digest(cfg),
                  data_root=str(data_root) if data_root else None, teacher=teacher,
                  teacher_file=checkpoint_stamp(teacher['checkpoint']), epochs=budget,
                  cfg_options=cfg_options or {}, teacher_cache=bool(teacher_cache))
    jobs = []
    for i, setting in enumerate(expand_grid(grid)):
        resolved = resolve_setting(setting, base, i)
        identity = {k: v for k, v in resolved.items() if k != 'label'}  # display only
        for j, seed in enumerate(seeds):
            key = setting_key(dict(common, resolved=identity, seed=seed))
            jobs.append(dict(common, resolved=resolved, seed=seed, seed_index=j,
                             setting=setting, key=key))
    return jobs


def run_options(data_root, cfg_options) -> dict:
    from kdkit.distill.cli import data_root_options
    opts = data_root_options(data_root) if data_root else {}
    opts.update(cfg_options or {})
    return opts


def config_digest(cfg) -> str:
    """Hash of the loaded base config (its whole _base_ chain), minus work_dir."""
    d = cfg.to_dict()
    d.pop('work_dir', None)
    return setting_key(d)


def checkpoint_stamp(checkpoint) -> dict:
    """Which teacher file a run used: a retrained teacher changes the key."""
    from kdkit.distill.teacher import resolve_checkpoint
    try:
        path = resolve_checkpoint(checkpoint)
    except FileNotFoundError:
        return dict(path=str(checkpoint), missing=True)
    st = Path(path).stat()
    return dict(path=str(path), size=st.st_size, mtime_ns=st.st_mtime_ns)


# ------------------------------------------------------------------ a run
def build_config(job: dict, work_dir: Path):
    """The base config rewritten for one job: setting, budget, no checkpoints."""
    from kdkit.distill.cli import load_config
    cfg = load_config(job['config'], run_options(job['data_root'], job['cfg_options']),
                      str(work_dir))
    apply_setting(cfg, job['resolved'], job['teacher'])
    fit_budget(cfg, job['epochs'])
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1, save_last=False,
                                        save_best=None)
    if job['teacher_cache']:
        cache_dir = str(work_dir.parent.parent / 'teacher_cache')
        cfg.custom_hooks = list(cfg.custom_hooks) + [
            dict(type='TeacherCacheHook', cache_dir=cache_dir)]
    return cfg


def fit_budget(cfg, epochs: int) -> None:
    """``epochs`` of training, validated once at the end; epoch-based LR
    schedulers that ran to the old end now run to the new one."""
    old = int(cfg.train_cfg.max_epochs)
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = epochs
    for sched in cfg.get('param_scheduler') or []:
        if not sched.get('by_epoch', True):
            continue
        if sched.get('end', 0) >= old:
            sched['end'] = epochs
        if sched.get('T_max', 0) >= old:
            sched['T_max'] = epochs


def run_job(job: dict, out: Path, on_error: str, quiet: bool = False) -> dict:
    import contextlib
    from kdkit.distill.cli import build_runner, progress_bar
    from kdkit.utils.console import quiet_stage
    work_dir = out / 'runs' / job['key']
    record = dict(key=job['key'], setting=job['setting'], resolved=job['resolved'],
                  seed=job['seed'], epochs=job['epochs'], config=job['config'],
                  data_root=job['data_root'], teacher=job['teacher'])
    name = f"{job['resolved']['label']} seed={job['seed']}"
    t0 = time.time()
    try:
        cfg = build_config(job, work_dir)
        # quiet: a progress bar; MMEngine's log goes to the run's log file
        # only, pycocotools' prints nowhere
        with quiet_stage(name) if quiet else contextlib.nullcontext() as shown:
            runner = build_runner(cfg, seed=job['seed'])
            if quiet:
                shown.attach(runner)
            with progress_bar(runner, name) if quiet else contextlib.nullcontext():
                runner.train()
    except Exception as e:  # noqa: BLE001  (one failed setting must not end the grid)
        if on_error == 'raise':
            raise
        msg = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return dict(record, status=f'failed: {type(e).__name__}: {msg[:200]}',
                    wall_s=time.time() - t0, metrics={}, losses={}, curve={})
    hub = runner.message_hub
    return dict(record, status='ok', wall_s=round(time.time() - t0, 2),
                metrics=final_metrics(hub), losses=final_losses(hub), curve=loss_curve(hub),
                finished=time.strftime('%Y-%m-%dT%H:%M:%S'))


def final_metrics(hub) -> dict:
    out = {}
    for name, key in METRICS.items():
        buf = hub.log_scalars.get(f'val/{key}')
        out[name] = float(buf.current()) if buf is not None else math.nan
    return out


def loss_keys(hub) -> list[str]:
    return sorted(k for k in hub.log_scalars
                  if k.startswith('train/loss') or k.startswith('train/w_'))


def final_losses(hub) -> dict:
    """Mean of each logged loss over the last 10% of iterations (less noisy
    than the last batch)."""
    out = {}
    for key in loss_keys(hub):
        if not key.startswith('train/loss'):
            continue
        values = list(hub.log_scalars[key].data[0])
        tail = values[-max(1, len(values) // 10):]
        out[key.split('/', 1)[1]] = float(sum(tail) / len(tail))
    return out


def loss_curve(hub) -> dict:
    """Per-iteration losses and weights (thinned to <= MAX_CURVE_POINTS)."""
    series = {k.split('/', 1)[1]: [float(v) for v in hub.log_scalars[k].data[0]]
              for k in loss_keys(hub)}
    n = max((len(v) for v in series.values()), default=0)
    step = max(1, math.ceil(n / MAX_CURVE_POINTS))
    curve = {'iter': list(range(1, n + 1, step))}
    curve.update({k: v[::step] for k, v in series.items() if len(v) == n})
    return curve


# ----------------------------------------------------------------- results
def read_result(path: Path) -> Optional[dict]:
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None  # unreadable (not ours: writes are atomic): run it again
    return record if record.get('status') == 'ok' else None


def table_row(record: dict, cached: bool, path: Path) -> dict:
    r = record['resolved']
    row = {c: r.get(c) for c in SETTING_COLUMNS}
    row['setting_id'] = setting_key({k: v for k, v in r.items() if k != 'label'})
    row.update(seed=record['seed'])
    row.update({m: record['metrics'].get(m, math.nan) for m in METRICS})
    row.update(record.get('losses', {}))
    row.update(wall_s=record.get('wall_s'), epochs=record['epochs'], status=record['status'],
               cached=cached, key=record['key'], result_file=str(path))
    return row


def tidy(rows: list[dict]):
    import pandas as pd
    table = pd.DataFrame(rows)
    loss_cols = sorted(c for c in table.columns if c.startswith('loss'))
    order = [*SETTING_COLUMNS, 'seed', *METRICS, *loss_cols, 'wall_s', 'epochs', 'status',
             'cached', 'key', 'result_file']
    return table[[c for c in order if c in table.columns]]


def load_results(out_dir) -> 'pd.DataFrame':  # noqa: F821
    """The table of every finished run cached under ``out_dir`` (any grid)."""
    paths = sorted((Path(out_dir) / 'results').glob('*.json'))
    if not paths:
        raise FileNotFoundError(f'{out_dir}: no ablation results (results/*.json); '
                                'run `kdkit ablate` or kdkit.ablation.run_grid first')
    rows = []
    for p in paths:
        record = read_result(p)
        if record is not None:
            rows.append(table_row(record, True, p))
    return tidy(rows)


def load_curve(result_file) -> 'pd.DataFrame':  # noqa: F821
    """One run's per-iteration loss curve (columns iter, loss, loss_gt, ..., w_*)."""
    import pandas as pd
    return pd.DataFrame(json.loads(Path(result_file).read_text())['curve'])
