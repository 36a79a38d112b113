# The shipped real-video student (issue #15): checkpoints/<this file's name>.pth.
#   stage 1: the 20e mix config on generated frames only
#            (sample_ratio_factor=[0.3,0]), 20 epochs from random weights;
#   stage 2: this config: the mix (generated labels + real pseudo-labels) for 60
#            epochs from stage 1's weights (load_from).
# The packed checkpoint is stage 2's last epoch in fp16: cam04, the val view, is
# also the test view, so no epoch is picked on it. One command does all of it:
#   make real-student        (tools/train_real_student.sh; SEED=0 by default)
_base_ = ['./kd-pseudo_mobilenetv2_20e_kdkit-video+demo-multiperson-128x96.py']

load_from = 'work_dirs/real_student/generated-only-20e_seed0/epoch_20.pth'
train_cfg = dict(max_epochs=60, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=60, T_max=60, eta_min=1e-5, by_epoch=True)
]
