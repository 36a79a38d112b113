"""An ONNX pose model as the teacher, run by ONNX Runtime on the CPU.

    custom_hooks = [dict(
        type='DistillLossHook',
        teacher=dict(type='onnx', file='work_dirs/teacher.onnx', input_size=(96, 128),
                     output='heatmap', mean=[123.675, 116.28, 103.53],
                     std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
                     metainfo=dict(from_file='configs/_base_/datasets/coco.py')),
        terms=dict(kd_heatmap=dict(type='HeatmapMSEDistillLoss')),
        weights=dict(gt=1.0, kd_heatmap=1.0))]

:class:`OnnxPoseTeacher` behaves as :class:`~kdkit.distill.teacher.FrozenTeacher`
for the Distiller: called on the student's normalised batch it returns
``{'heatmap' | 'simcc': ...}`` on the student's grid and key points (no
``'feature'``: feature terms need an MMPose teacher).

The teacher dict (required keys first):

- ``type='onnx'``;
- ``file``: the ``.onnx`` file (as given or relative to the kdkit checkout):
  one NCHW float32 input; a fixed batch dimension (``kdkit export`` writes 1)
  is fed in chunks of that size, the last one padded with zeros;
- ``input_size``: ``(w, h)`` of the model's input crop;
- ``output``: what the graph returns, ``'heatmap'`` (one (N, K, H, W)
  output), ``'simcc'`` (x (N, K, round(w r)) then y (N, K, round(h r))
  logits) or ``'keypoints'`` ((N, K, 2) key points in input pixels and
  (N, K) scores, in either order);
- ``mean``, ``std``, ``bgr_to_rgb``: the normalisation the model was trained
  with, as MMPose's data preprocessor applies it (channels swapped if
  ``bgr_to_rgb``, then ``(x - mean) / std``; ``mean=None, std=None``: raw
  pixels). An .onnx file does not hold them and kdkit does not guess them;
  ``kdkit export`` returns them as ``preprocess``;
- ``simcc_split_ratio`` (``output='simcc'`` only, default 2.0): bins per pixel r;
- ``udp`` (default False): trained with ``TopdownAffine(use_udp=True)``
  (a heatmap teacher's grid is then UDPHeatmap's);
- ``metainfo``, ``keypoint_map``: the key-point names and how they teach the
  student's, as for an MMPose teacher (:class:`~kdkit.distill.DistillLossHook`);
- ``intra_op_num_threads``: ONNX Runtime's threads per operator (default:
  its own choice, one per physical core).

Inputs: the student's batch ``x_s`` becomes ``x_t = resample(x_s[c] * scale
+ shift)``: ``c`` the channel swap when exactly one of the two swaps
(:func:`~kdkit.distill.teacher.channel_order`), ``(scale, shift)`` undoing the
student's mean/std and applying the declared one
(:func:`~kdkit.distill.teacher.normalisation_affine`), ``resample`` the
student's crop at the teacher's ``input_size`` (:mod:`kdkit.distill.mapping`).

Outputs onto the student:

- ``'heatmap'``: its grid is MSRAHeatmap's (UDPHeatmap's with ``udp``) of the
  model's H x W; ``'simcc'``: SimCCLabel's with ratio r. Both are mapped as
  an MMPose teacher's (:func:`~kdkit.distill.mapping.plan_alignment`);
- ``'keypoints'``: turned into the student's own target kind, so the heatmap
  and SimCC losses apply unchanged. A teacher key point at input pixel
  ``x_t`` sits at ``x_s = x_t D_s / D_t`` in the student's crop (``D = n``,
  ``n - 1`` with UDP; mapping module doc), its score ``s`` clipped to [0, 1]:

  * heatmap student: ``s * exp(-((i - mu_x)^2 + (j - mu_y)^2) / 2 sigma^2)``,
    the Gaussian of the student codec (``head.decoder``: MSRAHeatmap,
    UDPHeatmap...) around the key point's cell ``mu = x_s / c`` (``c`` input
    pixels per cell), its sigma in cells; the centre is not rounded (unlike
    the codec's labels), so a map peaks at ``s`` when ``mu`` falls on a cell;
  * SimCC student: logits ``a_j = T_0 log(s g_j + (1 - s) / W)``, with
    ``g_j = exp(-(j - mu)^2 / 2 sigma^2) / sum_j(...)``, ``mu = x_s r`` (not
    rounded, unlike SimCCLabel), ``sigma`` and ``r`` the student codec's and
    ``T_0 = 0.1``: at SimCCKLDistillLoss's default temperature
    ``softmax(a / T_0) = s g + (1 - s) / W``, the label Gaussian blended
    with a uniform by the score;

  a key point with no part of its Gaussian within 3 sigma of the grid (the
  codecs' rule) counts as ``s = 0``: an all-zero heatmap, a uniform SimCC.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Optional

import numpy as np
import onnxruntime as ort
import torch
from mmpose.codecs import MSRAHeatmap, SimCCLabel, UDPHeatmap
from mmpose.models.data_preprocessors import PoseDataPreprocessor

from kdkit.distill.mapping import (Geometry, ModelView, TeacherAlignment,
                                  check_keypoint_map_spec, geometry, keypoint_names,
                                  model_view, plan_alignment)
from kdkit.distill.teacher import (channel_order, move_input_maps, normalisation_affine,
                                   resolve_path)
from kdkit.losses.utils import LABEL_TEMPERATURE, gaussian_maps, log_gaussian

OUTPUT_KINDS = ('heatmap', 'simcc', 'keypoints')
REQUIRED_KEYS = ('type', 'file', 'input_size', 'output', 'mean', 'std', 'bgr_to_rgb')
OPTIONAL_KEYS = ('simcc_split_ratio', 'udp', 'metainfo', 'keypoint_map',
                 'intra_op_num_threads')
SPEC_KEYS = REQUIRED_KEYS + OPTIONAL_KEYS
FORM = ("dict(type='onnx', file='x.onnx', input_size=(w, h), output='heatmap'|'simcc'|"
        "'keypoints', mean=[3 values] or None, std=[3 values] or None, bgr_to_rgb=True|False"
        "[, simcc_split_ratio=2.0, udp=False, metainfo=..., keypoint_map=..., "
        'intra_op_num_threads=None])')
DEFAULT_SPLIT_RATIO = 2.0


def _one_line(e: BaseException, limit: int = 200) -> str:
    return f'{type(e).__name__}: {" ".join(str(e).split())[:limit]}'


# ------------------------------------------------------------------ the dict
def check_onnx_spec(spec: dict, field: str = 'teacher') -> None:
    """The form of a ``type='onnx'`` teacher dict, in one line naming the
    key (what the file holds is checked when the teacher is built)."""
    missing = [k for k in REQUIRED_KEYS if k not in spec]
    if missing:
        raise ValueError(f'{field}: missing {missing}; expected {FORM}')
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f'{field}: unknown keys {unknown} for an ONNX teacher (expected '
                         f'{", ".join(SPEC_KEYS)})')
    if spec['type'] != 'onnx':
        raise ValueError(f"{field}.type: expected 'onnx', got {spec['type']!r}")
    if not isinstance(spec['file'], (str, Path)) or not str(spec['file']):
        raise ValueError(f"{field}.file: expected the path of a .onnx file, got {spec['file']!r}")
    size = spec['input_size']
    if not (isinstance(size, (list, tuple)) and len(size) == 2
            and all(_is_int(v) and v > 0 for v in size)):
        raise ValueError(f'{field}.input_size: expected (w, h), two positive ints, got {size!r}')
    if spec['output'] not in OUTPUT_KINDS:
        raise ValueError(f"{field}.output: expected 'heatmap', 'simcc' or 'keypoints', "
                         f"got {spec['output']!r}")
    _check_mean_std(spec['mean'], spec['std'], field)
    for key in ('bgr_to_rgb', 'udp'):
        if not isinstance(spec.get(key, False), bool):
            raise ValueError(f'{field}.{key}: expected True or False, got {spec[key]!r}')
    if 'simcc_split_ratio' in spec:
        ratio = spec['simcc_split_ratio']
        if spec['output'] != 'simcc':
            raise ValueError(f"{field}.simcc_split_ratio: only for output='simcc' "
                             f"(output is {spec['output']!r})")
        if not _is_number(ratio) or ratio <= 0:
            raise ValueError(f'{field}.simcc_split_ratio: expected a number > 0, got {ratio!r}')
    threads = spec.get('intra_op_num_threads')
    if threads is not None and not (_is_int(threads) and threads >= 1):
        raise ValueError(f'{field}.intra_op_num_threads: expected an int >= 1 or None, '
                         f'got {threads!r}')
    check_keypoint_map_spec(spec.get('keypoint_map'), f'{field}.keypoint_map')


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return (isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
            and math.isfinite(float(v)))


def _check_mean_std(mean, std, field: str) -> None:
    if (mean is None) != (std is None):
        raise ValueError(f'{field}.mean/std: give both (3 values each) or neither (None: '
                         f'raw pixels), got mean={mean!r}, std={std!r}')
    for key, values in (('mean', mean), ('std', std)):
        if values is None:
            continue
        if not (isinstance(values, (list, tuple)) and len(values) == 3
                and all(_is_number(v) for v in values)):
            raise ValueError(f'{field}.{key}: expected 3 numbers (per channel) or None, '
                             f'got {values!r}')
    if std is not None and any(v <= 0 for v in std):
        raise ValueError(f'{field}.std: expected values > 0, got {std!r}')


# ------------------------------------------------------------ the ORT model
class OrtModel:
    """An ONNX Runtime session on the CPU with one NCHW float32 input.

    ``run`` feeds a batch in chunks of the model's fixed batch size (whole
    when it is dynamic); every error is one line naming ``field.file``.
    """

    def __init__(self, path: Path, threads: Optional[int] = None, field: str = 'teacher'):
        self.path, self.field = Path(path), field
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # errors only: a file it cannot run raises anyway
        if threads:
            opts.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=opts,
                                                providers=['CPUExecutionProvider'])
        except Exception as e:  # noqa: BLE001  (InvalidProtobuf, Fail, InvalidGraph...)
            raise ValueError(f'{field}.file: {self.path} is not an ONNX model ONNX Runtime '
                             f'can load ({_one_line(e)})') from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ValueError(f'{field}.file: {self.path.name} has {len(inputs)} inputs '
                             f'({", ".join(i.name for i in inputs)}); expected one NCHW image')
        self.input = inputs[0]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.digest = file_sha256(self.path)

    @property
    def fixed_batch(self) -> Optional[int]:
        """The model's batch size when its graph fixes it, else None."""
        n = self.input.shape[0] if self.input.shape else None
        return n if isinstance(n, int) and n > 0 else None

    def check_input(self, input_size) -> None:
        """The input is a float32 (N, 3, h, w) for the declared (w, h)."""
        shape, (w, h) = list(self.input.shape), input_size
        if self.input.type != 'tensor(float)':
            raise ValueError(f'{self.field}.file: {self.path.name} takes {self.input.type}, '
                             'expected tensor(float) (float32 NCHW)')
        if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
            raise ValueError(f'{self.field}.file: {self.path.name} takes an input of shape '
                             f'{shape}, expected (N, 3, h, w)')
        fixed = [d if isinstance(d, int) else None for d in shape[2:]]
        if any(d is not None and d != want for d, want in zip(fixed, (h, w))):
            raise ValueError(f'{self.field}.input_size: ({w}, {h}) but {self.path.name} takes '
                             f'inputs of shape {shape} (N, 3, h, w)')

    def run(self, x: np.ndarray) -> list:
        """Outputs for the (B, 3, h, w) float32 batch ``x``, each (B, ...)."""
        step = self.fixed_batch
        if step is None or step == len(x):
            return self._run(x)
        chunks = []
        for i in range(0, len(x), step):
            part = x[i:i + step]
            if len(part) < step:  # the graph takes exactly `step` rows
                pad = np.zeros((step - len(part),) + x.shape[1:], dtype=x.dtype)
                part = np.concatenate([part, pad])
            chunks.append(self._run(part))
        return [np.concatenate(outs)[:len(x)] for outs in zip(*chunks)]

    def _run(self, x: np.ndarray) -> list:
        try:
            return self.session.run(None, {self.input.name: np.ascontiguousarray(x)})
        except Exception as e:  # noqa: BLE001  (ORT raises its own exception types)
            raise ValueError(f'{self.field}.file: ONNX Runtime failed on a batch of shape '
                             f'{tuple(x.shape)} with {self.path.name} ({_one_line(e)})') from None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------- output layouts
