"""Training-step time: distillation from a cached teacher vs an online teacher vs plain training.

    .venv/bin/python bench/teacher_cache.py [--data-root data/kdkit_quick]
        [--batches 10] [--rounds 3] [--batch-size 16] [--threads N]
        [--teacher-checkpoint PATH] [--out bench/results/teacher_cache.json]

Three models are built from the kit's configs: the plain MobileNetV2 student,
the same student with heatmap distillation from the online ResNet-18 teacher
(``DistillLossHook``'s Distiller), and with the Distiller fed by a
``TeacherOutputCache``. The same augmented training batches (loaded once)
go through ``model.train_step`` -- preprocessing, forward, loss terms,
backward, optimizer step -- round-robin, one mode after the other on each
batch with the order rotated, so drifting load on a shared machine hits all
three alike. Reported: median step time per mode and the median of the
paired per-batch ratios (cached / plain, online / plain). Data loading is
identical for the three and excluded, so the ratios are an upper bound on
the end-to-end ones. The cache's one-time build (one teacher pass over the
training instances) is timed separately, and so is what each source adds
per batch (teacher forward vs cache lookup + warp), which a loaded machine
disturbs far less than whole steps. Teacher weights do not change the
cost: a random-weight checkpoint is used unless one is given.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STUDENT_CFG = 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'
DISTILL_CFG = 'configs/distill/kd-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'
MODES = ('plain', 'online', 'cached')


def load(config: str, data_root: str, batch_size: int, n: int):
    from kdkit.distill.cli import data_root_options, load_config
    opts = data_root_options(data_root)
    opts.update({'train_dataloader.batch_size': batch_size, 'train_dataloader.num_workers': 0,
                 'train_dataloader.persistent_workers': False,
                 'train_dataloader.dataset.indices': n})
    return load_config(config, opts)


def build_student(cfg):
    """The config's model and optimizer, seeded, in MMPose's registry scope."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    from mmpose.registry import MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    return model, optim


def attach_distiller(model, cfg, checkpoint):
    from kdkit.distill import Distiller, FrozenTeacher
    from kdkit.distill.hook import install_distiller
    spec = next(h for h in cfg.custom_hooks if h['type'] == 'DistillLossHook')
    teacher = FrozenTeacher.from_config(spec['teacher']['config'], checkpoint, student=model)
    distiller = Distiller(spec['terms'], spec['weights'], spec.get('synthesis'), teacher=teacher)
    install_distiller(model, distiller)
    return distiller


def load_batches(cfg, n_batches: int):
    """Augmented training batches, loaded once; the pipeline packs what the
    cache's warp reads. Returns (batches, dataset, transforms, needs)."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    from kdkit.distill import cache as tc
    from kdkit.engine.hooks.teacher_cache_hook import pipeline_transforms
    with DefaultScope.overwrite_default_scope('mmpose'):
        loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    transforms = pipeline_transforms(loader.dataset)
    needs = tc.check_pipeline(transforms)
    tc.ensure_meta_keys(transforms, needs['rotation'])
    batches = []
    for batch in loader:
        batches.append(batch)
        if len(batches) == n_batches:
            break
    return batches, loader.dataset, transforms, needs


def build_cache(distiller, model, dataset, transforms, needs, batch_size: int):
    from kdkit.distill import cache as tc
    t0 = time.perf_counter()
    cache = tc.compute_teacher_outputs(distiller.teacher, dataset, tc.clean_transforms(transforms),
                                       model.data_preprocessor, batch_size=batch_size, **needs)
    distiller.teacher_source = cache
    return time.perf_counter() - t0, len(cache)


def timed_step(model, optim, batch) -> float:
    t0 = time.perf_counter()
    model.train_step(batch, optim)
    return time.perf_counter() - t0


def time_teacher_sources(online, cached, model, batches) -> dict:
    """Seconds per batch of what distillation adds: the online teacher's
    forward vs the cache's lookup + warp (short calls, back to back)."""
    out = {'online_teacher_forward': [], 'cache_lookup_and_warp': []}
    for batch in batches:
        data = model.data_preprocessor(batch, True)
        for name, fn in (('online_teacher_forward', lambda: online.teacher(data['inputs'])),
                         ('cache_lookup_and_warp',
                          lambda: cached.teacher_source(data['inputs'], data['data_samples']))):
            t0 = time.perf_counter()
            fn()
            out[name].append(time.perf_counter() - t0)
    return out


