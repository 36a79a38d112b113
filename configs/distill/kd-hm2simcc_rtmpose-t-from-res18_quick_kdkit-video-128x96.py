# CPU quick sibling of kd-hm2simcc_rtmpose-t-from-res18_60e_kdkit-video-128x96.py.
# T = 0.1 = 1 / KLDiscretLoss.beta (the loss's default): the teacher map, divided by
# its peak, softens to a peaked target like the distributions the student's head is
# trained on. The term is reduced as KLDiscretLoss reduces the label term, so weight
# 1 counts the teacher as much as the labels at any batch size.
_base_ = ['../student/rtmpose-t_quick_kdkit-video-128x96.py']

custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(
        type='DistillLossHook',
        teacher=dict(
            config='configs/teacher/td-hm_res18_16e_kdkit-video-128x96.py',
            checkpoint='checkpoints/td-hm_res18_16e_kdkit-video-128x96.pth'),  # shipped
        terms=dict(kd_simcc=dict(type='HeatmapToSimCCDistillLoss', temperature=0.1)),
        weights=dict(gt=1.0, kd_simcc=1.0)),
]
