"""``kdkit data generate``: build the generated annotated pose-video dataset."""
from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    """Register ``data`` and its ``generate`` sub-command."""
    data = subparsers.add_parser(
        'data', help='generate and inspect datasets',
        description='Datasets: generate the seeded, offline annotated pose-video '
        'dataset (COCO key-point format with PoseTrack-style video fields).')
    sub = data.add_subparsers(dest='data_command', metavar='SUBCOMMAND')
    gen = sub.add_parser(
        'generate', help='generate the annotated pose-video dataset',
        description='Generate images, COCO-format annotations and clip previews '
        'into OUT (built in a temporary sibling folder, then renamed). The same '
        'seed and knobs give identical bytes.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_knob_help())
    gen.add_argument('--profile', default='quick', choices=('quick', 'full'),
                     help='size and difficulty preset (default: quick)')
    gen.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    gen.add_argument('--out', required=True, help='dataset root to create')
    gen.add_argument('--overwrite', action='store_true',
                     help='replace OUT even if it is not a kdkit dataset, and '
                     'regenerate even if it is up to date')
    gen.add_argument('--set', dest='knobs', action='append', default=[],
                     metavar='KNOB=VALUE', help='override a profile knob (repeatable)')
    gen.add_argument('--workers', type=int, default=None,
                     help='processes (default: all cores for large sets); '
                     'does not change the output')
    gen.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    gen.set_defaults(func=run_generate)
    data.set_defaults(func=lambda args: _usage(data))


def _usage(parser) -> int:
    parser.print_help()
    return 2


def _knob_help() -> str:
    from .config import KNOBS, PROFILES
    lines = ['knobs (--set KNOB=VALUE):']
    for name, k in KNOBS.items():
        rng = f' [{k.lo}, {k.hi}]' if k.lo is not None else ''
        lines.append(f'  {name:<18} {k.help}{rng}; quick={_fmt(PROFILES["quick"][name])}'
                     f' full={_fmt(PROFILES["full"][name])}')
    return '\n'.join(lines)


def _fmt(v) -> str:
    from .motions import MOTIONS
    if isinstance(v, tuple):
        return 'all' if set(v) == set(MOTIONS) else ','.join(v)
    return str(v)


def run_generate(args) -> int:
    import sys
    import time

    from .config import parse_knob_assignments
    from .export import dataset_up_to_date, generate_dataset, read_meta
    try:
        knobs = parse_knob_assignments(args.knobs)
        reused = not args.overwrite and dataset_up_to_date(
            args.out, args.profile, args.seed, **knobs)
        t0 = time.perf_counter()
        root = generate_dataset(args.out, profile=args.profile, seed=args.seed,
                                overwrite=args.overwrite, progress=not args.no_progress,
                                workers=args.workers, **knobs)
    except (ValueError, FileExistsError) as e:
        print(f'kdkit data generate: error: {e}', file=sys.stderr)
        return 2
    dt = time.perf_counter() - t0
    meta = read_meta(root) or {}
    frames = sum(s['frames'] for s in meta.get('splits', {}).values())
    print(f'dataset: {root}')
    for split, s in meta.get('splits', {}).items():
        print(f"  {split:<5} {s['clips']:>5} clips {s['frames']:>7} frames "
              f"{s['labeled_frames']:>7} labelled {s['subjects']:>4} subjects")
    print('  up to date (same profile, seed and knobs): reused' if reused else
          f'  {frames} frames in {dt:.1f} s ({frames / max(dt, 1e-9):.0f} frames/s)')
    return 0
