"""``kdkit export CONFIG CKPT --onnx OUT``: the student network to ONNX,
checked against PyTorch with ONNX Runtime."""
from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        'export', help='export a (student) pose model to ONNX',
        description='Export the raw network (backbone+head, batch 1, fixed '
        'size) of CONFIG with the weights of CKPT; a distillation config '
        'exports its student. Decode the outputs with '
        'kdkit.export.decode_outputs.')
    p.add_argument('config', help='MMPose / kdkit config file')
    p.add_argument('checkpoint', help='checkpoint (.pth) of that config, or '
                   'its work_dir (best_*.pth, else last_checkpoint)')
    p.add_argument('--onnx', required=True, metavar='OUT',
                   help='.onnx file to write')
    p.add_argument('--input-size', nargs=2, type=int, metavar=('W', 'H'),
                   help="model input size (default: the config's codec)")
    p.add_argument('--opset', type=int, default=17)
    p.add_argument('--exporter', choices=('auto', 'dynamo', 'torchscript'),
                   default='auto', help="torch's ONNX exporter (auto: dynamo "
                   'if onnxscript is installed)')
    p.add_argument('--no-check', action='store_true',
                   help='skip the ONNX Runtime vs PyTorch comparison')
    p.set_defaults(func=run)


def run(args) -> int:
    import sys
    import warnings

    from kdkit.export.onnx import export_onnx
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # the stack's deprecation chatter
            info = export_onnx(args.config, args.checkpoint, args.onnx,
                               input_size=args.input_size, opset=args.opset,
                               check=not args.no_check,
                               exporter=args.exporter)
    except (FileNotFoundError, ValueError) as e:
        print(f'kdkit export: error: {e}', file=sys.stderr)
        return 1
    shapes = ', '.join(f'{n} {tuple(s)}' for n, s in
                       info['output_shapes'].items())
    diff = info['max_abs_diff']
    print(f"wrote {info['path']} ({info['exporter']} exporter, opset "
          f"{info['opset']}): input {info['input_shape']} -> {shapes}")
    print('ONNX Runtime vs PyTorch: ' + (
        'not checked' if diff is None else f"max abs diff {diff:.2e} "
        f"(outputs up to {info['max_abs_output']:.2e})"))
    pre = info['preprocess']
    print(f"input: mean {pre['mean']}, std {pre['std']}, "
          f"bgr_to_rgb {pre['bgr_to_rgb']}")
    return 0
