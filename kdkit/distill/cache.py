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
* SimCC outputs (per-axis logits) cannot be rotated or shifted that way, so a
  SimCC cache is accepted only for pipelines without geometric augmentation.

For an augmented heatmap cell u' (heatmap pixels, (x, y, 1)):

    u = S^-1 A_0 F A_aug^-1 S u'

with S = diag(input / heatmap size) (MMPose codecs put heatmap cell u at
input pixel u * stride), A the 2x3 ``get_warp_matrix`` of a crop made 3x3,
A_0 the un-augmented crop, A_aug the augmented one (from the packed
``input_center``/``input_scale``/``bbox_rotation``) and F the image flip
x -> w - 1 - x (``RandomFlip`` flips the whole image before the crop).
The result is bilinear (``F.grid_sample``, zeros outside the cached crop).

What is approximate, and why: (1) a heatmap model's blob has a fixed width
in heatmap cells whatever the zoom, while warping scales the cached blob with
the box-scale jitter (width x s_0 / s_aug); peaks land in the same place.
(2) Bilinear resampling of a sigma = 1.5 cell Gaussian loses ~10% of its
peak at half-cell offsets. (3) The teacher saw the clean crop, not the
photometrically augmented one (arguably the better target).

Persistence: ``work_dir/teacher_cache/<fingerprint>/outputs.pt`` +
``manifest.json``, each written atomically (temp file + rename), the manifest
last. The fingerprint covers the teacher's weights, its input normalisation,
the crop pipeline and the dataset's instance ids, so a changed teacher or
data set is never served from a stale cache, and a killed run leaves at most
a stray temp file.
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

CACHE_VERSION = 1
KINDS = ('heatmap', 'simcc')

# Geometric augmentations the heatmap warp can undo from the packed metainfo.
INVERTIBLE = ('RandomFlip', 'RandomHalfBody', 'RandomBBoxTransform')
# Transforms that do not move pixels: deterministic crop steps and targets.
DETERMINISTIC = ('LoadImage', 'GetBBoxCenterScale', 'TopdownAffine', 'GenerateTarget',
                 'PackPoseInputs')
# Photometric only: the cache keeps the clean crop's teacher output for them.
PHOTOMETRIC = ('PhotometricDistortion', 'YOLOXHSVRandomAug', 'RandomPhotometricDistort')
# What the warp reads from each data sample's metainfo.
NEEDED_META = ('id', 'img_id', 'img_shape', 'input_size', 'input_center', 'input_scale',
               'flip', 'flip_direction', 'flip_indices')
IDENTITY_ATOL = 1e-6


class TeacherCacheError(ValueError):
    """The cache cannot serve this pipeline / sample; the message says why."""


# ----------------------------------------------------------------- pipeline
def transform_name(t) -> str:
    return t['type'] if isinstance(t, dict) else type(t).__name__


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
    for t, name in zip(transforms, names):
        if name not in INVERTIBLE + DETERMINISTIC + PHOTOMETRIC:
            raise TeacherCacheError(
                f'teacher cache: cannot map teacher outputs through train transform '
                f'{name!r}; supported: {sorted(INVERTIBLE + DETERMINISTIC + PHOTOMETRIC)} '
                '(use the online teacher for this pipeline)')
        if name == 'TopdownAffine' and _get(t, 'use_udp', False):
            raise TeacherCacheError('teacher cache: TopdownAffine(use_udp=True) is not '
                                    'supported (its heatmap grid differs); use the online teacher')
    if 'TopdownAffine' not in names or 'PackPoseInputs' not in names:
        raise TeacherCacheError('teacher cache: the train pipeline needs TopdownAffine and '
                                f'PackPoseInputs (top-down crops); got {names}')
    augmented = any(n in INVERTIBLE for n in names)
    if kind == 'simcc' and augmented:
        raise TeacherCacheError(
            'teacher cache: SimCC teacher outputs cannot be mapped into augmented crops '
            f'({", ".join(n for n in names if n in INVERTIBLE)} in the train pipeline); '
            'drop those transforms or use the online teacher')
    rotation = any(n == 'RandomBBoxTransform' and rotation_possible(t)
                   for t, n in zip(transforms, names))
    return dict(augmented=augmented, rotation=rotation)


def _get(t, key, default):
    return t.get(key, default) if isinstance(t, dict) else getattr(t, key, default)


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


