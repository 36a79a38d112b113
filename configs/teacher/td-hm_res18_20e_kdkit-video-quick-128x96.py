# The teacher shipped for the quick demo (checkpoints/): ResNet-18 trained 20
# epochs on the quick-profile data (data/kdkit_quick, seed 0). Reproduce with
#   kdkit train configs/teacher/td-hm_res18_20e_kdkit-video-quick-128x96.py
#   kdkit pack-teacher work_dirs/td-hm_res18_20e_kdkit-video-quick-128x96 checkpoints/
_base_ = ['./td-hm_res18_60e_kdkit-video-128x96.py']

data_root = 'data/kdkit_quick/'
train_dataloader = dict(batch_size=16, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
train_cfg = dict(max_epochs=20, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=20, T_max=20, eta_min=1e-5, by_epoch=True)
]
