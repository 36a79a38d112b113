"""Teacher-output cache: run the frozen teacher once, reuse its outputs every epoch.

Online distillation runs the (large) teacher on every training batch. The
cache runs it once per training instance on the **un-augmented** crop (the
ground-truth box through ``GetBBoxCenterScale`` + ``TopdownAffine``, as in
validation) and keeps the output in float16. At train time the cached output
is mapped into the augmented crop the student sees:

* heatmaps are resampled with the affine that takes the augmented crop back
  to the original image (undoing rotation, shift, scale, half-body and flip)
  and into the un-augmented crop; on a flip the left/right channels swap
  (``flip_indices``), as MMPose swaps the labels;
* SimCC outputs (per-axis logits x(i), y(j)) are read as the separable 2D
  log-density x(X) + y(Y), warped the same way on the grid of bins (bin i at
  input pixel i / split ratio) and marginalised back onto each axis in log
  space: x'(i') = logsumexp_j' beta (x(X) + y(Y)) / beta - logsumexp beta y / beta
  (and likewise y'), with beta = 10, the softmax scale RTMPose is trained
  with (``KLDiscretLoss(beta=10)``). Without rotation this is a 1D resampling
  of each axis; an un-moved sample gets its cached logits back exactly.

For an augmented heatmap cell u' (heatmap pixels, (x, y, 1)):

    u = S^-1 A_0 F A_aug^-1 S u'

with S = diag(input / heatmap size) (MMPose codecs put heatmap cell u at
input pixel u * stride), A the 2x3 ``get_warp_matrix`` of a crop made 3x3,
A_0 the un-augmented crop, A_aug the augmented one (from the packed
``input_center``/``input_scale``/``bbox_rotation``) and F the image flip
x -> w - 1 - x (``RandomFlip`` flips the whole image before the crop).
The result is bilinear (``F.grid_sample``, zeros outside the cached crop;
for SimCC, each key point's lowest logit there).

What is approximate, and why: (1) a heatmap model's blob has a fixed width
in heatmap cells whatever the zoom, while warping scales the cached blob with
the box-scale jitter (width x s_0 / s_aug); peaks land in the same place.
(2) Bilinear resampling of a sigma = 1.5 cell Gaussian loses ~10% of its
peak at half-cell offsets. (3) Under rotation a SimCC output is treated as
separable (the teacher's own x and y need not be independent), and a zoom
shifts each axis's logits by a constant (log of the other axis's mass
change), which softmax-based losses ignore.

Photometric transforms (``PhotometricDistortion``, ``YOLOXHSVRandomAug``,
``Albumentation`` -- MMPose's wrapper moves only the image unless its
``keymap`` maps more -- as in every stock RTMPose pipeline) are accepted: the
cached output is the teacher on the un-augmented crop with the same geometry,
i.e. on the clean pixels, not on the blurred, colour-jittered or
coarse-dropped ones the student sees. That is a choice, not exactness: the
teacher's target stays what it says about the clean person (arguably the
better target, the student learns to see through the augmentation); the
online teacher sees exactly the student's pixels.

Storage: the outputs stay on the CPU, in a float16 ``.npy`` under
``work_dir/teacher_cache/<fingerprint>/outputs.npy`` (about 16 GB for COCO's
150k instances of 17 x 64 x 48 heatmaps), memory-mapped; each batch copies
its rows and moves only those to the model's device. The caching pass writes
rows into the file as it goes (under a temporary name, renamed when
complete), so no step holds the whole store in memory. ``manifest.json``
(written last, atomically) holds the fingerprint, the store's size and the
instance index (ids, un-augmented boxes). The fingerprint covers the
teacher's weights, its input normalisation, the crop pipeline and the
dataset's instance ids, so a changed teacher or data set is never served from
a stale cache, and a killed run leaves at most a stray temp file; a store
whose size does not match its manifest is recomputed.
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from kdkit.utils.io import atomic_write_text

CACHE_VERSION = 2  # 2: memory-mapped .npy store, index in the manifest
KINDS = ('heatmap', 'simcc')
STORE_NAME, MANIFEST_NAME = 'outputs.npy', 'manifest.json'
SIMCC_BETA = 10.0  # RTMPose's softmax scale of SimCC logits (KLDiscretLoss beta)
CHUNK_ELEMENTS = 1 << 24  # SimCC warp: at most this many joint bins at once (64 MB)

# Geometric augmentations the warp can undo from the packed metainfo.
INVERTIBLE = ('RandomFlip', 'RandomHalfBody', 'RandomBBoxTransform')
# Transforms that do not move pixels: deterministic crop steps and targets.
DETERMINISTIC = ('LoadImage', 'GetBBoxCenterScale', 'TopdownAffine', 'GenerateTarget',
                 'PackPoseInputs')
# Photometric only: the cache keeps the clean crop's teacher output for them.
PHOTOMETRIC = ('PhotometricDistortion', 'YOLOXHSVRandomAug', 'RandomPhotometricDistort',
               'Albumentation')
# What the warp reads from each data sample's metainfo.
NEEDED_META = ('id', 'img_id', 'img_shape', 'input_size', 'input_center', 'input_scale',
               'flip', 'flip_direction', 'flip_indices')
IDENTITY_ATOL = 1e-6


class TeacherCacheError(ValueError):
    """The cache cannot serve this pipeline / sample; the message says why."""


# ----------------------------------------------------------------- pipeline
def transform_name(t) -> str:
    """A transform's type name without its registry scope ('mmdet.X' -> 'X')."""
    kind = t['type'] if isinstance(t, dict) else type(t)
    return (kind if isinstance(kind, str) else kind.__name__).split('.')[-1]


