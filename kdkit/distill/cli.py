"""``kdkit train CONFIG`` and ``kdkit test CONFIG CKPT``: thin wrappers over
MMEngine's Runner, behaving as MMPose's ``tools/train.py`` / ``tools/test.py``."""
from __future__ import annotations

import argparse
from pathlib import Path


def load_config(config: str, cfg_options: dict | None = None, work_dir: str | None = None):
    """Read an MMPose config (a file, or ``mmpose::...``), apply overrides and
    a default work_dir of ``work_dirs/<config name>``."""
    from kdkit.distill.teacher import load_any_config
    cfg = load_any_config(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = str(Path('work_dirs') / Path(config).stem)
    return cfg


def data_root_options(data_root) -> dict:
    """cfg_options pointing the train/val/test dataloaders at another data root."""
    return {f'{split}_dataloader.dataset.data_root': f'{str(data_root).rstrip("/")}/'
            for split in ('train', 'val', 'test')}


def build_runner(cfg, launcher: str = 'none', seed: int | None = None):
    import torch
    from mmengine.runner import Runner
    import kdkit  # noqa: F401  (registers kdkit; allow-lists checkpoint globals)
    cfg.launcher = launcher
    if launcher != 'none' and torch.cuda.is_available():
        cfg.env_cfg = dict(cfg.get('env_cfg', {}), dist_cfg=dict(backend='nccl'))
    if seed is not None:
        cfg.randomness = dict(cfg.get('randomness', {}), seed=seed)
    return Runner.from_cfg(cfg)


def train(config: str, work_dir: str | None = None, resume: bool = False,
          seed: int | None = None, launcher: str = 'none',
          cfg_options: dict | None = None, max_epochs: int | None = None):
    """Train ``config``; returns the trained model (the runner's)."""
    cfg = load_config(config, cfg_options, work_dir)
    if max_epochs is not None:
        cfg.train_cfg.max_epochs = max_epochs
    cfg.resume = bool(resume)
    if resume:
        cfg.load_from = None  # MMEngine finds the last checkpoint in work_dir
    runner = build_runner(cfg, launcher, seed)
    runner.train()
    return runner


def test(config: str, checkpoint: str, work_dir: str | None = None,
         launcher: str = 'none', cfg_options: dict | None = None) -> dict:
    """Evaluate ``checkpoint`` with the config's test loop; returns the metrics."""
    from kdkit.distill.teacher import resolve_path
    cfg = load_config(config, cfg_options, work_dir)
    cfg.load_from = str(resolve_path(checkpoint, 'checkpoint'))
    runner = build_runner(cfg, launcher)
    return runner.test()


def parse_cfg_options(pairs):
    from mmengine.config import DictAction
    ns = argparse.Namespace(cfg_options=None)
    DictAction(option_strings=['--cfg-options'], dest='cfg_options')(None, ns, pairs or [])
    return ns.cfg_options or None


def _train_cmd(args) -> int:
    train(args.config, args.work_dir, args.resume, args.seed, args.launcher,
          args.cfg_options, args.max_epochs)
    return 0


def _test_cmd(args) -> int:
    metrics = test(args.config, args.checkpoint, args.work_dir, args.launcher,
                   args.cfg_options)
    for k, v in metrics.items():
        print(f'{k}: {v}')
    return 0


def add_parser(subparsers) -> None:
    from mmengine.config import DictAction
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('config', help='an MMPose config (kdkit or stock)')
    common.add_argument('--work-dir', help='default: work_dirs/<config name>')
    common.add_argument('--launcher', default='none', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        help="'pytorch' under torchrun for multi-process training")
    common.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    common.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_epochs=3')

    p = subparsers.add_parser('train', parents=[common], help='train a config')
    p.add_argument('--resume', action='store_true',
                   help="resume from the last checkpoint in the work_dir")
    p.add_argument('--seed', type=int, help='override randomness.seed')
    p.add_argument('--max-epochs', type=int, help='override train_cfg.max_epochs')
    p.set_defaults(func=_train_cmd)

    p = subparsers.add_parser('test', parents=[common], help='evaluate a checkpoint')
    p.add_argument('checkpoint')
    p.set_defaults(func=_test_cmd)
