"""``kdkit ablate CONFIG --grid grid.yaml --seeds 0 1 2 --epochs N --out DIR``.

The grid file (YAML or JSON) is a list of settings, or a dict whose list
values are crossed (see :mod:`kdkit.ablation.settings`), e.g.::

    rule: [weighted_sum, uncertainty, confidence_gating]
    kd_weight: [0.5, 1.0, 2.0]
    schedule: constant

Finished (setting, seed) runs are cached in ``DIR/results``; rerunning the
command trains only what is missing. The table goes to stdout and
``DIR/results.csv``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_grid(path) -> object:
    """A grid from a .yaml/.yml/.json file; one-line errors for bad files."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f'--grid: {p} does not exist')
    text = p.read_text()
    try:
        if p.suffix in ('.yaml', '.yml'):
            import yaml
            grid = yaml.safe_load(text)
        elif p.suffix == '.json':
            grid = json.loads(text)
        else:
            raise ValueError(f'--grid: {p} must end in .yaml, .yml or .json')
    except (json.JSONDecodeError, ImportError) as e:
        raise ValueError(f'--grid: {p} is not valid {p.suffix[1:]}: {e}') from None
    except Exception as e:  # yaml.YAMLError, without importing yaml up front
        if type(e).__module__.startswith('yaml'):
            first = (str(e).splitlines() or [''])[0]
            raise ValueError(f'--grid: {p} is not valid YAML: {first}') from None
        raise
    if not isinstance(grid, (list, dict)):
        raise ValueError(f'--grid: {p} must hold a list of settings or a dict of lists')
    return grid


def summary_columns(table) -> list[str]:
    keep = ['label', 'seed', 'AP', 'PCK@0.2', 'PCK@0.1', 'jitter', 'loss', 'wall_s', 'status',
            'cached']
    return [c for c in keep if c in table.columns]


def write_summary(table, out: Path) -> None:
    """Print the per-setting mean ± sd over seeds and keep it in ``out/summary.md``."""
    from kdkit.ablation.summary import format_summary, summarise_settings
    from kdkit.utils.io import atomic_write_text
    summary = summarise_settings(table)
    if summary.empty:
        return
    text = format_summary(summary)
    print('\nMean ± sd over seeds (val split, last epoch):\n' + text, end='')
    atomic_write_text(out / 'summary.md', text)


def _ablate_cmd(args) -> int:
    from kdkit.ablation.runner import run_grid
    grid = read_grid(args.grid)
    table = run_grid(args.config, grid, seeds=args.seeds, epochs=args.epochs,
                     data_root=args.data_root, out_dir=args.out,
                     teacher_checkpoint=args.teacher_checkpoint, cfg_options=args.cfg_options,
                     teacher_cache=args.teacher_cache, on_error=args.on_error,
                     quiet=not args.verbose)
    import pandas as pd
    with pd.option_context('display.width', 160, 'display.max_columns', 20):
        print(table[summary_columns(table)].to_string(index=False, float_format='%.4f'))
    print(f'({len(table)} runs, {int(table["cached"].sum())} from the cache; '
          f'table: {Path(args.out) / "results.csv"})')
    write_summary(table, Path(args.out))
    failed = table[table['status'] != 'ok']
    return 1 if len(failed) else 0


def add_parser(subparsers) -> None:
    from mmengine.config import DictAction
    p = subparsers.add_parser(
        'ablate', help='train a grid of loss-synthesis settings, cached, as a table',
        description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    p.add_argument('config', help='a distillation config (DistillLossHook or KDPoseEstimator)')
    p.add_argument('--grid', required=True, help='grid.yaml or grid.json')
    p.add_argument('--seeds', nargs='+', type=int, default=[0])
    p.add_argument('--epochs', type=int, help="shared budget (default: the config's max_epochs)")
    p.add_argument('--out', default='work_dirs/ablation', help='results cache and work dirs')
    p.add_argument('--data-root', help="generated data folder (default: the config's)")
    p.add_argument('--teacher-checkpoint', help="override the config's teacher checkpoint")
    p.add_argument('--teacher-cache', action='store_true',
                   help='distil from a shared teacher-output cache (TeacherCacheHook)')
    p.add_argument('--on-error', default='record', choices=['record', 'raise'],
                   help="'record' a failed run as a table row (default) or stop the grid")
    p.add_argument('--verbose', action='store_true', help="show MMEngine's per-run logs")
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config keys for every run')
    p.set_defaults(func=_ablate_cmd)
