# For users with PoseTrack18: MMPose's stock ResNet-50 PoseTrack18 config plus
# kdkit's loss hook, distilling from the stock HRNet-W32 PoseTrack18 model.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/posetrack18/td-hm_res50_8xb64-20e_posetrack18-256x192.py']

custom_imports = dict(imports=['kdkit'], allow_failed_imports=False)
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(
        type='DistillLossHook',
        teacher=dict(
            config='mmpose::body_2d_keypoint/topdown_heatmap/posetrack18/td-hm_hrnet-w32_8xb64-20e_posetrack18-256x192.py',
            checkpoint='work_dirs/td-hm_hrnet-w32_8xb64-20e_posetrack18-256x192'),
        terms=dict(kd_heatmap=dict(type='HeatmapMSEDistillLoss')),
        weights=dict(gt=1.0, kd_heatmap=1.0)),
]
