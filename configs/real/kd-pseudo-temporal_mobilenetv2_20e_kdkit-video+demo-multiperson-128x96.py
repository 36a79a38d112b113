# A temporal term on real clips (issue #15): kd-pseudo_mobilenetv2_20e_... plus
# TemporalMotionDistillLoss, which holds the student's frame-to-frame key-point motion
# (soft-argmax) to the teacher's, here the motion of the cached MediaPipe pseudo-labels.
#   * CombinedVideoDataset(clip_len=4) lays both sets out as windows of 4 consecutive
#     frames of one person track of one set, with one augmentation draw per window;
#     sample_ratio_factor draws whole windows (one per slot, redrawn every epoch);
#   * ClipSampler yields those windows; batch_size 32 = 8 windows.
# Where the terms act: the pseudo-label teacher gives generated (labelled) frames KD
# weight 0 and real frames their label weight x MediaPipe confidence. Windows never mix
# the two sets and a frame pair counts as its weaker end, so kd_temporal (like
# kd_heatmap) sees the real windows only, normalised by their weights; the label loss
# sees the generated frames only.
# The generated set is kept whole (keep_unlabeled=True): its labels are on every other
# frame, so without the unlabelled frames it has no 4 consecutive frames at all. Those
# frames weigh 0 in every term; 6400 frames x 0.15 = 960 a epoch hold the 480 labelled
# frames of the base config, with the 480 real ones: 1440 frames, 45 iterations a epoch.
# Weight: measured on this data, one epoch (45 iterations of 32), per iteration:
#   from random weights:           kd_temporal median 1.6e-3, mean 1.1e-2 (5e-2..8e-2 in
#                                  the first iterations), kd_heatmap 2.8e-3, gt 2.5e-3;
#   from the 20e kd-pseudo student: kd_temporal median 6.8e-3, mean 1.2e-2 (7e-4..7.7e-2),
#                                  kd_heatmap 1.9e-3, gt 2.3e-3.
# Far above the ~1e-4 of the generated-data temporal config: the student's soft-argmax
# still jumps between frames on real crops. At weight 1 motion would be ~75 % of the loss;
# 0.1 makes it ~15-20 % (median 7e-4, mean 1.2e-3, against gt + kd_heatmap ~4.2e-3).
# The 4 batches in 45 without a real window log kd_heatmap = kd_temporal = 0.
_base_ = ['./kd-pseudo_mobilenetv2_20e_kdkit-video+demo-multiperson-128x96.py']

clip_len = 4
generated = dict(
    type='VideoPoseDataset', data_root='data/kdkit_full/', data_mode='topdown',
    ann_file='annotations/person_keypoints_train.json', data_prefix=dict(img='images/'),
    keep_unlabeled=True, pipeline=[])
train_dataloader = dict(
    batch_size=8 * clip_len,
    sampler=dict(type='ClipSampler', clip_len=clip_len, shuffle=True, _delete_=True),
    dataset=dict(
        type='CombinedVideoDataset',
        clip_len=clip_len,
        datasets=[generated, {{_base_.real}}],
        sample_ratio_factor=[0.15, 1.0]))

custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(
        type='DistillLossHook',
        teacher=dict(type='pseudo_labels'),
        terms=dict(
            kd_heatmap=dict(type='HeatmapMSEDistillLoss'),
            kd_temporal=dict(type='TemporalMotionDistillLoss', clip_len=clip_len,
                             kind='heatmap')),
        weights=dict(gt=1.0, kd_heatmap=1.0, kd_temporal=0.1),
        synthesis=dict(type='WeightedSum')),
]
