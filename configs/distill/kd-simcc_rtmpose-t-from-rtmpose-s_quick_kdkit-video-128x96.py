# CPU quick sibling of kd-simcc_rtmpose-t-from-rtmpose-s_60e_kdkit-video-128x96.py.
_base_ = ['../student/rtmpose-t_quick_kdkit-video-128x96.py']

custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(
        type='DistillLossHook',
        teacher=dict(
            config='configs/teacher/rtmpose-s_quick_kdkit-video-128x96.py',
            checkpoint='work_dirs/rtmpose-s_quick_kdkit-video-128x96'),
        terms=dict(kd_simcc=dict(type='SimCCKLDistillLoss', temperature=0.1)),
        weights=dict(gt=1.0, kd_simcc=1.0),
        synthesis=dict(type='WeightedSum')),
]