def rotation_possible(t) -> bool:
    get = t.get if isinstance(t, dict) else lambda k, d: getattr(t, k, d)
    return float(get('rotate_factor', 80.0)) * float(get('rotate_prob', 0.6)) > 0


def check_pipeline(transforms: Sequence, kind: str = 'heatmap') -> dict:
    """What the cache needs to serve a train pipeline, or a one-line error.

    Args:
        transforms: the pipeline (built transforms or their config dicts).
        kind: the cached teacher output kind.

    Returns:
        ``dict(augmented=bool, rotation=bool)``: whether geometric
        augmentation (resp. rotation) happens and must be undone.
    """
    if kind not in KINDS:
        raise TeacherCacheError(f'teacher cache: kind={kind!r}, expected one of {KINDS}')
    names = [transform_name(t) for t in transforms]
    for t in transforms:
        check_transform(t)
    if 'TopdownAffine' not in names or 'PackPoseInputs' not in names:
        raise TeacherCacheError('teacher cache: the train pipeline needs TopdownAffine and '
                                f'PackPoseInputs (top-down crops); got {names}')
    augmented = any(n in INVERTIBLE for n in names)
    rotation = any(n == 'RandomBBoxTransform' and rotation_possible(t)
                   for t, n in zip(transforms, names))
    return dict(augmented=augmented, rotation=rotation)


def check_transform(t) -> None:
    name = transform_name(t)
    if name not in INVERTIBLE + DETERMINISTIC + PHOTOMETRIC:
        raise TeacherCacheError(
            f'teacher cache: cannot map teacher outputs through train transform '
            f'{name!r}; supported: {sorted(INVERTIBLE + DETERMINISTIC + PHOTOMETRIC)} '
            '(use the online teacher for this pipeline)')
    if name == 'TopdownAffine' and _get(t, 'use_udp', False):
        raise TeacherCacheError('teacher cache: TopdownAffine(use_udp=True) is not '
                                'supported (its heatmap grid differs); use the online teacher')
    if name == 'Albumentation':
        check_albumentation(t)


def _get(t, key, default):
    return t.get(key, default) if isinstance(t, dict) else getattr(t, key, default)


def check_albumentation(t) -> None:
    """MMPose's ``Albumentation`` changes only the image unless its ``keymap``
    maps more: then it may move key points, which cached outputs cannot follow."""
    keymap = t.get('keymap') if isinstance(t, dict) else getattr(t, 'keymap_to_albu', None)
    extra = sorted(set(keymap or {}) - {'img'})
    if extra:
        raise TeacherCacheError(f'teacher cache: Albumentation(keymap=...) also maps {extra}; '
                                'it may move key points, which cached outputs cannot follow '
                                '(map only img, or use the online teacher)')


