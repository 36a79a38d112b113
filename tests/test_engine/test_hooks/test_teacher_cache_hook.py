"""TeacherCacheHook in real one-iteration runs: computes once, reuses the
disk cache, recomputes it for another teacher, refuses feature terms."""
import json

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
