# CPU quick sibling of kd-pseudo-temporal_mobilenetv2_20e_kdkit-video+demo-multiperson-128x96.py:
# the quick generated set, kept whole (576 frames, 288 labelled, see the 20e config), with
# 0.6 of the real frames (288), as kd-pseudo_mobilenetv2_quick_...; a few epochs.
_base_ = ['./kd-pseudo-temporal_mobilenetv2_20e_kdkit-video+demo-multiperson-128x96.py']

generated = dict(
    type='VideoPoseDataset', data_root='data/kdkit_quick/', data_mode='topdown',
    ann_file='annotations/person_keypoints_train.json', data_prefix=dict(img='images/'),
    keep_unlabeled=True, pipeline=[])
train_dataloader = dict(
    batch_size=16,  # 4 windows of clip_len 4
    dataset=dict(
        datasets=[generated, {{_base_.real}}],
        sample_ratio_factor=[1.0, 0.6]))  # 576 + 288
train_cfg = dict(max_epochs=6, val_interval=3)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=30, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=6, T_max=6, eta_min=1e-5, by_epoch=True)
]
