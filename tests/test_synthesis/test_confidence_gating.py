import pytest
import torch

from kdkit.synthesis import ConfidenceGating, SynthesisContext

INPUT = (8, 8)  # tolerance 0.1 -> 0.8 px; 4x4 heatmap -> stride 2


def heatmap_with_peaks(peaks):
    """peaks[b][k] = (value, row, col) -> (B, K, 4, 4)."""
    maps = torch.zeros(len(peaks), len(peaks[0]), 4, 4)
    for b, row in enumerate(peaks):
        for k, (value, r, c) in enumerate(row):
            maps[b, k, r, c] = value
    return maps


def context(teacher, gt_keypoints, gt_weights, is_labeled, kind='heatmap'):
    return SynthesisContext(
        student={}, teacher={kind: teacher},
        gt_keypoints=torch.tensor(gt_keypoints),
        gt_weights=torch.tensor(gt_weights), input_size=INPUT,
        is_labeled=torch.tensor(is_labeled))


def test_gating_on_hand_made_heatmap():
    teacher = heatmap_with_peaks([
        # labelled frame
        [(0.9, 1, 2),  # confident, argmax (4, 2) px = label -> 1
         (0.9, 0, 0),  # confident, argmax (0, 0) px, label (7, 7) -> 0
         (0.3, 1, 2),  # unconfident -> 0
         (0.9, 3, 3)],  # confident, key point not labelled -> 1
        # unlabelled frame
        [(0.9, 0, 0), (0.3, 0, 0), (0.5, 2, 2), (0.7, 3, 1)],
    ])
    gt = [[[4, 2], [7, 7], [4, 2], [0, 0]], [[7, 7]] * 4]
    ctx = context(teacher, gt, [[1, 1, 1, 0], [0, 0, 0, 0]], [True, False])
    rule = ConfidenceGating(threshold=0.5, tolerance=0.1)
    gate = rule.keypoint_weights(ctx)
    assert gate.tolist() == [[1, 0, 0, 1], [1, 0, 1, 1]]  # 0.5 >= 0.5 in
    out = rule({'gt': torch.tensor(2.0), 'kd_heatmap': torch.tensor(1.0)},
               {'gt': 1.0, 'kd_heatmap': 3.0})
    assert out['gate_ratio'].item() == pytest.approx(5 / 8)
    assert out['loss_gt'].item() == 2.0 and out['loss_kd_heatmap'] == 3.0


def test_label_within_tolerance_agrees():
    teacher = heatmap_with_peaks([[(0.9, 1, 2)]])  # argmax (4, 2) px
    ctx = context(teacher, [[[4.5, 2.5]]], [[1]], [True])  # 0.71 px away
    assert ConfidenceGating().keypoint_weights(ctx).tolist() == [[1]]
    ctx = context(teacher, [[[5.0, 2.0]]], [[1]], [True])  # 1 px away
    assert ConfidenceGating().keypoint_weights(ctx).tolist() == [[0]]


def test_simcc_confidence_is_min_of_axis_peaks():
    # 8x8 input, 16 bins per axis (split 2): bin 8 -> 4 px
    x = torch.zeros(1, 2, 16)
    y = torch.zeros(1, 2, 16)
    x[0, 0, 8], y[0, 0, 4] = 0.9, 0.8  # conf .8, argmax (4, 2) px
    x[0, 1, 8], y[0, 1, 4] = 0.9, 0.4  # conf .4 -> gated out
    ctx = context((x, y), [[[4, 2], [4, 2]]], [[1, 1]], [True], kind='simcc')
    gate = ConfidenceGating(kind='simcc').keypoint_weights(ctx)
    assert gate.tolist() == [[1, 0]]


def test_is_labeled_defaults_from_gt_weights():
    ctx = SynthesisContext({}, {}, torch.zeros(2, 1, 2),
                           torch.tensor([[1.0], [0.0]]), INPUT)
    assert ctx.is_labeled.tolist() == [True, False]


def test_missing_teacher_output_and_bad_kind():
    ctx = context(torch.zeros(1, 1, 4, 4), [[[0, 0]]], [[1]], [True])
    with pytest.raises(ValueError, match='simcc'):
        ConfidenceGating(kind='simcc').keypoint_weights(ctx)
    with pytest.raises(ValueError, match='kind'):
        ConfidenceGating(kind='feature')


def test_forward_before_gating_has_no_ratio():
    out = ConfidenceGating()({'gt': torch.tensor(1.0)}, {'gt': 1.0})
    assert 'gate_ratio' not in out


# ------------------------------------------ stock pipelines (no pack_transformed)
STUDENT = 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'
TEACHER = 'configs/teacher/td-hm_res18_quick_kdkit-video-128x96.py'
CODECS = {
    # codec, largest error of the labels read back, in input pixels: half a
    # grid step; MSRAHeatmap (sigma 1.5) also puts its peak one cell further
    # in for key points within 3 sigma of the top/left border (MMPose's
    # generate_gaussian_heatmaps truncates mu - 4.5 towards zero)
    'heatmap': (dict(type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32),
                     sigma=1.5), 2.0 + 4.0),
    'simcc': (dict(type='SimCCLabel', input_size=(96, 128), sigma=(2.45, 2.83),
                   simcc_split_ratio=2.0, normalize=False), 0.25),
    'regression': (dict(type='RegressionLabel', input_size=(96, 128)), 0.0),
}


