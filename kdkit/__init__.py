"""kdkit: knowledge distillation of 2D human key-point models on video.

``import kdkit`` (or ``custom_imports=dict(imports=['kdkit'])`` in an MMPose
config) registers kdkit's datasets, samplers, losses, synthesis rules, model
wrapper, hooks and metrics in MMPose's registries.
"""
__version__ = '0.1.0'

import warnings as _warnings

# Notices raised while kdkit imports its dependencies (torch.distributed.optim
# via mmengine, mmcv's transformer bricks) or loads an MMPose config (mmengine's
# pkg_resources; MMPose finding COCO's metainfo in its package, not under
# ./configs): nothing a kdkit user can act on. Each is silenced by its message
# and category only; set before the imports below raise them.
_KNOWN_WARNINGS = (
    (r'`torch\.jit\.script` is deprecated', DeprecationWarning),
    (r'`torch\.jit\.interface` is deprecated', DeprecationWarning),
    (r'``MultiScaleDeformableAttention`` has been moved to', ImportWarning),
    (r'pkg_resources is deprecated as an API', UserWarning),
    # (any of MMPose's dataset metainfo files: a whole-body or Halpe teacher's too)
    (r'The metainfo config file "configs/_base_/datasets/[\w.-]+\.py" does not exist',
     UserWarning),
    # mmdet's CSPNeXt (RTMPose's backbone) on every forward pass
    (r'`torch\.cuda\.amp\.autocast\(args\.\.\.\)` is deprecated', FutureWarning),
)
for _message, _category in _KNOWN_WARNINGS:
    _warnings.filterwarnings('ignore', message=_message, category=_category)

from .utils.checkpoint import allow_mmengine_checkpoints  # noqa: E402

allow_mmengine_checkpoints()  # safe weights-only loading of MMEngine checkpoints

from . import losses, synthesis  # noqa: E402,F401
from . import distill, engine  # noqa: E402,F401
from . import evaluation  # noqa: E402,F401
from . import data  # noqa: E402,F401

__all__ = ['__version__', 'data', 'distill', 'engine', 'evaluation', 'losses', 'synthesis']
