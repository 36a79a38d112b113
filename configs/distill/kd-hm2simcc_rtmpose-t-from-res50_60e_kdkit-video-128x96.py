# Cross-family distillation with the kit's fastest pair: a ResNet-50 heatmap
# teacher -> the SimCC RTMPose-t student (ONNX Runtime, 1 thread, 96x128: 9.5x
# faster than the teacher, the only pair of the kit to pass the 8x goal;
# bench/results/onnx_speedup.md). The teacher heatmap is marginalised into x/y
# bin distributions. Train the teacher first:
#   kdkit train configs/teacher/td-hm_res50_60e_kdkit-video-128x96.py
_base_ = ['../student/rtmpose-t_60e_kdkit-video-128x96.py']

custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(
        type='DistillLossHook',
        teacher=dict(
            config='configs/teacher/td-hm_res50_60e_kdkit-video-128x96.py',
            checkpoint='work_dirs/td-hm_res50_60e_kdkit-video-128x96'),
        terms=dict(kd_simcc=dict(type='HeatmapToSimCCDistillLoss', temperature=1.0)),
        weights=dict(gt=1.0, kd_simcc=1.0)),
]
