"""The temporal-distillation configs: whole clip windows per batch, and a real
one-iteration run that logs the motion term."""
import math

import numpy as np
import pytest

from kdkit.data import check_clip_loader_cfg
from kdkit.distill import find_distiller
from kdkit.distill.cli import build_runner, load_config

CONFIGS = {
    'quick': 'configs/distill/kd-temporal-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py',
    '60e': 'configs/distill/kd-temporal-hm_mobilenetv2-from-res18_60e_kdkit-video-128x96.py',
}


def distill_hook(cfg):
    return next(h for h in cfg.custom_hooks if h['type'] == 'DistillLossHook')


@pytest.mark.parametrize('profile', sorted(CONFIGS))
def test_config_batches_hold_whole_windows(profile):
    cfg = load_config(CONFIGS[profile])
    loader = cfg.train_dataloader
    clip_len = loader.sampler.clip_len
    assert loader.sampler.type == 'ClipSampler' and clip_len >= 2
    assert loader.dataset.type == 'VideoPoseDataset'
    check_clip_loader_cfg(loader)  # batch multiple of clip_len, dataset clip_len equal
    terms = distill_hook(cfg)['terms']
    assert terms['kd_temporal']['type'] == 'TemporalSmoothedHeatmapDistillLoss'
    assert terms['kd_temporal']['clip_len'] == clip_len
    # its Gaussians are the student codec's
    assert terms['kd_temporal']['sigma'] == cfg.codec['sigma']
    assert 'kd_heatmap' in terms
    assert cfg.custom_hooks[1]['type'] == 'DistillLossHook'  # where the tools look for it


def test_one_iteration_on_clips(tiny_data, teacher_ckpt, tmp_path, run_options):
    opts = run_options(tiny_data, tmp_path / 'work', n_train=8, batch_size=8)
    opts['custom_hooks.1.teacher.checkpoint'] = str(teacher_ckpt)
    opts['train_dataloader.sampler.stride'] = 4  # 2 disjoint windows: one iteration
    runner = build_runner(load_config(CONFIGS['quick'], opts))

    batch = next(iter(runner.train_dataloader))
    metas = [ds.metainfo for ds in batch['data_samples']]
    clip_len = runner.cfg.train_dataloader.sampler.clip_len
    assert find_distiller(runner).terms['kd_temporal'].clip_len == clip_len
    for w in range(len(metas) // clip_len):
        window = metas[w * clip_len:(w + 1) * clip_len]
        assert len({m['img_id'] for m in window}) == clip_len
        assert len({bool(m['flip']) for m in window}) == 1, 'a window must share one augmentation'
    weights = np.stack([np.asarray(ds.gt_instance_labels.keypoint_weights)[0]
                        for ds in batch['data_samples']])
    assert (weights.sum(1) == 0).any(), 'expected unlabelled frames in the batch'

    runner.train()
    logged = runner.message_hub.log_scalars
    value = logged['train/loss_kd_temporal'].current()
    assert math.isfinite(value) and value > 0
    total = sum(logged[f'train/loss_{t}'].current() for t in ('gt', 'kd_heatmap', 'kd_temporal'))
    assert logged['train/loss'].current() == pytest.approx(total, rel=1e-5)

