# CPU quick sibling of kd-feat-hm_mobilenetv2-from-res18_60e_kdkit-video-128x96.py.
_base_ = ['../student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py']

model = dict(
    type='KDPoseEstimator',
    teacher=dict(
        config='configs/teacher/td-hm_res18_16e_kdkit-video-128x96.py',
        checkpoint='checkpoints/td-hm_res18_16e_kdkit-video-128x96.pth'),  # shipped
    distill=dict(
        terms=dict(
            kd_heatmap=dict(type='HeatmapMSEDistillLoss'),
            kd_feature=dict(type='FeatureMSEDistillLoss', student_channels=1280,
                            teacher_channels=512)),
        weights=dict(gt=1.0, kd_heatmap=1.0, kd_feature=0.1),
        synthesis=dict(type='WeightedSum')))
