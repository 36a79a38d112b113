"""TeacherOutputCache: same losses as the online teacher on un-augmented
batches, correct geometry under flip / shift / rotation, safe persistence."""
import copy
from pathlib import Path

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


SIMCC_CODEC = dict(type='SimCCLabel', input_size=(96, 128), sigma=(2.45, 2.83),
                   simcc_split_ratio=2.0, normalize=False)


def simcc_label_cache(dataset, transforms, needs):
    """A SimCC cache of the codec's labels on each un-augmented crop, as
    logits (peak 2, background 0)."""
    from mmcv.transforms import Compose
    from mmpose.datasets.transforms import GenerateTarget
    clean = tc.clean_transforms(transforms)
    pipeline = Compose(clean[:-1] + [GenerateTarget(encoder=SIMCC_CODEC)] + clean[-1:])
    ids, xs, ys, centers, scales = [], [], [], [], []
    for i in range(len(dataset)):
        sample = pipeline(dataset.get_data_info(i))['data_samples']
        meta, labels = sample.metainfo, sample.gt_instance_labels
        ids.append(meta['id'])
        centers.append(meta['input_center'])
        scales.append(meta['input_scale'])
        xs.append(2 * labels.keypoint_x_labels[0])
        ys.append(2 * labels.keypoint_y_labels[0])
    return tc.TeacherOutputCache(ids, (torch.stack(xs), torch.stack(ys)), centers, scales,
                                 (96, 128), **needs)


@pytest.mark.parametrize('name', sorted(AUGMENTS))
def test_warped_simcc_cache_matches_teacher_on_augmented_crop(tiny_data, name):
    """SimCC outputs (per-axis logits) under flip, shift, scale and rotation:
    the argmax of each warped axis is the label's position in the augmented
    crop, to within 1.5 px (3 bins); a wrong flip or rotation is off by far more."""
    dataset = build_dataset(tiny_data, AUGMENTS[name])
    cache = simcc_label_cache(dataset, *pipeline_needs(dataset))
    np.random.seed(0)
    errors = []
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        x, y = cache(torch.zeros(1, 3, 128, 96), [sample])['simcc']
        peak = torch.stack((x[0].argmax(-1), y[0].argmax(-1)), -1).float() / 2
        true = torch.as_tensor(sample.gt_instances.transformed_keypoints[0][:, :2]).float()
        weight = torch.as_tensor(np.asarray(sample.gt_instance_labels.keypoint_weights[0])) > 0
        inside = ((true >= 2) & (true <= torch.tensor([93.0, 125.0]))).all(-1)
        errors.append((peak - true).norm(dim=-1)[weight & inside])
    errors = torch.cat(errors)
    assert len(errors) > 20
    assert errors.max() <= 1.5, f'{name}: SimCC peaks off by up to {errors.max():.2f} px'


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


ALBU_KEYPOINTS = dict(type='Albumentation', transforms=[dict(type='Affine', p=1.0)],
                      keymap=dict(img='image', keypoints='keypoints'))


@pytest.mark.parametrize('pipeline,kind,match', [
    (HEAD + [dict(type='RandomResize')] + TAIL, 'heatmap', "train transform 'RandomResize'"),
    (HEAD + [ALBU_KEYPOINTS] + TAIL, 'heatmap', r"Albumentation\(keymap=.*keypoints"),
    (HEAD + [dict(type='TopdownAffine', input_size=(96, 128), use_udp=True)] + TAIL[2:],
     'heatmap', 'use_udp'),
])
def test_uninvertible_pipelines_are_refused(pipeline, kind, match):
    with pytest.raises(tc.TeacherCacheError, match=match):
        tc.check_pipeline(pipeline, kind)


# the photometric steps of MMPose's RTMPose train pipelines
STOCK_PHOTOMETRIC = [
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(type='Albumentation', transforms=[dict(type='Blur', p=0.1),
                                           dict(type='CoarseDropout', max_holes=1, p=1.)]),
    dict(type='PhotometricDistortion'),
]


@pytest.mark.parametrize('kind', tc.KINDS)
def test_photometric_transforms_are_accepted(kind):
    pipeline = (HEAD + AUGMENTS['flip+shift+scale+rotate'] + TAIL[:1] + STOCK_PHOTOMETRIC
                + TAIL[1:])
    assert tc.check_pipeline(pipeline, kind) == dict(augmented=True, rotation=True)


