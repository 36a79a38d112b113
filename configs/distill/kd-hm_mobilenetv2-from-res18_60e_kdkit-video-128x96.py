# Heatmap distillation, ResNet-18 teacher -> MobileNetV2 student: the student
# config plus one custom_hooks entry (custom_imports comes with the base).
_base_ = ['../student/td-hm_mobilenetv2_60e_kdkit-video-128x96.py']

custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(
        type='DistillLossHook',
        teacher=dict(
            config='configs/teacher/td-hm_res18_60e_kdkit-video-128x96.py',
            checkpoint='work_dirs/td-hm_res18_60e_kdkit-video-128x96'),
        terms=dict(kd_heatmap=dict(type='HeatmapMSEDistillLoss')),
        weights=dict(gt=1.0, kd_heatmap=1.0),
        synthesis=dict(type='WeightedSum')),
]
