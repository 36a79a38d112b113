"""Checks of user input that fail early, in one line naming the file or field.

``kdkit train`` / ``kdkit test`` call :func:`check_run_config` before the
MMEngine Runner exists, so a bad data root, annotation file, image list,
key-point count, checkpoint (missing, truncated, or not fitting the model),
pretrained download, hook argument, teacher that cannot be mapped onto the
student (key-point names, crop aspect, codec) or work_dir stops the run
before anything is written. :class:`~kdkit.data.VideoPoseDataset` uses the same
message helpers when it loads, so a run started another way (MMPose's
``tools/train.py``, notebooks) gets the same errors.
"""
from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path
from typing import Iterable, Optional

# annotation files up to this size are parsed by the pre-flight check (the
# dataset parses them again when the run starts); larger ones are checked
# for existence and an intact JSON head/tail only, the dataset does the rest
FULL_PARSE_BYTES = 32 << 20
# a work_dir holding any of these is an MMEngine run folder (train or test)
RUN_DIR = re.compile(r'^\d{8}_\d{6}$')
RUN_FILES = ('last_checkpoint',)


class InputError(ValueError):
    """Bad user input (data, config, checkpoint); the message is one line that
    names the file or field and what was expected."""


def _one_line(text: str) -> str:
    return ' '.join(str(text).split())


# ------------------------------------------------------------------ data
def join_root(data_root, path) -> str:
    """``path`` under ``data_root`` as MMEngine's BaseDataset joins them."""
    if not path:
        return path
    if data_root and not os.path.isabs(str(path)) and '://' not in str(path):
        return os.path.join(str(data_root), str(path))
    return str(path)


def check_ann_file(ann_file, data_root=None, field: str = 'dataset') -> Path:
    """The annotation file exists (and, if it does not, whether the data root does)."""
    path = Path(ann_file)
    if path.is_file():
        return path
    if data_root and not Path(data_root).is_dir():
        raise InputError(f'{field}.data_root: {data_root} does not exist (expected the '
                         f'dataset folder holding {os.path.relpath(path, data_root)})')
    raise InputError(f'{field}.ann_file: {path} does not exist (expected a COCO '
                     'key-point JSON file)')


def json_error(path, e: json.JSONDecodeError, field: str = 'dataset') -> InputError:
    return InputError(f'{field}.ann_file: {path} is not valid JSON ({e.msg} at line '
                      f'{e.lineno} column {e.colno}; truncated or corrupt? regenerate or '
                      're-download it)')


def structure_error(path, detail: str, field: str = 'dataset') -> InputError:
    return InputError(f'{field}.ann_file: {path} is not a COCO key-point file '
                      f'({_one_line(detail)}); expected a JSON object with "images" '
                      '(id, file_name, width, height) and "annotations" (image_id, bbox, '
                      'keypoints) lists')


def keypoint_count_error(path, ann_id, found: int, expected: int, dataset_name,
                         field: str = 'dataset') -> InputError:
    return InputError(f'{field}.ann_file: {path}: annotation {ann_id} has {found} key '
                      f"points, the dataset's metainfo ({dataset_name}) has {expected}; "
                      "pass the dataset a metainfo=dict(from_file=...) for your key points")


def check_json_ends(path: Path, field: str = 'dataset') -> None:
    """Cheap test for a truncated (large) JSON file: it starts with ``{`` and
    ends with ``}``."""
    size = path.stat().st_size
    with open(path, 'rb') as f:
        head = f.read(64).lstrip()
        f.seek(max(0, size - 64))
        tail = f.read().rstrip()
    if not head.startswith(b'{') or not tail.endswith(b'}'):
        raise InputError(f'{field}.ann_file: {path} is not valid JSON (it does not '
                         'start with "{" and end with "}"; truncated or corrupt? '
                         'regenerate or re-download it)')


def read_coco_json(path, field: str = 'dataset') -> dict:
    """Parse a COCO key-point file, or raise a one-line :class:`InputError`."""
    path = Path(path)
    try:
        with open(path, encoding='utf-8') as f:
            coco = json.load(f)
    except json.JSONDecodeError as e:
        raise json_error(path, e, field) from None
    except UnicodeDecodeError as e:
        raise InputError(f'{field}.ann_file: {path} is not UTF-8 text ({e.reason})') from None
    if not isinstance(coco, dict):
        raise structure_error(path, f'top level is a {type(coco).__name__}', field)
    for key in ('images', 'annotations'):
        if not isinstance(coco.get(key), list):
            raise structure_error(path, f'no "{key}" list; keys: {sorted(coco)[:8]}', field)
    return coco


