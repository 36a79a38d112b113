"""OnnxPoseTeacher: kdkit's own models exported to ONNX (random weights, no
download) teach as the torch FrozenTeacher of the same weights does; key points
are rendered on the student's grid; names map; bad input is one line."""
import warnings

import pytest
import torch
from torch import nn

from kdkit.distill.mapping import keypoint_names
from kdkit.distill.teacher import FrozenTeacher, build_pose_model
from kdkit.evaluation.complexity import TensorForward
from kdkit.teachers import OnnxPoseTeacher

TEACHER = 'configs/teacher/td-hm_res18_quick_kdkit-video-128x96.py'
HM_STUDENT = 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'
SIMCC_STUDENT = 'configs/student/rtmpose-t_quick_kdkit-video-128x96.py'
HM_CFG = 'configs/distill/kd-hm_mobilenetv2-from-res18_quick_kdkit-video-128x96.py'
COCO = dict(from_file='configs/_base_/datasets/coco.py')
WHOLEBODY = dict(from_file='configs/_base_/datasets/coco_wholebody.py')
# kdkit's configs: ImageNet mean/std in RGB
PREPROCESS = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True)
FIELD = 'custom_hooks[1].teacher'


def export(module: nn.Module, path, input_size=(96, 128), dynamic_batch=True):
    """``module`` (eval mode) to ONNX with a dynamic (or fixed 1) batch."""
    w, h = input_size
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # tracer / deprecation chatter
        torch.onnx.export(module.eval(), (torch.zeros(1, 3, h, w),), str(path),
                          input_names=['input'], opset_version=17, dynamo=False,
                          dynamic_axes={'input': {0: 'batch'}} if dynamic_batch else None)
    return path


def spec(file, output='heatmap', input_size=(96, 128), **extra):
    return dict(type='onnx', file=str(file), input_size=input_size, output=output,
                intra_op_num_threads=1, **PREPROCESS, **extra)


def random_pose_model(config, path, seed=0):
    """A random model of ``config`` saved as a checkpoint at ``path``, its BN
    statistics those of its own activations (as kdkit's export tests do):
    its outputs vary across the map, so comparisons mean something."""
    torch.manual_seed(seed)
    model = build_pose_model(config)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = None  # a plain average over the batches below
    with torch.no_grad():
        model.train()(torch.randn(4, 3, 128, 96), None, mode='tensor')
    torch.save({'state_dict': model.eval().state_dict(), 'meta': {}}, path)
    return model


@pytest.fixture(scope='module')
def res18(tmp_path_factory):
    """(checkpoint, .onnx) of a random ResNet-18 heatmap teacher, exported by
    ``kdkit export`` (batch fixed at 1: the teacher feeds it in chunks)."""
    from kdkit.export import export_onnx
    folder = tmp_path_factory.mktemp('res18')
    random_pose_model(TEACHER, folder / 'res18.pth')
    info = export_onnx(TEACHER, folder / 'res18.pth', folder / 'res18.onnx')
    assert info['input_shape'][0] == 1 and info['preprocess'] == PREPROCESS
    return folder / 'res18.pth', folder / 'res18.onnx'


class ChannelMaps(nn.Module):
    """(N, K, h/4, w/4) heatmaps, channel c filled with c + 1 (its order
    is visible after mapping); optionally only for a batch of 1."""

    def __init__(self, k: int, fixed_batch: bool = False, size=(96, 128)):
        super().__init__()
        self.register_buffer('value', torch.arange(1, k + 1, dtype=torch.float32))
        self.fixed_batch, self.size = fixed_batch, size

    def forward(self, x):
        if self.fixed_batch:  # a constant Reshape: ONNX Runtime fails on other batches
            x = x.reshape(1, 3, self.size[1], self.size[0])
        return x[:, :1, ::4, ::4] * 0 + self.value[None, :, None, None]


class FixedKeypoints(nn.Module):
    """The same key points (K, 2) and scores (K,) for every input."""

    def __init__(self, kpts, scores):
        super().__init__()
        self.register_buffer('kpts', torch.as_tensor(kpts, dtype=torch.float32))
        self.register_buffer('scores', torch.as_tensor(scores, dtype=torch.float32))

    def forward(self, x):
        zero = x.mean((1, 2, 3)) * 0  # (N,): keeps the batch dimension in the graph
        return self.kpts[None] + zero[:, None, None], self.scores[None] + zero[:, None]


