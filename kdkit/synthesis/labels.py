"""A batch's labels in model-input pixels, from what the train pipeline packed.

``PackPoseInputs(pack_transformed=True)`` packs them as
``gt_instances.transformed_keypoints``. Stock MMPose pipelines do not, but
every top-down train pipeline packs its encoded targets, which hold the same
positions on the codec's grid: regression labels (normalised by the input
size, exact), SimCC labels (argmax bin / split ratio, within half a bin) or
heatmaps (argmax cell x stride, within half a cell; cell j at j * stride, as
:func:`~kdkit.synthesis.confidence_gating.teacher_peaks` reads the teacher;
MMPose's ``MSRAHeatmap`` puts the peak one cell further in for key points
within 3 sigma of the top/left border).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def input_keypoints(data_samples, like: Tensor) -> Optional[Tensor]:
    """(B, K, 2) labels of each sample's first instance in model-input pixels,
    on ``like``'s device and dtype (``like``: the (B, C, H, W) inputs), or
    None when a sample packs neither transformed key points nor targets."""
    size = (like.shape[-1], like.shape[-2])
    rows = [sample_keypoints(ds, size) for ds in data_samples]
    if not rows or any(r is None for r in rows):
        return None
    return torch.stack(rows).to(like.device, like.dtype)


def sample_keypoints(ds, input_size: tuple[int, int]) -> Optional[Tensor]:
    """(K, 2) float labels of one data sample (first instance), or None."""
    kpts = ds.get('gt_instances', {}).get('transformed_keypoints', None)
    if kpts is not None:
        return torch.as_tensor(kpts)[0, :, :2].float()
    labels = ds.get('gt_instance_labels', {})
    if labels.get('keypoint_labels', None) is not None:
        kpts = torch.as_tensor(labels.keypoint_labels)[0, :, :2].float()
        return torch.stack((kpts[:, 0] * input_size[0], kpts[:, 1] * input_size[1]), dim=-1)
    if labels.get('keypoint_x_labels', None) is not None:
        return simcc_keypoints(torch.as_tensor(labels.keypoint_x_labels)[0],
                               torch.as_tensor(labels.keypoint_y_labels)[0], input_size)
    heatmaps = ds.get('gt_fields', {}).get('heatmaps', None)
    if getattr(heatmaps, 'ndim', 0) == 3:  # not multi-level or instance maps
        return heatmap_keypoints(torch.as_tensor(heatmaps), input_size)
    return None


def simcc_keypoints(x: Tensor, y: Tensor, input_size) -> Tensor:
    """(K, 2) argmax of (K, Wx) / (K, Wy) SimCC labels in input pixels."""
    return torch.stack((x.argmax(-1) * (input_size[0] / x.shape[-1]),
                        y.argmax(-1) * (input_size[1] / y.shape[-1])), dim=-1).float()


def heatmap_keypoints(heatmaps: Tensor, input_size) -> Tensor:
    """(K, 2) argmax of (K, H, W) target heatmaps in input pixels."""
    h, w = heatmaps.shape[-2:]
    idx = heatmaps.flatten(-2).argmax(-1)
    row = torch.div(idx, w, rounding_mode='floor')
    return torch.stack(((idx % w) * (input_size[0] / w),
                        row * (input_size[1] / h)), dim=-1).float()
