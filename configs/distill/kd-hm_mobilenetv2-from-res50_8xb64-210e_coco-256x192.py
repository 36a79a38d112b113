# For users with COCO: MMPose's stock MobileNetV2 config, unchanged, plus kdkit's
# loss hook. Train the teacher first with MMPose's stock ResNet-50 config.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_mobilenetv2_8xb64-210e_coco-256x192.py']

custom_imports = dict(imports=['kdkit'], allow_failed_imports=False)
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(
        type='DistillLossHook',
        teacher=dict(
            config='mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py',
            checkpoint='work_dirs/td-hm_res50_8xb64-210e_coco-256x192'),
        terms=dict(kd_heatmap=dict(type='HeatmapMSEDistillLoss')),
        weights=dict(gt=1.0, kd_heatmap=1.0)),
]
