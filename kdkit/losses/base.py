"""The one interface every kdkit distillation loss implements."""
from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from .utils import Pred


class BaseDistillLoss(nn.Module):
    """Student-vs-teacher loss: ``forward(pred_s, pred_t, weight=None)``.

    Class attributes the Distiller reads to know what to hand in:

    - ``input_kind``: the student output, 'heatmap' -> Tensor (B, K, H, W),
      'simcc' -> tuple (x_logits (B, K, Wx), y_logits (B, K, Wy)),
      'feature' -> Tensor (B, C, H, W).
    - ``teacher_kind``: the teacher output, same kinds (differs from
      ``input_kind`` only for cross-representation losses).
    - ``has_params``: True when the loss owns trainable weights (it must then
      live inside the model so the optimizer sees them).

    ``weight`` is (B, K) per-key-point weights (0 masks a key point), or (B,)
    per-sample for feature losses, or None. Key-point losses reduce as the
    student head's MMPose label loss does by default (``reduction='label'``,
    see :func:`~kdkit.losses.utils.reduce_heatmap` /
    :func:`~kdkit.losses.utils.reduce_simcc`), so a weight means the same
    KD / label balance at any batch size or bin count; the others use the
    masked weighted mean ``sum(w * l) / max(sum(w), eps)``. Every loss
    detaches the teacher, so gradients reach the student only.
    """

    input_kind: str = ''
    teacher_kind: str = ''
    has_params: bool = False

    def forward(self, pred_s: Pred, pred_t: Pred,
                weight: Optional[Tensor] = None) -> Tensor:
        raise NotImplementedError
