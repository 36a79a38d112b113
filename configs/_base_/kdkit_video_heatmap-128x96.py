# Generated video + a heatmap codec at input 96x128 (w x h).
_base_ = ['./kdkit_video.py']

codec = dict(type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=1.5)

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    # pack_transformed: labels in input pixels, for confidence gating
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

optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
train_cfg = dict(max_epochs=60, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=200, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=60, T_max=60, eta_min=1e-5, by_epoch=True)
]
