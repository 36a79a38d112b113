# SimCC teacher: RTMPose-s (CSPNeXt-s + RTMCC head), BN instead of SyncBN, from
# scratch on kdkit's generated video at input 96x128 like the RTMPose-t student
# (configs/student/rtmpose-t_60e_kdkit-video-128x96.py). It is the teacher of the
# SimCC pair that `kdkit bench` compares kdkit's SimCC KD with MMPose's DWPose on.
_base_ = ['../_base_/kdkit_video_simcc-128x96.py']

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        _scope_='mmdet',
        type='CSPNeXt',
        arch='P5',
        expand_ratio=0.5,
        deepen_factor=0.33,
        widen_factor=0.5,
        out_indices=(4, ),
        channel_attention=True,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='SiLU')),
    head=dict(
        type='RTMCCHead',
        in_channels=512,
        out_channels=17,
        input_size=(96, 128),  # = the codec's (w, h), see the _base_
        in_featuremap_size=(3, 4),  # input / 32
        simcc_split_ratio=2.0,
        final_layer_kernel_size=3,  # as the student: the feature map is 3x4
        gau_cfg=dict(hidden_dims=256, s=128, expansion_factor=2, dropout_rate=0.,
                     drop_path=0., act_fn='SiLU', use_rel_bias=False, pos_enc=False),
        loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10.,
                  label_softmax=True),
        decoder={{_base_.codec}}),
    test_cfg=dict(flip_test=True))

# A teacher learns from labelled frames only: unlabelled ones would add zero-loss
# samples (as in the ResNet-18 teacher configs).
train_dataloader = dict(dataset=dict(keep_unlabeled=False))
