# Temporal distillation, ResNet-18 teacher -> MobileNetV2 student: heatmap KD plus
# TemporalSmoothedHeatmapDistillLoss, whose targets are the teacher's key points fitted
# along each clip window and drawn as sharp Gaussians, as labels are drawn. It needs
# whole clips in every batch:
#   * ClipSampler yields windows of clip_len consecutive frames of one clip;
#   * VideoPoseDataset(clip_len=...) gives a window one augmentation draw;
#   * batch_size is a multiple of clip_len (8 windows of 4 frames here).
# The term needs no labels, so unlabelled frames (kept by VideoPoseDataset) are
# distilled too. (TemporalMotionDistillLoss, which matches soft-argmax velocities
# instead, flattened the student's maps and cost most of its accuracy: README.)
_base_ = ['./kd-hm_mobilenetv2-from-res18_60e_kdkit-video-128x96.py']

clip_len = 4

train_dataloader = dict(
    batch_size=8 * clip_len,
    sampler=dict(type='ClipSampler', clip_len=clip_len, shuffle=True, _delete_=True),
    dataset=dict(clip_len=clip_len))

custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(
        type='DistillLossHook',
        teacher=dict(
            config='configs/teacher/td-hm_res18_60e_kdkit-video-128x96.py',
            checkpoint='work_dirs/td-hm_res18_60e_kdkit-video-128x96'),
        terms=dict(
            kd_heatmap=dict(type='HeatmapMSEDistillLoss'),
            # sigma: the student codec's (_base_/kdkit_video_heatmap-128x96.py)
            kd_temporal=dict(type='TemporalSmoothedHeatmapDistillLoss', clip_len=clip_len,
                             sigma=1.5, degree=1)),
        # both terms are heatmap MSEs, reduced as the label term: weight 1 = "as the labels"
        weights=dict(gt=1.0, kd_heatmap=1.0, kd_temporal=1.0),
        synthesis=dict(type='WeightedSum')),
]
