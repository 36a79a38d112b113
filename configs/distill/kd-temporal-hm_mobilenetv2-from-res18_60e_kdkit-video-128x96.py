# Temporal distillation, ResNet-18 teacher -> MobileNetV2 student: heatmap KD
# plus TemporalMotionDistillLoss, which holds the student's frame-to-frame key-point
# motion (soft-argmax) to the teacher's. It needs whole clips in every batch:
#   * ClipSampler yields windows of clip_len consecutive frames of one clip;
#   * VideoPoseDataset(clip_len=...) gives a window one augmentation draw;
#   * batch_size is a multiple of clip_len (8 windows of 4 frames here).
# The motion term needs no labels, so unlabelled frames (kept by
# VideoPoseDataset) are distilled too.
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
            kd_temporal=dict(type='TemporalMotionDistillLoss', clip_len=clip_len,
                             kind='heatmap')),
        # velocities are fractions of the crop per frame (raw term ~1e-5..1e-3),
        # the heatmap MSE terms ~1e-3: a weight of 1 keeps motion a gentle prior
        weights=dict(gt=1.0, kd_heatmap=1.0, kd_temporal=1.0),
        synthesis=dict(type='WeightedSum')),
]
