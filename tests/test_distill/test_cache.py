"""TeacherOutputCache: same losses as the online teacher on un-augmented
batches, correct geometry under flip / shift / rotation, safe persistence."""
import copy

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from kdkit.distill import Distiller, FrozenTeacher, build_pose_model
from kdkit.distill import cache as tc
from kdkit.distill.cli import load_config

STUDENT = 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'
TEACHER = 'configs/teacher/td-hm_res18_quick_kdkit-video-128x96.py'
CODEC = dict(type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=1.5)
HEAD = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale')]
TAIL = [dict(type='TopdownAffine', input_size=(96, 128)),
        dict(type='GenerateTarget', encoder=CODEC),
        dict(type='PackPoseInputs', pack_transformed=True)]


def build_dataset(data_root, augment):
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS
    init_default_scope('mmpose')
    cfg = copy.deepcopy(load_config(STUDENT).train_dataloader.dataset.to_dict())
    cfg.update(data_root=f'{data_root}/', pipeline=HEAD + list(augment) + TAIL)
    return DATASETS.build(cfg)


def pipeline_needs(dataset):
    transforms = dataset.pipeline.transforms
    needs = tc.check_pipeline(transforms)
    tc.ensure_meta_keys(transforms, needs['rotation'])
    return transforms, needs


# ------------------------------------------------------- online vs cached
def test_cached_loss_equals_online_on_unaugmented_batch(tiny_data, teacher_ckpt):
    dataset = build_dataset(tiny_data, augment=[])
    transforms, needs = pipeline_needs(dataset)
    assert needs == dict(augmented=False, rotation=False)
    student = build_pose_model(STUDENT)
    teacher = FrozenTeacher.from_config(TEACHER, teacher_ckpt, student=student)
    # freshly initialised heads output ~1e-5 everywhere (std 1e-3 init): give
    # the teacher heatmaps with structure, so the losses are not rounding noise
    torch.manual_seed(0)
    for p in teacher.model.head.parameters():
        if p.dim() > 1:
            torch.nn.init.kaiming_normal_(p)
    cache = tc.compute_teacher_outputs(teacher, dataset, tc.clean_transforms(transforms),
                                       student.data_preprocessor, batch_size=4, **needs)
    assert len(cache) == len(dataset) and cache.outputs.dtype == torch.float16

    batch = student.data_preprocessor(pseudo_collate([dataset[i] for i in (5, 0, 3, 9)]),
                                      training=True)
    terms = dict(kd_mse=dict(type='HeatmapMSEDistillLoss'),
                 kd_kl=dict(type='HeatmapKLDistillLoss', temperature=0.1))
    distiller = Distiller(terms, dict(gt=1.0, kd_mse=1.0, kd_kl=1.0), teacher=teacher)
    student.eval()  # same BN statistics for both passes
    online = distiller.loss(student, batch['inputs'], batch['data_samples'])
    distiller.teacher_source = cache
    cached = distiller.loss(student, batch['inputs'], batch['data_samples'])
    assert cache.served == 1
    assert cached['loss_gt'].item() == online['loss_gt'].item()
    for key in ('loss_kd_mse', 'loss_kd_kl'):
        # float16 keeps ~3 significant digits of each teacher value
        assert cached[key].item() == pytest.approx(online[key].item(), rel=2e-3), key


# ---------------------------------------------------------------- geometry
def label_teacher_cache(dataset, transforms, needs):
    """A cache of an exactly equivariant 'teacher': the codec's Gaussian
    heatmaps of the labels on each un-augmented crop."""
    from mmcv.transforms import Compose
    from mmpose.datasets.transforms import GenerateTarget
    clean = tc.clean_transforms(transforms)
    pipeline = Compose(clean[:-1] + [GenerateTarget(encoder=CODEC)] + clean[-1:])
    ids, maps, centers, scales = [], [], [], []
    for i in range(len(dataset)):
        sample = pipeline(dataset.get_data_info(i))['data_samples']
        meta = sample.metainfo
        ids.append(meta['id'])
        centers.append(meta['input_center'])
        scales.append(meta['input_scale'])
        maps.append(torch.as_tensor(sample.gt_fields.heatmaps))
    return tc.TeacherOutputCache(ids, torch.stack(maps), centers, scales, (96, 128), **needs)