def output_layout(kind: str, shapes: list, input_size, ratio: float, names: list,
                  field: str) -> dict:
    """Check the model's output shapes (from one probe batch) against the
    declared ``output`` kind; return ``dict(num_keypoints, grid (W, H) or
    None, order)`` with ``order`` the output indices in the kind's order."""
    shown = ', '.join(f'{n} {tuple(s)}' for n, s in zip(names, shapes))
    got = f'the model gives {len(shapes)} output(s): {shown}'
    ranks = [len(s) for s in shapes]
    if kind == 'heatmap':
        if ranks != [4]:
            raise ValueError(f"{field}.output: 'heatmap' expects one (N, K, H, W) output; {got}")
        _, k, h, w = shapes[0]
        return dict(num_keypoints=k, grid=(w, h), order=[0])
    if kind == 'simcc':
        if ranks != [3, 3] or shapes[0][1] != shapes[1][1]:
            raise ValueError(f"{field}.output: 'simcc' expects two outputs, x (N, K, Wx) then "
                             f'y (N, K, Wy); {got}')
        w, h = input_size
        want = (round(w * ratio), round(h * ratio))
        bins = (shapes[0][2], shapes[1][2])
        if bins != want:
            raise ValueError(f'{field}.simcc_split_ratio: {ratio:g} at input_size ({w}, {h}) '
                             f'means {want[0]} x bins and {want[1]} y bins (x first); {got}')
        return dict(num_keypoints=shapes[0][1], grid=bins, order=[0, 1])
    if sorted(ranks) != [2, 3]:
        raise ValueError(f"{field}.output: 'keypoints' expects two outputs, (N, K, 2) key "
                         f'points and (N, K) scores; {got}')
    i_kpt, i_score = (0, 1) if ranks[0] == 3 else (1, 0)
    kpt, score = shapes[i_kpt], shapes[i_score]
    if kpt[2] != 2 or tuple(kpt[:2]) != tuple(score):
        raise ValueError(f"{field}.output: 'keypoints' expects (N, K, 2) key points and "
                         f'(N, K) scores; {got}')
    return dict(num_keypoints=kpt[1], grid=None, order=[i_kpt, i_score])


