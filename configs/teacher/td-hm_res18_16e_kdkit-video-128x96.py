# The teacher shipped with the kit (checkpoints/): ResNet-18 trained 16 epochs
# on the full-profile data (data/kdkit_full, data seed 0, training seed 0), so
# the quick demo distils from a real teacher in minutes. Its train split shares
# no clip or subject with any val/test split (splits are seeded apart).
# Reproduce with
#   kdkit data generate --profile full --seed 0 --out data/kdkit_full
#   kdkit train configs/teacher/td-hm_res18_16e_kdkit-video-128x96.py
#   kdkit pack-teacher work_dirs/td-hm_res18_16e_kdkit-video-128x96 checkpoints/
_base_ = ['./td-hm_res18_60e_kdkit-video-128x96.py']

train_cfg = dict(max_epochs=16, val_interval=4)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=200, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=16, T_max=16, eta_min=1e-5, by_epoch=True)
]