def run(args, checkpoint: Path) -> dict:
    student_cfg = load(STUDENT_CFG, args.data_root, args.batch_size, args.batches * args.batch_size)
    distill_cfg = load(DISTILL_CFG, args.data_root, args.batch_size, args.batches * args.batch_size)
    batches, dataset, transforms, needs = load_batches(distill_cfg, args.batches)
    models = {m: build_student(student_cfg if m == 'plain' else distill_cfg) for m in MODES}
    online_distiller = attach_distiller(models['online'][0], distill_cfg, checkpoint)
    cached_distiller = attach_distiller(models['cached'][0], distill_cfg, checkpoint)
    build_s, n_cached = build_cache(cached_distiller, models['cached'][0], dataset, transforms,
                                    needs, args.batch_size)
    times = {m: [] for m in MODES}
    ratios = {'online': [], 'cached': []}
    for r in range(args.rounds + 1):  # round 0 warms up (allocator, kernels) and is dropped
        for i, batch in enumerate(batches):
            order = MODES[i % 3:] + MODES[:i % 3]
            step = {m: timed_step(*models[m], batch) for m in order}
            if r == 0:
                continue
            for m in MODES:
                times[m].append(step[m])
            for m in ratios:
                ratios[m].append(step[m] / step['plain'])
    sources = time_teacher_sources(online_distiller, cached_distiller, models['plain'][0],
                                   batches * args.rounds)
    return dict(times=times, ratios=ratios, build_s=build_s, n_cached=n_cached,
                served=cached_distiller.teacher_source.served, sources=sources)


def machine(threads: int) -> dict:
    import torch
    cpu = platform.processor()
    try:
        cpu = next(line.split(':', 1)[1].strip() for line in open('/proc/cpuinfo')
                   if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return dict(cpu=cpu, cores=os.cpu_count(), torch_threads=threads, torch=torch.__version__,
                python=platform.python_version(), platform=platform.platform(), device='cpu',
                loadavg_1min_before=round(os.getloadavg()[0], 2))


def summarise(values: list) -> dict:
    q = statistics.quantiles(values, n=4)
    return dict(median=statistics.median(values), p25=q[0], p75=q[2], n=len(values))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data-root', default='data/kdkit_quick')
    p.add_argument('--batches', type=int, default=10)
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--teacher-checkpoint')
    p.add_argument('--out', default='bench/results/teacher_cache.json')
    args = p.parse_args(argv)
    os.chdir(REPO)
    import torch
    import kdkit  # noqa: F401  (registers kdkit)
    from kdkit.utils.io import atomic_write_text
    if args.threads:
        torch.set_num_threads(args.threads)
    info = machine(torch.get_num_threads())
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = (Path(args.teacher_checkpoint) if args.teacher_checkpoint
                else random_teacher(Path(tmp)))
        res = run(args, ckpt)
    result = dict(
        command=' '.join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
        machine=dict(info, loadavg_1min_after=round(os.getloadavg()[0], 2)),
        settings=dict(vars(args), student=STUDENT_CFG, distill=DISTILL_CFG,
                      teacher=('random-weight ResNet-18 (cost does not depend on weights)'
                               if not args.teacher_checkpoint else args.teacher_checkpoint)),
        step_time_s={m: summarise(v) for m, v in res['times'].items()},
        ratio_to_plain={m: summarise(v) for m, v in res['ratios'].items()},
        teacher_source_s={k: summarise(v) for k, v in res['sources'].items()},
        cache_build=dict(seconds=round(res['build_s'], 2), instances=res['n_cached'],
                         batches_served=res['served']),
        wall_s=round(time.time() - t0, 1),
        note='step = model.train_step on preloaded batches (data loading excluded); ratio = '
             'median of paired per-batch ratios; goal: cached <= 1.10 x plain')
    plain = result['step_time_s']['plain']['median']
    result['source_share_of_plain_step'] = {
        k: v['median'] / plain for k, v in result['teacher_source_s'].items()}
    atomic_write_text(args.out, json.dumps(result, indent=2) + '\n')
    print(json.dumps({k: result[k] for k in ('ratio_to_plain', 'step_time_s', 'cache_build',
                                             'teacher_source_s', 'source_share_of_plain_step')},
                     indent=1))
    return result


def random_teacher(work: Path) -> Path:
    import torch
    from kdkit.distill.teacher import build_pose_model
    torch.manual_seed(0)
    model = build_pose_model('configs/teacher/td-hm_res18_quick_kdkit-video-128x96.py')
    model.init_weights()
    path = work / 'teacher.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


if __name__ == '__main__':
    main()
