"""The live loss-synthesis view: what each slider does to the target, the
gating mask and the term shares, on cached tensors only."""
import matplotlib
import numpy as np
import pytest
import torch
from mmpose.models.losses import KeypointMSELoss

from kdkit.notebook import live_panel
from kdkit.notebook.live_panel import (LiveBatch, draw_live_view, figure_png, live_view,
                                       load_live_batch, make_live_panel, unit_peak)

matplotlib.use('Agg')

H, W, STRIDE = 8, 6, 4  # heatmap grid; input 32 x 24
PEAKS = (0.3, 0.6, 0.9)  # the teacher's confidence per key point


def gaussian(x: float, y: float, height: float = 1.0, sigma: float = 1.0) -> torch.Tensor:
    """(H, W) blob centred on heatmap cell (x, y)."""
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32),
                            torch.arange(W, dtype=torch.float32), indexing='ij')
    return height * torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2))


def tiny_batch(student_scale: float = 0.05) -> LiveBatch:
    """2 crops, 3 key points; the teacher's blobs of heights PEAKS sit 0.4
    cell right of the labels (same argmax cell); a small, smooth student
    output; the last key point of crop 1 has no label."""
    cells = torch.tensor([[[1, 1], [3, 4], [4, 6]], [[2, 2], [1, 5], [4, 3]]])
    label = torch.stack([torch.stack([gaussian(*c) for c in crop]) for crop in cells])
    teacher = torch.stack([torch.stack([gaussian(c[0] + 0.4, c[1], p)
                                        for c, p in zip(crop, PEAKS)]) for crop in cells])
    student = student_scale * torch.stack([torch.stack([gaussian(2, 3, sigma=2.0)] * 3)] * 2)
    weights = torch.ones(2, 3)
    weights[1, 2] = 0
    label[1, 2] = 0
    keypoints = cells.float() * STRIDE
    keypoints[1, 2] = 0  # as MMPose leaves a key point without a label
    return LiveBatch(images=np.zeros((2, H * STRIDE, W * STRIDE, 3), np.uint8), student=student,
                     teacher=teacher, label=label, label_weights=weights,
                     keypoints=keypoints, keypoint_names=('nose', 'wrist', 'ankle'),
                     gt_loss=KeypointMSELoss(use_target_weight=True))


def view(batch=None, **kw):
    args = dict(gt_weight=1.0, kd_weight=1.0, temperature=0.5, rule='weighted_sum',
                gate_threshold=0.5, keypoint=1, frame=0, kd_loss='mse')
    return live_view(batch or tiny_batch(), **{**args, **kw})


def test_kd_weight_zero_pulls_toward_the_label_only():
    b = tiny_batch()
    for kd_loss in ('mse', 'kl'):
        v = view(b, kd_weight=0.0, kd_loss=kd_loss)
        # the head's MSE loss: -dL/dS is proportional to label - student
        assert np.allclose(v['target'], unit_peak(b.label[0, 1] - b.student[0, 1]).numpy(),
                           atol=1e-6)
        assert v['loss_share'] == {'gt': 1.0, 'kd': 0.0}
        assert v['grad_share'] == {'gt': 1.0, 'kd': 0.0}


def test_gt_weight_zero_leaves_only_the_teacher():
    b = tiny_batch()
    v = view(b, gt_weight=0.0)
    assert v['loss_share']['gt'] == 0.0 and v['grad_share']['gt'] == 0.0
    assert v['loss_share']['kd'] == pytest.approx(1.0)
    # the MSE term alone pulls toward teacher - student
    assert np.allclose(v['target'], unit_peak(b.teacher[0, 1] - b.student[0, 1]).numpy(),
                       atol=1e-6)


def test_gt_weight_moves_the_target_shares_and_figure():
    """What the browser test sees: the first slider (GT weight) changes the image."""
    b = tiny_batch()
    low, high = view(b, gt_weight=0.2), view(b, gt_weight=1.8)
    assert not np.allclose(low['target'], high['target'])
    assert high['loss_share']['gt'] > low['loss_share']['gt']
    assert high['grad_share']['gt'] > low['grad_share']['gt']
    assert figure_png(draw_live_view(low)) != figure_png(draw_live_view(high))


