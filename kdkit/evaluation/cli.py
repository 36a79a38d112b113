"""``kdkit profile CONFIG``: parameters, GFLOPs and CPU latency of a model
(eager PyTorch, and ONNX Runtime with ``--onnx``), 1 thread and all threads.

``kdkit evaluate multiview``: multi-view reprojection error of key-point labels
(and of a model's predictions on a held-out view) on calibrated synchronised
videos; ``kdkit evaluate keypoints``: AP/AR, PCK and jitter of ``kdkit
predict`` results against a COCO key-point json. The work is in
:mod:`kdkit.evaluation.real`."""
from __future__ import annotations


def add_parser(subparsers) -> None:
    _add_profile_parser(subparsers)
    _add_evaluate_parser(subparsers)


def _add_profile_parser(subparsers) -> None:
    p = subparsers.add_parser(
        'profile', help='params, GFLOPs and CPU latency of a pose model',
        description='Profile the network of CONFIG (a distillation config '
        'profiles its student) at batch 1: parameters and GFLOPs '
        "(MMEngine's counter, multiply-add = 1) and median latency with "
        'p10/p90, eager PyTorch and optionally ONNX Runtime.')
    p.add_argument('config', help='MMPose / kdkit config file')
    p.add_argument('--input-size', nargs=2, type=int, metavar=('W', 'H'),
                   help="model input size (default: the config's codec)")
    p.add_argument('--onnx', metavar='PATH',
                   help='also time this exported model with ONNX Runtime')
    p.add_argument('--threads', nargs='+', type=int, metavar='N',
                   help='thread counts to time (default: 1 and all cores)')
    p.add_argument('--warmup', type=int, default=10)
    p.add_argument('--iters', type=int, default=50)
    p.set_defaults(func=run)


def profile(config, input_size=None, onnx_path=None, threads=None,
            warmup: int = 10, iters: int = 50) -> dict:
    """``dict(complexity=..., latency=[rows])`` for :func:`format_profile`."""
    from kdkit.evaluation.complexity import model_complexity
    from kdkit.evaluation.latency import all_threads, onnx_latency, torch_latency
    from kdkit.export.onnx import (build_student, codec_input_size,
                                   load_config, set_input_size)

    cfg = load_config(config)
    if input_size is not None:
        set_input_size(cfg, input_size)
    w, h = codec_input_size(cfg)
    shape = (1, 3, int(h), int(w))
    model = build_student(cfg)
    threads = threads or sorted({1, all_threads()})
    rows = [torch_latency(model, shape, t, warmup, iters) for t in threads]
    if onnx_path:
        rows += [onnx_latency(onnx_path, shape, t, warmup, iters)
                 for t in threads]
    return dict(complexity=model_complexity(model, shape), latency=rows,
                input_shape=shape)


def format_profile(result: dict) -> str:
    c = result['complexity']
    lines = [f"input {result['input_shape']}: params {c['params']:,} "
             f"({c['params'] / 1e6:.2f} M), {c['flops']:.3f} GFLOPs",
             f"{'backend':<17}{'threads':>8}{'median ms':>11}{'p10 ms':>9}"
             f"{'p90 ms':>9}{'n':>5}"]
    for r in result['latency']:
        lines.append(f"{r['backend']:<17}{r['threads']:>8}"
                     f"{r['median_ms']:>11.2f}{r['p10_ms']:>9.2f}"
                     f"{r['p90_ms']:>9.2f}{r['n']:>5}")
    return '\n'.join(lines)


def run(args) -> int:
    import sys
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # the stack's deprecation chatter
            result = profile(args.config, args.input_size, args.onnx,
                             args.threads, args.warmup, args.iters)
    except (FileNotFoundError, ValueError) as e:
        print(f'kdkit profile: error: {e}', file=sys.stderr)
        return 1
    print(format_profile(result))
    return 0


