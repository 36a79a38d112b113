"""A teacher from elsewhere mapped onto the student: key points by name, crops and
grids (hand-made maps with known peaks), channel order and normalisation."""
import pytest
import torch
from mmpose.registry import KEYPOINT_CODECS, MODELS
from torch import nn

from kdkit.distill.distiller import Distiller
from kdkit.distill.mapping import (ModelView, TeacherAlignment, keypoint_names,
                                   plan_alignment, resolve_keypoint_map)
from kdkit.distill.teacher import (FrozenTeacher, build_pose_model, channel_order,
                                   normalisation_affine)

TEACHER = 'configs/teacher/td-hm_res18_quick_kdkit-video-128x96.py'
HM_STUDENT = 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'
DATASETS = 'configs/_base_/datasets/'  # found in MMPose's package, as MMPose finds them


def names(dataset):
    return keypoint_names(dict(from_file=f'{DATASETS}{dataset}.py'))


def view(dataset=None, k=None, codec=None, udp=None, names_=None):
    n, name = names(dataset) if dataset else (names_, '')
    return ModelView(k or (len(n) if n else None), n, name, codec, udp)


# ------------------------------------------------------------- key points
def test_same_count_other_names_is_refused_naming_the_first_difference(teacher_ckpt):
    """Before: a COCO-17 teacher 'fitted' a PoseTrack18-17 student (count only)."""
    student = build_pose_model(HM_STUDENT)
    with pytest.raises(ValueError) as e:
        FrozenTeacher.from_config(TEACHER, teacher_ckpt, student=student,
                                  student_meta=dict(from_file=f'{DATASETS}posetrack18.py'),
                                  field='custom_hooks[1].teacher')
    msg = str(e.value)
    assert msg.startswith("custom_hooks[1].teacher: key point 1 is 'head_bottom' in the student "
                          "(posetrack18) but 'left_eye' in the teacher (coco), which has no "
                          "'head_bottom', 'head_top'; set custom_hooks[1].teacher.keypoint_map="
                          "'auto' to distil the 15 shared key points")
    assert '\n' not in msg


@pytest.mark.parametrize('teacher_set', ['coco_wholebody', 'halpe26', 'halpe'])
def test_body_student_takes_its_keypoints_from_a_larger_set_by_name(teacher_set):
    """COCO-WholeBody-133 (DWPose/RTMW), Halpe-26, Halpe-136: the first 17 are
    COCO's body key points, found by name without a keypoint_map."""
    teacher, student = view(teacher_set), view('coco')
    assert resolve_keypoint_map(teacher, student) == list(range(17))
    assert resolve_keypoint_map(teacher, student, 'auto') == list(range(17))
    plan = plan_alignment(teacher, student)
    assert plan.keypoint_mask is None  # every student key point is taught


def test_partial_overlap_auto_and_explicit_pairs():
    coco, posetrack, halpe26 = view('coco'), view('posetrack18'), view('halpe26')
    auto = resolve_keypoint_map(coco, posetrack, 'auto')
    assert auto[:3] == [0, None, None] and auto[3:] == list(range(3, 17))
    plan = plan_alignment(coco, posetrack, 'auto')
    assert plan.keypoint_mask.tolist() == [1, 0, 0] + [1] * 14
    # Halpe has a neck and a head (top): pair them with PoseTrack's head points
    pairs = resolve_keypoint_map(halpe26, posetrack, dict(head_bottom='neck', head_top='head'))
    assert pairs[:3] == [0, 18, 17] and pairs[3:] == list(range(3, 17))
    # None removes a pair
    assert resolve_keypoint_map(coco, coco, dict(nose=None))[0] is None


