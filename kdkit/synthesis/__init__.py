"""Synthesis rules: named loss terms -> the loss dict MMEngine optimises."""
from .base import (BaseSynthesis, SynthesisContext, check_weights,
                   weighted_loss_dict)
from .confidence_gating import ConfidenceGating
from .labels import input_keypoints
from .uncertainty import UncertaintyWeighting
from .weighted_sum import WeightedSum

__all__ = [
    'BaseSynthesis', 'SynthesisContext', 'check_weights',
    'weighted_loss_dict', 'WeightedSum', 'UncertaintyWeighting',
    'ConfidenceGating', 'input_keypoints'
]