def clean_transforms(transforms: Sequence) -> list:
    """The un-augmented crop pipeline of a train pipeline: its load, box and
    crop steps, packed with every key the cache records."""
    from mmpose.datasets.transforms import PackPoseInputs
    kept = [t for t in transforms
            if transform_name(t) in ('LoadImage', 'GetBBoxCenterScale', 'TopdownAffine')]
    return kept + [PackPoseInputs(meta_keys=NEEDED_META)]


def ensure_meta_keys(transforms: Sequence, rotation: bool) -> list[str]:
    """Make the pipeline's ``PackPoseInputs`` pack what the warp reads (and
    ``bbox_rotation`` when rotation is possible). Returns the keys added."""
    packs = [t for t in transforms if transform_name(t) == 'PackPoseInputs']
    needed = NEEDED_META + (('bbox_rotation',) if rotation else ())
    added = []
    for pack in packs:
        missing = [k for k in needed if k not in pack.meta_keys]
        pack.meta_keys = tuple(pack.meta_keys) + tuple(missing)
        added += missing
    return added


# ---------------------------------------------------------------- geometry
def crop_matrix(center, scale, rot: float, input_size) -> np.ndarray:
    """3x3 image -> model-input affine of ``TopdownAffine`` (non-UDP)."""
    from mmpose.structures.bbox import get_warp_matrix
    m = get_warp_matrix(np.asarray(center, np.float32), np.asarray(scale, np.float32),
                        float(rot), output_size=tuple(int(v) for v in input_size))
    return np.vstack([m.astype(np.float64), [0.0, 0.0, 1.0]])


def flip_matrix(direction: Optional[str], img_w: int, img_h: int) -> np.ndarray:
    """Pixel flip of the whole image, as ``RandomFlip`` (``np.flip``)."""
    sx = -1.0 if direction in ('horizontal', 'diagonal') else 1.0
    sy = -1.0 if direction in ('vertical', 'diagonal') else 1.0
    return np.array([[sx, 0, img_w - 1 if sx < 0 else 0],
                     [0, sy, img_h - 1 if sy < 0 else 0],
                     [0, 0, 1.0]])


def grid_normaliser(w: int, h: int) -> np.ndarray:
    """Pixel index -> [-1, 1] of ``grid_sample(align_corners=True)``."""
    return np.array([[2.0 / max(w - 1, 1), 0, -1.0], [0, 2.0 / max(h - 1, 1), -1.0],
                     [0, 0, 1.0]])


def heatmap_theta(aug: np.ndarray, clean: np.ndarray, flip: np.ndarray,
                  input_size, heatmap_size) -> np.ndarray:
    """(2, 3) ``affine_grid`` theta taking augmented-heatmap grid coordinates
    to cached-heatmap ones (see the module doc for the formula)."""
    (in_w, in_h), (hm_w, hm_h) = input_size, heatmap_size
    stride = np.diag([in_w / hm_w, in_h / hm_h, 1.0])
    m = np.linalg.inv(stride) @ clean @ flip @ np.linalg.inv(aug) @ stride
    norm = grid_normaliser(hm_w, hm_h)
    return (norm @ m @ np.linalg.inv(norm))[:2]


