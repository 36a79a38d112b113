"""``kdkit profile CONFIG``: parameters, GFLOPs and CPU latency of a model
(eager PyTorch, and ONNX Runtime with ``--onnx``), 1 thread and all threads."""
from __future__ import annotations


def add_parser(subparsers) -> None:
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
