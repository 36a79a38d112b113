"""Load MMEngine checkpoints with torch's safe ``weights_only=True`` unpickler.

torch >= 2.6 refuses any pickled global that is not allow-listed, and an
MMEngine checkpoint's ``meta`` holds numpy arrays/scalars and the
MessageHub's ``HistoryBuffer`` objects, so ``--resume`` fails with
``UnpicklingError``. Rather than switching the check off (a checkpoint from a
stranger must not run code), allow-list exactly those plain-data types.
"""
from __future__ import annotations

import pickle

import numpy as np
import torch


def _numpy_globals() -> list:
    from numpy.core.multiarray import _reconstruct  # noqa: PLC0415
    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar
    dtype_classes = [type(np.dtype(t)) for t in
                     (np.float16, np.float32, np.float64, np.int8, np.int16,
                      np.int32, np.int64, np.uint8, np.bool_, np.str_)]
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes]


def _history_buffer_getattr(obj, name):
    """Stands in for ``getattr`` while unpickling, for one use only.

    MessageHub's ``HistoryBuffer`` pickles its statistics methods as
    ``getattr(HistoryBuffer, 'min')``; allow-listing the real ``getattr``
    would let a checkpoint reach any attribute of any allowed object.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and name in HistoryBuffer._statistics_methods:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}), which kdkit does not allow')


def allow_mmengine_checkpoints() -> None:
    """Allow-list the data-only globals found in MMEngine checkpoints."""
    from mmengine.logging.history_buffer import HistoryBuffer
    HistoryBuffer()  # registers the default statistics methods on the class
    torch.serialization.add_safe_globals([
        *_numpy_globals(), HistoryBuffer,
        (_history_buffer_getattr, 'builtins.getattr'),
        (_history_buffer_getattr, '__builtin__.getattr')])


def read_state_dict(path, what: str = 'checkpoint') -> dict:
    """The ``state_dict`` of an MMEngine (or plain torch) checkpoint file.

    Raises a one-line ``ValueError`` naming the file for a missing, truncated
    or non-checkpoint file.
    """
    from pathlib import Path
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{what}: {path} does not exist')
    allow_mmengine_checkpoints()
    try:
        ckpt = torch.load(path, map_location='cpu')  # weights_only=True
    except Exception as e:  # truncated zip, pickle refused, not a checkpoint
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ValueError(f'{what}: {path} is not a readable torch checkpoint '
                         f'({type(e).__name__}: {reason[:160]})') from None
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f'{what}: {path} holds no state_dict of tensors')
    return state


def load_model_weights(model, path, what: str = 'checkpoint') -> None:
    """Load a pose model's weights strictly, ignoring kdkit's ``distiller.*``
    keys (connectors, learned loss weights) that a distillation run adds."""
    state = {k.removeprefix('module.'): v
             for k, v in read_state_dict(path, what).items()
             if not k.startswith('distiller.')}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [k for k in set(own) & set(state) if own[k].shape != state[k].shape]
    if missing or unexpected or shapes:
        parts = [f'{len(missing)} missing (e.g. {missing[0]})' if missing else '',
                 f'{len(unexpected)} unexpected (e.g. {unexpected[0]})' if unexpected else '',
                 f'{len(shapes)} of other shape (e.g. {shapes[0]}: '
                 f'{tuple(state[shapes[0]].shape)} vs {tuple(own[shapes[0]].shape)})'
                 if shapes else '']
        raise ValueError(f'{what}: {path} does not fit the model architecture: '
                         + ', '.join(p for p in parts if p))
    model.load_state_dict(state, strict=True)
