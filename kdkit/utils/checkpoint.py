"""Load MMEngine checkpoints with torch's safe ``weights_only=True`` unpickler.

torch >= 2.6 refuses any pickled global that is not allow-listed, and an
MMEngine checkpoint's ``meta`` holds numpy arrays/scalars and the
MessageHub's ``HistoryBuffer`` objects, so ``--resume`` fails with
``UnpicklingError``. Rather than switching the check off (a checkpoint from a
stranger must not run code), allow-list exactly those plain-data types.

Files are read through MMEngine's ``CheckpointLoader`` (as ``load_from`` and
``init_cfg=dict(type='Pretrained')`` are), so a checkpoint may be a path or an
``http(s)://`` URL, downloaded once into torch hub's cache
(``<torch.hub.get_dir()>/checkpoints``, as MMEngine does). MMEngine 0.10's own
URL loader unpickles with ``weights_only=False`` (it calls
``torch.hub.load_state_dict_from_url``, whose default that is): kdkit registers
weights-only loaders for local paths and URLs in its place, also under
the name MMEngine's ``torchvision://``, ``mmcls://`` and ``open-mmlab://``
loaders call.

Weights are matched to a model as MMEngine/MMPose load them
(:func:`convert_state_dict`: MMPose 0.x names such as ``keypoint_head.*``
renamed by the model's own load hooks), and a checkpoint that does not fit is
refused in one line (:func:`check_fits`) instead of leaving layers at random.
"""
from __future__ import annotations

import os
import pickle
import sys
from collections import OrderedDict
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch

URL_PREFIXES = ('http://', 'https://')
# keys of a checkpoint that are no weights of the pose model: the data
# preprocessor's mean/std come from the config; kdkit's distiller (connectors,
# learned loss weights) is not part of the student or teacher
NON_MODEL_PREFIXES = ('data_preprocessor.', 'distiller.')


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
    """Allow-list the data-only globals found in MMEngine checkpoints, and
    make MMEngine's local and ``http(s)://`` checkpoint loaders weights-only."""
    from mmengine.logging.history_buffer import HistoryBuffer
    HistoryBuffer()  # registers the default statistics methods on the class
    torch.serialization.add_safe_globals([
        *_numpy_globals(), HistoryBuffer,
        (_history_buffer_getattr, 'builtins.getattr'),
        (_history_buffer_getattr, '__builtin__.getattr')])
    use_weights_only_loaders()


# ------------------------------------------------------------ reading files
def is_url(path) -> bool:
    return str(path).startswith(URL_PREFIXES)


class DownloadError(ValueError):
    """A checkpoint URL could not be downloaded (no network, wrong address)."""


def hub_checkpoint_dir() -> Path:
    """Where MMEngine (and torch hub) cache downloaded checkpoints."""
    return Path(torch.hub.get_dir()) / 'checkpoints'


def cached_download(url: str, model_dir=None, progress: bool | None = None) -> Path:
    """The file of ``url`` in torch hub's checkpoint cache, downloaded if not
    there yet: the same file MMEngine's ``load_from_http`` reads
    (``<hub dir>/checkpoints/<file name of the URL>``). ``progress``: torch's
    download bar on stderr (default: when stderr is a terminal). Raises a
    one-line :class:`DownloadError`."""
    cached = Path(model_dir or hub_checkpoint_dir()) / os.path.basename(urlparse(url).path)
    if cached.is_file():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    if progress is None:
        progress = sys.stderr.isatty()
    try:
        torch.hub.download_url_to_file(url, str(cached), progress=progress)
    except (OSError, ValueError) as e:  # URLError, HTTPError, timeouts, bad URL
        reason = getattr(e, 'reason', None) or e
        reason = (str(reason).strip().splitlines() or [type(e).__name__])[0]
        raise DownloadError(f'cannot download {url} ({type(e).__name__}: {reason[:160]}); '
                            f'without network, put the file at {cached}') from None
    return cached


