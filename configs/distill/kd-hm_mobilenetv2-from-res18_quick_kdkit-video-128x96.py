# CPU quick sibling of kd-hm_mobilenetv2-from-res18_60e_kdkit-video-128x96.py.
_base_ = ['../student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py']

custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(
        type='DistillLossHook',
        teacher=dict(
            config='configs/teacher/td-hm_res18_16e_kdkit-video-128x96.py',
            checkpoint='checkpoints/td-hm_res18_16e_kdkit-video-128x96.pth'),  # shipped
        terms=dict(kd_heatmap=dict(type='HeatmapMSEDistillLoss')),
        weights=dict(gt=1.0, kd_heatmap=1.0),
        synthesis=dict(type='WeightedSum')),
]