# ------------------------------------------------------ (a), (b) vs torch
def test_heatmap_onnx_teacher_matches_frozen_teacher(res18):
    """Another normalisation and channel order, a smaller crop and grid: both
    teachers map the same way and give the same heatmaps."""
    ckpt, onnx_file = res18
    student = build_pose_model(HM_STUDENT, dict(model=dict(
        head=dict(decoder=dict(input_size=(48, 64), heatmap_size=(12, 16))),
        data_preprocessor=dict(mean=[0, 0, 0], std=[255, 255, 255], bgr_to_rgb=False))))
    frozen = FrozenTeacher.from_config(TEACHER, ckpt, student=student, field=FIELD)
    teacher = OnnxPoseTeacher.from_spec(spec(onnx_file), student=student, field=FIELD)
    x = torch.rand(3, 3, 64, 48)  # 3 rows through a batch-1 graph
    want, got = frozen(x)['heatmap'], teacher(x)
    assert set(got) == {'heatmap'} and got['heatmap'].shape == (3, 17, 16, 12)
    assert want.std((2, 3)).min() > 0.05  # every map varies
    torch.testing.assert_close(got['heatmap'], want, atol=1e-4, rtol=1e-3)
    assert teacher.describe() == frozen.describe()
    assert 'input 48x64 -> 96x128' in teacher.describe()
    assert teacher.keypoint_mask is None


def test_simcc_onnx_teacher_matches_frozen_teacher(tmp_path):
    model = random_pose_model(SIMCC_STUDENT, tmp_path / 'rtm.pth')
    onnx_file = export(TensorForward(model), tmp_path / 'rtm.onnx')
    student = build_pose_model(SIMCC_STUDENT)
    frozen = FrozenTeacher.from_config(SIMCC_STUDENT, tmp_path / 'rtm.pth', student=student)
    teacher = OnnxPoseTeacher.from_spec(spec(onnx_file, 'simcc', simcc_split_ratio=2.0),
                                        student=student)
    x = torch.randn(2, 3, 128, 96)
    want, got = frozen(x)['simcc'], teacher(x)['simcc']
    assert [t.shape for t in got] == [(2, 17, 192), (2, 17, 256)]
    assert want[0].std(-1).min() > 0.05
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-4, rtol=1e-3)
    assert teacher.describe() == '' and teacher.to('cpu') is teacher


# ------------------------------------------------------- (c) key points
KPTS = [[8 * (j % 12) + 8, 8 * (j + 2)] for j in range(17)]  # teacher pixels (192x256 crop)
SCORES = [1.0] * 15 + [0.5, 0.0]


@pytest.fixture(scope='module')
def keypoints_onnx(tmp_path_factory):
    path = tmp_path_factory.mktemp('kpts') / 'kpts.onnx'
    return export(FixedKeypoints(KPTS, SCORES), path, input_size=(192, 256))