def checkpoint_url(name: str) -> str | None:
    """The URL MMEngine downloads for a checkpoint name: an ``http(s)://`` URL
    itself, ``torchvision://``, ``mmcls://`` and ``open-mmlab://`` names looked
    up in MMEngine's own tables; None for a local path, another storage
    backend or a name MMEngine does not know (it reports that itself)."""
    from mmengine.runner import checkpoint as mmckpt
    name = str(name)
    if is_url(name):
        return name
    scheme, _, key = name.partition('://')
    try:
        if scheme in ('torchvision', 'modelzoo'):
            url = mmckpt.get_torchvision_models()[key]
        elif scheme == 'mmcls':
            url = mmckpt.get_mmcls_models()[key]
        elif scheme in ('open-mmlab', 'openmmlab'):
            key = mmckpt.get_deprecated_model_names().get(key, key)
            url = mmckpt.get_external_models()[key]
        else:
            return None
    except KeyError:
        return None
    return url if is_url(url) else None


def load_from_local_weights_only(filename, map_location=None):
    """MMEngine's local checkpoint loader, always with ``weights_only=True``
    (also when ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is set)."""
    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(filename, map_location=map_location, weights_only=True)


def load_from_http_weights_only(filename, map_location=None, model_dir=None,
                                progress: bool | None = None):
    """MMEngine's ``http(s)://`` loader (download once into torch hub's cache,
    rank 0 first), unpickling with ``weights_only=True``."""
    from mmengine.dist import get_dist_info
    rank, world_size = get_dist_info()
    if rank == 0:
        path = cached_download(filename, model_dir, progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            path = cached_download(filename, model_dir, progress)
    return torch.load(path, map_location=map_location, weights_only=True)


def use_weights_only_loaders() -> None:
    """Register the weights-only loaders in MMEngine's ``CheckpointLoader``
    (``load_from``, resume, ``init_cfg=dict(type='Pretrained')``, MMPose's
    ``init_model`` all read files through it)."""
    from mmengine.runner import CheckpointLoader
    from mmengine.runner import checkpoint as mmckpt
    CheckpointLoader.register_scheme('', load_from_local_weights_only, force=True)
    CheckpointLoader.register_scheme(URL_PREFIXES, load_from_http_weights_only, force=True)
    # MMEngine's torchvision://, mmcls:// and open-mmlab:// loaders call the
    # module's load_from_http by name, not through the registry: point that
    # name at the weights-only loader too
    mmckpt.load_from_http = load_from_http_weights_only


def read_state_dict(path, what: str = 'checkpoint') -> dict:
    """The ``state_dict`` of an MMEngine (or plain torch) checkpoint: a file or
    an ``http(s)://`` URL, read by MMEngine's ``CheckpointLoader`` weights-only.

    Raises a one-line ``ValueError`` naming the file for a missing, truncated,
    code-carrying or non-checkpoint file, or a URL that cannot be downloaded.
    """
    from mmengine.runner import CheckpointLoader
    if not is_url(path):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f'{what}: {path} does not exist')
    allow_mmengine_checkpoints()
    try:
        ckpt = CheckpointLoader.load_checkpoint(str(path), map_location='cpu', logger='silent')
    except DownloadError as e:
        raise ValueError(f'{what}: {e}') from None
    except Exception as e:  # truncated zip, pickle refused, not a checkpoint
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ValueError(f'{what}: {path} is not a readable torch checkpoint '
                         f'({type(e).__name__}: {reason[:160]})') from None
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f'{what}: {path} holds no state_dict of tensors')
    return state


def _load_mapped(path: str):
    """Weights-only load that maps the tensors instead of reading them (only
    ``meta`` is wanted); a pre-zip torch file cannot be mapped and is read whole."""
    try:
        return torch.load(path, map_location='cpu', weights_only=True, mmap=True)
    except RuntimeError:
        return torch.load(path, map_location='cpu', weights_only=True)


def checkpoint_epoch(path) -> int | None:
    """The epoch an MMEngine checkpoint file was saved after (its ``meta``),
    read weights-only; None for a file without one (a packed or plain torch
    checkpoint) or one that cannot be read."""
    allow_mmengine_checkpoints()
    try:
        ckpt = _load_mapped(str(path))
    except Exception:  # the epoch is a label in a report: unknown, not an error
        return None
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    epoch = meta.get('epoch') if isinstance(meta, dict) else None
    return int(epoch) if isinstance(epoch, int) else None


