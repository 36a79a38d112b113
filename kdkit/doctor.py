"""``kdkit doctor``: is the stack usable? One line per check, non-zero exit on failure."""
from __future__ import annotations

import importlib
import os


def _version(name: str) -> str:
    return importlib.import_module(name).__version__


def _mmcv_ops() -> str:
    import torch
    from mmcv.ops import nms  # loads the compiled mmcv._ext
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
    keep = nms(boxes, torch.tensor([0.9, 0.8]), 0.5)[1]
    if keep.tolist() != [0]:
        raise RuntimeError(f'mmcv.ops.nms returned {keep.tolist()}, expected [0]')
    return 'compiled ops load and run (nms)'


def _torchvision_ops() -> str:
    import torch
    import torchvision
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
    keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
    if keep.tolist() != [0]:
        raise RuntimeError(f'torchvision.ops.nms returned {keep.tolist()}')
    return 'ops load and run (nms)'


def _mmpose_apis() -> str:
    import mmpose.apis  # noqa: F401
    import mmpose.visualization  # noqa: F401
    import kdkit  # noqa: F401  (registers kdkit's modules)
    return 'mmpose.apis, mmpose.visualization and kdkit import'


def _cuda() -> str:
    import torch
    if torch.cuda.is_available():
        return f'available: {torch.cuda.get_device_name(0)}'
    return 'not available (CPU only)'


def _threads() -> str:
    import torch
    return f'{torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs'


CHECKS = (
    ('torch', lambda: _version('torch')),
    ('torchvision', lambda: _version('torchvision')),
    ('mmcv', lambda: _version('mmcv')),
    ('mmengine', lambda: _version('mmengine')),
    ('mmpose', lambda: _version('mmpose')),
    ('mmcv ops', _mmcv_ops),
    ('torchvision ops', _torchvision_ops),
    ('imports', _mmpose_apis),
    ('cuda', _cuda),
    ('threads', _threads),
)


def run_checks() -> list[tuple[str, bool, str]]:
    """Return ``(name, ok, detail)`` for every check; never raises."""
    results = []
    for name, check in CHECKS:
        try:
            results.append((name, True, check()))
        except Exception as e:  # report every failure, not just the first
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            results.append((name, False, f'{type(e).__name__}: {reason}'))
    return results


def doctor(args=None) -> int:
    results = run_checks()
    width = max(len(n) for n, _, _ in results)
    for name, ok, detail in results:
        print(f'[{"ok" if ok else "FAIL"}] {name:<{width}}  {detail}')
    failed = [n for n, ok, _ in results if not ok]
    if failed:
        print(f'kdkit doctor: broken: {", ".join(failed)} (see the lines above)')
        return 1
    print('kdkit doctor: all green')
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser('doctor', help='check the torch/mmcv/mmengine/mmpose stack')
    p.set_defaults(func=doctor)
