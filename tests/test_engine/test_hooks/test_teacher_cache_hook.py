"""TeacherCacheHook in real one-iteration runs: computes once, reuses the
disk cache, recomputes it for another teacher, refuses feature terms, and
serves a stock RTMPose pipeline (photometric augmentation, PipelineSwitchHook)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from kdkit.distill import find_distiller
from kdkit.distill.hook import unwrap
from kdkit.distill.cli import build_runner, load_config
from kdkit.engine.hooks import TeacherCacheHook

HM_CFG = 'configs/distill/kd-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'
FEAT_CFG = 'configs/distill/kd-feat-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'


def cached_runner(config, data, ckpt, work, run_options, cache_dir, teacher_key):
    opts = run_options(data, work)
    opts[teacher_key] = str(ckpt)
    cfg = load_config(config, opts)
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='TeacherCacheHook', cache_dir=str(cache_dir))]
    return build_runner(cfg)


def cache_hook(runner):
    return next(h for h in runner.hooks if isinstance(h, TeacherCacheHook))


def test_cache_is_computed_then_reused_then_invalidated(tiny_data, teacher_ckpt, tmp_path,
                                                        run_options):
    key = 'custom_hooks.1.teacher.checkpoint'
    first = cached_runner(HM_CFG, tiny_data, teacher_ckpt, tmp_path / 'a', run_options,
                          tmp_path / 'cache', key)
    first.train()
    hook = cache_hook(first)
    assert hook.source == 'computed' and hook.cache.served >= 1
    assert find_distiller(first).teacher_source is hook.cache
    manifest = json.loads((hook.folder / 'manifest.json').read_text())
    assert manifest['instances'] == len(hook.cache) == 4 and manifest['dtype'] == 'float16'
    assert 'bbox_rotation' in first.train_dataloader.dataset.pipeline.transforms[-1].meta_keys
    assert first.message_hub.log_scalars['train/loss_kd_heatmap'].current() > 0

    # the same teacher again (a later run calls the same method): read from disk
    model, teacher = unwrap(first.model), find_distiller(first).teacher
    hook.load_or_compute(first, model, teacher)
    assert hook.source == 'loaded'
    # another teacher (weights changed): another fingerprint, recomputed
    folder = hook.folder
    with torch.no_grad():
        next(teacher.model.parameters()).add_(1.0)
    hook.load_or_compute(first, model, teacher)
    assert hook.source == 'computed' and hook.folder != folder


def test_feature_terms_are_refused(tiny_data, teacher_ckpt, tmp_path, run_options):
    runner = cached_runner(FEAT_CFG, tiny_data, teacher_ckpt, tmp_path / 'w', run_options,
                           tmp_path / 'cache', 'model.teacher.checkpoint')
    with pytest.raises(ValueError, match=r"TeacherCacheHook: terms \['kd_feature'\] need teacher"):
        runner.train()


def test_bad_batch_size_is_rejected():
    with pytest.raises(ValueError, match='TeacherCacheHook.batch_size'):
        TeacherCacheHook(batch_size=0)


# ------------------------------------------------ a stock RTMPose pipeline
SIMCC_CFG = 'configs/distill/kd-simcc_rtmpose-t-from-rtmpose-s_quick_kdkit-video-128x96.py'
RTMPOSE_S = 'configs/teacher/rtmpose-s_quick_kdkit-video-128x96.py'
STOCK_RTMPOSE = 'mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py'


@pytest.fixture
def fake_albumentations(monkeypatch):
    """albumentations is not a kdkit dependency: a stand-in with the pixel-level
    transforms RTMPose's pipelines name (MMPose's Albumentation wraps it)."""
    import types

    from mmpose.datasets.transforms import common_transforms

    class Pixel:
        def __init__(self, p=1.0, **kwargs):
            self.p = p

        def __call__(self, image):
            return self.apply(image.copy()) if np.random.rand() < self.p else image

    class Blur(Pixel):
        def apply(self, image):
            return ((image.astype(np.float32) + np.roll(image, 1, axis=1)) / 2).astype(image.dtype)

    class MedianBlur(Blur):
        pass

    class CoarseDropout(Pixel):
        def apply(self, image):
            h, w = image.shape[:2]
            image[h // 3:h // 2, w // 3:w // 2] = 0
            return image

    class Compose:
        def __init__(self, transforms):
            self.transforms = transforms

        def __call__(self, image):
            for t in self.transforms:
                image = t(image)
            return dict(image=image)

    pixel = dict(Blur=Blur, MedianBlur=MedianBlur, CoarseDropout=CoarseDropout)
    module = types.SimpleNamespace(Compose=Compose, **pixel,
                                   augmentations=types.SimpleNamespace(
                                       transforms=types.SimpleNamespace(**pixel)))
    monkeypatch.setattr(common_transforms, 'albumentations', module)


def kit_sized(pipeline, codec):
    """A stock pipeline with the kit's input size and codec."""
    out = []
    for t in pipeline:
        t = dict(t)
        if t['type'] == 'TopdownAffine':
            t['input_size'] = codec['input_size']
        if t['type'] == 'GenerateTarget':
            t['encoder'] = dict(codec)
        out.append(t)
    return out


def test_stock_rtmpose_pipeline_runs_cached_through_the_switch(
        tiny_data, tmp_path, run_options, fake_albumentations):
    """The kit's RTMPose-s -> RTMPose-t config with MMPose's own RTMPose train
    pipelines (Albumentation, YOLOXHSVRandomAug, no pack_transformed) and its
    PipelineSwitchHook at epoch 2 of 2: the SimCC cache serves every
    iteration of both stages from a memory-mapped store on the CPU."""
    from kdkit.distill.teacher import build_pose_model, load_any_config
    torch.manual_seed(0)
    ckpt = tmp_path / 'rtmpose-s.pth'
    torch.save({'state_dict': build_pose_model(RTMPOSE_S).state_dict(), 'meta': {}}, ckpt)
    stock = load_any_config(STOCK_RTMPOSE)
    opts = run_options(tiny_data, tmp_path / 'work')
    opts.update({'custom_hooks.1.teacher.checkpoint': str(ckpt), 'train_cfg.max_epochs': 2})
    cfg = load_config(SIMCC_CFG, opts)
    codec = cfg.codec
    cfg.train_dataloader.dataset.pipeline = kit_sized(stock.train_pipeline, codec)
    switch = dict(stock.custom_hooks[0], switch_epoch=1,
                  switch_pipeline=kit_sized(stock.train_pipeline_stage2, codec))
    assert switch['type'] == 'mmdet.PipelineSwitchHook'
    cfg.custom_hooks = list(cfg.custom_hooks) + [switch, dict(type='TeacherCacheHook')]
    runner = build_runner(cfg)
    runner.train()

    hook = cache_hook(runner)
    assert hook.cache.kind == 'simcc' and hook.cache.served == 2  # one iteration per epoch
    stage2 = runner.train_dataloader.dataset.pipeline.transforms
    assert [t for t in stage2 if type(t).__name__ == 'RandomBBoxTransform'][0].shift_factor == 0
    assert 'bbox_rotation' in stage2[-1].meta_keys  # packed for the stage-2 warp too
    # the store: a memory-mapped file under the work_dir, seen through a CPU tensor
    assert isinstance(hook.cache.store, np.memmap) and hook.cache.table.device.type == 'cpu'
    assert Path(hook.cache.store.filename).parent == hook.folder
    assert hook.folder.parent == tmp_path / 'work' / 'teacher_cache'
    assert runner.message_hub.log_scalars['train/loss_kd_simcc'].current() > 0
