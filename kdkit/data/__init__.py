"""Data: the generated annotated pose-video dataset and its MMPose plumbing.

* :func:`generate_dataset` / :data:`PROFILES`: seeded, offline generator of
  short clips of one person exercising (COCO key-point json per split, with
  PoseTrack-style video fields); pure numpy + OpenCV.
* :class:`VideoPoseDataset` (MMPose ``DATASETS``) and :class:`ClipSampler`
  (``DATA_SAMPLERS``): clip-aware loading with one augmentation per window.

Importing this package registers the dataset and the sampler.
"""
from .config import KNOBS, PROFILES
from .export import dataset_up_to_date, generate_dataset, read_meta

try:  # the generator works without MMPose; the loaders need it
    from .dataset import VideoPoseDataset
    from .combined import CombinedVideoDataset  # registers it in MMPose's DATASETS
    from .sampler import ClipSampler, check_clip_batch, check_clip_loader_cfg
except ModuleNotFoundError as e:  # pragma: no cover - MMPose is in the env
    if e.name is None or e.name.split('.')[0] not in ('mmpose', 'mmengine', 'mmcv', 'torch'):
        raise
    _MISSING = e

    def __getattr__(name):
        if name in ('VideoPoseDataset', 'ClipSampler', 'check_clip_batch',
                    'check_clip_loader_cfg'):
            raise ImportError(f'kdkit.data.{name} needs MMPose: {_MISSING}')
        raise AttributeError(name)

__all__ = ['generate_dataset', 'PROFILES', 'KNOBS', 'VideoPoseDataset', 'ClipSampler',
           'check_clip_batch', 'check_clip_loader_cfg', 'dataset_up_to_date',
           'read_meta']
