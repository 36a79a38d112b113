# Generated video + a SimCC codec at input 96x128 (w x h), as RTMPose uses.
_base_ = ['./kdkit_video.py']

codec = dict(type='SimCCLabel', input_size=(96, 128), sigma=(2.45, 2.83),
             simcc_split_ratio=2.0, normalize=False, use_dark=False)

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform', scale_factor=[0.75, 1.25], rotate_factor=40),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', pack_transformed=True)
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    # video fields let PCKJitterMetric group frames into clips for jitter
    dict(type='PackPoseInputs', meta_keys={{_base_.video_meta_keys}})
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=val_pipeline))

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True))
train_cfg = dict(max_epochs=60, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=200, start_factor=1e-3, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=60, T_max=60, eta_min=1e-4, by_epoch=True)
]
