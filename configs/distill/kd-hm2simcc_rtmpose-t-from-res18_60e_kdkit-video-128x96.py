# Cross-family distillation: a heatmap teacher (ResNet-18) -> a SimCC student
# (RTMPose-t). The teacher heatmap is marginalised into x/y bin distributions.
_base_ = ['../student/rtmpose-t_60e_kdkit-video-128x96.py']

custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(
        type='DistillLossHook',
        teacher=dict(
            config='configs/teacher/td-hm_res18_60e_kdkit-video-128x96.py',
            checkpoint='work_dirs/td-hm_res18_60e_kdkit-video-128x96'),
        terms=dict(kd_simcc=dict(type='HeatmapToSimCCDistillLoss', temperature=1.0)),
        weights=dict(gt=1.0, kd_simcc=1.0)),
]