def stock_dataset(data_root, codec, pack_transformed=False):
    """The kit's training data through a stock MMPose top-down train pipeline
    (flip, half body, shift/scale/rotation; PackPoseInputs() as shipped)."""
    import copy

    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS

    from kdkit.distill.cli import load_config
    init_default_scope('mmpose')
    cfg = copy.deepcopy(load_config(STUDENT).train_dataloader.dataset.to_dict())
    cfg.update(data_root=f'{data_root}/', pipeline=[
        dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
        dict(type='RandomFlip', direction='horizontal'), dict(type='RandomHalfBody'),
        dict(type='RandomBBoxTransform', scale_factor=[0.75, 1.25], rotate_factor=40),
        dict(type='TopdownAffine', input_size=(96, 128)),
        dict(type='GenerateTarget', encoder=codec),
        dict(type='PackPoseInputs', pack_transformed=pack_transformed)])
    return DATASETS.build(cfg)


@pytest.mark.parametrize('kind', sorted(CODECS))
def test_labels_in_input_pixels_from_stock_targets(tiny_data, kind):
    """Without transformed_keypoints the labels are read back from the encoded
    targets, to within half a grid step of the true position (see CODECS)."""
    import numpy as np

    from kdkit.synthesis.labels import input_keypoints
    codec, max_error = CODECS[kind]
    dataset = stock_dataset(tiny_data, codec, pack_transformed=True)
    np.random.seed(0)
    samples = [dataset[i]['data_samples'] for i in range(len(dataset))]
    true = torch.stack([torch.as_tensor(ds.gt_instances.transformed_keypoints[0][:, :2])
                        for ds in samples]).float()
    for ds in samples:  # what a stock PackPoseInputs() packs
        del ds.gt_instances.transformed_keypoints
    like = torch.zeros(len(samples), 3, 128, 96)
    labels = input_keypoints(samples, like)
    weights = torch.stack([torch.as_tensor(ds.gt_instance_labels.keypoint_weights[0])
                           for ds in samples]) > 0
    # a heatmap label centred just outside the crop keeps its clipped Gaussian
    # (weight 1, peak on the border): compare key points inside the crop
    inside = ((true >= 0) & (true <= torch.tensor([95.0, 127.0]))).all(dim=-1)
    error = (labels - true).abs()[weights & inside]
    assert len(error) > 20 and error.max() <= max_error + 1e-4, error.max()


def test_labels_none_without_targets_or_transformed_keypoints():
    from mmpose.structures import PoseDataSample

    from kdkit.synthesis.labels import input_keypoints
    assert input_keypoints([PoseDataSample()], torch.zeros(1, 3, 8, 8)) is None


def test_gating_without_labels_says_what_to_add():
    ctx = SynthesisContext(student={}, teacher={'heatmap': torch.ones(1, 2, 4, 4)},
                           gt_keypoints=None, gt_weights=torch.ones(1, 2), input_size=INPUT)
    with pytest.raises(ValueError, match=r"PackPoseInputs\(pack_transformed=True\)"):
        ConfidenceGating().keypoint_weights(ctx)
    # nothing labelled: agreement is not needed, gating works on confidence alone
    ctx.gt_weights = torch.zeros(1, 2)
    ctx.is_labeled = torch.tensor([False])
    assert ConfidenceGating().keypoint_weights(ctx).tolist() == [[1, 1]]


def test_gating_runs_on_a_stock_pipeline_batch(tiny_data, teacher_ckpt):
    """Distiller.loss on a batch from PackPoseInputs() without pack_transformed
    (it raised AttributeError before)."""
    from mmengine.dataset import pseudo_collate

    from kdkit.distill import Distiller, FrozenTeacher, build_pose_model
    dataset = stock_dataset(tiny_data, CODECS['heatmap'][0])
    student = build_pose_model(STUDENT)
    teacher = FrozenTeacher.from_config(TEACHER, teacher_ckpt, student=student)
    batch = student.data_preprocessor(pseudo_collate([dataset[i] for i in range(4)]),
                                      training=True)
    assert 'transformed_keypoints' not in batch['data_samples'][0].gt_instances
    distiller = Distiller(dict(kd_heatmap=dict(type='HeatmapMSEDistillLoss')),
                          dict(gt=1.0, kd_heatmap=1.0),
                          synthesis=dict(type='ConfidenceGating', threshold=0.0), teacher=teacher)
    out = distiller.loss(student, batch['inputs'], batch['data_samples'])
    assert 0.0 <= out['gate_ratio'].item() <= 1.0 and torch.isfinite(out['loss_kd_heatmap'])
