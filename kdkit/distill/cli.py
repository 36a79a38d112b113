"""``kdkit train CONFIG`` and ``kdkit test CONFIG CKPT``: thin wrappers over
MMEngine's Runner, behaving as MMPose's ``tools/train.py`` / ``tools/test.py``."""
from __future__ import annotations

import argparse
import contextlib
import uuid
from pathlib import Path

from kdkit.distill.estimator import synthesis_paramwise
from kdkit.distill.hook import is_distill_hook_cfg
from kdkit.engine.hooks import ProgressBarHook
from kdkit.utils.console import is_verbose, quiet_stage


# top-level keys MMEngine's Runner reads; a near miss of one is a typo
RUNNER_KEYS = (
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper',
    'param_scheduler', 'val_evaluator', 'test_evaluator', 'default_hooks',
    'custom_hooks', 'data_preprocessor', 'load_from', 'resume', 'launcher',
    'env_cfg', 'log_processor', 'log_level', 'visualizer', 'default_scope',
    'randomness', 'experiment_name', 'custom_imports', 'vis_backends',
    'backend_args', 'compile', 'strategy', 'codec', 'model_wrapper_cfg',
    'find_unused_parameters', 'sync_bn')


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
        # a typo'd top-level key in the overrides is rejected too
        check_config_keys({k.split('.')[0]: None for k in cfg_options}, '--cfg-options')
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
    elif launcher != 'none':
        init_cpu_distributed(cfg, launcher)
    if seed is not None:
        cfg.randomness = dict(cfg.get('randomness', {}), seed=seed)
    # MMEngine keeps one visualizer and one logger per name per process, the
    # logger named '<config>_<second>' by default: a second Runner (demo,
    # notebooks, bench), even one built in the same second, would log into the
    # first run's folder, console stream and log file
    run_id = uuid.uuid4().hex[:8]
    if cfg.get('visualizer'):
        cfg.visualizer['name'] = f'visualizer_{run_id}'
    if not cfg.get('experiment_name'):
        cfg.experiment_name = f'{Path(cfg.filename).stem if cfg.filename else "run"}_{run_id}'
    # a learned synthesis rule gets its own lr, without weight decay
    synthesis_paramwise(cfg)
    return Runner.from_cfg(cfg)


def init_cpu_distributed(cfg, launcher: str) -> None:
    """Multi-process training without GPUs (gloo).

    MMEngine 0.10's launchers call ``torch.cuda.set_device`` and wrap the
    model in DDP with ``device_ids=[LOCAL_RANK]``, both of which fail on a
    CPU-only machine. So kdkit joins the process group itself (MMEngine then
    skips its own ``init_dist``) and asks for a CPU DDP (``device_ids=None``).
    """
    import os

    import torch.distributed as dist
    if launcher not in ('pytorch', 'slurm'):
        raise ValueError(f'--launcher {launcher}: without CUDA kdkit supports '
                         "'pytorch' (torchrun) and 'slurm' (srun) multi-process training")
    if launcher == 'slurm':  # srun sets SLURM_*; MMEngine would need GPUs to map them
        for var in ('SLURM_PROCID', 'SLURM_NTASKS'):
            if var not in os.environ:
                raise ValueError(f'--launcher slurm: environment variable {var} is not set; '
                                 'start kdkit with srun')
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
        if 'MASTER_ADDR' not in os.environ:
            import subprocess
            nodes = os.environ.get('SLURM_NODELIST', '')
            first = subprocess.run(['scontrol', 'show', 'hostnames', nodes],
                                   capture_output=True, text=True).stdout.split()
            os.environ['MASTER_ADDR'] = first[0] if first else '127.0.0.1'
        os.environ.setdefault('MASTER_PORT', '29500')
    for var in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        if var not in os.environ:
            raise ValueError(f'--launcher {launcher}: environment variable {var} is not '
                             'set; start kdkit with torchrun (or srun for slurm)')
    backend = (cfg.get('env_cfg') or {}).get('dist_cfg', {}).get('backend', 'gloo')
    if backend == 'nccl':
        backend = 'gloo'  # nccl needs GPUs
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    wrapper = dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                   find_unused_parameters=cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = dict(wrapper, **(cfg.get('model_wrapper_cfg') or {}),
                                 device_ids=None)


def set_max_epochs(cfg, max_epochs: int) -> None:
    """Shorten (or lengthen) training and, with it, the epoch-based LR schedules
    that span the whole run, so a shortened run still anneals its learning rate
    instead of stopping near the peak."""
    old = cfg.train_cfg.max_epochs
    cfg.train_cfg.max_epochs = max_epochs
    schedulers = cfg.get('param_scheduler') or []
    for sched in schedulers if isinstance(schedulers, list) else [schedulers]:
        if sched.get('by_epoch', True) and sched.get('end') == old:
            sched['end'] = max_epochs
            if sched.get('T_max') == old:
                sched['T_max'] = max_epochs


@contextlib.contextmanager
def progress_bar(runner, desc: str):
    """A :class:`ProgressBarHook` on ``runner`` unless verbose (MMEngine's log
    is on the terminal then); closed even when the run fails, as MMEngine
    then calls no ``after_run``."""
    if is_verbose():
        yield
        return
    hook = ProgressBarHook(desc)
    runner.register_hook(hook)
    try:
        yield
    finally:
        hook.close()


