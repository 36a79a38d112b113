"""Parameters and FLOPs with MMEngine's analyser (``get_model_complexity_info``).

MMEngine (fvcore) counts one fused multiply-add as one FLOP, so ``flops`` is
what most papers call MACs / "GFLOPs" in pose tables (MMPose's ``get_flops``
tool reports the same number). Only the network is measured: for an MMPose
``TopdownPoseEstimator`` that is ``extract_feat`` + ``head.forward`` (its
``mode='tensor'`` path), without pre-processing, flip test or decoding.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Sequence

import torch
from torch import nn


class TensorForward(nn.Module):
    """Expose an MMPose estimator's raw network as ``forward(x)``."""

    def __init__(self, estimator: nn.Module):
        super().__init__()
        self.estimator = estimator

    def forward(self, x: torch.Tensor):
        return self.estimator(x, None, mode='tensor')


def as_tensor_module(model: nn.Module) -> nn.Module:
    """``model`` itself, or a :class:`TensorForward` wrapper for MMPose models."""
    if hasattr(model, 'extract_feat') and hasattr(model, '_forward'):
        return TensorForward(model)
    return model


@contextlib.contextmanager
def _quiet_mmengine_logger(enabled: bool):
    """Hide the analyser's warnings (ops it counts as 0 FLOPs, by fvcore's
    convention: activations, element-wise ops, pooling, BN; and never-called
    modules such as the loss)."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    if enabled:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def model_complexity(model: nn.Module,
                     input_shape: Sequence[int] = (1, 3, 256, 192),
                     show_table: bool = False, verbose: bool = False) -> dict:
    """Count parameters and FLOPs of one forward pass.

    Args:
        model: a plain ``nn.Module`` or an MMPose pose estimator.
        input_shape: (N, C, H, W), or (C, H, W) meaning batch 1.
        show_table: also return MMEngine's per-module table (``table``).
        verbose: let MMEngine log the ops it does not count.

    Returns:
        ``dict(params=int, flops=float (GFLOPs, multiply-add = 1),
        flops_raw=int, activations=int, params_str, flops_str, input_shape,
        table)``.
    """
    from mmengine.analysis import get_model_complexity_info

    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 3:
        shape = (1, *shape)
    if len(shape) != 4:
        raise ValueError(f'input_shape must be (N, C, H, W), got {shape}')
    module = as_tensor_module(model)
    was_training = model.training
    model.eval()  # BN in eval mode, as it is deployed
    try:
        with torch.no_grad(), _quiet_mmengine_logger(not verbose):
            info = get_model_complexity_info(
                module, inputs=(torch.zeros(shape),),
                show_table=show_table, show_arch=False)
    finally:
        model.train(was_training)
    return dict(params=int(info['params']), flops=info['flops'] / 1e9,
                flops_raw=int(info['flops']),
                activations=int(info['activations']),
                params_str=info['params_str'], flops_str=info['flops_str'],
                input_shape=shape, table=info['out_table'])