def check_coco_content(coco: dict, path, num_keypoints: Optional[int], dataset_name='',
                       field: str = 'dataset') -> None:
    """Every annotation has ``3 * num_keypoints`` key-point values and an image."""
    images = set()
    for img in coco['images']:
        if not isinstance(img, dict) or 'id' not in img or 'file_name' not in img:
            raise structure_error(path, f'image entry without id/file_name: {str(img)[:80]}',
                                  field)
        images.add(img['id'])
    for ann in coco['annotations']:
        if not isinstance(ann, dict) or 'keypoints' not in ann:
            continue  # MMPose skips instances without key points
        n = len(ann['keypoints'])
        if n % 3:
            raise structure_error(path, f'annotation {ann.get("id")} has {n} key-point '
                                  'values, not a multiple of 3 (x, y, v)', field)
        if num_keypoints and n // 3 != num_keypoints:
            raise keypoint_count_error(path, ann.get('id'), n // 3, num_keypoints,
                                       dataset_name, field)
        if ann.get('image_id') not in images:
            raise structure_error(path, f'annotation {ann.get("id")} refers to image_id '
                                  f'{ann.get("image_id")!r}, which is not in "images"', field)


def check_images_exist(img_paths: Iterable[str], ann_file, field: str = 'dataset') -> None:
    """Every image the annotation file lists (for a sample) is on disk."""
    paths = sorted(set(img_paths))
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise InputError(f'{field}: {len(missing)} of {len(paths)} images listed in '
                         f'{ann_file} are missing, e.g. {missing[0]} (copy them there or '
                         "fix data_root / data_prefix['img'])")


def _dataset_class(type_name):
    from mmengine.registry import DefaultScope
    from mmpose.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmpose'):
        return DATASETS.get(type_name) if isinstance(type_name, str) else type_name


def dataset_num_keypoints(ds_cfg) -> tuple[Optional[int], str]:
    """(num_keypoints, dataset_name) from a dataset config's metainfo, as the
    dataset will resolve it; (None, '') when unknown."""
    cls = _dataset_class(ds_cfg.get('type'))
    metainfo = ds_cfg.get('metainfo') or getattr(cls, 'METAINFO', None)
    if not metainfo:
        return None, ''
    try:
        from mmpose.datasets.datasets.utils import parse_pose_metainfo
        meta = parse_pose_metainfo(dict(metainfo))
    except Exception:  # noqa: BLE001  (an unusual metainfo: the dataset will say)
        return None, ''
    return meta.get('num_keypoints'), str(meta.get('dataset_name', ''))


def check_dataset_cfg(ds_cfg, field: str) -> Optional[int]:
    """Pre-flight a (COCO-style) dataset config: data root, annotation file,
    key-point counts, listed images. Returns the dataset's key-point count."""
    if ds_cfg is None:
        return None
    if 'datasets' in ds_cfg:  # ConcatDataset / CombinedDataset
        counts = [check_dataset_cfg(d, f'{field}.datasets[{i}]')
                  for i, d in enumerate(ds_cfg['datasets'])]
        return next((c for c in counts if c), None)
    if 'dataset' in ds_cfg and 'ann_file' not in ds_cfg:  # RepeatDataset, ...
        return check_dataset_cfg(ds_cfg['dataset'], f'{field}.dataset')
    from mmpose.datasets.datasets.base import BaseCocoStyleDataset
    cls = _dataset_class(ds_cfg.get('type'))
    if not (isinstance(cls, type) and issubclass(cls, BaseCocoStyleDataset)):
        return None
    num_keypoints, name = dataset_num_keypoints(ds_cfg)
    data_root = ds_cfg.get('data_root') or ''
    if '://' in f"{data_root}{ds_cfg.get('ann_file', '')}":  # remote storage
        return num_keypoints
    if data_root and not Path(data_root).is_dir():
        raise InputError(f'{field}.data_root: {data_root} does not exist (expected the '
                         f'dataset folder holding {ds_cfg.get("ann_file")})')
    if ds_cfg.get('bbox_file'):
        bbox = join_root(data_root, ds_cfg['bbox_file'])
        if not Path(bbox).is_file():
            raise InputError(f'{field}.bbox_file: {bbox} does not exist')
    ann = check_ann_file(join_root(data_root, ds_cfg.get('ann_file', '')), data_root, field)
    if ann.stat().st_size > FULL_PARSE_BYTES:
        check_json_ends(ann, field)
        return num_keypoints
    coco = read_coco_json(ann, field)
    check_coco_content(coco, ann, num_keypoints, name, field)
    prefix = join_root(data_root, (ds_cfg.get('data_prefix') or {}).get('img', ''))
    used = {a.get('image_id') for a in coco['annotations'] if isinstance(a, dict)}
    check_images_exist((os.path.join(prefix, img['file_name']) for img in coco['images']
                        if img['id'] in used), ann, field)
    return num_keypoints