def peak_errors(cache, sample):
    """Distance (heatmap cells) between each warped cached peak and the
    label's true location in the augmented crop, for key points well inside it."""
    maps = cache(torch.zeros(1, 3, 128, 96), [sample])['heatmap'][0]
    true = torch.as_tensor(sample.gt_instances.transformed_keypoints[0][:, :2]).float() / 4
    weight = torch.as_tensor(np.asarray(sample.gt_instance_labels.keypoint_weights[0])) > 0
    inside = (true[:, 0] >= 1) & (true[:, 0] <= 22) & (true[:, 1] >= 1) & (true[:, 1] <= 30)
    idx = maps.flatten(-2).argmax(-1)
    peak = torch.stack((idx % 24, idx // 24), -1).float()
    return (peak - true).norm(dim=-1)[weight & inside]


AUGMENTS = {
    'flip': [dict(type='RandomFlip', direction='horizontal', prob=1.0)],
    'shift+rotate': [dict(type='RandomBBoxTransform', shift_prob=1.0, scale_prob=0.0,
                          rotate_prob=1.0, rotate_factor=30)],
    'flip+shift+scale+rotate': [dict(type='RandomFlip', direction='horizontal', prob=1.0),
                                dict(type='RandomBBoxTransform', scale_factor=(0.9, 1.1),
                                     rotate_factor=30)],
}


@pytest.mark.parametrize('name', sorted(AUGMENTS))
def test_warped_cache_matches_teacher_on_augmented_crop(tiny_data, name):
    # Tolerance 1.5 cells: both the cached and the augmented label maps put
    # their Gaussian on the nearest cell (<= 0.71 cell each, MSRAHeatmap
    # rounds), and bilinear resampling adds a little; a wrong flip, channel
    # swap or rotation sign is off by many cells.
    dataset = build_dataset(tiny_data, AUGMENTS[name])
    cache = label_teacher_cache(dataset, *pipeline_needs(dataset))
    np.random.seed(0)
    errors = torch.cat([peak_errors(cache, dataset[i]['data_samples'])
                        for i in range(len(dataset))])
    assert len(errors) > 20
    assert errors.max() <= 1.5, f'{name}: peaks off by up to {errors.max():.2f} cells'


def test_flip_without_channel_swap_would_be_wrong(tiny_data):
    """The test above can fail: drop the left/right swap and peaks move far."""
    dataset = build_dataset(tiny_data, AUGMENTS['flip'])
    cache = label_teacher_cache(dataset, *pipeline_needs(dataset))
    errors = []
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        sample.set_metainfo(dict(flip_indices=list(range(17))))
        errors.append(peak_errors(cache, sample))
    assert torch.cat(errors).max() > 3


def test_identity_warp_is_exact():
    maps = torch.rand(2, 17, 32, 24)
    cache = tc.TeacherOutputCache([7, 8], maps, [[50, 60], [70, 80]], [[90, 120], [45, 60]],
                                  (96, 128), augmented=False, rotation=False)
    samples = [fake_sample(8, (70, 80), (45, 60)), fake_sample(7, (50, 60), (90, 120))]
    out = cache(torch.zeros(2, 3, 128, 96), samples)['heatmap']
    assert torch.equal(out, maps[[1, 0]].half().float())


def fake_sample(key, center, scale, **meta):
    from mmpose.structures import PoseDataSample
    ds = PoseDataSample()
    ds.set_metainfo(dict(id=key, img_id=key, input_size=(96, 128), img_shape=(192, 192),
                         input_center=np.asarray(center, np.float32),
                         input_scale=np.asarray(scale, np.float32), flip=False, **meta))
    return ds


# ------------------------------------------------------------ bad input
def test_unknown_instance_is_named():
    cache = tc.TeacherOutputCache([1], torch.zeros(1, 17, 32, 24), [[1, 1]], [[2, 2]], (96, 128))
    with pytest.raises(tc.TeacherCacheError, match='instance id 5 is not cached'):
        cache(torch.zeros(1, 3, 128, 96), [fake_sample(5, (1, 1), (2, 2))])


def test_rotation_without_packed_angle_is_refused():
    cache = tc.TeacherOutputCache([1], torch.zeros(1, 17, 32, 24), [[1, 1]], [[2, 2]], (96, 128),
                                  augmented=True, rotation=True)
    with pytest.raises(tc.TeacherCacheError, match="no 'bbox_rotation'"):
        cache(torch.zeros(1, 3, 128, 96), [fake_sample(1, (3, 1), (2, 2))])


@pytest.mark.parametrize('pipeline,kind,match', [
    ([dict(type='Albumentation')] + TAIL, 'heatmap', "train transform 'Albumentation'"),
    (HEAD + [dict(type='TopdownAffine', input_size=(96, 128), use_udp=True)] + TAIL[2:],
     'heatmap', 'use_udp'),
    (HEAD + AUGMENTS['flip'] + TAIL, 'simcc', 'SimCC teacher outputs cannot be mapped'),
])
def test_uninvertible_pipelines_are_refused(pipeline, kind, match):
    with pytest.raises(tc.TeacherCacheError, match=match):
        tc.check_pipeline(pipeline, kind)


def test_simcc_cache_serves_unaugmented_and_refuses_augmented():
    simcc = (torch.rand(1, 17, 192), torch.rand(1, 17, 256))
    cache = tc.TeacherOutputCache([1], simcc, [[10, 20]], [[30, 40]], (96, 128),
                                  augmented=False, rotation=False)
    out = cache(torch.zeros(1, 3, 128, 96), [fake_sample(1, (10, 20), (30, 40))])['simcc']
    assert torch.allclose(out[0], simcc[0], atol=1e-3)
    with pytest.raises(tc.TeacherCacheError, match='SimCC'):
        cache(torch.zeros(1, 3, 128, 96), [fake_sample(1, (12, 20), (30, 40))])


# ------------------------------------------------------------- persistence
def test_disk_round_trip_and_invalidation(tmp_path):
    cache = tc.TeacherOutputCache([3, 4], torch.rand(2, 17, 32, 24), [[1, 2], [3, 4]],
                                  [[5, 6], [7, 8]], (96, 128))
    expected = dict(version=tc.CACHE_VERSION, teacher='abc', pipeline=['x'])
    folder = tc.save_cache(cache, tmp_path / tc.cache_key(expected), expected)
    loaded = tc.load_cache(folder, expected, augmented=True, rotation=True)
    assert torch.equal(loaded.outputs, cache.outputs) and loaded.ids.tolist() == [3, 4]
    np.testing.assert_array_equal(loaded.centers, cache.centers)
    # another teacher: the manifest no longer matches
    assert tc.load_cache(folder, dict(expected, teacher='other'), True, True) is None
    assert tc.cache_key(dict(expected, teacher='other')) != tc.cache_key(expected)
    # truncated data (a killed writer that bypassed the atomic rename): refused
    data = (folder / 'outputs.pt').read_bytes()
    (folder / 'outputs.pt').write_bytes(data[:len(data) // 2])
    assert tc.load_cache(folder, expected, True, True) is None
    # no manifest (killed before the last write): not a cache
    (folder / 'manifest.json').unlink()
    assert tc.load_cache(folder, expected, True, True) is None