def test_lower_temperature_gives_a_more_peaked_teacher():
    b = tiny_batch()
    maxima = [view(b, temperature=t)['teacher'].max() for t in (2.0, 0.5, 0.1)]
    assert maxima[0] < maxima[1] < maxima[2]
    assert view(b, temperature=0.1)['teacher'].sum() <= 1.0  # one map's share of a distribution


def test_kl_term_takes_the_temperature():
    b = tiny_batch()
    hot, cold = (view(b, kd_loss='kl', temperature=t) for t in (2.0, 0.1))
    assert hot['losses']['kd'] != pytest.approx(cold['losses']['kd'])
    mse = [view(b, temperature=t)['losses']['kd'] for t in (2.0, 0.1)]
    assert mse[0] == mse[1]  # the MSE term has none


def test_gate_above_every_peak_masks_all_and_silences_kd():
    b = tiny_batch()
    v = view(b, rule='confidence_gating', gate_threshold=1.0)
    assert not v['mask'].any()
    assert v['loss_share']['kd'] == 0.0 and v['grad_share']['kd'] == 0.0
    assert view(b, rule='weighted_sum', gate_threshold=1.0)['mask'].all()  # only gating gates


def test_gate_keeps_confident_key_points_that_agree_with_the_label():
    b = tiny_batch()
    v = view(b, rule='confidence_gating', gate_threshold=0.5)
    assert v['mask'].tolist() == [p >= 0.5 for p in PEAKS]
    assert v['peaks'] == pytest.approx([p * np.exp(-0.4 ** 2 / 2) for p in PEAKS])  # off-centre
    b.teacher[0, 2] = gaussian(0, 0, 0.9)  # confident, but far from the label
    assert view(b, rule='confidence_gating', gate_threshold=0.5)['mask'].tolist() == [
        False, True, False]


def test_uncertainty_at_its_optimum_weighs_terms_by_their_weights():
    b = tiny_batch()
    assert view(b, rule='uncertainty')['loss_share'] == pytest.approx({'gt': 0.5, 'kd': 0.5})
    assert view(b, rule='uncertainty', gt_weight=2.0)['loss_share']['gt'] == pytest.approx(2 / 3)


def test_unlabelled_key_points_are_drawn_at_the_teacher_peak():
    v = view(frame=1)
    assert v['labelled'].tolist() == [True, True, False]
    assert v['keypoints'][0].tolist() == [8, 8]  # the label
    assert v['keypoints'][2].tolist() == [4 * STRIDE, 3 * STRIDE]  # the teacher's argmax


@pytest.mark.parametrize('kw,match', [
    (dict(gt_weight=2.5), r'^gt_weight=2.5 out of range: the gt_weight slider allows \[0, 2\]$'),
    (dict(kd_weight=-1), r'^kd_weight=-1 out of range: the kd_weight slider allows \[0, 5\]$'),
    (dict(temperature=0.01), r'^temperature=0.01 out of range: .* allows \[0.05, 5\]$'),
    (dict(gate_threshold=1.5), r'^gate_threshold=1.5 out of range: .* allows \[0, 1\]$'),
    (dict(gate_threshold='high'), r"^gate_threshold='high' out of range"),
    (dict(rule='sum'), r"^rule='sum' unknown: the rule dropdown allows \['weighted_sum'"),
    (dict(kd_loss='l1'), r"^kd_loss='l1' unknown: the KD term dropdown allows \['mse', 'kl'\]$"),
    (dict(keypoint='hip'), r"^keypoint='hip' unknown: the key point dropdown allows \['nose'"),
    (dict(keypoint=3), r'^keypoint=3 out of range: the key point dropdown allows 0..2'),
    (dict(frame=2), r'^frame=2 out of range: the crop dropdown allows 0..1$'),
    (dict(gt_weight=0, kd_weight=0), r'^all term weights are zero'),
])
def test_bad_slider_values_are_refused_in_one_line(kw, match):
    with pytest.raises(ValueError, match=match):
        view(**kw)


