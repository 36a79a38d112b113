"""kdkit: knowledge distillation of 2D human key-point models on video.

``import kdkit`` (or ``custom_imports=dict(imports=['kdkit'])`` in an MMPose
config) registers kdkit's datasets, samplers, losses, synthesis rules, model
wrapper, hooks and metrics in MMPose's registries.
"""
__version__ = '0.1.0'

from .utils.checkpoint import allow_mmengine_checkpoints

allow_mmengine_checkpoints()  # safe weights-only loading of MMEngine checkpoints

from . import losses, synthesis  # noqa: E402,F401
from . import distill, engine  # noqa: E402,F401
from . import evaluation  # noqa: E402,F401
from . import data  # noqa: E402,F401

__all__ = ['__version__', 'data', 'distill', 'engine', 'evaluation', 'losses', 'synthesis']