def test_keypoints_become_student_heatmaps_peaking_at_the_right_cells(keypoints_onnx):
    """A 192x256 teacher's key point (x, y) is (x/2, y/2) in the 96x128 crop,
    cell (x/8, y/8) of the 24x32 MSRA grid; each map peaks at its score."""
    student = build_pose_model(HM_STUDENT)
    teacher = OnnxPoseTeacher.from_spec(spec(keypoints_onnx, 'keypoints', (192, 256)),
                                        student=student)
    hm = teacher(torch.randn(2, 3, 128, 96))['heatmap']
    assert hm.shape == (2, 17, 32, 24)
    for k, ((x, y), s) in enumerate(zip(KPTS, SCORES)):
        if s == 0:
            assert hm[:, k].abs().max() == 0
            continue
        flat = hm[:, k].flatten(1).argmax(1)
        assert (flat == (y // 8) * 24 + x // 8).all(), k
        assert hm[:, k].amax((1, 2)) == pytest.approx([s, s])
    assert 'key points rendered' in teacher.describe()


def test_keypoints_become_student_simcc_logits(keypoints_onnx):
    """On RTMPose's x2 SimCC bins the key point (x/2, y/2) is bin (x, y);
    softmax(logits / 0.1) is the label Gaussian, blended with a uniform by the
    score."""
    student = build_pose_model(SIMCC_STUDENT)
    teacher = OnnxPoseTeacher.from_spec(spec(keypoints_onnx, 'keypoints', (192, 256)),
                                        student=student)
    xs, ys = teacher(torch.randn(2, 3, 128, 96))['simcc']
    assert xs.shape == (2, 17, 192) and ys.shape == (2, 17, 256)
    px, py = (torch.softmax(t / 0.1, -1) for t in (xs, ys))
    assert torch.isfinite(xs).all() and torch.isfinite(ys).all()
    torch.testing.assert_close(px.sum(-1), torch.ones(2, 17))
    for k, ((x, y), s) in enumerate(zip(KPTS, SCORES)):
        if s == 0:  # uniform
            torch.testing.assert_close(px[:, k], torch.full_like(px[:, k], 1 / 192))
            continue
        assert (px[:, k].argmax(-1) == x).all() and (py[:, k].argmax(-1) == y).all(), k
        # the far bins hold the uniform share (1 - s) / W
        assert px[0, k, (x + 96) % 192] == pytest.approx((1 - s) / 192, abs=1e-6)


# ------------------------------------------------------------- (d) names
def channel_maps(tmp_path, k, **kw):
    return export(ChannelMaps(k, **kw), tmp_path / f'maps{k}.onnx')


def test_wholebody_and_reordered_teachers_teach_coco_by_name(tmp_path):
    student = build_pose_model(HM_STUDENT)
    x = torch.randn(2, 3, 128, 96)
    whole = OnnxPoseTeacher.from_spec(spec(channel_maps(tmp_path, 133), metainfo=WHOLEBODY),
                                      student=student, student_meta=COCO)
    hm = whole(x)['heatmap']
    assert hm.shape == (2, 17, 32, 24)
    assert hm[0, :, 0, 0].tolist() == list(range(1, 18))  # COCO-WholeBody starts with COCO-17
    assert 'student key points <- teacher 0-16' in whole.describe()

    names = keypoint_names(COCO)[0][::-1]
    reordered = OnnxPoseTeacher.from_spec(spec(channel_maps(tmp_path, 17), metainfo=names),
                                          student=student, student_meta=COCO)
    assert reordered(x)['heatmap'][0, :, 0, 0].tolist() == list(range(17, 0, -1))

    # a teacher without 'left_ear': 'auto' masks it out of the KD terms
    partial = names[:]
    partial[names.index('left_ear')] = 'head_top'
    masked = OnnxPoseTeacher.from_spec(spec(tmp_path / 'maps17.onnx', metainfo=partial,
                                            keypoint_map='auto'),
                                       student=student, student_meta=COCO)
    assert masked.keypoint_mask.tolist() == [float(i != 3) for i in range(17)]
    assert masked(x)['heatmap'][0, 3].abs().max() == 0
    # the fingerprint: the file and the mapping
    assert masked.fingerprint() != reordered.fingerprint()
    again = OnnxPoseTeacher.from_spec(spec(tmp_path / 'maps17.onnx', metainfo=names),
                                      student=student, student_meta=COCO)
    assert again.fingerprint() == reordered.fingerprint()


# -------------------------------------------------------- (e) bad input
def assert_one_line(excinfo):
    assert '\n' not in str(excinfo.value)


def test_file_errors_name_the_field(tmp_path):
    student = build_pose_model(HM_STUDENT)
    with pytest.raises(FileNotFoundError, match=r'^custom_hooks\[1\]\.teacher\.file: '
                       r'.*missing\.onnx does not exist') as e:
        OnnxPoseTeacher.from_spec(spec(tmp_path / 'missing.onnx'), student, field=FIELD)
    assert_one_line(e)
    (tmp_path / 'junk.onnx').write_bytes(b'not a protobuf\n' * 10)
    with pytest.raises(ValueError, match=r'^custom_hooks\[1\]\.teacher\.file: .*junk\.onnx '
                       'is not an ONNX model') as e:
        OnnxPoseTeacher.from_spec(spec(tmp_path / 'junk.onnx'), student, field=FIELD)
    assert_one_line(e)


def test_outputs_not_matching_the_declared_kind_are_refused(tmp_path, keypoints_onnx):
    student = build_pose_model(HM_STUDENT)
    maps = channel_maps(tmp_path, 17)
    cases = [
        (spec(maps, 'simcc'), r"\.output: 'simcc' expects two outputs.*\(1, 17, 32, 24\)"),
        (spec(keypoints_onnx, 'heatmap', (192, 256)), r"\.output: 'heatmap' expects one"),
        (spec(maps, input_size=(48, 64)), r'\.input_size: \(48, 64\) but maps17\.onnx takes '
                                          r"inputs of shape \['batch', 3, 128, 96\]"),
        (spec(maps, metainfo=WHOLEBODY), r'\.metainfo: 133 key-point names \(coco_wholebody\) '
                                         r'but maps17\.onnx predicts 17 key points'),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError, match=r'^custom_hooks\[1\]\.teacher' + message) as e:
            OnnxPoseTeacher.from_spec(bad, student, field=FIELD)
        assert_one_line(e)


def test_simcc_bins_not_matching_the_split_ratio_are_refused(tmp_path):
    class Bins(nn.Module):
        def forward(self, x):
            row = x.mean((1, 2, 3))[:, None, None] * 0
            return row + torch.zeros(1, 17, 192), row + torch.zeros(1, 17, 256)
    file = export(Bins(), tmp_path / 'bins.onnx')
    with pytest.raises(ValueError, match=r'^t\.simcc_split_ratio: 3 at input_size \(96, 128\) '
                       r'means 288 x bins and 384 y bins') as e:
        OnnxPoseTeacher.from_spec(spec(file, 'simcc', simcc_split_ratio=3.0), field='t')
    assert_one_line(e)


def test_onnx_runtime_failing_on_a_batch_is_one_line(tmp_path):
    file = export(ChannelMaps(17, fixed_batch=True), tmp_path / 'one.onnx')
    teacher = OnnxPoseTeacher.from_spec(spec(file), build_pose_model(HM_STUDENT), field=FIELD)
    assert teacher(torch.randn(1, 3, 128, 96))['heatmap'].shape == (1, 17, 32, 24)
    with pytest.raises(ValueError, match=r'^custom_hooks\[1\]\.teacher\.file: ONNX Runtime '
                       r'failed on a batch of shape \(2, 3, 128, 96\) with one\.onnx') as e:
        teacher(torch.randn(2, 3, 128, 96))
    assert_one_line(e)


@pytest.mark.parametrize('change,message', [
    (dict(output='heatmaps'), r"\.output: expected 'heatmap', 'simcc' or 'keypoints'"),
    (dict(input_size=(96,)), r'\.input_size: expected \(w, h\)'),
    (dict(mean=[1, 2]), r'\.mean: expected 3 numbers'),
    (dict(std=None), r'\.mean/std: give both'),
    (dict(bgr_to_rgb='yes'), r'\.bgr_to_rgb: expected True or False'),
    (dict(simcc_split_ratio=2.0), r"\.simcc_split_ratio: only for output='simcc'"),
    (dict(keypoint_map='all'), r"\.keypoint_map: expected 'auto'"),
    (dict(checkpoint='x.pth'), r": unknown keys \['checkpoint'\] for an ONNX teacher"),
    (dict(output=None), None),  # removed below: a missing key
])
def test_bad_teacher_dict_is_refused_by_the_hook(change, message):
    from kdkit.distill import DistillLossHook
    teacher = spec('t.onnx', **{k: v for k, v in change.items() if k not in PREPROCESS})
    teacher.update({k: v for k, v in change.items() if k in PREPROCESS})
    if message is None:
        teacher.pop('output')
        message = r": missing \['output'\]; expected dict\(type='onnx'"
    with pytest.raises(ValueError, match=r'^DistillLossHook\.teacher' + message) as e:
        DistillLossHook(teacher=teacher, terms=dict(kd=dict(type='HeatmapMSEDistillLoss')),
                        weights=dict(gt=1.0, kd=1.0))
    assert_one_line(e)


def test_model_wrapper_refuses_an_onnx_teacher_in_one_line():
    from kdkit.distill.hook import check_teacher_spec
    with pytest.raises(ValueError, match=r"^model\.teacher\.type: expected 'mmpose', got "
                       r"'onnx'; an ONNX teacher goes in a DistillLossHook"):
        check_teacher_spec(spec('t.onnx'), 'model.teacher')


# ------------------------------------------------------ (f) a real run
@pytest.mark.parametrize('cached', [False, True])
def test_hook_run_distils_from_an_onnx_teacher(res18, tiny_data, tmp_path, run_options, cached):
    """Online, and through the teacher-output cache (run once per instance)."""
    from kdkit.distill import DistillLossHook
    from kdkit.distill.cli import build_runner, load_config
    cfg = load_config(HM_CFG, run_options(tiny_data, tmp_path / 'work'))
    cfg.custom_hooks[1]['teacher'] = spec(res18[1], metainfo=COCO)
    if cached:
        cfg.custom_hooks.append(dict(type='TeacherCacheHook', persist=False))
    runner = build_runner(cfg)
    runner.train()
    hook = next(h for h in runner.hooks if isinstance(h, DistillLossHook))
    assert isinstance(hook.distiller.teacher, OnnxPoseTeacher)
    logged = runner.message_hub.log_scalars
    assert logged['train/loss_kd_heatmap'].current() > 0
    total = logged['train/loss_gt'].current() + logged['train/loss_kd_heatmap'].current()
    assert logged['train/loss'].current() == pytest.approx(total, rel=1e-5)