# ----------------------------------------------------------- fitting a model
def convert_state_dict(model, state: dict) -> OrderedDict:
    """``state`` under the names ``model`` gives its weights today.

    What MMEngine's loader does before the weights meet the model, without
    touching the model: ``module.`` (DDP) prefixes stripped, then each
    sub-module's ``load_state_dict`` pre-hooks run in torch's order on the
    keys meant for it. MMPose 1.x registers its compatibility renames there:
    MMPose 0.x checkpoints' ``keypoint_head.*`` become ``head.*`` (the pose
    estimator's hook) and old head layouts are mapped by the heads' hooks
    (e.g. ``HeatmapHead``'s ``final_layer.N`` -> ``conv_layers.N``); the hooks
    honour the version ``_metadata`` a checkpoint carries. Also dropped:
    ``data_preprocessor.*`` (mean/std come from the config) and kdkit's
    ``distiller.*`` (connectors, learned loss weights). The result carries the
    model's own version metadata, so loading it converts nothing twice.
    """
    metadata = getattr(state, '_metadata', None)
    local = OrderedDict()
    for key, value in state.items():
        key = key.removeprefix('module.')
        if not key.startswith(NON_MODEL_PREFIXES):
            local[key] = value
    converted = OrderedDict()

    def visit(module, local: dict, prefix: str) -> None:
        meta = {} if metadata is None else metadata.get(prefix[:-1], {})
        for hook in module._load_state_dict_pre_hooks.values():
            hook(local, prefix, meta, True, [], [], [])
        children = {n: c for n, c in module._modules.items() if c is not None}
        for key, value in local.items():  # this module's own parameters/buffers
            if key.startswith(prefix) and key[len(prefix):].split('.', 1)[0] not in children:
                converted[key] = value
        for name, child in children.items():
            sub = f'{prefix}{name}.'
            visit(child, {k: v for k, v in local.items() if k.startswith(sub)}, sub)

    visit(model, local, '')
    converted._metadata = model.state_dict()._metadata
    return converted


def fit_problems(model, state: dict) -> str:
    """What keeps ``state`` (converted) from loading into ``model`` strictly,
    as '20 missing (e.g. ...), 3 unexpected (e.g. ...)'; '' if it fits. A
    missing BatchNorm ``num_batches_tracked`` is fine (MMEngine ignores it)."""
    own = model.state_dict()
    missing = sorted(k for k in set(own) - set(state) if not k.endswith('num_batches_tracked'))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    parts = [f'{len(missing)} missing (e.g. {missing[0]})' if missing else '',
             f'{len(unexpected)} unexpected (e.g. {unexpected[0]})' if unexpected else '',
             f'{len(shapes)} of other shape (e.g. {shapes[0]}: '
             f'{tuple(state[shapes[0]].shape)} vs {tuple(own[shapes[0]].shape)})'
             if shapes else '']
    return ', '.join(p for p in parts if p)


def check_fits(model, path, what: str = 'checkpoint') -> OrderedDict:
    """Read ``path`` (file or URL) and convert it for ``model``; raise a
    one-line ``ValueError`` naming the file, the counts of missing/unexpected
    keys and an example of each when it does not fit. Returns the converted
    state_dict; the model is not changed."""
    state = convert_state_dict(model, read_state_dict(path, what))
    problems = fit_problems(model, state)
    if problems:
        raise ValueError(f'{what}: {path} does not fit the model architecture: {problems}')
    return state


def load_model_weights(model, path, what: str = 'checkpoint') -> None:
    """Load a pose model's weights strictly (after MMPose's renames of older
    checkpoints, see :func:`convert_state_dict`), through MMEngine's
    ``load_state_dict``; a checkpoint that does not fit is refused in one line
    before any weight is copied."""
    from mmengine.runner.checkpoint import load_state_dict
    load_state_dict(model, check_fits(model, path, what), strict=True)
