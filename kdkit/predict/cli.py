"""``kdkit predict CONFIG CKPT --images DIR | --video FILE [--boxes B] --out
preds.json``: COCO key-point results in original-frame pixels and an overlay."""
from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        'predict', help='predict key points on images or a video',
        description='Run the (student) pose model of CONFIG with the weights of '
        'CKPT on every frame of --images or --video, top-down in the boxes of '
        '--boxes (without it: one whole-frame box per frame). Writes COCO '
        'key-point results in original-frame pixels to --out, the frame list '
        'to <out stem>.images.json and an overlay video/GIF.')
    p.add_argument('config', help='MMPose / kdkit config file')
    p.add_argument('checkpoint', help='checkpoint (.pth) of that config, its '
                   "work_dir, or a .onnx from 'kdkit export' of that config")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument('--images', metavar='DIR', help='folder of images (recursive, '
                     'sorted; image id = index in that order)')
    src.add_argument('--video', metavar='FILE', help='video file (image id = frame index)')
    p.add_argument('--boxes', metavar='JSON', help='person boxes: COCO detection '
                   'results, a COCO dataset with annotations, or a '
                   'kdkit-pose-labels/1 file (default: whole frames)')
    p.add_argument('--out', required=True, metavar='PREDS_JSON',
                   help='COCO key-point results file to write')
    p.add_argument('--overlay', metavar='PATH', help='overlay .mp4 or .gif (default: '
                   '<out stem>_overlay.mp4 for a video, .gif for images)')
    p.add_argument('--no-overlay', action='store_true', help='write no overlay')
    p.add_argument('--kpt-thr', type=float, default=0.3,
                   help='key points scored below this are not drawn (default 0.3)')
    p.add_argument('--fps', type=float, default=10.0,
                   help='overlay frame rate for --images (a video keeps its own)')
    p.add_argument('--device', default='cpu', help="torch device (default 'cpu')")
    p.add_argument('--verbose', action='store_true',
                   help="show MMEngine's and MMPose's messages and warnings")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    from kdkit.distill.cli import _UserErrors
    from kdkit.predict.core import predict
    with _UserErrors('predict') as caught:
        info = predict(args.config, args.checkpoint, args.out, images=args.images,
                       video=args.video, boxes=args.boxes,
                       overlay=False if args.no_overlay else args.overlay,
                       kpt_thr=args.kpt_thr, device=args.device, fps=args.fps,
                       log=lambda line: print(line, file=sys.stderr))
    if caught.code:
        return caught.code
    print(f"wrote {info['out']} ({info['predictions']} predictions on "
          f"{info['frames']} frames)")
    print(f"wrote {info['images_file']} (the images list to score it against)")
    if info['overlay'] is not None:
        print(f"wrote {info['overlay']}")
    return 0
