"""``kdkit train CONFIG`` and ``kdkit test CONFIG CKPT``: thin wrappers over
MMEngine's Runner, behaving as MMPose's ``tools/train.py`` / ``tools/test.py``."""
from __future__ import annotations

import argparse
from pathlib import Path


# top-level keys MMEngine's Runner reads; a near miss of one is a typo
RUNNER_KEYS = (
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper',
    'param_scheduler', 'val_evaluator', 'test_evaluator', 'default_hooks',
    'custom_hooks', 'data_preprocessor', 'load_from', 'resume', 'launcher',
    'env_cfg', 'log_processor', 'log_level', 'visualizer', 'default_scope',
    'randomness', 'experiment_name', 'custom_imports', 'vis_backends',
    'backend_args', 'compile', 'strategy', 'codec')


def check_config_keys(cfg, name) -> None:
    """Reject a top-level key that is one typo away from a key the Runner reads
    (MMEngine would silently ignore it); other names are config variables."""
    import difflib
    for key in cfg.keys():
        if key in RUNNER_KEYS:
            continue
        close = difflib.get_close_matches(key, RUNNER_KEYS, n=1, cutoff=0.85)
        if close:
            raise ValueError(f'config {name}: unknown key {key!r} (did you mean {close[0]!r}?)')


def load_config(config: str, cfg_options: dict | None = None, work_dir: str | None = None):
    """Read an MMPose config (a file, or ``mmpose::...``), apply overrides and
    a default work_dir of ``work_dirs/<config name>``."""
    from kdkit.distill.teacher import load_any_config
    cfg = load_any_config(config)
    check_config_keys(cfg, config)
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


def pack_teacher(work_dir, out_dir, config: str | None = None) -> Path:
    """Shrink a trained teacher for shipping: fp16 weights only, plus its log.

    Writes ``<out_dir>/<name>.pth`` (``state_dict`` in float16 and a ``meta``
    with the source checkpoint's SHA-256, epoch and config) and copies the
    run's log next to it as ``<name>.log``.
    """
    import hashlib
    import io
    import shutil

    import torch
    from kdkit.distill.teacher import resolve_checkpoint
    from kdkit.utils.checkpoint import read_state_dict
    from kdkit.utils.io import atomic_write_bytes
    work_dir = Path(work_dir)
    ckpt = resolve_checkpoint(work_dir)
    state = {k: (v.half() if v.is_floating_point() else v)
             for k, v in read_state_dict(ckpt, 'teacher checkpoint').items()}
    name = config and Path(config).stem or work_dir.name
    meta = dict(source=ckpt.name, source_sha256=hashlib.sha256(ckpt.read_bytes()).hexdigest(),
                config=config or f'configs/teacher/{name}.py', dtype='float16')
    buf = io.BytesIO()
    torch.save({'state_dict': state, 'meta': meta}, buf)
    out = atomic_write_bytes(Path(out_dir) / f'{name}.pth', buf.getvalue())
    logs = sorted(work_dir.glob('*/*.log'))
    if logs:
        shutil.copyfile(logs[-1], Path(out_dir) / f'{name}.log')
    return out


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


def _pack_cmd(args) -> int:
    out = pack_teacher(args.work_dir, args.out_dir, args.config)
    print(f'{out} ({out.stat().st_size / 1e6:.1f} MB)')
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

    p = subparsers.add_parser('pack-teacher', help='fp16 weights-only copy of a trained teacher, with its log')
    p.add_argument('work_dir', help='the teacher run (its best_*.pth or last checkpoint is used)')
    p.add_argument('out_dir', help='e.g. checkpoints/')
    p.add_argument('--config', help='the teacher config (default: configs/teacher/<work_dir name>.py)')
    p.set_defaults(func=_pack_cmd)
