# CPU quick sibling of kd-temporal-hm_mobilenetv2-from-res18_60e_kdkit-video-128x96.py.
_base_ = ['./kd-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py']

clip_len = 4

train_dataloader = dict(
    batch_size=4 * clip_len,
    sampler=dict(type='ClipSampler', clip_len=clip_len, shuffle=True, _delete_=True),
    dataset=dict(clip_len=clip_len))

custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(
        type='DistillLossHook',
        teacher=dict(
            config='configs/teacher/td-hm_res18_16e_kdkit-video-128x96.py',
            checkpoint='checkpoints/td-hm_res18_16e_kdkit-video-128x96.pth'),  # shipped
        terms=dict(
            kd_heatmap=dict(type='HeatmapMSEDistillLoss'),
            kd_temporal=dict(type='TemporalSmoothedHeatmapDistillLoss', clip_len=clip_len,
                             sigma=1.5, degree=1)),
        weights=dict(gt=1.0, kd_heatmap=1.0, kd_temporal=1.0),
        synthesis=dict(type='WeightedSum')),
]
