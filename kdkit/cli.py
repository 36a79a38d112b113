"""The ``kdkit`` command: ``kdkit doctor | data | demo | train | test | ablate | export |
predict | evaluate | bench``.

Each sub-command lives next to the code it drives and exposes
``add_parser(subparsers)``, which registers the command and sets
``func(args) -> int``. Heavy imports (torch, mmpose) happen inside ``func`` so
``kdkit --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from kdkit.utils.console import set_verbose

# module path of each sub-command group, in the order ``--help`` lists them
COMMAND_MODULES = (
    'kdkit.doctor',
    'kdkit.data.cli',
    'kdkit.demo',
    'kdkit.distill.cli',
    'kdkit.ablation.cli',
    'kdkit.export.cli',
    'kdkit.predict.cli',
    'kdkit.evaluation.cli',
    'kdkit.bench',
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='kdkit',
        description='Knowledge distillation of 2D human key-point models on '
        'video, on MMPose 1.x.')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, 'func', None):
        parser.print_help()
        return 2
    set_verbose(getattr(args, 'verbose', False))
    return int(args.func(args) or 0)


if __name__ == '__main__':
    sys.exit(main())
