"""kdkit/distill/cli.py: the train wrapper's epoch override."""
from mmengine.config import Config

from kdkit.distill.cli import load_config, set_max_epochs


def test_set_max_epochs_rescales_whole_run_schedules():
    cfg = Config(dict(
        train_cfg=dict(max_epochs=60),
        param_scheduler=[
            dict(type='LinearLR', begin=0, end=200, by_epoch=False),
            dict(type='CosineAnnealingLR', begin=0, end=60, T_max=60, by_epoch=True),
            dict(type='MultiStepLR', begin=0, end=40, milestones=[30], by_epoch=True)]))
    set_max_epochs(cfg, 8)
    assert cfg.train_cfg.max_epochs == 8
    warmup, cosine, step = cfg.param_scheduler
    assert (warmup.end, cosine.end, cosine.T_max) == (200, 8, 8)  # iterations: untouched
    assert step.end == 40  # did not span the run: left as the user wrote it


def test_set_max_epochs_on_a_real_config():
    cfg = load_config('configs/teacher/td-hm_res18_60e_kdkit-video-128x96.py')
    set_max_epochs(cfg, 16)
    cosine = cfg.param_scheduler[-1]
    assert (cfg.train_cfg.max_epochs, cosine.end, cosine.T_max) == (16, 16, 16)
    # the shipped teacher's own config says the same
    shipped = load_config('configs/teacher/td-hm_res18_16e_kdkit-video-128x96.py')
    assert shipped.param_scheduler[-1].T_max == 16
    assert shipped.train_dataloader.dataset.keep_unlabeled is False
