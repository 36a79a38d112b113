"""Distillation losses (student vs teacher), registered in MMPose's MODELS.

All share :class:`BaseDistillLoss`'s ``forward(pred_s, pred_t, weight=None)``.
"""
from .base import BaseDistillLoss
from .feature_mse import FeatureMSEDistillLoss
from .heatmap_kl import HeatmapKLDistillLoss
from .heatmap_mse import HeatmapMSEDistillLoss
from .heatmap_to_simcc import HeatmapToSimCCDistillLoss
from .resized_fea import ResizedFeaLoss
from .simcc_kl import SimCCKLDistillLoss
from .temporal import TemporalMotionDistillLoss, soft_argmax
from .temporal_smoothed import TemporalSmoothedHeatmapDistillLoss

__all__ = [
    'BaseDistillLoss', 'HeatmapMSEDistillLoss', 'HeatmapKLDistillLoss',
    'SimCCKLDistillLoss', 'FeatureMSEDistillLoss', 'HeatmapToSimCCDistillLoss',
    'TemporalMotionDistillLoss', 'TemporalSmoothedHeatmapDistillLoss', 'ResizedFeaLoss',
    'soft_argmax'
]
