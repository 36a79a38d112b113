"""``kdkit data generate``: build the generated annotated pose-video dataset;
``kdkit data from-video``: real clips + pose labels (or an ONNX teacher) -> a dataset."""
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
    add_from_video_parser(sub)
    data.set_defaults(func=lambda args: _usage(data))


def add_from_video_parser(sub) -> None:
    """``kdkit data from-video`` (the work is in :mod:`kdkit.data.from_video`)."""
    fv = sub.add_parser(
        'from-video', help='real videos + pose labels (or an ONNX teacher) -> a dataset',
        description='Turn real clips into a kdkit dataset of pseudo-labels: JPEG frames, '
        'COCO key-point json with PoseTrack-style video fields and meta.json, laid out as '
        '`kdkit data generate` does (configs run with data_root=OUT). Labels come from '
        '--labels (kdkit-pose-labels/1 json) or from an ONNX teacher (--teacher). Built in '
        'a temporary sibling folder, then renamed; on error OUT is left as it was.')
    fv.add_argument('videos', nargs='+', metavar='VIDEO', help='video files (any OpenCV reads)')
    fv.add_argument('--out', required=True, help='dataset root to create')
    src = fv.add_mutually_exclusive_group(required=True)
    src.add_argument('--labels', help='pose labels of the videos (kdkit-pose-labels/1 json)')
    src.add_argument('--teacher', help='an .onnx pose model that labels the frames')
    fv.add_argument('--teacher-spec', metavar='SPEC',
                    help="the ONNX teacher dict: a .json file or a dict literal "
                    "(input_size, output, mean, std, bgr_to_rgb[, udp, simcc_split_ratio])")
    fv.add_argument('--boxes', help='person boxes for the ONNX teacher: pose-labels json or '
                    'COCO json (images + annotations); default: the whole frame, refined once')
    fv.add_argument('--val', action='append', default=[], metavar='STEMS',
                    help='videos (file stems, comma-separated, repeatable) of the val split')
    fv.add_argument('--test', action='append', default=[], metavar='STEMS',
                    help='videos of the test split (default: the test json is the val one)')
    fv.add_argument('--every', type=int, default=1, metavar='N', help='keep every N-th frame')
    fv.add_argument('--max-frames', type=int, default=None, metavar='N',
                    help='at most N (strided) frames per video')
    fv.add_argument('--kpt-thr', type=float, default=0.3,
                    help='least score of a labelled key point (default 0.3)')
    fv.add_argument('--human', metavar='COCO.json',
                    help='sparse human labels; they replace the pseudo-labels they overlap')
    fv.add_argument('--track-iou', type=float, default=0.3,
                    help='IoU of the tracker and of human-label matching (default 0.3)')
    fv.add_argument('--max-gap', type=int, default=5,
                    help='frames a track may miss and continue (default 5)')
    fv.add_argument('--overwrite', action='store_true',
                    help='replace OUT even if it is not a kdkit dataset')
    fv.add_argument('--no-progress', action='store_true', help='hide the progress bars')
    fv.set_defaults(func=run_from_video)


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


def run_from_video(args) -> int:
    import sys
    from .from_video import cli_from_video
    try:
        return cli_from_video(args)
    except (ValueError, FileExistsError, FileNotFoundError) as e:
        print(f'kdkit data from-video: error: {" ".join(str(e).split())}', file=sys.stderr)
        return 2