# ------------------------------------------------------------------- cache
class TeacherOutputCache:
    """A ``Distiller.teacher_source`` serving cached teacher outputs.

    Args:
        ids: (N,) instance ids (the data samples' ``id`` metainfo).
        outputs: heatmaps (N, K, H, W), or a SimCC pair (N, K, Wx), (N, K, Wy);
            stored as float16.
        centers, scales: (N, 2) un-augmented crop box of each instance in
            image pixels (``input_center`` / ``input_scale``).
        input_size: model input (w, h).
        augmented: the train pipeline augments geometrically (warp needed).
        rotation: it may rotate; samples must then carry ``bbox_rotation``.

    ``cache(inputs, data_samples)`` returns ``{'heatmap': (B, K, H, W)}`` or
    ``{'simcc': (x, y)}`` in float32 on ``inputs``' device.
    """

    def __init__(self, ids, outputs, centers, scales, input_size,
                 augmented: bool = True, rotation: bool = True):
        self.ids = torch.as_tensor(np.asarray(ids, np.int64))
        self.kind = 'simcc' if isinstance(outputs, (tuple, list)) else 'heatmap'
        self.outputs = (tuple(o.half() for o in outputs) if self.kind == 'simcc'
                        else outputs.half())
        self.centers = np.asarray(centers, np.float64).reshape(-1, 2)
        self.scales = np.asarray(scales, np.float64).reshape(-1, 2)
        self.input_size = tuple(int(v) for v in input_size)
        self.augmented, self.rotation = bool(augmented), bool(rotation)
        self.row_of = {int(i): r for r, i in enumerate(self.ids.tolist())}
        if len(self.row_of) != len(self.ids):
            raise TeacherCacheError('teacher cache: instance ids are not unique')
        self.device = torch.device('cpu')
        self.served = 0  # batches served (the tests check the cache was used)

    def __len__(self) -> int:
        return len(self.ids)

    def to(self, device) -> 'TeacherOutputCache':
        device = torch.device(device)
        if device != self.device:
            move = (lambda t: t.to(device))
            self.outputs = (tuple(map(move, self.outputs)) if self.kind == 'simcc'
                            else move(self.outputs))
            self.device = device
        return self

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
        self.to(inputs.device)
        rows = self.rows(data_samples)
        index = torch.as_tensor(rows, device=self.device)
        self.served += 1
        if self.kind == 'simcc':
            self.check_unaugmented(data_samples, rows)
            return {'simcc': tuple(o.index_select(0, index).float() for o in self.outputs)}
        maps = self.outputs.index_select(0, index).float()
        return {'heatmap': self.to_augmented(maps, data_samples, rows)}

    def to_augmented(self, maps: torch.Tensor, data_samples, rows) -> torch.Tensor:
        """Swap flipped samples' channels and warp every map into its crop."""
        perm = [torch.as_tensor(ds.metainfo['flip_indices'], device=maps.device)
                if ds.metainfo.get('flip') else None for ds in data_samples]
        maps = torch.stack([m if p is None else m.index_select(0, p)
                            for m, p in zip(maps, perm)])
        thetas = np.stack([self.theta(ds, r, maps.shape[-1], maps.shape[-2])
                           for ds, r in zip(data_samples, rows)])
        identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
        if np.allclose(thetas, identity, atol=IDENTITY_ATOL):
            return maps  # un-augmented batch: exact cached values
        return warp_heatmaps(maps, torch.as_tensor(thetas, device=maps.device))

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
                'TeacherCacheHook')
        rot = float(np.asarray(meta.get('bbox_rotation', 0.0)).reshape(-1)[0])
        size = tuple(meta.get('input_size', self.input_size))
        aug = crop_matrix(meta['input_center'], meta['input_scale'], rot, size)
        clean = crop_matrix(self.centers[row], self.scales[row], 0.0, size)
        img_h, img_w = meta.get('img_shape', (0, 0))[:2]
        flip = (flip_matrix(meta.get('flip_direction'), img_w, img_h) if meta.get('flip')
                else np.eye(3))
        return heatmap_theta(aug, clean, flip, size, (hm_w, hm_h))

    def check_unaugmented(self, data_samples, rows) -> None:
        for ds, r in zip(data_samples, rows):
            meta = ds.metainfo
            moved = (meta.get('flip') or float(np.abs(np.asarray(
                meta.get('bbox_rotation', 0.0))).max()) > 0
                or not np.allclose(meta['input_center'], self.centers[r], atol=1e-3)
                or not np.allclose(meta['input_scale'], self.scales[r], atol=1e-3))
            if moved:
                raise TeacherCacheError(
                    f"teacher cache: sample {meta.get('id')} is augmented, but SimCC teacher "
                    'outputs can be cached only for un-augmented pipelines')

    # ------------------------------------------------------------ disk
    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        outputs = self.outputs if self.kind == 'heatmap' else list(self.outputs)
        torch.save(dict(ids=self.ids, outputs=_cpu(outputs),
                        centers=torch.as_tensor(self.centers),
                        scales=torch.as_tensor(self.scales),
                        input_size=torch.as_tensor(self.input_size)), buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, augmented: bool, rotation: bool) -> 'TeacherOutputCache':
        d = torch.load(io.BytesIO(data), map_location='cpu', weights_only=True)
        outputs = d['outputs'] if isinstance(d['outputs'], torch.Tensor) else tuple(d['outputs'])
        return cls(d['ids'].numpy(), outputs, d['centers'].numpy(), d['scales'].numpy(),
                   d['input_size'].tolist(), augmented, rotation)


