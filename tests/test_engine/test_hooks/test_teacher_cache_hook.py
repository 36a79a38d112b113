"""TeacherCacheHook in real one-iteration runs: computes once, reuses the
disk cache, invalidates it for another teacher, refuses feature terms."""
import json

import pytest

from kdkit.distill import find_distiller
from kdkit.distill.cli import build_runner, load_config
from kdkit.engine.hooks import TeacherCacheHook

HM_CFG = 'configs/distill/kd-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'
FEAT_CFG = 'configs/distill/kd-feat-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'
TEACHER_CFG = 'configs/teacher/td-hm_res18_quick_kdkit-video-128x96.py'


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
    from tests.conftest import save_random_weights
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

    again = cached_runner(HM_CFG, tiny_data, teacher_ckpt, tmp_path / 'b', run_options,
                          tmp_path / 'cache', key)
    again.train()
    assert cache_hook(again).source == 'loaded'
    assert cache_hook(again).folder == hook.folder

    other = save_random_weights(TEACHER_CFG, tmp_path / 'other.pth', seed=1)
    changed = cached_runner(HM_CFG, tiny_data, other, tmp_path / 'c', run_options,
                            tmp_path / 'cache', key)
    changed.train()
    assert cache_hook(changed).source == 'computed'
    assert cache_hook(changed).folder != hook.folder


def test_feature_terms_are_refused(tiny_data, teacher_ckpt, tmp_path, run_options):
    runner = cached_runner(FEAT_CFG, tiny_data, teacher_ckpt, tmp_path / 'w', run_options,
                           tmp_path / 'cache', 'model.teacher.checkpoint')
    with pytest.raises(ValueError, match=r"TeacherCacheHook: terms \['kd_feature'\] need teacher"):
        runner.train()


def test_bad_batch_size_is_rejected():
    with pytest.raises(ValueError, match='TeacherCacheHook.batch_size'):
        TeacherCacheHook(batch_size=0)