def teacher_codec(kind: str, input_size, grid, ratio: float, udp: bool):
    """The MMPose codec whose grid the teacher's outputs lie on (its sigma
    is never used). 'keypoints' get a 1-bin-per-pixel SimCC grid: only its
    input crop counts (mapping's input resampling and aspect check)."""
    size = tuple(int(v) for v in input_size)
    if kind == 'heatmap':
        codec = UDPHeatmap if udp else MSRAHeatmap
        return codec(input_size=size, heatmap_size=tuple(int(v) for v in grid), sigma=2.0)
    return SimCCLabel(input_size=size, sigma=6.0,
                      simcc_split_ratio=ratio if kind == 'simcc' else 1.0)


def declared_names(metainfo, num_keypoints: int, path: Path, field: str):
    """(names, dataset name) of the teacher dict's ``metainfo``; their count
    must be the model's."""
    try:
        names, dataset_name = keypoint_names(metainfo)
    except Exception as e:  # noqa: BLE001  (a file or dict MMPose cannot parse)
        raise ValueError(f'{field}.metainfo: cannot read key-point names from {metainfo!r} '
                         f'({_one_line(e, 120)}); expected dict(from_file=...), a metainfo '
                         'dict, a file path or a list of names') from None
    if names is not None and len(names) != num_keypoints:
        raise ValueError(f'{field}.metainfo: {len(names)} key-point names '
                         f'({dataset_name or ", ".join(names[:3])}) but {path.name} predicts '
                         f'{num_keypoints} key points')
    return names, dataset_name


