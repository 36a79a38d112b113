"""Every shipped config loads, builds its model and its hooks (COCO/PoseTrack18
distillation configs included: built here, trained by users who have the data)."""
from pathlib import Path

import pytest
from mmengine.registry import DefaultScope
from mmpose.registry import HOOKS, MODELS

from kdkit.distill.cli import load_config

REPO = Path(__file__).resolve().parent.parent
CONFIGS = sorted(str(p.relative_to(REPO)) for p in (REPO / 'configs').glob('*/*.py')
                 if p.parent.name != '_base_')


def test_every_family_is_present():
    names = ' '.join(CONFIGS)
    for part in ('teacher/', 'student/', 'distill/', '_coco-256x192', '_posetrack18-256x192'):
        assert part in names


@pytest.mark.parametrize('config', CONFIGS)
def test_config_builds(config):
    cfg = load_config(config)
    name = Path(config).name
    assert name.count('_') >= 2, f'{name}: expected {{algo}}_{{model}}_{{schedule}}_{{data}}-{{size}}'
    if '_60e_' in name:
        quick = REPO / config.replace('_60e_', '_quick_')
        assert quick.is_file(), f'{name} has no quick sibling'
    model_cfg = cfg.model.copy()
    model_cfg.get('backbone', {}).pop('init_cfg', None)
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(model_cfg)
        hooks = [HOOKS.build(h) for h in cfg.get('custom_hooks', [])]
    assert sum(p.numel() for p in model.parameters()) > 0
    if name.startswith('kd'):
        kinds = {type(h).__name__ for h in hooks} | {type(model).__name__}
        assert kinds & {'DistillLossHook', 'KDPoseEstimator'}, f'{name} distils nothing'


def test_typo_in_a_runner_key_is_rejected(tmp_path):
    bad = tmp_path / 'typo.py'
    bad.write_text("_base_ = ['%s']\ncustom_hook = []\n"
                   % (REPO / 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'))
    with pytest.raises(ValueError, match=r"unknown key 'custom_hook' \(did you mean 'custom_hooks'\?\)"):
        load_config(str(bad))


def test_typo_in_a_kdkit_hook_argument_is_rejected():
    with pytest.raises(TypeError, match='weigths'):
        HOOKS.build(dict(type='DistillLossHook', teacher=dict(config='a', checkpoint='b'),
                         terms=dict(kd=dict(type='HeatmapMSEDistillLoss')),
                         weigths=dict(gt=1.0, kd=1.0)))


@pytest.mark.parametrize('config', [c for c in CONFIGS if 'hm2simcc' in c])
def test_heatmap_to_simcc_configs_give_a_peaked_target(config):
    """At the config's temperature a unit-peak Gaussian heatmap (sigma 2, the
    codec's) must give a peaked x-marginal, not a near-uniform one (T = 1 did:
    the KD term then only flattened the student)."""
    import math

    import torch

    from kdkit.losses.utils import heatmap_marginals
    hook = next(h for h in load_config(config).custom_hooks if h['type'] == 'DistillLossHook')
    temperature = hook['terms']['kd_simcc']['temperature']
    yy, xx = torch.meshgrid(torch.arange(32.), torch.arange(24.), indexing='ij')
    heatmap = torch.exp(-((xx - 12) ** 2 + (yy - 16) ** 2) / 8)[None, None]
    q_x, _ = heatmap_marginals(heatmap, temperature)
    entropy = -(q_x * q_x.clamp_min(1e-12).log()).sum().item()
    assert entropy < 0.9 * math.log(24), f'{config}: T={temperature} gives a flat target'


@pytest.mark.parametrize('tag', ['quick', '60e'])
def test_stride16_rtmpose_s_teacher_reads_a_6x8_map_and_serves_the_student(tag):
    """The SimCC pair's teacher reads CSPNeXt-s stage 3 (input / 16) at 96x128;
    its SimCC outputs have the RTMPose-t student's bins, and DWPose's feature
    loss (ResizedFeaLoss) takes the two differently sized maps."""
    import torch
    from kdkit.distill.teacher import build_pose_model
    teacher = build_pose_model(load_config(
        f'configs/teacher/rtmpose-s-s16_{tag}_kdkit-video-128x96.py')).eval()
    student = build_pose_model(load_config(
        f'configs/student/rtmpose-t_{tag}_kdkit-video-128x96.py')).eval()
    x = torch.randn(2, 3, 128, 96)
    with torch.no_grad():
        feat_t, feat_s = teacher.extract_feat(x), student.extract_feat(x)
        out_t, out_s = teacher.head(feat_t), student.head(feat_s)
    assert [tuple(f.shape) for f in feat_t] == [(2, 256, 8, 6)]
    assert [tuple(f.shape) for f in feat_s] == [(2, 384, 4, 3)]
    assert [tuple(o.shape) for o in out_t] == [tuple(o.shape) for o in out_s] == [
        (2, 17, 192), (2, 17, 256)]
    assert len(teacher.backbone.layers) == 4  # stem + 3 stages: no unused stride-32 stage
    cfg = load_config(
        f'configs/distill/dwpose_rtmpose-t-from-rtmpose-s-s16_{tag}_kdkit-video-128x96.py')
    with DefaultScope.overwrite_default_scope('mmpose'):
        dwpose = MODELS.build(cfg.model)
    loss = dwpose.distill_losses['loss_fea'](feat_s[-1], feat_t[-1])
    assert loss.shape == () and torch.isfinite(loss)