def forwards_during(fn):
    """Class names of the nn.Modules whose forward ran during ``fn()`` (any model)."""
    ran = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, out: ran.append(type(module).__name__))
    try:
        fn()
    finally:
        handle.remove()
    return ran


def test_live_view_runs_no_model():
    b = tiny_batch()
    ran = forwards_during(lambda: [view(b, rule=r) for r in live_panel.RULES])
    assert set(ran) <= {'KeypointMSELoss', 'HeatmapMSEDistillLoss', 'WeightedSum',
                        'ConfidenceGating', 'UncertaintyWeighting'}
    model_fields = [k for k, v in vars(b).items() if isinstance(v, torch.nn.Module)]
    assert model_fields == ['gt_loss']  # the batch holds tensors and the head's loss only


def test_figure_panels():
    fig = draw_live_view(view(rule='confidence_gating', gate_threshold=0.5))
    axes = fig.axes
    assert len(axes) == 5 + 3  # five panels, three colour bars
    titles = [ax.get_title() for ax in axes[:5]]
    assert titles[0] == 'KD key points (gate 0.50: 2/3 kept)'
    assert titles[1] == 'label heatmap: wrist' and titles[2].startswith('teacher softened, T=0.5')
    assert titles[3].startswith('pulled toward')
    assert len(axes[4].patches) == 4  # loss and gradient share of gt and kd
    assert figure_png(fig)[:4] == b'\x89PNG'


def test_panel_redraws_on_the_first_slider(monkeypatch):
    seen = []
    monkeypatch.setattr(live_panel, 'live_view',
                        lambda batch, **values: seen.append(values) or view(batch, **values))
    panel = make_live_panel(tiny_batch())
    assert 'kdkit-live-panel' in panel._dom_classes
    first, image, message = panel.children[0].children[0], panel.children[-1], panel.children[-2]
    assert first.description == 'GT weight'
    before = image.value
    assert before[:4] == b'\x89PNG'
    first.value = 0.4
    assert [s['gt_weight'] for s in seen] == [1.0, 0.4]
    assert image.value != before  # the image the browser test watches
    panel.children[0].children[1].value = 0.0  # KD weight
    first.value = 0.0
    assert message.value.startswith('all term weights are zero')
    first.value = 1.0
    assert message.value == ''
    rule, gate = panel.children[1].children[:2]
    assert gate.disabled  # the threshold only acts under confidence gating
    rule.value = 'confidence_gating'
    assert not gate.disabled


@pytest.fixture(scope='module')
def real_batch(tiny_data):
    """The shipped teacher and a fresh MobileNetV2 student on 2 val crops."""
    return load_live_batch(tiny_data, n=2)


def test_real_batch_is_loaded_once_then_only_tensors_move(real_batch):
    b = real_batch
    assert b.images.shape == (2, 128, 96, 3) and b.images.dtype == np.uint8
    assert b.student.shape == b.teacher.shape == b.label.shape == (2, 17, 32, 24)
    assert b.keypoint_names[0] == 'nose' and b.label_weights.sum() > 0
    assert not b.student.requires_grad and not b.teacher.requires_grad
    # a trained teacher peaks where a label is (within 2 heatmap cells, most key points)
    t_arg = b.teacher.flatten(-2).argmax(-1)
    l_arg = b.label.flatten(-2).argmax(-1)
    near = ((t_arg % 24 - l_arg % 24).abs() <= 2) & ((t_arg // 24 - l_arg // 24).abs() <= 2)
    assert near[b.label_weights > 0].float().mean() > 0.5
    ran = forwards_during(lambda: [view(b, rule=r, keypoint='left_wrist', frame=1)
                                 for r in live_panel.RULES])
    assert 'Conv2d' not in ran and 'BatchNorm2d' not in ran
    v = view(b, kd_loss='kl', keypoint='left_wrist')
    assert v['target'].shape == (32, 24) and np.abs(v['target']).max() == pytest.approx(1.0)