@pytest.mark.parametrize('spec,match', [
    (dict(head_botom='neck'), r"^t\.keypoint_map: 'head_botom' is not a student key point "
                              r'\(posetrack18: nose, head_bottom, '),
    (dict(head_top='crown'), r"^t\.keypoint_map\.head_top: 'crown' is not a teacher key point "
                             r'\(halpe26: nose, '),
    ([0] * 16, r'^t\.keypoint_map: 16 entries, the student has 17 key points'),
    ([26] * 17, r'^t\.keypoint_map: teacher index 26 is out of range'),
    ('al', r"^t\.keypoint_map: expected 'auto', dict\(student_name=teacher_name\)"),
])
def test_bad_keypoint_map_is_one_line_naming_the_field(spec, match):
    with pytest.raises(ValueError, match=match) as e:
        resolve_keypoint_map(view('halpe26'), view('posetrack18'), spec, field='t')
    assert '\n' not in str(e.value)


def test_unknown_teacher_names_need_metainfo_or_an_index_list():
    teacher = view(k=133)  # a config without dataset metainfo
    with pytest.raises(ValueError, match=r"^t: the teacher predicts 133 key points, the student "
                       r"17, and the teacher's key-point names are unknown; set t\.metainfo="):
        resolve_keypoint_map(teacher, view('coco'), field='t')
    with pytest.raises(ValueError, match=r"^t\.keypoint_map='auto' pairs key points by name"):
        resolve_keypoint_map(teacher, view('coco'), 'auto', field='t')
    assert resolve_keypoint_map(teacher, view('coco'), list(range(17))) == list(range(17))


def labelled_batch(n):
    """Data samples as the heatmap pipeline packs them (targets all zero)."""
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample
    samples = []
    for _ in range(n):
        ds = PoseDataSample()
        ds.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, 17))
        ds.gt_instances = InstanceData(keypoints=torch.zeros(1, 17, 2))
        ds.gt_fields = PixelData(heatmaps=torch.zeros(17, 32, 24))
        samples.append(ds)
    return samples


def test_kd_terms_skip_keypoints_the_teacher_does_not_have():
    """A partial map zeroes those teacher channels and masks them out of the
    KD term's weights: they add nothing, and the term is reduced as the
    label loss is (KeypointMSELoss: mean over B * K, masked ones as zeros)."""
    torch.manual_seed(0)
    student, model = build_pose_model(HM_STUDENT).eval(), build_pose_model(TEACHER)
    keypoints = [0, None, None] + list(range(3, 17))
    teacher = FrozenTeacher(model, alignment=TeacherAlignment(keypoints))
    d = Distiller(dict(kd_heatmap=dict(type='HeatmapMSEDistillLoss')),
                  dict(gt=1.0, kd_heatmap=1.0), teacher=teacher)
    x = torch.randn(2, 3, 128, 96)
    out = teacher(x)['heatmap']
    raw = model.head.forward(model.extract_feat(x))
    assert torch.equal(out[:, 1:3], torch.zeros_like(out[:, 1:3]))
    assert torch.equal(out[:, 3:], raw[:, 3:])
    loss = d.loss(student, x, labelled_batch(2))['loss_kd_heatmap']
    with torch.no_grad():
        s = student.head.forward(student.extract_feat(x))
    per_kpt = (s - raw).pow(2).mean(dim=(-2, -1))
    expected = per_kpt[:, [0] + list(range(3, 17))].sum() / per_kpt.numel()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


