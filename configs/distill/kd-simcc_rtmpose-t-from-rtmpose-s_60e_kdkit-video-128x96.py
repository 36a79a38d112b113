# SimCC logit distillation, RTMPose-s teacher -> RTMPose-t student: kdkit's
# counterpart of MMPose's DWPose pair (dwpose_rtmpose-t-from-rtmpose-s_*), with
# the frozen eval-mode teacher kept outside the student (DistillLossHook).
# T = 0.1 = 1 / KLDiscretLoss.beta (the loss's default): the distributions the head
# is trained on. Reduced as KLDiscretLoss reduces the label term, weight 1 counts the
# teacher as much as the labels; it gives about the logit gradients of DWPose's
# KDLoss(weight=0.1) at batch size 16 (0.1 * bins / B = 1.2 on x, 1.6 on y), held
# constant (DWPose decays it).
_base_ = ['../student/rtmpose-t_60e_kdkit-video-128x96.py']

custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(
        type='DistillLossHook',
        teacher=dict(
            config='configs/teacher/rtmpose-s_60e_kdkit-video-128x96.py',
            checkpoint='work_dirs/rtmpose-s_60e_kdkit-video-128x96'),
        terms=dict(kd_simcc=dict(type='SimCCKLDistillLoss', temperature=0.1)),
        weights=dict(gt=1.0, kd_simcc=1.0),
        synthesis=dict(type='WeightedSum')),
]
