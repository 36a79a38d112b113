# Distil onto real video from an off-the-shelf teacher (issue #15), MobileNetV2 student.
#   loss 1: generated, labelled frames (kdkit data generate --profile full) vs their labels;
#   loss 2: real frames of pose2sim's Demo_MultiPerson, cam01-03 (make real-data), vs the
#           MediaPipe BlazePose key points cached in the data as pseudo-labels
#           (make real-labels), weighted by the teacher's confidence.
# Validation: the held-out view cam04, scored against the teacher's labels.
# The generated-only and real-only baselines are this config with one ratio at 0:
#   --cfg-options "train_dataloader.dataset.sample_ratio_factor=[0.3,0]"   (generated only)
#   --cfg-options "train_dataloader.dataset.sample_ratio_factor=[0,2]"     (real only)
# Each gives 960 samples an epoch, as the mix (480 + 480) does.
_base_ = ['../student/td-hm_mobilenetv2_60e_kdkit-video-128x96.py']

real_root = 'data/real/demo_multiperson/'
generated = dict(
    type='VideoPoseDataset', data_root='data/kdkit_full/', data_mode='topdown',
    ann_file='annotations/person_keypoints_train.json', data_prefix=dict(img='images/'),
    keep_unlabeled=False, pipeline=[])
real = dict(
    type='VideoPoseDataset', data_root=real_root, data_mode='topdown',
    ann_file='annotations/person_keypoints_train.json', data_prefix=dict(img='images/'),
    pipeline=[])
train_dataloader = dict(
    batch_size=32,
    dataset=dict(
        _delete_=True,
        type='CombinedDataset',
        metainfo=dict(from_file='configs/_base_/datasets/coco.py'),
        datasets=[generated, real],
        # 3200 labelled generated frames x 0.15 = 480, as many as the real ones
        sample_ratio_factor=[0.15, 1.0],
        pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(dataset=dict(data_root=real_root))
train_cfg = dict(max_epochs=20, val_interval=2)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=20, T_max=20, eta_min=1e-5, by_epoch=True)
]
test_dataloader = dict(dataset=dict(data_root=real_root))

custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(
        type='DistillLossHook',
        # the teacher's outputs are in the data: pseudo-labelled frames feed the KD
        # term only, labelled frames the label loss only
        teacher=dict(type='pseudo_labels'),
        terms=dict(kd_heatmap=dict(type='HeatmapMSEDistillLoss')),
        weights=dict(gt=1.0, kd_heatmap=1.0),
        synthesis=dict(type='WeightedSum')),
]