# ------------------------------------------------------------------ grids
def codec(kind, w, h, udp=False, **kw):
    if kind == 'simcc':
        return KEYPOINT_CODECS.build(dict(type='SimCCLabel', input_size=(w, h),
                                          sigma=(4.9, 5.66), simcc_split_ratio=kw.get('k', 2.0)))
    return KEYPOINT_CODECS.build(dict(type='UDPHeatmap' if udp else 'MSRAHeatmap',
                                      input_size=(w, h), heatmap_size=(w // 4, h // 4), sigma=2))


def box_to_cells(u, w, h, udp, cell):
    """Box fraction u -> output cell, from first principles: the input pixel
    (TopdownAffine: u * n, or u * (n - 1) with UDP), divided by the codec's
    input pixels per cell."""
    return [ui * ((n - 1) if udp else n) / c for ui, n, c in zip(u, (w, h), cell)]


def centroid(m):
    """(x, y) centroid of a (H, W) map."""
    ys, xs = torch.meshgrid(torch.arange(m.shape[0], dtype=torch.float64),
                            torch.arange(m.shape[1], dtype=torch.float64), indexing='ij')
    m = m.double()
    return [(xs * m).sum() / m.sum(), (ys * m).sum() / m.sum()]


def gaussian(size_wh, at, sigma):
    W, H = size_wh
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float64),
                            torch.arange(W, dtype=torch.float64), indexing='ij')
    return torch.exp(-((xs - at[0]) ** 2 + (ys - at[1]) ** 2) / (2 * sigma ** 2)).float()


def hm_cell(udp, n, N):
    return (n - 1) / (N - 1) if udp else n / N


U = (0.81, 0.67)  # where the key point is, as a fraction of the box


@pytest.mark.parametrize('t_udp', [False, True], ids=['teacher-msra', 'teacher-udp'])
@pytest.mark.parametrize('s_udp', [False, True], ids=['student-msra', 'student-udp'])
def test_heatmap_peak_lands_at_the_same_box_position(t_udp, s_udp):
    """A Gaussian at a known place of a 64x48 map of a 256x192 teacher lands at
    the same place of the box in the 32x24 map of a 128x96 student."""
    teacher = view(k=17, codec=codec('heatmap', 192, 256, t_udp), udp=t_udp)
    student = view(k=17, codec=codec('heatmap', 96, 128, s_udp), udp=s_udp)
    plan = plan_alignment(teacher, student)
    t_at = box_to_cells(U, 192, 256, t_udp, (hm_cell(t_udp, 192, 48), hm_cell(t_udp, 256, 64)))
    hm = gaussian((48, 64), t_at, sigma=2.0)[None, None].repeat(1, 17, 1, 1)
    out = plan.outputs(dict(heatmap=hm))['heatmap']
    assert out.shape == (1, 17, 32, 24)
    s_at = box_to_cells(U, 96, 128, s_udp, (hm_cell(s_udp, 96, 24), hm_cell(s_udp, 128, 32)))
    got = centroid(out[0, 0])
    assert got[0].item() == pytest.approx(s_at[0], abs=0.03)
    assert got[1].item() == pytest.approx(s_at[1], abs=0.03)


def test_the_loss_default_resize_misplaces_a_udp_teacher():
    """Why the teacher maps its own outputs: the losses' same-extent resize
    (cell i at i * n_in / n_out) puts a UDP teacher's peak off by ~0.4 cells."""
    from kdkit.losses.utils import resize_spatial
    t_at = box_to_cells(U, 192, 256, True, (191 / 47, 255 / 63))
    hm = gaussian((48, 64), t_at, sigma=2.0)
    s_at = box_to_cells(U, 96, 128, False, (4, 4))
    naive = centroid(resize_spatial(hm, (32, 24)))
    assert abs(naive[0].item() - s_at[0]) > 0.3


@pytest.mark.parametrize('t_udp,s_udp', [(False, False), (True, False), (False, True)])
def test_simcc_bins_are_resampled_with_their_split_ratios(t_udp, s_udp):
    """SimCC teacher at 256x192, split ratio 2 (384/512 bins) onto a 128x96
    student at split ratio 1.5 (144/192 bins): a peak at box position u stays there."""
    teacher = view(k=17, codec=codec('simcc', 192, 256, k=2.0), udp=t_udp)
    student = view(k=17, codec=codec('simcc', 96, 128, k=1.5), udp=s_udp)
    plan = plan_alignment(teacher, student)
    t_at = box_to_cells(U, 192, 256, t_udp, (0.5, 0.5))
    xs = gaussian((384, 1), (t_at[0], 0), 6.0)[None]  # (1, 1, 384)
    ys = gaussian((512, 1), (t_at[1], 0), 6.0)[None]
    sx, sy = plan.outputs(dict(simcc=(xs.repeat(1, 17, 1), ys.repeat(1, 17, 1))))['simcc']
    assert sx.shape == (1, 17, 144) and sy.shape == (1, 17, 192)
    s_at = box_to_cells(U, 96, 128, s_udp, (1 / 1.5, 1 / 1.5))
    assert centroid(sx[0, :1])[0].item() == pytest.approx(s_at[0], abs=0.03)
    assert centroid(sy[0, :1])[0].item() == pytest.approx(s_at[1], abs=0.03)


@pytest.mark.parametrize('t_udp', [False, True])
def test_heatmap_teacher_for_a_simcc_student_uses_the_grid_the_loss_reads(t_udp):
    """Onto a virtual MSRA grid over the student's crop, with the teacher's cell
    count: HeatmapToSimCCDistillLoss reads bin i at cell i * W / Wx there."""
    teacher = view(k=17, codec=codec('heatmap', 192, 256, t_udp), udp=t_udp)
    student = view(k=17, codec=codec('simcc', 96, 128, k=2.0))
    plan = plan_alignment(teacher, student)
    t_at = box_to_cells(U, 192, 256, t_udp, (hm_cell(t_udp, 192, 48), hm_cell(t_udp, 256, 64)))
    out = plan.outputs(dict(heatmap=gaussian((48, 64), t_at, 2.0)[None, None]))['heatmap']
    assert out.shape == (1, 1, 64, 48)
    virtual = box_to_cells(U, 96, 128, False, (96 / 48, 128 / 64))
    got = centroid(out[0, 0])
    assert got[0].item() == pytest.approx(virtual[0], abs=0.03)
    assert got[1].item() == pytest.approx(virtual[1], abs=0.03)
    # and the loss takes it from there: bin = cell * Wx / W = u * 96 * 2
    assert virtual[0] * 192 / 48 == pytest.approx(U[0] * 96 * 2)


@pytest.mark.parametrize('t_udp,s_udp', [(False, False), (True, False), (False, True)])
def test_teacher_input_reads_the_student_crop_at_the_same_box_position(t_udp, s_udp):
    teacher = view(k=17, codec=codec('heatmap', 192, 256, t_udp), udp=t_udp)
    student = view(k=17, codec=codec('heatmap', 96, 128, s_udp), udp=s_udp)
    plan = plan_alignment(teacher, student)
    ys, xs = torch.meshgrid(torch.arange(128.), torch.arange(96.), indexing='ij')
    x = torch.stack([xs, ys, xs + ys])[None]  # each pixel holds its own index
    got = plan.inputs(x)
    assert got.shape == (1, 3, 256, 192)
    d_s, d_t = (95, 127) if s_udp else (96, 128), (191, 255) if t_udp else (192, 256)
    for i_t in (0, 37, 101, 190):  # teacher pixel i_t -> box u = i_t / D_t -> student u * D_s
        assert got[0, 0, 5, i_t].item() == pytest.approx(min(i_t * d_s[0] / d_t[0], 95), abs=1e-4)
    for j_t in (0, 64, 200):
        assert got[0, 1, j_t, 7].item() == pytest.approx(min(j_t * d_s[1] / d_t[1], 127), abs=1e-4)


def test_same_geometry_maps_nothing():
    c = codec('heatmap', 96, 128)
    plan = plan_alignment(view('coco', codec=c), view('coco', codec=c))
    assert plan.is_identity


def test_other_aspect_and_unmappable_codec_are_refused():
    with pytest.raises(ValueError, match=r'^t: teacher input 192x256 .* differ in aspect ratio'):
        plan_alignment(view(k=17, codec=codec('heatmap', 192, 256)),
                       view(k=17, codec=codec('heatmap', 96, 96)), field='t')
    reg = KEYPOINT_CODECS.build(dict(type='RegressionLabel', input_size=(192, 256)))
    with pytest.raises(ValueError, match=r'^t: input sizes \(192, 256\) \(teacher\) and '
                       r'\(96, 128\) \(student\) differ and the teacher codec RegressionLabel'):
        plan_alignment(view(k=17, codec=reg), view(k=17, codec=codec('heatmap', 96, 128)),
                       field='t')


# ------------------------------------------------ channel order, normalisation
class LastFeature(nn.Module):
    def forward(self, feats):
        return feats[-1]


class InputSpy(nn.Module):
    """A stand-in pose model that records what the teacher hands it."""

    def __init__(self):
        super().__init__()
        self.head = LastFeature()
        self.seen = None

    def extract_feat(self, x):
        self.seen = x
        return (torch.zeros(x.shape[0], 17, 4, 3),)


def preprocess(pre, img):
    from mmpose.structures import PoseDataSample
    return pre(dict(inputs=[img], data_samples=[PoseDataSample()]), training=False)['inputs']


@pytest.mark.parametrize('t_mean,t_std', [
    ([123.675, 116.28, 103.53], [58.395, 57.12, 57.375]),  # same numbers, other channel order
    ([0., 0., 0.], [255., 255., 255.]),
])
def test_bgr_to_rgb_is_honoured_when_normalisation_is_remapped(t_mean, t_std):
    """A student with bgr_to_rgb=False, a teacher with True: the teacher must
    get exactly what its own preprocessor would make of the loaded image."""
    student_pre = MODELS.build(dict(type='PoseDataPreprocessor', mean=[103.53, 116.28, 123.675],
                                    std=[57.375, 57.12, 58.395], bgr_to_rgb=False))
    teacher_pre = MODELS.build(dict(type='PoseDataPreprocessor', mean=t_mean, std=t_std,
                                    bgr_to_rgb=True))
    img = torch.randint(0, 256, (3, 8, 6), dtype=torch.uint8)  # loaded BGR, as cv2 loads it
    spy = InputSpy()
    teacher = FrozenTeacher(spy, normalisation_affine(student_pre, teacher_pre),
                            input_channels=channel_order(student_pre, teacher_pre))
    teacher(preprocess(student_pre, img))
    assert torch.allclose(spy.seen, preprocess(teacher_pre, img), atol=1e-5)
    assert channel_order(student_pre, student_pre) is None


# ------------------------------------------------------------ teacher dict
@pytest.mark.parametrize('key,value,match', [
    ('keypoint_map', 5, r"^DistillLossHook\.teacher\.keypoint_map: expected 'auto', "),
    ('keypoint_map', ['nose'], r'^DistillLossHook\.teacher\.keypoint_map\[0\]: expected a '
                               r'teacher key-point index'),
    ('metainfo', 3, r'^DistillLossHook\.teacher\.metainfo: expected dict\(from_file=\.\.\.\)'),
    ('cfg_options', {'codec.input_size': (192, 256)},
     r'^DistillLossHook\.teacher\.cfg_options\.codec has no effect'),
])
def test_teacher_dict_keys_are_checked_when_the_hook_is_built(key, value, match):
    from kdkit.distill import DistillLossHook
    with pytest.raises(ValueError, match=match) as e:
        DistillLossHook(teacher={'config': 'x', 'checkpoint': 'y', key: value},
                        terms=dict(kd=dict(type='HeatmapMSEDistillLoss')),
                        weights=dict(gt=1.0, kd=1.0))
    assert '\n' not in str(e.value)


def test_teacher_metainfo_overrides_its_config(teacher_ckpt):
    """``metainfo`` in the teacher dict names the teacher's key points (a list of
    names or a metainfo file) where its config's dataset does not."""
    student = build_pose_model(HM_STUDENT)
    posetrack = dict(from_file=f'{DATASETS}posetrack18.py')
    # the COCO-config teacher declared a PoseTrack18 one: it now fits PoseTrack18 data ...
    teacher = FrozenTeacher.from_config(TEACHER, teacher_ckpt, student=student,
                                        metainfo=posetrack, student_meta=posetrack)
    assert teacher.alignment is None
    # ... and a list of names works too: two swapped names are paired back by name
    coco = names('coco')[0]
    swapped = [coco[1], coco[0]] + coco[2:]
    teacher = FrozenTeacher.from_config(TEACHER, teacher_ckpt, student=student, metainfo=swapped,
                                        student_meta=dict(from_file=f'{DATASETS}coco.py'))
    assert teacher.alignment.keypoints == [1, 0] + list(range(2, 17))
    x = torch.randn(1, 3, 128, 96)
    raw = teacher.model.head.forward(teacher.model.extract_feat(x))
    assert torch.equal(teacher(x)['heatmap'][:, 0], raw[:, 1])