def test_simcc_cache_serves_unaugmented_exactly():
    simcc = (torch.randn(1, 17, 192), torch.randn(1, 17, 256))
    cache = tc.TeacherOutputCache([1], simcc, [[10, 20]], [[30, 40]], (96, 128),
                                  augmented=False, rotation=False)
    out = cache(torch.zeros(1, 3, 128, 96), [fake_sample(1, (10, 20), (30, 40))])['simcc']
    for o, s in zip(out, simcc):
        assert torch.equal(o, s.half().float())


def test_simcc_warp_keeps_unmoved_samples_and_identity_is_exact():
    """Only moved samples are resampled; the log-space marginalisation itself
    gives the logits back under the identity (no probability round trip, so
    even far-tail logits survive)."""
    x, y = torch.randn(2, 3, 16) * 5, torch.randn(2, 3, 20) * 5
    theta = np.stack([np.eye(3)[:2], np.eye(3)[:2]])
    wx, wy = tc.simcc_log_marginals(x, y, torch.as_tensor(theta, dtype=x.dtype), tc.SIMCC_BETA)
    assert torch.allclose(wx, x, atol=1e-4) and torch.allclose(wy, y, atol=1e-4)
    theta[1, 0, 2] = 0.2  # shift the second sample
    wx, wy = tc.warp_simcc(x, y, theta)
    assert torch.equal(wx[0], x[0]) and torch.equal(wy[0], y[0])
    assert not torch.allclose(wx[1], x[1], atol=1e-2)


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
    data = (folder / tc.STORE_NAME).read_bytes()
    (folder / tc.STORE_NAME).write_bytes(data[:len(data) // 2])
    assert tc.load_cache(folder, expected, True, True) is None
    # no manifest (killed before the last write): not a cache
    (folder / 'manifest.json').unlink()
    assert tc.load_cache(folder, expected, True, True) is None


def test_store_stays_on_cpu_file_backed_and_only_the_batch_moves(tmp_path):
    """The loaded store is a memory-mapped .npy under the cache folder; a
    batch for another device is copied there, the store never is."""
    maps = torch.rand(2, 17, 32, 24)
    cache = tc.TeacherOutputCache([7, 8], maps, [[50, 60], [70, 80]], [[90, 120], [45, 60]],
                                  (96, 128), augmented=False, rotation=False)
    expected = dict(version=tc.CACHE_VERSION, teacher='abc', pipeline=['x'])
    folder = tc.save_cache(cache, tmp_path / 'c', expected)
    loaded = tc.load_cache(folder, expected, augmented=False, rotation=False)
    assert isinstance(loaded.store, np.memmap)
    assert Path(loaded.store.filename) == folder / tc.STORE_NAME
    samples = [fake_sample(8, (70, 80), (45, 60)), fake_sample(7, (50, 60), (90, 120))]
    out = loaded(torch.zeros(2, 3, 128, 96, device='meta'), samples)['heatmap']
    assert out.device.type == 'meta' and out.shape == (2, 17, 32, 24)
    assert loaded.outputs.device.type == 'cpu'
    assert torch.equal(loaded(torch.zeros(2, 3, 128, 96), samples)['heatmap'],
                       maps[[1, 0]].half().float())


def test_compute_streams_the_store_into_a_file(tiny_data, teacher_ckpt, tmp_path):
    """The caching pass writes rows into the memory-mapped file as it goes
    (temp name, renamed when complete), never stacking them in memory."""
    dataset = build_dataset(tiny_data, augment=[])
    transforms, needs = pipeline_needs(dataset)
    student = build_pose_model(STUDENT)
    teacher = FrozenTeacher.from_config(TEACHER, teacher_ckpt, student=student)
    path = tmp_path / 'c' / tc.STORE_NAME
    cache = tc.compute_teacher_outputs(teacher, dataset, tc.clean_transforms(transforms),
                                       student.data_preprocessor, batch_size=8,
                                       store_path=path, **needs)
    assert isinstance(cache.store, np.memmap) and Path(cache.store.filename) == path
    assert sorted(p.name for p in path.parent.iterdir()) == [tc.STORE_NAME]  # no temp left
    assert len(cache) == len(dataset) and cache.outputs.shape[1:] == (17, 32, 24)
    # the manifest is added next to the streamed store; it loads back
    expected = dict(version=tc.CACHE_VERSION, teacher='abc', pipeline=['x'])
    tc.save_cache(cache, path.parent, expected)
    loaded = tc.load_cache(path.parent, expected, **needs)
    assert torch.equal(loaded.outputs, cache.outputs)
