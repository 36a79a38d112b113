# Teacher: SimpleBaseline ResNet-50 heatmap model (Xiao et al. 2018), from scratch
# on kdkit's generated video (no pretrained weights: nothing is downloaded).
_base_ = ['../_base_/kdkit_video_heatmap-128x96.py']

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=50),
    head=dict(
        type='HeatmapHead',
        in_channels=2048,
        out_channels=17,
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder={{_base_.codec}}),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

# A teacher is trained plain, on labels only: unlabelled video frames would
# only add zero-loss samples to its batches (as in the ResNet-18 teacher configs).
train_dataloader = dict(dataset=dict(keep_unlabeled=False))
