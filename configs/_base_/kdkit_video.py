# kdkit's generated annotated video (kdkit data generate --profile full), top-down.
# Runtime defaults are MMPose's own; kdkit registers itself via custom_imports.
_base_ = ['mmpose::_base_/default_runtime.py']

custom_imports = dict(imports=['kdkit'], allow_failed_imports=False)

# MMPose's default PackPoseInputs meta keys plus the video fields
video_meta_keys = ('id', 'img_id', 'img_path', 'category_id', 'crowd_index', 'ori_shape',
                   'img_shape', 'input_size', 'input_center', 'input_scale', 'flip',
                   'flip_direction', 'flip_indices', 'raw_ann_info', 'dataset_name',
                   'vid_id', 'frame_index', 'track_id')

dataset_type = 'VideoPoseDataset'  # CocoDataset that keeps unlabelled frames
data_mode = 'topdown'
data_root = 'data/kdkit_full/'

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_train.json',
        data_prefix=dict(img='images/')))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_val.json',
        data_prefix=dict(img='images/'),
        test_mode=True))
test_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_test.json',
        data_prefix=dict(img='images/'),
        test_mode=True))

# Ground truth comes from the dataset itself (ann_file=None), so the same
# evaluator serves every split and data_root.
val_evaluator = [dict(type='CocoMetric', ann_file=None),
                 dict(type='PCKJitterMetric')]
test_evaluator = val_evaluator

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2,
                    save_best='coco/AP', rule='greater'))
# CPU-friendly: gloo works everywhere; on GPUs `kdkit train` switches to nccl.
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
