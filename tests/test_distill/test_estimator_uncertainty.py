"""KDPoseEstimator + UncertaintyWeighting in real MMEngine runs: the
log-variances get their own learning rate (no weight decay) and their
sigmas are logged every iteration."""
from kdkit.distill.cli import build_runner, load_config
from kdkit.distill.estimator import SYNTHESIS_KEY, SYNTHESIS_LR_MULT, synthesis_paramwise

FEAT_CFG = 'configs/distill/kd-feat-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'
TERMS = ['gt', 'kd_heatmap', 'kd_feature']
STOCK_ADAMW = dict(type='AdamW', lr=1e-3, weight_decay=0.05)  # as RTMPose's configs


def uncertainty_config(tiny_data, teacher_ckpt, work, run_options, custom_keys=None):
    opts = run_options(tiny_data, work, n_train=2, batch_size=2)
    opts.update({'model.teacher.checkpoint': str(teacher_ckpt), 'train_cfg.max_epochs': 3,
                 'model.distill.synthesis': dict(type='UncertaintyWeighting', terms=TERMS),
                 'optim_wrapper.optimizer': STOCK_ADAMW})
    cfg = load_config(FEAT_CFG, opts)
    cfg.param_scheduler = None  # the optimizer's own step, without warm-up
    if custom_keys is not None:
        cfg.optim_wrapper.paramwise_cfg = dict(custom_keys=custom_keys)
    return cfg


def log_var_group(runner, name='gt'):
    param = runner.model.distiller.synthesis.log_vars[name]
    return next(g for g in runner.optim_wrapper.optimizer.param_groups
                if any(p is param for p in g['params']))


def moved(runner) -> float:
    runner.train()
    return max(abs(v.item()) for v in runner.model.distiller.synthesis.log_vars.values())


def test_log_vars_get_own_lr_and_move_more(tiny_data, teacher_ckpt, tmp_path, run_options):
    # the old setting: the log-variances share the base lr and weight decay
    old = build_runner(uncertainty_config(
        tiny_data, teacher_ckpt, tmp_path / 'old', run_options,
        custom_keys={SYNTHESIS_KEY: dict(lr_mult=1.0, decay_mult=1.0)}))
    old_moved = moved(old)
    assert log_var_group(old)['lr'] == STOCK_ADAMW['lr']  # a user's own key is kept

    new = build_runner(uncertainty_config(tiny_data, teacher_ckpt, tmp_path / 'new',
                                          run_options))
    new_moved = moved(new)
    group = log_var_group(new)
    assert group['lr'] == STOCK_ADAMW['lr'] * SYNTHESIS_LR_MULT
    assert group['weight_decay'] == 0
    student_group = next(g for g in new.optim_wrapper.optimizer.param_groups
                         if g is not group and g['weight_decay'] > 0)
    assert student_group['lr'] == STOCK_ADAMW['lr']
    # 3 Adam steps of ~lr each: 3e-3 before, ~0.15 now
    print(f'log-variances moved by {old_moved:.4f} (base lr), {new_moved:.4f} (own lr)')
    assert new_moved > 0.1 and new_moved > 10 * old_moved, (old_moved, new_moved)

    logged = new.message_hub.log_scalars
    for name in TERMS:
        sigma = logged[f'train/sigma_{name}'].current()
        assert sigma > 0 and sigma != 1.0, name  # moved away from exp(0 / 2)
    assert {f'train/w_{n}' for n in TERMS} <= set(logged)


def test_paramwise_default_only_where_needed():
    cfg = load_config(FEAT_CFG, {'model.distill.synthesis': dict(
        type='UncertaintyWeighting', terms=TERMS)})
    assert synthesis_paramwise(cfg) is True
    # Adam without weight_decay: MMEngine refuses a decay_mult (base_wd is None)
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys[SYNTHESIS_KEY] == dict(
        lr_mult=SYNTHESIS_LR_MULT)
    cfg = load_config(FEAT_CFG, {'model.distill.synthesis': dict(
        type='UncertaintyWeighting', terms=TERMS), 'optim_wrapper.optimizer': STOCK_ADAMW})
    assert synthesis_paramwise(cfg) is True
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys[SYNTHESIS_KEY] == dict(
        lr_mult=SYNTHESIS_LR_MULT, decay_mult=0.0)
    # a user's key that reaches the log-variances is left alone
    cfg = load_config(FEAT_CFG, {'model.distill.synthesis': dict(
        type='UncertaintyWeighting', terms=TERMS)})
    cfg.optim_wrapper.paramwise_cfg = dict(custom_keys={'log_vars': dict(lr_mult=3.0)})
    assert synthesis_paramwise(cfg) is False
    assert set(cfg.optim_wrapper.paramwise_cfg.custom_keys) == {'log_vars'}
    # a rule without parameters, or no model wrapper: nothing to add
    cfg = load_config(FEAT_CFG)
    assert synthesis_paramwise(cfg) is False and 'paramwise_cfg' not in cfg.optim_wrapper
    cfg = load_config('configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py')
    assert synthesis_paramwise(cfg) is False

