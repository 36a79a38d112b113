"""``TeacherCacheHook``: distil from cached teacher outputs instead of running
the teacher on every batch.

    custom_hooks = [..., dict(type='DistillLossHook', ...),   # or model=KDPoseEstimator
                    dict(type='TeacherCacheHook')]

Before training it computes (or loads) the teacher's outputs for every
training instance's un-augmented crop and sets the run's
``distiller.teacher_source`` to a :class:`~kdkit.distill.cache.TeacherOutputCache`,
which maps them into each augmented crop (see :mod:`kdkit.distill.cache`).
The outputs stay on the CPU, memory-mapped from ``<cache dir>/outputs.npy``;
each batch moves only its own rows to the model's device.
The train pipeline's ``PackPoseInputs`` is extended with the metainfo keys
the mapping reads (``bbox_rotation`` when ``RandomBBoxTransform`` rotates),
and again when a hook swaps the pipeline (RTMPose's ``PipelineSwitchHook``
stage 2: this hook runs after it, at 'BELOW_NORMAL'); a new pipeline must
crop as the first did and is checked like it.
Heatmap and SimCC teachers only: feature terms need the online teacher.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

import torch
from mmengine.dist import barrier, get_rank
from mmengine.hooks import Hook
from mmpose.registry import HOOKS

from kdkit.distill import cache as tc


@HOOKS.register_module()
class TeacherCacheHook(Hook):
    """Args:
        cache_dir: where caches live; default ``work_dir/teacher_cache``. Share
            one across runs (an ablation grid) to compute the teacher once.
        batch_size: teacher batch size for the caching pass (default: the
            train dataloader's).
        persist: keep the cache on disk (and reuse a matching one); False
            keeps the outputs in CPU memory for this run only (small data).
        release_teacher: move the teacher's weights to the CPU afterwards, so
            they stop taking accelerator memory.
    """

    # after DistillLossHook ('HIGH') built the teacher, and after a
    # PipelineSwitchHook ('NORMAL') swapped the pipeline at an epoch start
    priority = 'BELOW_NORMAL'

    def __init__(self, cache_dir: Optional[str] = None, batch_size: Optional[int] = None,
                 persist: bool = True, release_teacher: bool = True):
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError('TeacherCacheHook.batch_size: expected an int >= 1, '
                             f'got {batch_size!r}')
        self.cache_dir, self.batch_size = cache_dir, batch_size
        self.persist, self.release_teacher = persist, release_teacher
        self.cache = None
        self.source = None  # 'computed' | 'loaded'
        self.folder = None  # the cache dir in use
        self.transforms = None  # the train pipeline prepared for the cache
        self.clean = None  # its un-augmented crop steps

    def before_train(self, runner) -> None:
        from kdkit.distill.hook import find_distiller, unwrap
        distiller = find_distiller(runner)
        check_terms(distiller)
        model = unwrap(runner.model)
        teacher = attach_teacher(model, distiller, runner)
        if getattr(teacher, 'reads_samples', False):  # its outputs are in the data already
            runner.logger.info('kdkit: teacher cache not used: the teacher reads its '
                               'outputs from the data samples (pseudo-labels)')
            return
        self.cache = self.load_or_compute(runner, model, teacher)
        distiller.teacher_source = self.cache
        if self.release_teacher:
            teacher.to('cpu')
        runner.logger.info(f'kdkit: teacher cache {self.source}: {len(self.cache)} instances '
                           f'({self.cache.kind}, float16, on the CPU) in {self.folder}')

    def before_train_epoch(self, runner) -> None:
        """Prepare a train pipeline swapped in since the last epoch."""
        transforms = pipeline_transforms(runner.train_dataloader.dataset)
        if self.cache is None or transforms is self.transforms:
            return
        needs = self.prepare(runner, transforms, self.cache.kind)
        if [repr(t) for t in tc.clean_transforms(transforms)] != self.clean:
            raise tc.TeacherCacheError(
                'teacher cache: the new train pipeline crops differently from the one the '
                'cache was made for (LoadImage / GetBBoxCenterScale / TopdownAffine differ); '
                'use the online teacher')
        self.cache.augmented, self.cache.rotation = needs['augmented'], needs['rotation']
        runner.logger.info('kdkit: teacher cache follows the new train pipeline')

    def prepare(self, runner, transforms, kind: str) -> dict:
        """Check a train pipeline and make it pack what the cache warp reads."""
        needs = tc.check_pipeline(transforms, kind)
        added = tc.ensure_meta_keys(transforms, needs['rotation'])
        if added:
            runner.logger.info(f'kdkit: TeacherCacheHook packs {added} for the cache warp')
        self.transforms = transforms
        return needs

    def load_or_compute(self, runner, model, teacher):
        dataset = runner.train_dataloader.dataset
        transforms = pipeline_transforms(dataset)
        kind = teacher_kind(teacher, transforms) if has_affine(transforms) else 'heatmap'
        needs = self.prepare(runner, transforms, kind)
        clean = tc.clean_transforms(transforms)
        self.clean = [repr(t) for t in clean]
        expected = tc.fingerprint(teacher_hash(teacher), clean, dataset, model.data_preprocessor)
        root = Path(self.cache_dir or Path(runner.work_dir) / 'teacher_cache')
        self.folder = root / tc.cache_key(expected)
        cache = tc.load_cache(self.folder, expected, **needs) if self.persist else None
        self.source = 'loaded' if cache is not None else 'computed'
        if cache is None:
            cache = self.compute_on_rank0(runner, teacher, dataset, clean, model, needs, expected)
        return cache

    def compute_on_rank0(self, runner, teacher, dataset, clean, model, needs, expected):
        """Rank 0 computes (and saves); with ``persist`` other ranks then load."""
        cache = None
        if get_rank() == 0 or not self.persist:
            loader_cfg = runner.cfg.train_dataloader
            cache = tc.compute_teacher_outputs(
                teacher, dataset, clean, model.data_preprocessor,
                batch_size=self.batch_size or int(loader_cfg.get('batch_size', 32)),
                num_workers=int(loader_cfg.get('num_workers', 0)),
                store_path=self.folder / tc.STORE_NAME if self.persist else None, **needs)
            if self.persist:
                tc.save_cache(cache, self.folder, expected)
        barrier()
        if cache is None:
            cache = tc.load_cache(self.folder, expected, **needs)
        return cache


def check_terms(distiller) -> None:
    """Only head outputs are cached: feature terms need the online teacher."""
    online = [name for name, term in distiller.terms.items()
              if term.teacher_kind not in ('heatmap', 'simcc')]
    if online:
        raise ValueError(f'TeacherCacheHook: terms {online} need teacher '
                         f"'{distiller.terms[online[0]].teacher_kind}' outputs, which are not "
                         'cached (heatmap/simcc only); remove the hook to distil online')


def attach_teacher(model, distiller, runner):
    """The run's FrozenTeacher, built now if the model wrapper builds it lazily."""
    if distiller.teacher is None and hasattr(model, 'attach_teacher'):
        dataset = getattr(runner.train_dataloader, 'dataset', None)
        model.attach_teacher(getattr(dataset, 'metainfo', None), runner.cfg)
    if distiller.teacher is None:
        raise RuntimeError('TeacherCacheHook: the run has no teacher to cache; it must come '
                           'after DistillLossHook or use KDPoseEstimator')
    distiller.teacher.to(next(model.parameters()).device)
    return distiller.teacher


def teacher_kind(teacher, transforms) -> str:
    """'heatmap' or 'simcc': the teacher's head output on one blank crop."""
    affine = next(t for t in transforms if tc.transform_name(t) == 'TopdownAffine')
    w, h = (int(v) for v in affine.input_size)
    out = teacher(torch.zeros(1, 3, h, w, device=teacher.device))
    return 'heatmap' if 'heatmap' in out else 'simcc'


def has_affine(transforms) -> bool:
    return any(tc.transform_name(t) == 'TopdownAffine' for t in transforms)


def teacher_hash(teacher) -> str:
    """SHA-256 of the teacher's weights and its input normalisation affine."""
    h = hashlib.sha256(teacher.fingerprint().encode())
    for t in teacher.input_affine or ():
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def pipeline_transforms(dataset) -> list:
    """The built transforms of a (possibly wrapped) dataset's pipeline."""
    inner = dataset
    while not hasattr(inner, 'pipeline') and hasattr(inner, 'dataset'):
        inner = inner.dataset
    pipeline = getattr(inner, 'pipeline', None)
    while pipeline is not None and not isinstance(getattr(pipeline, 'transforms', None), list):
        pipeline = getattr(pipeline, 'compose', None)
    if pipeline is None:
        raise ValueError('TeacherCacheHook: cannot find the train pipeline of '
                         f'{type(dataset).__name__}')
    return pipeline.transforms
