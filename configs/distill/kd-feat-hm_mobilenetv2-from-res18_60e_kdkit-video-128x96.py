# Feature + heatmap distillation with a trainable 1x1 connector: the connector
# must reach the optimizer, so this uses the KDPoseEstimator model wrapper
# (type swapped on the student's model dict; same loss and synthesis code).
_base_ = ['../student/td-hm_mobilenetv2_60e_kdkit-video-128x96.py']

model = dict(
    type='KDPoseEstimator',
    teacher=dict(
        config='configs/teacher/td-hm_res18_60e_kdkit-video-128x96.py',
        checkpoint='work_dirs/td-hm_res18_60e_kdkit-video-128x96'),
    distill=dict(
        terms=dict(
            kd_heatmap=dict(type='HeatmapMSEDistillLoss'),
            kd_feature=dict(type='FeatureMSEDistillLoss', student_channels=1280,
                            teacher_channels=512)),
        weights=dict(gt=1.0, kd_heatmap=1.0, kd_feature=0.1),
        synthesis=dict(type='WeightedSum')))