def head_out_channels(model_cfg) -> Optional[int]:
    head = (model_cfg or {}).get('head') or {}
    return head.get('out_channels')


def check_keypoint_match(data_k: Optional[int], model_k: Optional[int], data_field: str,
                         dataset_name: str = '', model_field: str = 'model.head.out_channels'
                         ) -> None:
    """The student predicts as many key points as the data has."""
    if data_k and model_k and int(data_k) != int(model_k):
        raise InputError(
            f'{model_field}={model_k} but {data_field} has {data_k} key points'
            f'{f" ({dataset_name})" if dataset_name else ""}; set {model_field}={data_k} '
            f'or use data with {model_k} key points')


# ---------------------------------------------------------- checkpoints
def checkpoint_intact(path) -> bool:
    """A torch checkpoint that is not cut short: a zip file (torch >= 1.6)
    whose central directory, at its very end, is there; or a legacy pickle
    file (accepted on its first bytes). Reads only the file's ends."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            return bool(z.namelist())
    except zipfile.BadZipFile:
        try:
            with open(path, 'rb') as f:
                head = f.read(2)
        except OSError:
            return False
        # a legacy torch file is a pickle (protocol 2+), it starts with 0x80;
        # a zip without its end (truncated) starts with 'PK'
        return head[:1] == b'\x80'
    except (OSError, ValueError):
        return False


def check_checkpoint_file(path, field: str):
    """An existing, intact local checkpoint (URLs and ``scheme://`` paths are
    left to MMEngine)."""
    if '://' in str(path):
        return path
    path = Path(path)
    if not path.is_file():
        raise InputError(f'{field}: {path} does not exist')
    if not checkpoint_intact(path):
        raise InputError(f'{field}: {path} is not a readable torch checkpoint '
                         '(truncated or not a checkpoint)')
    return path


def _checkpoint_step(path: Path) -> int:
    m = re.search(r'(\d+)\.pth$', path.name)
    return int(m.group(1)) if m else -1


def resume_checkpoint(work_dir) -> tuple[Optional[Path], list[Path]]:
    """The checkpoint ``--resume`` should load: the one ``last_checkpoint``
    names if intact, else the newest intact ``epoch_*.pth`` / ``iter_*.pth``
    / ``best_*.pth`` (a run killed while writing a checkpoint leaves a
    truncated one, or a ``last_checkpoint`` naming a removed file: MMEngine
    deletes the oldest kept checkpoint before it writes the new one). Returns (checkpoint or None,
    unreadable checkpoints found)."""
    work_dir = Path(work_dir)
    candidates = []
    last = work_dir / 'last_checkpoint'
    if last.is_file() and last.read_text().strip():
        named = Path(last.read_text().strip())
        candidates.append(named if named.is_absolute() or named.exists() else work_dir / named.name)
    # then by step, newest first; a best_*.pth (a full runner checkpoint too)
    # only where no epoch_/iter_ checkpoint of that step is intact
    found = [*work_dir.glob('epoch_*.pth'), *work_dir.glob('iter_*.pth'),
             *work_dir.glob('best_*.pth')]
    candidates += sorted(found, key=lambda p: (_checkpoint_step(p), not p.name.startswith('best_')),
                         reverse=True)
    bad = []
    for c in candidates:
        if checkpoint_intact(c):
            return c, bad
        if c.exists() and c not in bad:
            bad.append(c)
    return None, bad


# ---------------------------------------------------------------- config
def check_work_dir(work_dir, field: str = 'work_dir') -> None:
    """A work_dir must be new, empty or an MMEngine run folder: kdkit does not
    write its logs and checkpoints into a folder holding other things."""
    path = Path(work_dir)
    if not path.exists():
        return
    if not path.is_dir():
        raise InputError(f'{field}: {path} exists and is not a folder')
    entries = sorted(p.name for p in path.iterdir())
    if not entries:
        return
    if any(RUN_DIR.match(e) or e in RUN_FILES or e.endswith('.pth') for e in entries):
        return
    shown = ', '.join(entries[:3]) + (', ...' if len(entries) > 3 else '')
    raise InputError(f'{field}: {path} exists with other content ({shown}) and holds no '
                     'MMEngine run; choose a new or empty --work-dir')


def check_hooks(cfg) -> None:
    """Build each ``custom_hooks`` entry once (weights, terms, schedules and
    typo'd arguments are checked in their constructors); the message is
    prefixed with the entry."""
    from mmengine.registry import DefaultScope
    from mmpose.registry import HOOKS
    for i, h in enumerate(cfg.get('custom_hooks') or []):
        if not isinstance(h, dict):
            continue
        try:
            with DefaultScope.overwrite_default_scope(cfg.get('default_scope') or 'mmpose'):
                HOOKS.build(dict(h))
        except (ValueError, TypeError, KeyError) as e:
            msg = _one_line(e).replace(f'class `{h.get("type")}` in ', 'in ')
            raise InputError(f'custom_hooks[{i}] ({h.get("type")}): {msg}') from None


def teacher_specs(cfg) -> list[tuple[str, dict]]:
    """(field, dict(config=..., checkpoint=...)) of every teacher in a config."""
    specs = []
    for i, h in enumerate(cfg.get('custom_hooks') or []):
        if isinstance(h, dict) and isinstance(h.get('teacher'), dict):
            specs.append((f'custom_hooks[{i}].teacher', h['teacher']))
    model = cfg.get('model') or {}
    if isinstance(model.get('teacher'), dict):
        specs.append(('model.teacher', model['teacher']))
    return specs


def check_teachers(cfg) -> None:
    """Each teacher's config exists and its checkpoint (a file, a work_dir or
    a URL, downloaded here into torch hub's cache) is intact."""
    from kdkit.distill.teacher import resolve_checkpoint, resolve_path
    for field, spec in teacher_specs(cfg):
        if spec.get('config'):
            try:
                resolve_path(spec['config'], f'{field}.config')
            except FileNotFoundError as e:
                raise InputError(_one_line(e)) from None
        if spec.get('checkpoint'):
            try:
                ckpt = resolve_checkpoint(spec['checkpoint'])
            except FileNotFoundError as e:
                raise InputError(f'{field}.checkpoint: ' + _one_line(e).replace(
                    'teacher checkpoint: ', '')) from None
            check_checkpoint_file(download(ckpt, f'{field}.checkpoint'), f'{field}.checkpoint')


def check_teacher_alignment(cfg, spec: dict, field: str) -> None:
    """The teacher can be mapped onto the run's student (key points by name,
    input aspect, codecs), judged from the two configs alone; the message
    names the field, e.g. ``custom_hooks[1].teacher.keypoint_map``."""
    from kdkit.distill.mapping import check_cfg_options, config_view, plan_alignment
    from kdkit.distill.teacher import load_any_config
    try:
        check_cfg_options(spec.get('cfg_options'), f'{field}.cfg_options')
        teacher_cfg = load_any_config(spec['config'])
        if spec.get('cfg_options'):
            teacher_cfg.merge_from_dict(dict(spec['cfg_options']))
        plan_alignment(config_view(teacher_cfg, spec.get('metainfo'), 'teacher'),
                       config_view(cfg, None, 'student'), spec.get('keypoint_map'), field)
    except ValueError as e:
        raise InputError(_one_line(e)) from None


def download(path, field: str):
    """A local path as given; an ``http(s)://`` URL downloaded (once) into
    torch hub's cache, where MMEngine's loader will find it: its cached file."""
    from kdkit.utils.checkpoint import DownloadError, cached_download, is_url
    if not is_url(path):
        return path
    try:
        return cached_download(str(path))
    except DownloadError as e:
        raise InputError(f'{field}: {e}') from None


def check_model_checkpoint(cfg, path, field: str = 'load_from') -> None:
    """``path`` (a file or URL) holds the weights of ``cfg``'s model (the
    student of a distillation config) once MMPose's renames of older
    checkpoints are applied; else a one-line :class:`InputError` naming the
    file, the counts of missing/unexpected keys and an example of each. MMEngine
    itself only logs a warning and evaluates or trains the layers it could not
    fill from random weights."""
    from kdkit.distill.teacher import build_pose_model
    from kdkit.utils.checkpoint import check_fits
    try:
        check_fits(build_pose_model(cfg), path, field)
    except (ValueError, FileNotFoundError) as e:
        raise InputError(_one_line(e)) from None


PRETRAINED_INITS = ('Pretrained', 'PretrainedInit')


def pretrained_inits(node, field: str = 'model') -> list[tuple[str, str]]:
    """(field, checkpoint) of every ``init_cfg=dict(type='Pretrained',
    checkpoint=...)`` in a model config, e.g. ``('model.backbone.init_cfg', ...)``."""
    found = []
    if isinstance(node, dict):
        init = node.get('init_cfg')
        inits = init if isinstance(init, (list, tuple)) else [init]
        for i, entry in enumerate(inits):
            if (isinstance(entry, dict) and entry.get('type') in PRETRAINED_INITS
                    and entry.get('checkpoint')):
                name = f'{field}.init_cfg' + (f'[{i}]' if isinstance(init, (list, tuple)) else '')
                found.append((name, str(entry['checkpoint'])))
        for key, value in node.items():
            if key != 'init_cfg':
                found += pretrained_inits(value, f'{field}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            found += pretrained_inits(value, f'{field}[{i}]')
    return found


def check_pretrained(cfg) -> None:
    """Every pretrained checkpoint the model's ``init_weights`` will load
    (``init_cfg=dict(type='Pretrained')``, e.g. a stock config's ImageNet
    backbone) is there: a local file exists, a URL (``http(s)://`` and
    MMEngine's ``torchvision://``, ``mmcls://``, ``open-mmlab://`` names) is
    downloaded now into torch hub's cache, where MMEngine then finds it. Without
    network: a one-line error naming the field, not a urllib traceback from
    inside the Runner."""
    from kdkit.utils.checkpoint import (DownloadError, cached_download, checkpoint_url,
                                       is_url, read_state_dict)
    for field, ckpt in pretrained_inits(cfg.get('model')):
        url = checkpoint_url(ckpt)
        if url is None:
            if '://' not in ckpt and not Path(ckpt).expanduser().is_file():
                raise InputError(f'{field}: {ckpt} does not exist (a pretrained checkpoint '
                                 f'for init_weights; set {field}=None to start from random '
                                 'weights)')
            continue  # another storage backend: MMEngine's
        try:
            cached = cached_download(url)
        except DownloadError as e:
            raise InputError(f'{field}: {e}, or set {field}=None to start from random '
                             'weights') from None
        if is_url(ckpt):  # kdkit's URL loader reads it weights-only: say now if it cannot
            try:
                read_state_dict(cached, field)
            except ValueError as e:
                raise InputError(_one_line(e)) from None


def check_run_config(cfg, splits: tuple = ('train', 'val'), check_out_dir: bool = True) -> None:
    """Everything kdkit can check before the Runner starts (and writes).

    Args:
        cfg: the merged MMEngine config.
        splits: the dataloaders the run will use ('train', 'val', 'test').
        check_out_dir: refuse a work_dir holding other content.
    """
    if check_out_dir and cfg.get('work_dir'):
        check_work_dir(cfg.work_dir)
    if cfg.get('load_from') and not cfg.get('resume'):
        check_checkpoint_file(cfg.load_from, 'load_from')
        check_model_checkpoint(cfg, cfg.load_from, 'load_from')
    if 'train' in splits:  # the Runner's init_weights runs in train() only
        check_pretrained(cfg)
    check_hooks(cfg)
    check_teachers(cfg)
    model_k = head_out_channels(cfg.get('model'))
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader or (split == 'val' and not cfg.get('val_cfg')):
            continue
        field = f'{split}_dataloader.dataset'
        data_k = check_dataset_cfg(loader.get('dataset'), field)
        name = dataset_num_keypoints(loader['dataset'])[1] if data_k else ''
        check_keypoint_match(data_k, model_k, field, name)
    for field, spec in teacher_specs(cfg):  # after the data-vs-student checks
        if spec.get('config'):
            check_teacher_alignment(cfg, spec, field)
