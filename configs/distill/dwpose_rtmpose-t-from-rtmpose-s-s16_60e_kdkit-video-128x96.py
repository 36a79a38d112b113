# MMPose's own DWPoseDistiller (first stage) on the SimCC pair of `kdkit bench`:
# the stride-16 RTMPose-s teacher (configs/teacher/rtmpose-s-s16_60e_*) ->
# RTMPose-t, as dwpose_rtmpose-t-from-rtmpose-s_60e_kdkit-video-128x96.py (see there)
# with one change: the teacher's last feature map is 6x8x256, the student's
# 3x4x384, and DWPose's FeaLoss needs equal sizes. kdkit's ResizedFeaLoss is
# FeaLoss (same 1x1 align conv, sum-MSE / N * alpha_fea) with the aligned
# student map resized bilinearly to the teacher's, as kdkit's own
# FeatureMSEDistillLoss does; its KDLoss and grad clipping are stock.
_base_ = ['../student/rtmpose-t_60e_kdkit-video-128x96.py']

model = dict(
    _delete_=True,
    type='DWPoseDistiller',
    # absolute paths: DWPoseDistiller reads them with Config.fromfile from any cwd
    teacher_cfg='{{ fileDirname }}/../teacher/rtmpose-s-s16_60e_kdkit-video-128x96.py',
    student_cfg='{{ fileDirname }}/../student/rtmpose-t_60e_kdkit-video-128x96.py',
    # `kdkit pack-teacher work_dirs/rtmpose-s-s16_60e_kdkit-video-128x96 checkpoints/`
    teacher_pretrained='checkpoints/rtmpose-s-s16_60e_kdkit-video-128x96.pth',
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
