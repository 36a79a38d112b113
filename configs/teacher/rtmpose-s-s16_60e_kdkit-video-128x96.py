# SimCC teacher that reads a stride-16 feature map: RTMPose-s (CSPNeXt-s + RTMCC
# head) whose head reads stage 3 (input / 16: a 6x8 map at 96x128, 256 channels)
# instead of stage 4 (input / 32: the 3x4 map that rtmpose-s_60e_kdkit-video-128x96.py
# and the RTMPose-t student read). At 96x128 a 3x4 map leaves the head 12 positions
# to place 17 key points from; 6x8 is what stock RTMPose-s reads at 256x192.
# CSPNeXt-s's stages 1-3 only (arch_ovewrite, mmdet's spelling): its stride-32
# stage 4 would be computed and thrown away, and counted in params and latency;
# the SPP block that closes stage 4 closes stage 3 here, as it closes the last
# stage of every CSPNeXt. The head's final conv is RTMPose's stock 7x7 (on 6x8).
# It is the teacher of the SimCC pair of `kdkit bench` (kdkit's SimCC KD and MMPose's
# DWPoseDistiller: kd-simcc_/dwpose_rtmpose-t-from-rtmpose-s-s16_*).
_base_ = ['./rtmpose-s_60e_kdkit-video-128x96.py']

model = dict(
    backbone=dict(
        out_indices=(3, ),
        # in_channels, out_channels, num_blocks, add_identity, use_spp (before widen 0.5)
        arch_ovewrite=[[64, 128, 3, True, False], [128, 256, 6, True, False],
                       [256, 512, 6, True, True]]),
    head=dict(
        in_channels=256,
        in_featuremap_size=(6, 8),  # input / 16
        final_layer_kernel_size=7))