def train(config: str, work_dir: str | None = None, resume: bool = False,
          seed: int | None = None, launcher: str = 'none',
          cfg_options: dict | None = None, max_epochs: int | None = None,
          stage: str | None = None):
    """Train ``config``; returns the runner. ``stage`` names the run on the
    terminal (default: the config's file stem, see :func:`quiet_stage`)."""
    from kdkit.utils.validate import check_run_config
    cfg = load_config(config, cfg_options, work_dir)
    if max_epochs is not None:
        set_max_epochs(cfg, max_epochs)
    cfg.resume = bool(resume)
    if resume:
        cfg.load_from = resume_from(cfg.work_dir)
    check_run_config(cfg, ('train', 'val'))  # before the Runner writes anything
    name = stage or Path(config).stem
    with quiet_stage(name) as shown:
        runner = build_runner(cfg, launcher, seed)
        shown.attach(runner)
        with progress_bar(runner, name):
            runner.train()
    return runner


def resume_from(work_dir) -> str | None:
    """The checkpoint to resume: ``last_checkpoint``'s if intact, else the
    newest intact one (a kill while saving leaves a truncated file, or a
    ``last_checkpoint`` naming a removed one); None: train from the start."""
    from mmengine.logging import print_log
    from kdkit.utils.validate import resume_checkpoint
    ckpt, bad = resume_checkpoint(work_dir)
    for b in bad:
        print_log(f'kdkit: --resume skips {b}: truncated or unreadable', logger='current',
                  level=30)
    if ckpt is None:
        print_log(f'kdkit: --resume found no checkpoint in {work_dir}; training from the '
                  'start', logger='current', level=30)
        return None
    return str(ckpt)


def test(config: str, checkpoint: str, work_dir: str | None = None,
         launcher: str = 'none', cfg_options: dict | None = None,
         stage: str | None = None) -> dict:
    """Evaluate ``checkpoint`` with the config's test loop; returns the metrics.
    ``stage`` names the run on the terminal (default: the config's file stem)."""
    from kdkit.distill.teacher import resolve_path
    from kdkit.utils.validate import check_run_config
    cfg = load_config(config, cfg_options, work_dir)
    cfg.load_from = str(resolve_path(checkpoint, 'checkpoint'))
    # evaluation uses the student alone: the loss hook (and its teacher) is not needed
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', []) if not is_distill_hook_cfg(h)]
    check_run_config(cfg, ('test',))
    name = stage or Path(config).stem
    with quiet_stage(name) as shown:
        runner = build_runner(cfg, launcher)
        shown.attach(runner)
        with progress_bar(runner, name):
            return runner.test()


def pack_checkpoint(work_dir, out_dir, config: str | None = None) -> Path:
    """Shrink a trained model (a teacher, or a student to ship) for shipping:
    fp16 weights only, plus its log.

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
    ckpt = resolve_checkpoint(work_dir)
    work_dir = Path(work_dir).parent if Path(work_dir).is_file() else Path(work_dir)
    state = {k: (v.half() if v.is_floating_point() else v)
             for k, v in read_state_dict(ckpt, 'checkpoint').items()}
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


class _UserErrors(contextlib.AbstractContextManager):
    """Bad input (kdkit's one-line messages) and NaN losses end a command with
    that line on stderr and exit code 2 (``self.code``); ``KDKIT_DEBUG=1``
    shows the traceback instead."""

    def __init__(self, command: str):
        self.command, self.code = command, 0

    def __exit__(self, kind, e, tb):
        import os
        import sys
        if e is None or os.environ.get('KDKIT_DEBUG'):
            return False
        from kdkit.distill.distiller import NonFiniteLossError
        if not isinstance(e, (ValueError, FileNotFoundError, FileExistsError,
                              NonFiniteLossError)):
            return False
        line = ' '.join(str(e).split()) or type(e).__name__
        print(f'kdkit {self.command}: error: {line}', file=sys.stderr)
        self.code = 2
        return True


def _train_cmd(args) -> int:
    with _UserErrors('train') as caught:
        train(args.config, args.work_dir, args.resume, args.seed, args.launcher,
              args.cfg_options, args.max_epochs)
    return caught.code


def _test_cmd(args) -> int:
    with _UserErrors('test') as caught:
        metrics = test(args.config, args.checkpoint, args.work_dir, args.launcher,
                       args.cfg_options)
    if caught.code:
        return caught.code
    for k, v in metrics.items():
        print(f'{k}: {v}')
    return 0


def _pack_cmd(args) -> int:
    out = pack_checkpoint(args.work_dir, args.out_dir, args.config)
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
    common.add_argument('--verbose', action='store_true',
                        help="show MMEngine's log on the terminal instead of a progress bar")

    p = subparsers.add_parser('train', parents=[common], help='train a config')
    p.add_argument('--resume', action='store_true',
                   help="resume from the last checkpoint in the work_dir")
    p.add_argument('--seed', type=int, help='override randomness.seed')
    p.add_argument('--max-epochs', type=int, help='override train_cfg.max_epochs')
    p.set_defaults(func=_train_cmd)

    p = subparsers.add_parser('test', parents=[common], help='evaluate a checkpoint')
    p.add_argument('checkpoint')
    p.set_defaults(func=_test_cmd)

    p = subparsers.add_parser('pack', aliases=['pack-teacher'],
                              help='fp16 weights-only copy of a trained model, with its log')
    p.add_argument('work_dir', help='the run (its best_*.pth, else its last checkpoint), or '
                   'one .pth of it')
    p.add_argument('out_dir', help='e.g. checkpoints/')
    p.add_argument('--config', help='the config it was trained with, which also names the '
                   'packed file (default: configs/teacher/<work_dir name>.py)')
    p.set_defaults(func=_pack_cmd)