def warp_heatmaps(heatmaps: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample (B, K, H, W) maps with per-sample (B, 2, 3) thetas."""
    grid = F.affine_grid(theta.to(heatmaps.dtype), list(heatmaps.shape), align_corners=True)
    return F.grid_sample(heatmaps, grid, mode='bilinear', padding_mode='zeros',
                         align_corners=True)


def moved_samples(theta: np.ndarray) -> np.ndarray:
    """(B,) bool: the sample's (2, 3) theta is not the identity."""
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    return np.abs(np.asarray(theta) - identity).reshape(len(theta), -1).max(1) > IDENTITY_ATOL


def warp_simcc(x: torch.Tensor, y: torch.Tensor, theta,
               beta: float = SIMCC_BETA) -> tuple[torch.Tensor, torch.Tensor]:
    """Resample SimCC logits x (B, K, Wx), y (B, K, Wy) with per-sample (B, 2, 3)
    thetas on the bin grids (see the module doc); samples whose theta is the
    identity keep their logits, the others go in chunks of bounded memory."""
    theta = np.asarray(theta)
    moved = np.flatnonzero(moved_samples(theta))
    if not len(moved):
        return x, y
    x, y = x.clone(), y.clone()
    step = max(1, CHUNK_ELEMENTS // (x.shape[1] * x.shape[2] * y.shape[2]))
    for start in range(0, len(moved), step):
        rows = torch.as_tensor(moved[start:start + step], device=x.device)
        th = torch.as_tensor(theta[moved[start:start + step]], dtype=x.dtype, device=x.device)
        x[rows], y[rows] = simcc_log_marginals(x[rows], y[rows], th, beta)
    return x, y


def simcc_log_marginals(x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor,
                        beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The warped joint log-density x(X) + y(Y) over every (j', i') pair of
    output bins, marginalised onto each axis (logsumexp / beta) and shifted so
    that the identity warp gives x and y back."""
    b, k, wx = x.shape
    grid = F.affine_grid(theta, [b, k, y.shape[-1], wx], align_corners=True)
    joint = beta * (sample_axis(x, grid[..., 0]) + sample_axis(y, grid[..., 1]))
    x_out = (torch.logsumexp(joint, dim=-2) - torch.logsumexp(beta * y, -1, keepdim=True)) / beta
    y_out = (torch.logsumexp(joint, dim=-1) - torch.logsumexp(beta * x, -1, keepdim=True)) / beta
    return x_out, y_out


def sample_axis(logits: torch.Tensor, coord: torch.Tensor) -> torch.Tensor:
    """(B, K, W) logits read linearly at normalised positions coord (B, H', W')
    -> (B, K, H', W'); each key point's lowest logit outside the axis."""
    low = logits.amin(-1, keepdim=True)
    grid = torch.stack((coord, torch.zeros_like(coord)), dim=-1)
    sampled = F.grid_sample((logits - low).unsqueeze(2), grid, mode='bilinear',
                            padding_mode='zeros', align_corners=True)
    return sampled + low.unsqueeze(-1)


# ------------------------------------------------------------------- cache
class TeacherOutputCache:
    """A ``Distiller.teacher_source`` serving cached teacher outputs.

    Args:
        ids: (N,) instance ids (the data samples' ``id`` metainfo).
        outputs: heatmaps (N, K, H, W), or a SimCC pair (N, K, Wx), (N, K, Wy)
            (tensors, kept as float16 on the CPU); or a float16 numpy store,
            e.g. memory-mapped by :func:`load_cache`, of heatmaps or of SimCC
            pairs concatenated as (N, K, Wx + Wy) with ``simcc_x`` = Wx.
        centers, scales: (N, 2) un-augmented crop box of each instance in
            image pixels (``input_center`` / ``input_scale``).
        input_size: model input (w, h).
        augmented: the train pipeline augments geometrically (warp needed).
        rotation: it may rotate; samples must then carry ``bbox_rotation``.
        simcc_x: see ``outputs``.

    ``cache(inputs, data_samples)`` returns ``{'heatmap': (B, K, H, W)}`` or
    ``{'simcc': (x, y)}`` in float32 on ``inputs``' device. The store stays
    where it is (``store``: the numpy array, ``table``: a tensor view of it);
    only a batch's rows are copied to the device.
    """

    def __init__(self, ids, outputs, centers, scales, input_size,
                 augmented: bool = True, rotation: bool = True,
                 simcc_x: Optional[int] = None):
        self.ids = torch.as_tensor(np.asarray(ids, np.int64))
        if isinstance(outputs, (tuple, list)):
            simcc_x = int(outputs[0].shape[-1])
            outputs = torch.cat([torch.as_tensor(o) for o in outputs], dim=-1)
        if isinstance(outputs, torch.Tensor):
            outputs = outputs.detach().cpu().half().numpy()
        self.store, self.table = outputs, torch.from_numpy(outputs)
        self.kind = 'heatmap' if simcc_x is None else 'simcc'
        self.simcc_x = simcc_x
        self.centers = np.asarray(centers, np.float64).reshape(-1, 2)
        self.scales = np.asarray(scales, np.float64).reshape(-1, 2)
        self.input_size = tuple(int(v) for v in input_size)
        self.augmented, self.rotation = bool(augmented), bool(rotation)
        self.row_of = {int(i): r for r, i in enumerate(self.ids.tolist())}
        if len(self.row_of) != len(self.ids):
            raise TeacherCacheError('teacher cache: instance ids are not unique')
        self.served = 0  # batches served (the tests check the cache was used)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def outputs(self):
        """The float16 CPU store as heatmaps (N, K, H, W) or a SimCC pair."""
        if self.kind == 'simcc':
            return self.table[..., :self.simcc_x], self.table[..., self.simcc_x:]
        return self.table

    def stored_at(self, path: Path) -> bool:
        """Whether the store is the memory-mapped file ``path``."""
        name = getattr(self.store, 'filename', None)
        return name is not None and Path(name).resolve() == Path(path).resolve()

    def rows(self, data_samples) -> list[int]:
        rows = []
        for ds in data_samples:
            key = ds.metainfo.get('id')
            if key is None:
                raise TeacherCacheError("teacher cache: a data sample has no 'id' metainfo; "
                                        "PackPoseInputs must pack 'id'")
            if int(key) not in self.row_of:
                raise TeacherCacheError(
                    f'teacher cache: instance id {key} is not cached (the cache holds '
                    f'{len(self)} instances); the training data changed: delete the cache dir')
            rows.append(self.row_of[int(key)])
        return rows

    @torch.no_grad()
    def __call__(self, inputs: torch.Tensor, data_samples) -> dict:
        rows = self.rows(data_samples)
        batch = self.table.index_select(0, torch.as_tensor(rows))  # copies B rows, on the CPU
        batch = swap_flipped(batch.to(inputs.device).float(), data_samples)
        self.served += 1
        if self.kind == 'simcc':
            x, y = batch[..., :self.simcc_x], batch[..., self.simcc_x:]
            thetas = self.thetas(data_samples, rows, (x.shape[-1], y.shape[-1]))
            return {'simcc': warp_simcc(x, y, thetas)}
        thetas = self.thetas(data_samples, rows, (batch.shape[-1], batch.shape[-2]))
        if not moved_samples(thetas).any():
            return {'heatmap': batch}  # un-augmented batch: exact cached values
        return {'heatmap': warp_heatmaps(batch, torch.as_tensor(thetas, device=batch.device))}

    def thetas(self, data_samples, rows, grid_size) -> np.ndarray:
        """(B, 2, 3) thetas of a batch on a (w, h) grid (heatmap cells, SimCC bins)."""
        return np.stack([self.theta(ds, r, *grid_size) for ds, r in zip(data_samples, rows)])

    def theta(self, ds, row: int, hm_w: int, hm_h: int) -> np.ndarray:
        meta = ds.metainfo
        for key in ('input_center', 'input_scale'):
            if key not in meta:
                raise TeacherCacheError(f"teacher cache: data sample {meta.get('id')} has no "
                                        f"'{key}' metainfo; PackPoseInputs must pack it")
        if self.rotation and 'bbox_rotation' not in meta:
            raise TeacherCacheError(
                "teacher cache: the pipeline may rotate (RandomBBoxTransform) but samples carry "
                "no 'bbox_rotation'; add it to PackPoseInputs(meta_keys=...) or use "
                'TeacherCacheHook (after any hook that swaps the train pipeline)')
        rot = float(np.asarray(meta.get('bbox_rotation', 0.0)).reshape(-1)[0])
        size = tuple(meta.get('input_size', self.input_size))
        aug = crop_matrix(meta['input_center'], meta['input_scale'], rot, size)
        clean = crop_matrix(self.centers[row], self.scales[row], 0.0, size)
        img_h, img_w = meta.get('img_shape', (0, 0))[:2]
        flip = (flip_matrix(meta.get('flip_direction'), img_w, img_h) if meta.get('flip')
                else np.eye(3))
        return heatmap_theta(aug, clean, flip, size, (hm_w, hm_h))

    def index(self) -> dict:
        """What the manifest records besides the store (see :func:`save_cache`)."""
        return dict(ids=self.ids.tolist(), centers=self.centers.tolist(),
                    scales=self.scales.tolist(), input_size=list(self.input_size),
                    simcc_x=self.simcc_x)


def swap_flipped(batch: torch.Tensor, data_samples) -> torch.Tensor:
    """(B, K, ...) with the left/right channels of flipped samples swapped
    (``flip_indices``), as MMPose swaps their labels."""
    perm = [torch.as_tensor(ds.metainfo['flip_indices'], device=batch.device)
            if ds.metainfo.get('flip') else None for ds in data_samples]
    if all(p is None for p in perm):
        return batch
    return torch.stack([m if p is None else m.index_select(0, p) for m, p in zip(batch, perm)])


# ------------------------------------------------------------ computation
class CleanCrops(torch.utils.data.Dataset):
    """A dataset's instances through the un-augmented crop pipeline."""

    def __init__(self, dataset, transforms):
        from mmcv.transforms import Compose
        self.dataset, self.pipeline = dataset, Compose(list(transforms))

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int):
        return self.pipeline(self.dataset.get_data_info(idx))


@torch.no_grad()
def compute_teacher_outputs(teacher, dataset, transforms, preprocessor,
                            batch_size: int = 32, num_workers: int = 0,
                            augmented: bool = True, rotation: bool = True,
                            store_path: Optional[Path] = None) -> TeacherOutputCache:
    """Run ``teacher`` (``inputs -> {'heatmap'|'simcc': ...}``) once over every
    instance of ``dataset`` through ``transforms`` (the clean crop pipeline,
    see :func:`clean_transforms`), normalised by ``preprocessor`` (the
    student's data preprocessor, as in training). With ``store_path`` the
    outputs go into that ``.npy`` batch by batch (:class:`StoreWriter`) and
    are served memory-mapped from it; without, they are kept in memory."""
    from mmengine.dataset import pseudo_collate
    loader = torch.utils.data.DataLoader(CleanCrops(dataset, transforms), batch_size=batch_size,
                                         num_workers=num_workers, collate_fn=pseudo_collate)
    index, writer = InstanceIndex(), StoreWriter(store_path, len(dataset))
    try:
        for batch in loader:
            data = preprocessor(batch, training=False)
            keep = index.add(data['data_samples'])
            writer.write(index.table(teacher(data['inputs']))[keep])
        if not index.ids:
            raise TeacherCacheError('teacher cache: the train dataset is empty')
        store = writer.commit()
    except BaseException:
        writer.abort()
        raise
    return TeacherOutputCache(index.ids, store, index.centers, index.scales, index.size,
                              augmented, rotation, simcc_x=index.simcc_x)


class InstanceIndex:
    """Ids and un-augmented boxes of the cached instances, in store order,
    and the kind of the teacher's outputs."""

    def __init__(self):
        self.ids, self.centers, self.scales, self.seen = [], [], [], {}
        self.size = self.kind = self.simcc_x = None

    def add(self, data_samples) -> list[int]:
        """Record the samples not seen before; returns their batch positions."""
        keep = []
        for b, ds in enumerate(data_samples):
            meta = ds.metainfo
            key = int(meta['id'])
            if key in self.seen:
                if self.seen[key] != meta['img_id']:
                    raise TeacherCacheError(f'teacher cache: instance id {key} appears in two '
                                            'images; ids must be unique across the train set')
                continue
            self.seen[key] = meta['img_id']
            self.ids.append(key)
            self.centers.append(meta['input_center'])
            self.scales.append(meta['input_scale'])
            self.size = meta['input_size']
            keep.append(b)
        return keep

    def table(self, out: dict) -> np.ndarray:
        """A batch of teacher outputs as float16 rows (SimCC: x and y side by side)."""
        self.kind = self.kind or ('heatmap' if 'heatmap' in out else 'simcc')
        if self.kind not in out:
            raise TeacherCacheError(f'teacher cache: the teacher gives {sorted(out)}, '
                                    "expected 'heatmap' or 'simcc'")
        if self.kind == 'heatmap':
            return out['heatmap'].half().cpu().numpy()
        self.simcc_x = int(out['simcc'][0].shape[-1])
        return torch.cat(tuple(out['simcc']), dim=-1).half().cpu().numpy()


class StoreWriter:
    """Rows of a float16 store, written as they come into a memory-mapped
    ``.npy`` under a temporary name next to ``path`` (in memory when ``path``
    is None); :meth:`commit` renames the file into place and maps it back.

    Args:
        path: the store's final path, or None.
        capacity: the most rows that will be written (the file's row count;
            rows left unwritten are not served).
    """

    def __init__(self, path: Optional[Path], capacity: int):
        self.path, self.capacity, self.filled = path, capacity, 0
        self.array, self.tmp, self.parts = None, None, []

    def write(self, rows: np.ndarray) -> None:
        if self.path is None:
            self.parts.append(rows)
        else:
            if self.array is None:
                self.array = self.open(rows.shape[1:])
            self.array[self.filled:self.filled + len(rows)] = rows
        self.filled += len(rows)

    def open(self, row_shape) -> np.ndarray:
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_name(f'.{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp')
        return np.lib.format.open_memmap(self.tmp, mode='w+', dtype=np.float16,
                                         shape=(self.capacity, *row_shape))

    def commit(self) -> np.ndarray:
        """The written store: memory-mapped from ``path`` (or in memory)."""
        if self.path is None:
            return np.concatenate(self.parts)
        self.array.flush()
        self.array = None  # unmaps the writable view
        with open(self.tmp, 'rb+') as f:
            os.fsync(f.fileno())
        # a reader must never pair an old manifest with new data
        (Path(self.path).parent / MANIFEST_NAME).unlink(missing_ok=True)
        os.replace(self.tmp, self.path)
        return open_store(Path(self.path), self.filled)

    def abort(self) -> None:
        self.array = None
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)


def open_store(path: Path, rows: int) -> np.ndarray:
    """The first ``rows`` rows of a ``.npy`` store, memory-mapped copy-on-write
    (never written back; tensor views need a writable array)."""
    return np.load(path, mmap_mode='c')[:rows]


def write_store(store: np.ndarray, path: Path) -> np.ndarray:
    """An in-memory store written atomically to ``path``, mapped back."""
    writer = StoreWriter(path, len(store))
    try:
        writer.write(store)
        return writer.commit()
    except BaseException:
        writer.abort()
        raise


# -------------------------------------------------------------- persistence
def fingerprint(teacher_hash: str, transforms: Sequence, dataset, preprocessor) -> dict:
    """What a cache depends on: changing any of it gives another cache dir."""
    ids = hashlib.sha256()
    n = len(dataset)
    for i in range(n):
        info = dataset.get_data_info(i)
        ids.update(f"{info.get('id')}:{info.get('img_path')};".encode())
    pre = {k: getattr(preprocessor, k).flatten().tolist()
           for k in ('mean', 'std') if hasattr(preprocessor, k)}
    return dict(version=CACHE_VERSION, teacher=teacher_hash,
                pipeline=[repr(t) for t in transforms], normalisation=pre,
                instances=n, instance_ids=ids.hexdigest())


def cache_key(manifest: dict) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]


