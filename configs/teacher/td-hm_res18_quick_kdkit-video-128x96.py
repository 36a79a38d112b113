# CPU quick sibling of td-hm_res18_60e_kdkit-video-128x96.py (minutes, quick data).
_base_ = ['./td-hm_res18_60e_kdkit-video-128x96.py']

data_root = 'data/kdkit_quick/'
train_dataloader = dict(batch_size=16, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
train_cfg = dict(max_epochs=6, val_interval=3)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=30, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=6, T_max=6, eta_min=1e-5, by_epoch=True)
]