# ------------------------------------------------------------ kdkit evaluate
def _add_evaluate_parser(subparsers) -> None:
    p = subparsers.add_parser(
        'evaluate', help='score labels or predictions on real video',
        description='Score key points without human ground truth: '
        "'multiview' checks labels (and a model's predictions on a held-out "
        "view) against the other calibrated views; 'keypoints' scores "
        "'kdkit predict' results against a COCO key-point json (say the "
        "teacher's pseudo-labels of a held-out view).")
    sub = p.add_subparsers(dest='evaluate_command', metavar='WHAT')
    p.set_defaults(func=lambda args: _no_subcommand(p))

    mv = sub.add_parser(
        'multiview', help='reprojection error through calibrated views',
        description='Per frame, associate the people across the calibrated '
        'views of --labels, triangulate each joint and reproject it: the px '
        'error over all views, and with --held-out VIEW the error in VIEW of '
        '3D points triangulated from the other views only, for the labels of '
        'VIEW (the reference) and for --predictions on VIEW.')
    mv.add_argument('--calib', required=True, metavar='CALIB',
                    help='Qualisys .qca.txt calibration (pose2sim\'s Calib.qca.txt)')
    mv.add_argument('--labels', required=True, metavar='LABELS_JSON',
                    help='kdkit-pose-labels/1 file of the views (a video is its '
                    'camera by file stem: cam01.mp4 -> cam01)')
    mv.add_argument('--predictions', metavar='PRED',
                    help="'kdkit predict' results on the held-out view (with "
                    'their <stem>.images.json) or a kdkit-pose-labels/1 file')
    mv.add_argument('--images-json', metavar='JSON',
                    help='frame list of --predictions (default: <PRED stem>.images.json)')
    mv.add_argument('--held-out', metavar='VIEW',
                    help='score this view against 3D points of the others '
                    '(needed with --predictions)')
    mv.add_argument('--all-held-out', action='store_true',
                    help='also hold out each view in turn (labels only)')
    mv.add_argument('--min-score', type=float, default=0.3,
                    help='least key-point score used to associate, triangulate '
                    'and (all views) score (default 0.3)')
    mv.add_argument('--max-px', type=float, default=40.0,
                    help='cross-view association threshold, mean epipolar '
                    'distance in px (default 40)')
    mv.add_argument('--out', metavar='REPORT_JSON', help='write the report here')
    mv.set_defaults(func=run_multiview)

    kp = sub.add_parser(
        'keypoints', help="AP/AR, PCK and jitter of 'kdkit predict' results",
        description="AP/AR (COCOeval, COCO OKS sigmas; each instance scored "
        "by the results' score, no NMS), PCK@THR (normalised by the GT box's "
        "larger side) and jitter (key-point acceleration in bbox units along "
        "the GT tracks) of 'kdkit predict' results against a COCO key-point "
        "json. Frames map to GT images by frame_index (a video; of the GT "
        "video named like the predicted file) or file name (an image folder) "
        "through the results' images json.")
    kp.add_argument('--gt', required=True, metavar='COCO_JSON',
                    help='COCO key-point json, e.g. data/real/demo_multiperson/'
                    'annotations/person_keypoints_val.json')
    kp.add_argument('--preds', required=True, metavar='PREDS_JSON',
                    help="'kdkit predict --out' results")
    kp.add_argument('--images-json', metavar='JSON',
                    help='their frame list (default: <PREDS stem>.images.json '
                    'if it exists, else image ids are GT ids)')
    kp.add_argument('--thr', type=float, default=0.2, help='PCK threshold (default 0.2)')
    kp.add_argument('--match-iou', type=float, default=0.5,
                    help='least box IoU pairing a prediction with a GT person '
                    'for PCK and jitter (default 0.5)')
    kp.add_argument('--out', metavar='REPORT_JSON', help='write the report here')
    kp.set_defaults(func=run_keypoints)


def _no_subcommand(parser) -> int:
    parser.print_help()
    return 2


class _Errors:
    """Bad input ends ``kdkit evaluate WHAT`` with one line on stderr and exit
    code 2 (``self.code``); ``KDKIT_DEBUG=1`` shows the traceback instead."""

    def __init__(self, command: str):
        self.command, self.code = command, 0

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        import os
        import sys
        if e is None or os.environ.get('KDKIT_DEBUG'):
            return False
        if not isinstance(e, (ValueError, OSError)):
            return False
        line = ' '.join(str(e).split()) or type(e).__name__
        print(f'kdkit {self.command}: error: {line}', file=sys.stderr)
        self.code = 2
        return True


def run_multiview(args) -> int:
    from kdkit.evaluation.real import (format_multiview, multiview_cli_report,
                                       write_json_atomic)
    with _Errors('evaluate multiview') as caught:
        report = multiview_cli_report(
            args.calib, args.labels, args.predictions, args.held_out,
            images_json=args.images_json, min_score=args.min_score,
            max_px=args.max_px, all_held_out=args.all_held_out)
        print(format_multiview(report))
        if args.out:
            print(f'wrote {write_json_atomic(args.out, report)}')
    return caught.code


def run_keypoints(args) -> int:
    import warnings

    from kdkit.evaluation.real import (format_keypoints, keypoints_report,
                                       write_json_atomic)
    with _Errors('evaluate keypoints') as caught:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # the stack's deprecation chatter
            report = keypoints_report(args.gt, args.preds, args.images_json,
                                      args.thr, args.match_iou)
        print(format_keypoints(report))
        if args.out:
            print(f'wrote {write_json_atomic(args.out, report)}')
    return caught.code
