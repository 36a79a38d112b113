"""Export the student's network to ONNX and check it against PyTorch.

What is exported: the raw network, ``extract_feat`` + ``head.forward`` (the
estimator's ``mode='tensor'`` path) at batch 1 and a fixed input size; no
pre-processing, flip test or decoding. So a caller must

1. crop/warp the person to the model input (``W x H``, the codec's
   ``input_size``) with the bbox ``center`` and ``scale`` the way MMPose's
   ``TopdownAffine`` does (scale = bbox size padded by 1.25 and widened to the
   input aspect ratio);
2. normalise it as the model's ``data_preprocessor`` says (``mean``/``std``,
   ``bgr_to_rgb``; returned by :func:`export_onnx` as ``preprocess``) and
   feed NCHW float32;
3. decode the outputs, with :func:`decode_outputs` (MMPose's own codec):

   - heatmap heads give ``heatmaps`` (1, K, h, w): per joint the arg-max of
     the heatmap, refined by the codec (e.g. MSRA's quarter offset / DARK),
     times ``input_size / heatmap_size``;
   - SimCC heads (RTMPose) give ``simcc_x`` (1, K, W*r) and ``simcc_y``
     (1, K, H*r): the arg-max of each 1-D vector divided by
     ``simcc_split_ratio`` r;

   which gives key points in input-crop pixels; back to the image by
   ``kpt / input_size * scale + center - scale / 2`` (pass ``bbox_center`` /
   ``bbox_scale`` to :func:`decode_outputs` to have that done).

Exporter: torch 2.13 defaults to the ``torch.export``-based (dynamo) exporter,
which needs the ``onnxscript`` package; ``exporter='auto'`` uses it when
``onnxscript`` imports and otherwise the TorchScript exporter
(``dynamo=False``, deprecated but still shipped in torch 2.13).
"""
from __future__ import annotations

import copy
import importlib.util
import math
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np


# ------------------------------------------------------------------- building
def load_config(config):
    """An MMEngine ``Config`` from a path (``kdkit.distill.cli.load_config``:
    repo-relative paths and ``mmpose::...`` work) or a copy of a Config; a
    missing or broken file raises a one-line error naming it."""
    from mmengine.config import Config

    from kdkit.distill.cli import load_config as load_run_config
    if isinstance(config, Config):
        return copy.deepcopy(config)
    try:
        return load_run_config(str(config))
    except (FileNotFoundError, ValueError):
        raise  # already one line and naming the file
    except Exception as e:  # syntax error, missing _base_, bad import
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ValueError(f'config: {config} cannot be read '
                         f'({type(e).__name__}: {reason[:160]})') from None


def student_model_cfg(cfg):
    """The plain student's model dict of ``cfg`` (a Config or its ``model``),
    a deep copy: a ``KDPoseEstimator`` loses ``teacher``/``distill``
    (``kdkit.distill.teacher.student_model_cfg``); other models come back as
    they are."""
    from kdkit.distill.teacher import student_model_cfg as plain_model_cfg
    model = cfg['model'] if 'model' in cfg else cfg
    return plain_model_cfg(copy.deepcopy(model))


def resolve_checkpoint(path) -> Path:
    """A checkpoint file; a work_dir gives its ``best_*.pth``, else the file
    its ``last_checkpoint`` names (``kdkit.distill.teacher.resolve_checkpoint``)."""
    from kdkit.distill.teacher import resolve_checkpoint as resolve, resolve_path
    return resolve(resolve_path(path, 'checkpoint'))  # 'checkpoint: X does not exist'


