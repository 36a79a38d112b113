# SimCC logit distillation from the stride-16 RTMPose-s teacher
# (configs/teacher/rtmpose-s-s16_60e_kdkit-video-128x96.py) -> RTMPose-t: the
# SimCC pair of `kdkit bench`. Same loss, temperature and weight as
# kd-simcc_rtmpose-t-from-rtmpose-s_60e_kdkit-video-128x96.py (see there): the
# teacher's SimCC bins are the student's (same codec), only its feature map differs.
_base_ = ['../student/rtmpose-t_60e_kdkit-video-128x96.py']

custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(
        type='DistillLossHook',
        teacher=dict(
            config='configs/teacher/rtmpose-s-s16_60e_kdkit-video-128x96.py',
            checkpoint='work_dirs/rtmpose-s-s16_60e_kdkit-video-128x96'),
        terms=dict(kd_simcc=dict(type='SimCCKLDistillLoss', temperature=0.1)),
        weights=dict(gt=1.0, kd_simcc=1.0),
        synthesis=dict(type='WeightedSum')),
]