def _cpu(outputs):
    if isinstance(outputs, (list, tuple)):
        return [o.cpu() for o in outputs]
    return outputs.cpu()


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
                            augmented: bool = True, rotation: bool = True
                            ) -> TeacherOutputCache:
    """Run ``teacher`` (``inputs -> {'heatmap'|'simcc': ...}``) once over every
    instance of ``dataset`` through ``transforms`` (the clean crop pipeline,
    see :func:`clean_transforms`), normalised by ``preprocessor`` (the
    student's data preprocessor, as in training)."""
    from mmengine.dataset import pseudo_collate
    loader = torch.utils.data.DataLoader(CleanCrops(dataset, transforms), batch_size=batch_size,
                                         num_workers=num_workers, collate_fn=pseudo_collate)
    ids, outs, centers, scales, seen, size, kind = [], [], [], [], {}, None, None
    for batch in loader:
        data = preprocessor(batch, training=False)
        out = teacher(data['inputs'])
        kind = kind or ('heatmap' if 'heatmap' in out else 'simcc')
        if kind not in out:
            raise TeacherCacheError(f'teacher cache: the teacher gives {sorted(out)}, '
                                    "expected 'heatmap' or 'simcc'")
        for b, ds in enumerate(data['data_samples']):
            meta = ds.metainfo
            key = int(meta['id'])
            if key in seen:
                if seen[key] != meta['img_id']:
                    raise TeacherCacheError(f'teacher cache: instance id {key} appears in two '
                                            'images; ids must be unique across the train set')
                continue
            seen[key] = meta['img_id']
            ids.append(key)
            centers.append(meta['input_center'])
            scales.append(meta['input_scale'])
            size = meta['input_size']
            outs.append(out[kind][b].half().cpu() if kind == 'heatmap'
                        else tuple(o[b].half().cpu() for o in out[kind]))
    if not ids:
        raise TeacherCacheError('teacher cache: the train dataset is empty')
    stacked = (torch.stack(outs) if kind == 'heatmap'
               else tuple(torch.stack(o) for o in zip(*outs)))
    return TeacherOutputCache(ids, stacked, centers, scales, size, augmented, rotation)


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
    """The cache in ``folder`` if its manifest matches ``expected`` and its
    data is intact, else None (the caller recomputes)."""
    manifest_path, data_path = folder / 'manifest.json', folder / 'outputs.pt'
    if not manifest_path.is_file() or not data_path.is_file():
        return None
    manifest = json.loads(manifest_path.read_text())
    if manifest.get('fingerprint') != expected:
        return None
    data = data_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest.get('sha256'):
        return None  # truncated or replaced data: recompute
    return TeacherOutputCache.from_bytes(data, augmented, rotation)


def save_cache(cache: TeacherOutputCache, folder: Path, expected: dict) -> Path:
    """Data first, manifest last, each atomically: a reader sees both or neither."""
    from kdkit.utils.io import atomic_write_bytes, atomic_write_text
    data = cache.to_bytes()
    atomic_write_bytes(folder / 'outputs.pt', data)
    manifest = dict(fingerprint=expected, sha256=hashlib.sha256(data).hexdigest(),
                    kind=cache.kind, instances=len(cache), dtype='float16')
    atomic_write_text(folder / 'manifest.json', json.dumps(manifest, indent=2))
    return folder