def _strip_pretrained(node) -> None:
    """Drop ``init_cfg=dict(type='Pretrained', ...)`` (nothing may download),
    so the module's own default init (e.g. Kaiming) applies instead."""
    if isinstance(node, dict):
        init = node.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            node.pop('init_cfg')
        for value in node.values():
            _strip_pretrained(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _strip_pretrained(value)


def build_student(config, checkpoint=None, device: str = 'cpu',
                  input_size=None):
    """The student pose estimator of ``config`` in eval mode, with the weights
    of ``checkpoint`` (None: random init, for tests); ``input_size`` (W, H)
    other than the config's goes through :func:`set_input_size`."""
    from mmpose.apis import init_model
    from mmpose.utils import register_all_modules

    register_all_modules()
    cfg = load_config(config)
    cfg.model = student_model_cfg(cfg)
    _strip_pretrained(cfg.model)
    if input_size is not None:
        set_input_size(cfg, input_size)
    if checkpoint is not None:
        checkpoint = resolve_checkpoint(checkpoint)
    # no weights: torch's default init (as mmpose.apis.init_model leaves it);
    # deep random nets in eval mode output almost constants, so tests that
    # compare outputs should save calibrated weights and pass a checkpoint
    model = init_model(cfg, checkpoint=None, device=device)
    if checkpoint is not None:
        from kdkit.utils.checkpoint import load_model_weights
        load_model_weights(model, checkpoint)  # one-line errors name the file
    return model.eval()


def _resize_codec(codec, w: int, h: int) -> None:
    old_w, old_h = codec['input_size']
    codec['input_size'] = (w, h)
    if 'heatmap_size' in codec:  # keep the output stride (4 for SimpleBaseline)
        sx, sy = old_w / codec['heatmap_size'][0], old_h / codec['heatmap_size'][1]
        codec['heatmap_size'] = (round(w / sx), round(h / sy))


def set_input_size(cfg, input_size) -> None:
    """Set the model input ``(W, H)`` everywhere the config bakes it in.

    Heatmap networks are fully convolutional (only the codec changes); a
    SimCC head (RTMPose) flattens a feature map of ``in_featuremap_size``, so
    its architecture changes too and trained weights no longer fit.
    """
    w, h = (int(v) for v in input_size)
    head = cfg.model.get('head', {})
    old_w = (cfg.get('codec') or head.get('decoder') or {}).get('input_size',
                                                                (w, h))[0]
    for codec in (cfg.get('codec'), head.get('decoder')):
        if codec and 'input_size' in codec:
            _resize_codec(codec, w, h)
    if 'input_size' in head:
        head['input_size'] = (w, h)
    if 'in_featuremap_size' in head:
        stride = old_w / head['in_featuremap_size'][0]
        head['in_featuremap_size'] = (math.ceil(w / stride),
                                      math.ceil(h / stride))


def codec_input_size(cfg) -> tuple[int, int]:
    """``(W, H)`` of the model input from the config's codec."""
    codec = cfg.get('codec') or cfg.model.head.get('decoder')
    if not codec or 'input_size' not in codec:
        raise ValueError('config has no codec.input_size; pass input_size')
    w, h = codec['input_size']
    return int(w), int(h)


# ------------------------------------------------------------------ exporting
def _output_names(outputs) -> list[str]:
    if not isinstance(outputs, (tuple, list)):
        return ['heatmaps']
    if len(outputs) == 2:
        return ['simcc_x', 'simcc_y']
    return [f'output_{i}' for i in range(len(outputs))]


def pick_exporter(exporter: str = 'auto') -> str:
    """'dynamo' if requested or onnxscript is importable, else 'torchscript'."""
    if exporter not in ('auto', 'dynamo', 'torchscript'):
        raise ValueError(f'unknown exporter {exporter!r}')
    if exporter == 'auto':
        return 'dynamo' if importlib.util.find_spec('onnxscript') \
            else 'torchscript'
    return exporter


def _torch_export(net, x, path: Path, names, opset: int, exporter: str):
    import torch
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # deprecation / tracer chatter
        if exporter == 'dynamo':
            torch.onnx.export(net, (x,), str(path), input_names=['input'],
                              output_names=names, opset_version=opset,
                              dynamo=True, external_data=False)
        else:
            torch.onnx.export(net, (x,), str(path), input_names=['input'],
                              output_names=names, opset_version=opset,
                              dynamo=False)


def _default_opset(model) -> int:
    """The opset the file really uses: the dynamo exporter may write a newer
    one than asked for when it cannot down-convert an op (e.g. Resize)."""
    return next(o.version for o in model.opset_import
                if o.domain in ('', 'ai.onnx'))


def _ort_outputs(path: Path, x: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort
    session = ort.InferenceSession(str(path),
                                   providers=['CPUExecutionProvider'])
    return session.run(None, {session.get_inputs()[0].name: x})


def compare_outputs(ort_outs, torch_outs, atol: float, rtol: float) -> tuple:
    """``(ok, max_abs_diff)`` of two output lists (allclose per output)."""
    ok, worst = True, 0.0
    for a, b in zip(ort_outs, torch_outs):
        if a.shape != b.shape:
            return False, float('inf')
        worst = max(worst, float(np.abs(a - b).max()))
        ok &= bool(np.allclose(a, b, atol=atol, rtol=rtol))
    return ok, worst


def export_onnx(config, checkpoint, out_path, input_size=None,
                opset: int = 17, check: bool = True, atol: float = 1e-4,
                rtol: float = 1e-3, exporter: str = 'auto',
                seed: int = 0) -> dict:
    """Export the (student) network of ``config`` to ``out_path``.

    Args:
        config: config path or Config; a KD config exports its student.
        checkpoint: weights file, or None for random weights (tests).
        out_path: the .onnx to write; written to a temp file in the same
            folder and renamed, so it is never half-written.
        input_size: ``(W, H)``; default the codec's ``input_size``.
        opset: ONNX opset asked for (the returned ``opset`` is the file's).
        check: compare ONNX Runtime with PyTorch on a seeded random input
            (``allclose(atol, rtol)``); a mismatch raises a one-line error.
        exporter: 'auto' | 'dynamo' | 'torchscript' (see module doc).

    Returns:
        ``dict(path, exporter, opset, input_shape (1, 3, H, W),
        output_names, output_shapes {name: shape}, max_abs_diff (None
        without check), max_abs_output (the scale of the outputs that diff
        is relative to; a random-init net in eval mode outputs near
        constants), preprocess (mean, std, bgr_to_rgb), codec)``.
    """
    import onnx
    import torch

    from kdkit.evaluation.complexity import TensorForward

    cfg = load_config(config)
    if input_size is not None:
        set_input_size(cfg, input_size)
    w, h = codec_input_size(cfg)
    model = build_student(cfg, checkpoint)
    net = TensorForward(model).eval()
    x = torch.randn(1, 3, int(h), int(w),
                    generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        ref = net(x)
    names = _output_names(ref)
    ref = [t.numpy() for t in (ref if isinstance(ref, (tuple, list))
                               else (ref,))]
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f'.{out_path.stem}.{os.getpid()}.tmp.onnx')
    used = pick_exporter(exporter)
    try:
        try:
            _torch_export(net, x, tmp, names, opset, used)
            onnx.checker.check_model(str(tmp))
        except Exception as e:  # unsupported op, checker failure...
            reason = (str(e).strip().splitlines() or [''])[0][:200]
            raise ValueError(f'{out_path}: {used} ONNX export failed '
                             f'({type(e).__name__}: {reason})') from e
        written_opset = _default_opset(onnx.load(str(tmp)))
        diff = None
        if check:
            ok, diff = compare_outputs(_ort_outputs(tmp, x.numpy()), ref,
                                       atol, rtol)
            if not ok:
                raise ValueError(f'{out_path}: ONNX Runtime output differs '
                                 f'from PyTorch (max abs diff {diff:.3g}, '
                                 f'atol {atol:g}, rtol {rtol:g})')
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return dict(path=str(out_path), exporter=used, opset=written_opset,
                input_shape=(1, 3, int(h), int(w)), output_names=names,
                output_shapes={n: tuple(r.shape) for n, r in zip(names, ref)},
                max_abs_diff=diff,
                max_abs_output=max(float(np.abs(r).max()) for r in ref),
                preprocess=_preprocess(cfg),
                codec=_export_codec(cfg, ref))


def _export_codec(cfg, outputs: list) -> dict | None:
    """The codec to decode the exported outputs with (see decode_outputs)."""
    codec = cfg.get('codec') or cfg.model.head.get('decoder')
    if codec is None:
        return None
    codec = copy.deepcopy(dict(codec))
    if 'heatmap_size' in codec and len(outputs) == 1:
        codec['heatmap_size'] = (outputs[0].shape[-1], outputs[0].shape[-2])
    return codec


def _preprocess(cfg) -> dict:
    pre = cfg.model.get('data_preprocessor', {}) or {}
    return dict(mean=pre.get('mean'), std=pre.get('std'),
                bgr_to_rgb=pre.get('bgr_to_rgb', False))


# ------------------------------------------------------------------- decoding
def decode_outputs(outputs, codec_cfg, bbox_center: Sequence | None = None,
                   bbox_scale: Sequence | None = None) -> tuple:
    """Key points from raw network outputs with MMPose's codec.

    Args:
        outputs: ``heatmaps`` (N, K, h, w), or ``[heatmaps]``, or
            ``(simcc_x (N, K, Wx), simcc_y (N, K, Wy))`` - e.g. what an ONNX
            Runtime session returns.
        codec_cfg: the config's ``codec`` dict (MSRAHeatmap, SimCCLabel...).
        bbox_center, bbox_scale: (N, 2) (or (2,)) of each crop; if given the
            key points are mapped back to the image.

    Returns:
        ``(keypoints (N, K, 2), scores (N, K))``, in input-crop pixels, or
        image pixels with ``bbox_center``/``bbox_scale``.
    """
    from mmpose.registry import KEYPOINT_CODECS
    from mmpose.utils import register_all_modules

    register_all_modules()
    codec = KEYPOINT_CODECS.build(copy.deepcopy(dict(codec_cfg)))
    outs = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
    outs = [np.asarray(o, dtype=np.float32) for o in outs]
    if len(outs) == 1:  # heatmaps: the codec decodes one (K, h, w) at a time
        decoded = [codec.decode(hm)[:2] for hm in outs[0]]
        kpts = np.concatenate([d[0] for d in decoded])
        scores = np.concatenate([d[1] for d in decoded])
    elif len(outs) == 2:
        kpts, scores = codec.decode(outs[0], outs[1])[:2]
    else:
        raise ValueError(f'expected heatmaps or (simcc_x, simcc_y), got '
                         f'{len(outs)} outputs')
    kpts = np.asarray(kpts, dtype=np.float64)[..., :2]
    if bbox_center is not None and bbox_scale is not None:
        input_size = np.asarray(codec_cfg['input_size'], dtype=np.float64)
        center = np.asarray(bbox_center, dtype=np.float64).reshape(-1, 1, 2)
        scale = np.asarray(bbox_scale, dtype=np.float64).reshape(-1, 1, 2)
        kpts = kpts / input_size * scale + center - 0.5 * scale
    return kpts, np.asarray(scores, dtype=np.float64)
