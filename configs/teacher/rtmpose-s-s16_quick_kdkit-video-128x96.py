# CPU quick sibling of rtmpose-s-s16_60e_kdkit-video-128x96.py (minutes, quick data).
# 20 epochs, like rtmpose-s_quick: a teacher has to be clearly ahead of the
# 6-epoch quick students for distillation to mean anything.
_base_ = ['./rtmpose-s-s16_60e_kdkit-video-128x96.py']

data_root = 'data/kdkit_quick/'
train_dataloader = dict(batch_size=16, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
train_cfg = dict(max_epochs=20, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=1e-3, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=20, T_max=20, eta_min=1e-4, by_epoch=True)
]