def load_cache(folder: Path, expected: dict, augmented: bool, rotation: bool):
    """The cache in ``folder``, its store memory-mapped, if its manifest
    matches ``expected`` and the store its recorded size; else None (the
    caller recomputes)."""
    manifest_path, path = Path(folder) / MANIFEST_NAME, Path(folder) / STORE_NAME
    if not manifest_path.is_file() or not path.is_file():
        return None
    manifest = json.loads(manifest_path.read_text())
    if manifest.get('fingerprint') != expected:
        return None
    if path.stat().st_size != manifest.get('nbytes'):
        return None  # truncated or replaced store: recompute
    index = manifest['index']
    return TeacherOutputCache(index['ids'], open_store(path, len(index['ids'])),
                              index['centers'], index['scales'], index['input_size'],
                              augmented, rotation, simcc_x=index['simcc_x'])


def save_cache(cache: TeacherOutputCache, folder: Path, expected: dict) -> Path:
    """Store first (unless the cache is already served from it), manifest
    last, each atomically: a reader sees both or neither."""
    folder = Path(folder)
    path = folder / STORE_NAME
    if not cache.stored_at(path):
        write_store(cache.store, path)
    manifest = dict(fingerprint=expected, kind=cache.kind, instances=len(cache),
                    dtype='float16', nbytes=path.stat().st_size, index=cache.index())
    atomic_write_text(folder / MANIFEST_NAME, json.dumps(manifest))
    return folder