# --------------------------------------------------------- key points render
class KeypointRenderer:
    """Key points + scores (student crop pixels) -> the student's targets.

    A key point at crop pixel x sits at cell ``mu = x / c`` of the student's
    grid (``c`` input pixels per cell: the codec's stride, (n - 1) / (N - 1)
    for UDP, 1 / r for SimCC; :class:`~kdkit.distill.mapping.Geometry`), per
    axis ``log g_j = -(j - mu)^2 / 2 sigma^2`` (``sigma`` in cells, the
    student codec's). Heatmap: ``s * g_x g_y`` (the codecs' Gaussian, its
    centre not rounded nor cut at 3 sigma); SimCC: the logits of the module
    doc. A key point whose Gaussian has no part within 3 sigma of the grid
    (the codecs' rule) gets s = 0.
    """

    def __init__(self, grid: Geometry, sigma):
        self.kind, self.codec = grid.kind, grid.codec
        self.size, self.cell = grid.grid, grid.cell
        self.sigma = tuple(float(v) for v in np.broadcast_to(np.asarray(sigma, float), (2,)))

    def __call__(self, kpts: torch.Tensor, scores: torch.Tensor) -> dict:
        """kpts (B, K, 2), scores (B, K) -> ``{'heatmap': (B, K, H, W)}`` or
        ``{'simcc': (x (B, K, W), y (B, K, H))}``."""
        mu = kpts.float() / kpts.new_tensor(self.cell, dtype=torch.float32)
        scores = torch.nan_to_num(scores.float(), nan=0.0).clamp(0, 1)
        scores = scores.masked_fill(self.off_grid(mu), 0.0)
        if self.kind == 'heatmap':
            return {'heatmap': scores[..., None, None]
                    * gaussian_maps(mu, self.size[::-1], self.sigma)}
        log_gx, log_gy = (log_gaussian(mu[..., a], self.sigma[a], self.size[a])
                          for a in (0, 1))
        return {'simcc': (self.simcc_logits(log_gx, scores), self.simcc_logits(log_gy, scores))}

    def off_grid(self, mu: torch.Tensor) -> torch.Tensor:
        """(B, K) True where no part of the Gaussian lies within 3 sigma of the grid."""
        off = torch.zeros(mu.shape[:-1], dtype=torch.bool, device=mu.device)
        for a in (0, 1):
            r = 3 * self.sigma[a]
            off |= (mu[..., a] - r >= self.size[a]) | (mu[..., a] + r + 1 < 0)
        return off

    @staticmethod
    def simcc_logits(log_g: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """a_j = T_0 log(s g_j + (1 - s) / n), g normalised, in log space
        (finite where g underflows): logaddexp(log s + log g_j, log(1 - s) - log n)."""
        log_g = log_g - torch.logsumexp(log_g, dim=-1, keepdim=True)
        s = s[..., None]
        log_p = torch.logaddexp(torch.log(s) + log_g,
                                torch.log1p(-s) - math.log(log_g.shape[-1]))
        return LABEL_TEMPERATURE * log_p


# ---------------------------------------------------------------- teacher
class OnnxPoseTeacher:
    """An ONNX pose model called on the student's inputs (module doc).

    Args:
        model: the :class:`OrtModel`.
        kind: the declared ``output`` ('heatmap', 'simcc', 'keypoints').
        layout: :func:`output_layout` of the model's outputs.
        input_affine, input_channels: as :class:`~kdkit.distill.teacher.FrozenTeacher`'s.
        alignment: the :class:`~kdkit.distill.mapping.TeacherAlignment` onto
            the student (for 'keypoints' only its key-point and input maps).
        renderer: a :class:`KeypointRenderer` ('keypoints' only).
        preprocess: the declared ``(mean, std, bgr_to_rgb)`` (for the fingerprint).
    """

    def __init__(self, model: OrtModel, kind: str, layout: dict, input_affine=None,
                 alignment: Optional[TeacherAlignment] = None, input_channels=None,
                 renderer: Optional[KeypointRenderer] = None, preprocess=None):
        self.model, self.kind, self.layout = model, kind, layout
        self.input_affine = input_affine
        self.alignment = None if alignment is None or alignment.is_identity else alignment
        self.input_channels = None if input_channels is None else list(input_channels)
        self.renderer = renderer
        self.preprocess = preprocess
        self.device = torch.device('cpu')

    @classmethod
    def from_spec(cls, spec: dict, student=None, *, student_meta=None, student_cfg=None,
                  field: str = 'teacher') -> 'OnnxPoseTeacher':
        """Load, probe (one zero batch) and map an ONNX teacher onto ``student``.

        Args:
            spec: the teacher dict (module doc).
            student: the student model; without it inputs are taken as the
                teacher's own and outputs returned as they are ('keypoints'
                need it: they are rendered on its grid).
            student_meta: the metainfo of the student's training data (its
                key-point names); student_cfg: the run's config (its crop).
            field: the teacher dict's place in the config, for messages.
        """
        check_onnx_spec(spec, field)
        kind, (w, h) = spec['output'], spec['input_size']
        ratio = float(spec.get('simcc_split_ratio', DEFAULT_SPLIT_RATIO))
        path = resolve_path(spec['file'], f'{field}.file')
        if isinstance(path, str):  # a URL or a package path: nothing to run
            raise ValueError(f'{field}.file: expected a local .onnx file, got {path}')
        if not path.is_file():
            raise FileNotFoundError(f'{field}.file: {path} is not a file')
        model = OrtModel(path, spec.get('intra_op_num_threads'), field)
        model.check_input((w, h))
        probe = model.run(np.zeros((model.fixed_batch or 1, 3, h, w), np.float32))
        layout = output_layout(kind, [o.shape for o in probe], (w, h), ratio,
                               model.output_names, field)
        layout['shapes'] = [tuple(o.shape[1:]) for o in probe]
        names, dataset_name = declared_names(spec.get('metainfo'), layout['num_keypoints'],
                                             path, field)
        udp = bool(spec.get('udp', False))
        view = ModelView(layout['num_keypoints'], names, dataset_name,
                         teacher_codec(kind, (w, h), layout['grid'], ratio, udp), udp)
        pre = PoseDataPreprocessor(mean=spec['mean'], std=spec['std'],
                                   bgr_to_rgb=spec['bgr_to_rgb'])
        preprocess = (spec['mean'], spec['std'], spec['bgr_to_rgb'])
        if student is None:
            if kind == 'keypoints':
                raise ValueError(f"{field}.output: 'keypoints' are rendered on the student's "
                                 'grid; build the teacher with student=...')
            return cls(model, kind, layout, preprocess=preprocess)
        s_view = model_view(student, student_cfg, student_meta, 'student')
        alignment = plan_alignment(view, s_view, spec.get('keypoint_map'), field)
        renderer = None
        if kind == 'keypoints':
            alignment, renderer = keypoint_plan(alignment, view, s_view, field)
        return cls(model, kind, layout,
                   normalisation_affine(student.data_preprocessor, pre), alignment,
                   channel_order(student.data_preprocessor, pre), renderer, preprocess)

    @property
    def keypoint_mask(self) -> Optional[torch.Tensor]:
        """(K,) over the student's key points: 0 where the teacher has no
        counterpart; None when every key point is distilled."""
        return None if self.alignment is None else self.alignment.keypoint_mask

    def describe(self) -> str:
        """How the teacher is mapped onto the student ('' when it is not)."""
        parts = [self.alignment.describe()] if self.alignment is not None else []
        if self.input_channels is not None:
            parts.append(f'input channels {self.input_channels} (bgr_to_rgb differs)')
        if self.renderer is not None:
            r = self.renderer
            parts.append(f"key points rendered as the student's {r.kind} ({r.codec} "
                         f'{r.size[0]}x{r.size[1]}, sigma {r.sigma[0]:g}x{r.sigma[1]:g})')
        return '; '.join(p for p in parts if p)

    def to(self, device) -> 'OnnxPoseTeacher':
        """Keep the input maps on ``device`` (the student's). ONNX Runtime runs
        on the CPU; the outputs come back on the inputs' device."""
        self.device = torch.device(device)
        move_input_maps(self, device)
        return self

    @torch.no_grad()
    def __call__(self, inputs: torch.Tensor) -> dict:
        """``{'heatmap'|'simcc': outputs}`` for the student's (normalised)
        (B, 3, h_s, w_s) inputs, on the student's grid and key points, on
        the inputs' device."""
        outs = self.model.run(self.teacher_inputs(inputs).float().cpu().numpy())
        self.check_outputs(outs)
        outs = [torch.from_numpy(outs[i]).float().to(inputs.device)
                for i in self.layout['order']]
        if self.kind == 'keypoints':
            return self.render(*outs)
        out = {'heatmap': outs[0]} if self.kind == 'heatmap' else {'simcc': tuple(outs)}
        return out if self.alignment is None else self.alignment.outputs(out)

    def teacher_inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """x_t = resample(x_s[channels] * scale + shift) (module doc)."""
        if self.input_channels is not None:
            inputs = inputs[:, self.input_channels]
        if self.input_affine is not None:
            scale, shift = self.input_affine
            inputs = inputs * scale.to(inputs.device) + shift.to(inputs.device)
        if self.alignment is not None:
            inputs = self.alignment.inputs(inputs)
        return inputs

    def check_outputs(self, outs: list) -> None:
        """The outputs of a batch have the shapes of the probe batch's."""
        got = [tuple(o.shape[1:]) for o in outs]
        if got != self.layout['shapes']:
            raise ValueError(f'{self.model.field}.output: {self.model.path.name} gave outputs '
                             f"of shapes {got} (after the batch), {self.layout['shapes']} "
                             'on the probe batch; a model with input-dependent output shapes '
                             'is unsupported')

    def render(self, kpts: torch.Tensor, scores: torch.Tensor) -> dict:
        """Teacher key points -> the student's key points, crop and targets."""
        if self.alignment is not None and self.alignment.index is not None:
            index = self.alignment.index.to(kpts.device)
            kpts, scores = kpts.index_select(1, index), scores.index_select(1, index)
            if self.alignment.mask is not None:
                scores = scores * self.alignment.mask.to(scores)
        if self.alignment is not None and self.alignment.input_map is not None:
            kpts = kpts * kpts.new_tensor(self.alignment.input_map.scale)  # x_s = x_t D_s / D_t
        return self.renderer(kpts, scores)

    def fingerprint(self) -> str:
        """SHA-256 over the .onnx file's bytes, the declared output kind and
        preprocessing, and the mapping onto the student (so a teacher-output
        cache of another file or mapping is not reused)."""
        h = hashlib.sha256(self.model.digest.encode())
        h.update(f'{self.kind} {self.preprocess!r} {self.layout["shapes"]!r}'.encode())
        if self.describe():
            h.update(self.describe().encode())
        return h.hexdigest()


def keypoint_plan(alignment: TeacherAlignment, teacher: ModelView, student: ModelView,
                  field: str) -> tuple:
    """For ``output='keypoints'``: the alignment's key-point and input maps
    (its output grid does not apply) and the renderer on the student's grid."""
    gs = geometry(student)
    sigma = getattr(student.codec, 'sigma', None)
    if gs is None or sigma is None:
        name = type(student.codec).__name__ if student.codec is not None else 'no codec'
        raise ValueError(f"{field}.output: 'keypoints' become the student's heatmap or SimCC "
                         f'targets, but the student has {name} (no heatmap or SimCC grid '
                         'with a Gaussian sigma)')
    w, h = teacher.codec.input_size
    line = (f'teacher {w}x{h} input{" (UDP)" if teacher.udp else ""}, key points -> '
            f'student {gs.describe()}')
    kept = TeacherAlignment(alignment.keypoints, alignment.input_map, None, 'keypoints',
                            student.names, line)
    return kept, KeypointRenderer(gs, sigma)
