# CPU quick sibling of dwpose_rtmpose-t-from-rtmpose-s-s16_60e_kdkit-video-128x96.py.
_base_ = ['../student/rtmpose-t_quick_kdkit-video-128x96.py']

model = dict(
    _delete_=True,
    type='DWPoseDistiller',
    # absolute paths: DWPoseDistiller reads them with Config.fromfile from any cwd
    teacher_cfg='{{ fileDirname }}/../teacher/rtmpose-s-s16_quick_kdkit-video-128x96.py',
    student_cfg='{{ fileDirname }}/../student/rtmpose-t_quick_kdkit-video-128x96.py',
    # `kdkit pack-teacher work_dirs/rtmpose-s-s16_quick_kdkit-video-128x96 checkpoints/`
    teacher_pretrained='checkpoints/rtmpose-s-s16_quick_kdkit-video-128x96.pth',
    distill_cfg=[
        dict(methods=[dict(type='ResizedFeaLoss', name='loss_fea', use_this=True,
                           student_channels=384, teacher_channels=256,
                           alpha_fea=0.00007)]),
        dict(methods=[dict(type='KDLoss', name='loss_logit', use_this=True, weight=0.1)]),
    ],
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True))
optim_wrapper = dict(clip_grad=dict(max_norm=1., norm_type=2))
