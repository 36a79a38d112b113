# Cross-family distillation: a heatmap teacher (ResNet-18) -> a SimCC student
# (RTMPose-t). The teacher heatmap is marginalised into x/y bin distributions.
# T = 0.1 = 1 / KLDiscretLoss.beta: the teacher's [0, 1] MSE heatmap softened at
# T = 1 is a near-uniform target (x-marginal entropy = uniform's); at 0.1 it is
# peaked and matches the distribution the student's head is trained on. Weight 20
# as in kd-simcc_rtmpose-t-from-rtmpose-s (offsets the T^2 = 0.01 factor).
_base_ = ['../student/rtmpose-t_60e_kdkit-video-128x96.py']

custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(
        type='DistillLossHook',
        teacher=dict(
            config='configs/teacher/td-hm_res18_60e_kdkit-video-128x96.py',
            checkpoint='work_dirs/td-hm_res18_60e_kdkit-video-128x96'),
        terms=dict(kd_simcc=dict(type='HeatmapToSimCCDistillLoss', temperature=0.1)),
        weights=dict(gt=1.0, kd_simcc=20.0)),
]
