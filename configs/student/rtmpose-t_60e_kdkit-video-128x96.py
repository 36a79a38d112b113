# Mobile student: RTMPose-t (CSPNeXt-tiny + RTMCC SimCC head), BN instead of SyncBN.
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
        deepen_factor=0.167,
        widen_factor=0.375,
        out_indices=(4, ),
        channel_attention=True,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='SiLU')),
    head=dict(
        type='RTMCCHead',
        in_channels=384,
        out_channels=17,
        input_size=(96, 128),  # = the codec's (w, h), see the _base_
        in_featuremap_size=(3, 4),  # input / 32
        simcc_split_ratio=2.0,
        final_layer_kernel_size=3,
        gau_cfg=dict(hidden_dims=256, s=128, expansion_factor=2, dropout_rate=0.,
                     drop_path=0., act_fn='SiLU', use_rel_bias=False, pos_enc=False),
        loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10.,
                  label_softmax=True),
        decoder={{_base_.codec}}),
    test_cfg=dict(flip_test=True))
