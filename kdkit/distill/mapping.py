"""A teacher from elsewhere mapped onto the student: key points by name, crops, output grids.

A model-zoo teacher may predict another key-point set (COCO-WholeBody-133,
Halpe-26, PoseTrack18's head points) and may work at another input size or
with UDP. :func:`plan_alignment` works the maps out once, from the two
models' codecs, pipelines and dataset metainfo (:class:`ModelView`), and
:class:`TeacherAlignment` applies them to every batch inside
:class:`~kdkit.distill.teacher.FrozenTeacher`, so every loss term, synthesis
rule and the teacher-output cache see teacher outputs on the student's grid
and key points.

Key points, by name (MMPose's ``parse_pose_metainfo`` names). The teacher's
names come from its config's dataset metainfo (or the teacher dict's
``metainfo``), the student's from the run's training dataset. Identical
names: nothing to map. The student's names all among the teacher's (a
COCO-WholeBody, Halpe or DWPose/RTMW teacher for a COCO student): picked by
name. Otherwise ``keypoint_map`` says what to do (:func:`resolve_keypoint_map`);
student key points the teacher does not have are masked out of the KD terms
(:attr:`TeacherAlignment.keypoint_mask`, multiplied into the terms' (B, K)
weights by the Distiller).

Crops. Both models crop the same box with MMPose's ``TopdownAffine``, which
first pads the box to the input's aspect ratio w / h: inputs of equal aspect
see the same region of the image, at different resolutions (other aspects:
unsupported, one-line error). Let u in [0, 1] be the position across the box
on one axis and n the input's pixels on it (w or h). Input pixel i sits at

    u = i / D,   D = n       (``get_warp_matrix``: box edges at pixels 0 and n)
                 D = n - 1   (``use_udp=True``, ``get_udp_warp_matrix``: at 0 and n - 1)

Output grids. A codec puts output cell j at input pixel x = j * c:

    MSRAHeatmap, MegviiHeatmap (DARK too)   c = n / N               (N heatmap cells)
    UDPHeatmap                              c = (n - 1) / (N - 1)
    SimCCLabel                              c = 1 / k               (N = round(n k) bins,
                                                                     k = simcc_split_ratio)

so cell j sits at u = j * g, g = c / D. Every case puts index 0 on u = 0, so
both maps are pure scalings, per axis:

    student cell  j_s reads the teacher output at  j_t = j_s * g_s / g_t
    teacher pixel i_t reads the student input at   i_s = i_t * D_s / D_t

read by linear interpolation, the last cell repeated past the edge
(:func:`~kdkit.losses.utils.resample_linear` with that scale). On x, a
256x192 MSRA teacher (48 cells, g_t = 1/48) onto a 128x96 MSRA student (24
cells, g_s = 4/96 = 1/24): j_t = 2 j_s; a UDP teacher there (c = 191/47,
D = 191, g_t = 1/47): j_t = 47/24 j_s; the teacher's input pixel i_t reads
the student's at i_t * 96/192 (at i_t * 96/191 for a UDP teacher).

A SimCC student has no heatmap grid: a heatmap teacher is mapped onto a
virtual MSRA grid over the student's crop with the teacher's cell count
(c = n_s / N_t), the grid :class:`~kdkit.losses.HeatmapToSimCCDistillLoss`
assumes. A SimCC teacher's logits are interpolated as logits (each loss
applies its own temperature afterwards); at integer positions this equals
resampling the softened distribution and renormalising, as
:func:`~kdkit.losses.utils.resample_distribution` does.

What is not exact: the teacher sees the student's crop resampled to its own
input size (geometry exact, detail that of the student's resolution; a
smaller teacher sees it point-sampled, without anti-aliasing), and a
downsampled heatmap keeps its blob, narrower in student cells.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from torch import Tensor

from kdkit.losses.utils import resample_linear

AUTO = 'auto'
# the loaders whose dataset metainfo and crop a model's config describes,
# most relevant first: a teacher predicts on test crops, a student trains
LOADERS = {'teacher': ('test_dataloader', 'val_dataloader', 'train_dataloader'),
           'student': ('train_dataloader', 'val_dataloader', 'test_dataloader')}


# ------------------------------------------------------------ model views
@dataclass
class ModelView:
    """What the alignment needs to know of one model (teacher or student).

    num_keypoints: the head's ``out_channels``; names: key-point names by
    index (None when unknown); dataset_name: for messages; codec: the built
    MMPose codec (the head's decoder) or None; udp: ``TopdownAffine.use_udp``
    of its pipeline, None when unknown (then: whether the codec is UDPHeatmap).
    """

    num_keypoints: Optional[int]
    names: Optional[list]
    dataset_name: str = ''
    codec: object = None
    udp: Optional[bool] = None


def keypoint_names(metainfo) -> tuple[Optional[list], str]:
    """(names by index, dataset name) of a metainfo: parsed (a dataset's
    ``metainfo``), raw (``dict(from_file=...)``, a ``keypoint_info`` dict), a
    metainfo file path or a list of names; (None, '') when it has none."""
    if metainfo is None:
        return None, ''
    if isinstance(metainfo, (list, tuple)):
        return [str(n) for n in metainfo], ''
    if isinstance(metainfo, str):
        metainfo = dict(from_file=metainfo)
    metainfo = dict(metainfo)
    if 'keypoint_id2name' not in metainfo:
        if 'from_file' not in metainfo and 'keypoint_info' not in metainfo:
            return None, ''
        metainfo = parse_pose_metainfo(metainfo)
    id2name = metainfo['keypoint_id2name']
    return [id2name[i] for i in range(len(id2name))], str(metainfo.get('dataset_name', ''))


def _dataset_metainfo(ds_cfg):
    """The metainfo a dataset config will resolve: its own ``metainfo``
    (a CombinedDataset's too), a wrapped dataset's, or its class's METAINFO."""
    from mmengine.registry import DefaultScope
    from mmpose.registry import DATASETS
    if not isinstance(ds_cfg, dict):
        return None
    if ds_cfg.get('metainfo'):
        return ds_cfg['metainfo']
    if isinstance(ds_cfg.get('dataset'), dict):  # RepeatDataset and the like
        return _dataset_metainfo(ds_cfg['dataset'])
    kind = ds_cfg.get('type')
    with DefaultScope.overwrite_default_scope('mmpose'):
        cls = DATASETS.get(kind) if isinstance(kind, str) else kind
    return getattr(cls, 'METAINFO', None)


def config_keypoint_names(cfg, role: str) -> tuple[Optional[list], str]:
    """Key-point names of the dataset a config trains or tests on."""
    for loader in LOADERS[role]:
        ds = (cfg.get(loader) or {}).get('dataset')
        try:
            names, dataset_name = keypoint_names(_dataset_metainfo(ds))
        except Exception:  # noqa: BLE001  (an unusual metainfo: its dataset will say)
            continue
        if names:
            return names, dataset_name
    return None, ''


def _affine_udp(transforms) -> Optional[bool]:
    for t in transforms or ():
        if isinstance(t, dict) and t.get('type') in ('TopdownAffine', 'mmpose.TopdownAffine'):
            return bool(t.get('use_udp', False))
    return None


def _dataset_udp(ds_cfg) -> Optional[bool]:
    if not isinstance(ds_cfg, dict):
        return None
    udp = _affine_udp(ds_cfg.get('pipeline'))
    if udp is None and isinstance(ds_cfg.get('dataset'), dict):
        udp = _dataset_udp(ds_cfg['dataset'])
    for sub in ds_cfg.get('datasets') or ():
        udp = udp if udp is not None else _dataset_udp(sub)
    return udp


def config_udp(cfg, role: str) -> Optional[bool]:
    """``use_udp`` of the first ``TopdownAffine`` in a config's pipelines."""
    for loader in LOADERS[role]:
        udp = _dataset_udp((cfg.get(loader) or {}).get('dataset'))
        if udp is not None:
            return udp
    return None


def model_view(model, cfg=None, metainfo=None, role: str = 'teacher') -> ModelView:
    """A built pose model seen through its config (pipeline, dataset names);
    ``metainfo`` (a dataset's, or the teacher dict's) overrides the config's
    names."""
    names, dataset_name = keypoint_names(metainfo)
    if names is None and cfg is not None:
        names, dataset_name = config_keypoint_names(cfg, role)
    head = getattr(model, 'head', None)
    return ModelView(getattr(head, 'out_channels', None), names, dataset_name,
                     getattr(head, 'decoder', None),
                     config_udp(cfg, role) if cfg is not None else None)


def config_view(cfg, metainfo=None, role: str = 'teacher') -> ModelView:
    """As :func:`model_view`, from the config alone (the pre-run check)."""
    from mmengine.registry import DefaultScope
    from mmpose.registry import KEYPOINT_CODECS

    from kdkit.distill.teacher import student_model_cfg
    head = student_model_cfg(cfg.get('model') or {}).get('head') or {}
    codec = None
    if isinstance(head.get('decoder'), dict):
        with DefaultScope.overwrite_default_scope(cfg.get('default_scope') or 'mmpose'):
            codec = KEYPOINT_CODECS.build(dict(head['decoder']))
    names, dataset_name = keypoint_names(metainfo)
    if names is None:
        names, dataset_name = config_keypoint_names(cfg, role)
    return ModelView(head.get('out_channels'), names, dataset_name, codec,
                     config_udp(cfg, role))


# ------------------------------------------------------------- key points
def _names_line(names: Sequence[str], dataset_name: str, n: int = 6) -> str:
    shown = ', '.join(names[:n]) + (', ...' if len(names) > n else '')
    return f'{dataset_name + ": " if dataset_name else ""}{shown}'


def check_keypoint_map_spec(spec, field: str) -> None:
    """The form of a ``keypoint_map`` (what it refers to is checked against
    the two models by :func:`resolve_keypoint_map`)."""
    if spec is None or spec == AUTO:
        return
    if isinstance(spec, dict):
        for k, v in spec.items():
            if not isinstance(k, str) or not (v is None or isinstance(v, str)):
                raise ValueError(f'{field}: expected dict(student_name=teacher_name or None), '
                                 f'got the entry {k!r}: {v!r}')
        return
    if isinstance(spec, (list, tuple)):
        for i, v in enumerate(spec):
            if not (v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0)):
                raise ValueError(f'{field}[{i}]: expected a teacher key-point index (int >= 0) '
                                 f'or None, got {v!r}')
        return
    raise ValueError(f"{field}: expected 'auto', dict(student_name=teacher_name) or a list of "
                     f'teacher key-point indices (one per student key point), got {spec!r}')


def resolve_keypoint_map(teacher: ModelView, student: ModelView, spec=None,
                         field: str = 'teacher') -> Optional[list]:
    """For each student key point, the teacher's key-point index that teaches
    it (None: not distilled); None when the two sets are the same.

    ``spec`` (the teacher dict's ``keypoint_map``):

    * None: the names must be identical, or the student's all among the
      teacher's (then picked by name); without names, the counts must match;
    * ``'auto'``: by name, the shared key points only;
    * ``dict(student_name=teacher_name or None, ...)``: by name, with these
      pairs added or removed;
    * a list with one teacher index (or None) per student key point, for a
      teacher without names.
    """
    check_keypoint_map_spec(spec, f'{field}.keypoint_map')
    kt, ks = teacher.num_keypoints, student.num_keypoints
    tn, sn = teacher.names, student.names
    if tn is not None and kt and len(tn) != kt:
        raise ValueError(f'{field}.metainfo: {len(tn)} key-point names '
                         f'({_names_line(tn, teacher.dataset_name, 3)}) but the teacher '
                         f'predicts {kt} key points; give the metainfo of its training data')
    if sn is not None and ks and len(sn) != ks:
        sn = None  # the data-vs-student check reports this
    if isinstance(spec, (list, tuple)):
        if ks and len(spec) != ks:
            raise ValueError(f'{field}.keypoint_map: {len(spec)} entries, the student has '
                             f'{ks} key points (one teacher index or None each)')
        bad = next((v for v in spec if v is not None and kt and v >= kt), None)
        if bad is not None:
            raise ValueError(f'{field}.keypoint_map: teacher index {bad} is out of range '
                             f'(the teacher predicts {kt} key points)')
        indices = list(spec)
    elif tn is None or sn is None:
        whose = 'teacher' if tn is None else 'student'
        if spec is not None:
            raise ValueError(
                f'{field}.keypoint_map={spec!r} pairs key points by name, but the {whose}\'s '
                f'names are unknown ({whose} config without dataset metainfo); '
                + (f'set {field}.metainfo=dict(from_file=...) or ' if whose == 'teacher' else '')
                + 'give a list of teacher indices, one per student key point')
        if kt and ks and kt != ks:
            raise ValueError(
                f'{field}: the teacher predicts {kt} key points, the student {ks}, and the '
                f"{whose}'s key-point names are unknown; set "
                + (f'{field}.metainfo=dict(from_file=...) to pair them by name, or '
                   if whose == 'teacher' else '')
                + f'{field}.keypoint_map=[a teacher index per student key point]')
        return None
    else:
        if spec is None:
            if tn == sn:
                return None
            if not set(sn) <= set(tn):
                raise ValueError(_mismatch(tn, sn, teacher.dataset_name,
                                           student.dataset_name, field))
        pairs = dict(spec) if isinstance(spec, dict) else {}
        for s_name, t_name in pairs.items():
            if s_name not in sn:
                raise ValueError(f'{field}.keypoint_map: {s_name!r} is not a student key point '
                                 f'({_names_line(sn, student.dataset_name)})')
            if t_name is not None and t_name not in tn:
                raise ValueError(f'{field}.keypoint_map.{s_name}: {t_name!r} is not a teacher '
                                 f'key point ({_names_line(tn, teacher.dataset_name)})')
        index = {n: i for i, n in enumerate(tn)}
        indices = [index.get(pairs[n]) if n in pairs else index.get(n) for n in sn]
    if all(i is None for i in indices):
        raise ValueError(f'{field}.keypoint_map: no student key point has a teacher key point '
                         'to learn from')
    if kt == len(indices) and indices == list(range(len(indices))):
        return None
    return indices


def _mismatch(tn, sn, t_dataset, s_dataset, field) -> str:
    i = next(i for i, n in enumerate(sn) if i >= len(tn) or tn[i] != n)
    theirs = repr(tn[i]) if i < len(tn) else 'none (it has fewer key points)'
    missing = [n for n in sn if n not in tn]
    shared = len(sn) - len(missing)
    shown = ', '.join(repr(n) for n in missing[:4]) + (', ...' if len(missing) > 4 else '')
    return (f"{field}: key point {i} is {sn[i]!r} in the student"
            f"{f' ({s_dataset})' if s_dataset else ''} but {theirs} in the teacher"
            f"{f' ({t_dataset})' if t_dataset else ''}, which has no {shown}; set "
            f"{field}.keypoint_map='auto' to distil the {shared} shared key points (the others "
            'masked out of the KD terms) or dict(student_name=teacher_name) to pair others')


# ------------------------------------------------------------------ grids
@dataclass(frozen=True)
class Geometry:
    """One model's crop and output grid on the x and y axes (module doc).

    input_size: (w, h); udp: ``TopdownAffine(use_udp)``; kind: 'heatmap' or
    'simcc'; grid: (N_x, N_y) heatmap cells or SimCC bins; cell: (c_x, c_y)
    input pixels per cell; codec: its type name.
    """

    codec: str
    kind: str
    input_size: tuple
    grid: tuple
    cell: tuple
    udp: bool

    @property
    def extent(self) -> tuple:
        """D per axis: the pixel index of the box's far edge."""
        return tuple(n - 1 if self.udp else n for n in self.input_size)

    @property
    def spacing(self) -> tuple:
        """g per axis: the box fraction from one output cell to the next."""
        return tuple(c / d for c, d in zip(self.cell, self.extent))

    def describe(self) -> str:
        w, h = self.input_size
        return (f'{w}x{h} input{" (UDP)" if self.udp else ""}, {self.codec} '
                f'{self.grid[0]}x{self.grid[1]}')


def geometry(view: ModelView) -> Optional[Geometry]:
    """The crop and grid of a view's codec; None for a codec kdkit cannot
    place (regression codecs, none)."""
    codec = view.codec
    size = getattr(codec, 'input_size', None)
    if codec is None or size is None:
        return None
    name = type(codec).__name__
    w, h = (int(v) for v in size)
    udp = view.udp if view.udp is not None else name == 'UDPHeatmap'
    ratio = getattr(codec, 'simcc_split_ratio', None)
    if ratio is not None:
        k = float(ratio)
        return Geometry(name, 'simcc', (w, h), (round(w * k), round(h * k)), (1 / k, 1 / k), udp)
    hm = getattr(codec, 'heatmap_size', None)
    if hm is None or 'Regression' in name:
        return None
    W, H = (int(v) for v in hm)
    cell = ((w - 1) / (W - 1), (h - 1) / (H - 1)) if name == 'UDPHeatmap' else (w / W, h / H)
    return Geometry(name, 'heatmap', (w, h), (W, H), cell, udp)


def _target(teacher: Geometry, student: Geometry) -> Geometry:
    """The grid the teacher's output is mapped onto: the student's own, or a
    virtual one of the teacher's kind over the student's crop."""
    if teacher.kind == student.kind:
        return student
    w, h = student.input_size
    if teacher.kind == 'heatmap':  # MSRA-style cells, as HeatmapToSimCCDistillLoss reads them
        W, H = teacher.grid
        return Geometry('virtual MSRA', 'heatmap', (w, h), (W, H), (w / W, h / H), student.udp)
    k = 1 / teacher.cell[0]
    return Geometry('virtual SimCC', 'simcc', (w, h), (round(w * k), round(h * k)),
                    teacher.cell, student.udp)


def _ratio(a: Sequence[float], b: Sequence[float]) -> tuple:
    return tuple(x / y for x, y in zip(a, b))


def _is_one(values) -> bool:
    return all(math.isclose(v, 1.0, rel_tol=1e-9) for v in values)


@dataclass(frozen=True)
class GridMap:
    """Resample (..., N_y, N_x)-ordered data from ``src`` cells to ``dst``
    cells, cell j reading position j * scale (per axis, x then y)."""

    src: tuple
    dst: tuple
    scale: tuple

    def describe(self) -> str:
        return (f'{self.src[0]}x{self.src[1]} -> {self.dst[0]}x{self.dst[1]} '
                f'(x{self.scale[0]:.4g}, x{self.scale[1]:.4g})')


def plan_alignment(teacher: ModelView, student: ModelView, keypoint_map=None,
                   field: str = 'teacher') -> 'TeacherAlignment':
    """Work out the key-point map and the input/output grid maps (module doc);
    a one-line ``ValueError`` naming ``field`` for what cannot be mapped."""
    keypoints = resolve_keypoint_map(teacher, student, keypoint_map, field)
    gt, gs = geometry(teacher), geometry(student)
    if gt is None or gs is None:
        sizes = [tuple(getattr(v.codec, 'input_size', ()) or ()) for v in (teacher, student)]
        if all(sizes) and sizes[0] != sizes[1]:
            whose = 'teacher' if gt is None else 'student'
            raise ValueError(
                f'{field}: input sizes {sizes[0]} (teacher) and {sizes[1]} (student) differ and '
                f'the {whose} codec {type((teacher if gt is None else student).codec).__name__} '
                'has no heatmap or SimCC grid kdkit can map; unsupported')
        return TeacherAlignment(keypoints, names=student.names)
    (wt, ht), (ws, hs) = gt.input_size, gs.input_size
    if wt * hs != ws * ht:
        raise ValueError(
            f'{field}: teacher input {wt}x{ht} (w/h {wt / ht:.3f}) and student input {ws}x{hs} '
            f'(w/h {ws / hs:.3f}) differ in aspect ratio, so TopdownAffine crops them from '
            'different parts of the box; unsupported: use a teacher at the student\'s aspect ratio')
    input_map = None
    scale = _ratio(gs.extent, gt.extent)
    if gt.input_size != gs.input_size or not _is_one(scale):
        input_map = GridMap(gs.input_size, gt.input_size, scale)
    target = _target(gt, gs)
    scale = _ratio(target.spacing, gt.spacing)
    output_map = None
    if target.grid != gt.grid or not _is_one(scale):
        output_map = GridMap(gt.grid, target.grid, scale)
    return TeacherAlignment(keypoints, input_map, output_map, gt.kind, student.names,
                            f'teacher {gt.describe()} -> student {gs.describe()}')


def _resample_2d(x: Tensor, grid: GridMap) -> Tensor:
    x = resample_linear(x, grid.dst[0], -1, grid.scale[0])
    return resample_linear(x, grid.dst[1], -2, grid.scale[1])


class TeacherAlignment:
    """Applies a plan (:func:`plan_alignment`) to the teacher's inputs and outputs.

    Args:
        keypoints: per student key point, the teacher index (None: masked);
            None when the key-point sets are the same.
        input_map: student input (w, h) -> teacher input, or None.
        output_map: teacher grid -> student grid, or None.
        kind: the teacher's output kind the grids describe.
        names: the student's key-point names (for :meth:`describe`).
        geometry: a line describing both crops and grids.
    """

    def __init__(self, keypoints=None, input_map: Optional[GridMap] = None,
                 output_map: Optional[GridMap] = None, kind: str = '', names=None,
                 geometry: str = ''):
        self.keypoints = keypoints
        self.input_map, self.output_map, self.kind = input_map, output_map, kind
        self.names, self.geometry = names, geometry
        self.index = self.mask = None
        if keypoints is not None:
            self.index = torch.tensor([0 if i is None else i for i in keypoints])
            if any(i is None for i in keypoints):
                self.mask = torch.tensor([float(i is not None) for i in keypoints])

    @property
    def is_identity(self) -> bool:
        return self.keypoints is None and self.input_map is None and self.output_map is None

    @property
    def keypoint_mask(self) -> Optional[Tensor]:
        """(K_s,) 1 where the student key point is distilled, 0 where the
        teacher has none; None when all are."""
        return self.mask

    def to(self, device) -> 'TeacherAlignment':
        if self.index is not None:
            self.index = self.index.to(device)
        if self.mask is not None:
            self.mask = self.mask.to(device)
        return self

    def inputs(self, x: Tensor) -> Tensor:
        """Student-crop inputs (B, C, h_s, w_s) -> the teacher's input size."""
        if self.input_map is None:
            return x
        w, h = self.input_map.src
        if tuple(x.shape[-2:]) != (h, w):
            raise ValueError(f'teacher alignment: the student inputs are {x.shape[-1]}x'
                             f'{x.shape[-2]}, its codec input_size says {w}x{h}')
        return _resample_2d(x, self.input_map)

    def outputs(self, out: dict) -> dict:
        """Teacher head outputs -> the student's key points and grid
        ('feature' is left as it is)."""
        out = dict(out)
        if 'heatmap' in out:
            hm = self._keypoints(out['heatmap'], 1)
            out['heatmap'] = self._grid(hm) if self.kind == 'heatmap' else hm
        if 'simcc' in out:
            xs, ys = (self._keypoints(t, 1) for t in out['simcc'])
            if self.kind == 'simcc' and self.output_map is not None:
                self._check_grid((xs.shape[-1], ys.shape[-1]))
                xs = resample_linear(xs, self.output_map.dst[0], -1, self.output_map.scale[0])
                ys = resample_linear(ys, self.output_map.dst[1], -1, self.output_map.scale[1])
            out['simcc'] = (xs, ys)
        return out

    def _keypoints(self, t: Tensor, dim: int) -> Tensor:
        if self.index is None:
            return t
        t = t.index_select(dim, self.index.to(t.device))
        if self.mask is not None:
            shape = [1] * t.dim()
            shape[dim] = -1
            t = t * self.mask.to(t.device, t.dtype).view(shape)
        return t

    def _grid(self, hm: Tensor) -> Tensor:
        if self.output_map is None:
            return hm
        self._check_grid((hm.shape[-1], hm.shape[-2]))
        return _resample_2d(hm, self.output_map)

    def _check_grid(self, got: tuple) -> None:
        if tuple(got) != tuple(self.output_map.src):
            raise ValueError(f'teacher alignment: the teacher output grid is {got[0]}x{got[1]}, '
                             f'its codec says {self.output_map.src[0]}x{self.output_map.src[1]}')

    def describe(self) -> str:
        """One line for the log (and the teacher's fingerprint)."""
        parts = []
        if self.keypoints is not None:
            k = self.keypoints
            if None not in k and k == list(range(k[0], k[0] + len(k))):
                taught = f'{k[0]}-{k[-1]}'
            else:
                taught = '[' + ', '.join('-' if i is None else str(i) for i in k) + ']'
            line = f'student key points <- teacher {taught}'
            masked = [str(n) for n, i in zip(self.names or range(len(k)), k) if i is None]
            if masked:
                line += f' (not distilled: {", ".join(masked)})'
            parts.append(line)
        if self.input_map is not None:
            parts.append(f'input {self.input_map.describe()}')
        if self.output_map is not None:
            parts.append(f'{self.kind} {self.output_map.describe()}')
        if parts and self.geometry:
            parts.append(self.geometry)
        return '; '.join(parts)


def check_cfg_options(cfg_options, field: str) -> None:
    """``cfg_options=dict(codec=...)`` changes nothing: a config's
    ``model.head.decoder`` and pipelines took ``codec``'s value when the file
    was read. Refuse it in one line instead of ignoring it."""
    if isinstance(cfg_options, dict) and any(str(k).split('.')[0] == 'codec' for k in cfg_options):
        raise ValueError(
            f'{field}.codec has no effect (the config read `codec` into model.head.decoder and '
            'its pipelines when it was loaded); set model.head.decoder=dict(...) there, or drop '
            'it: kdkit maps a teacher at another input size or codec onto the student')
