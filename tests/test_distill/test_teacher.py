"""FrozenTeacher: eval lock, integrity fingerprint, compatibility checks."""
import pytest
import torch

from kdkit.distill.teacher import (FrozenTeacher, build_pose_model, normalisation_affine,
                                   resolve_checkpoint)

TEACHER = 'configs/teacher/td-hm_res18_quick_kdkit-video-128x96.py'
HM_STUDENT = 'configs/student/td-hm_mobilenetv2_quick_kdkit-video-128x96.py'


def test_from_config_returns_locked_teacher(teacher_ckpt):
    student = build_pose_model(HM_STUDENT)
    teacher = FrozenTeacher.from_config(TEACHER, teacher_ckpt, student=student)
    before = teacher.fingerprint()
    teacher.model.train()
    assert not teacher.model.training
    out = teacher(torch.randn(2, 3, 128, 96))
    assert out['heatmap'].shape == (2, 17, 32, 24)
    assert out['feature'].shape[1] == 512
    assert not out['heatmap'].requires_grad
    assert teacher.fingerprint() == before


def test_keypoint_count_mismatch_is_named(teacher_ckpt):
    student = build_pose_model(HM_STUDENT, cfg_options=dict(model=dict(head=dict(out_channels=16))))
    with pytest.raises(ValueError, match='17 key points, the student 16'):
        FrozenTeacher.from_config(TEACHER, teacher_ckpt, student=student)


def test_teacher_at_another_input_size_is_mapped_not_refused(teacher_ckpt):
    """Before: 'codec input_size (96, 128) differs ... set cfg_options=dict(codec=...)'
    (a hint that changed nothing). Now the teacher sees the student's crop at
    its own size and its heatmaps come back on the student's grid."""
    student = build_pose_model(HM_STUDENT, cfg_options=dict(
        model=dict(head=dict(decoder=dict(input_size=(48, 64), heatmap_size=(12, 16))))))
    teacher = FrozenTeacher.from_config(TEACHER, teacher_ckpt, student=student)
    out = teacher(torch.randn(2, 3, 64, 48))
    assert out['heatmap'].shape == (2, 17, 16, 12)
    assert 'input 48x64 -> 96x128' in teacher.describe()


def test_aspect_ratio_mismatch_is_refused_in_one_line(teacher_ckpt):
    student = build_pose_model(HM_STUDENT, cfg_options=dict(
        model=dict(head=dict(decoder=dict(input_size=(96, 96), heatmap_size=(24, 24))))))
    with pytest.raises(ValueError, match=r'^custom_hooks\[1\]\.teacher: teacher input 96x128 '
                       r'\(w/h 0\.750\) and student input 96x96 \(w/h 1\.000\) differ in '
                       r'aspect ratio.*unsupported') as e:
        FrozenTeacher.from_config(TEACHER, teacher_ckpt, student=student,
                                  field='custom_hooks[1].teacher')
    assert '\n' not in str(e.value)


def test_codec_cfg_option_is_refused_not_ignored(teacher_ckpt):
    """cfg_options=dict(codec=...) does not reach model.head.decoder."""
    with pytest.raises(ValueError, match=r'^teacher\.cfg_options\.codec has no effect.*'
                       r'model\.head\.decoder'):
        FrozenTeacher.from_config(TEACHER, teacher_ckpt, cfg_options=dict(
            codec=dict(input_size=(192, 256))))


def test_wrong_architecture_checkpoint_is_rejected(tmp_path):
    student = build_pose_model(HM_STUDENT)
    path = tmp_path / 'student.pth'
    torch.save({'state_dict': student.state_dict()}, path)
    with pytest.raises(ValueError, match='does not fit the model architecture'):
        FrozenTeacher.from_config(TEACHER, path)


def test_truncated_checkpoint_is_rejected(teacher_ckpt, tmp_path):
    path = tmp_path / 'cut.pth'
    path.write_bytes(teacher_ckpt.read_bytes()[:1000])
    with pytest.raises(ValueError, match='cut.pth is not a readable torch checkpoint'):
        FrozenTeacher.from_config(TEACHER, path)


def test_checkpoint_folder_resolution(tmp_path, teacher_ckpt):
    (tmp_path / 'last_checkpoint').write_text(str(teacher_ckpt))
    assert resolve_checkpoint(tmp_path) == teacher_ckpt
    (tmp_path / 'best_coco_AP_epoch_3.pth').write_bytes(b'')
    assert resolve_checkpoint(tmp_path).name == 'best_coco_AP_epoch_3.pth'
    with pytest.raises(FileNotFoundError, match='teacher checkpoint'):
        resolve_checkpoint(tmp_path / 'nope')


def test_normalisation_affine_maps_student_to_teacher_inputs():
    class Pre:
        def __init__(self, mean, std):
            self.mean, self.std = torch.tensor(mean), torch.tensor(std)
    s, t = Pre([100., 100., 100.], [50., 50., 50.]), Pre([0., 0., 0.], [255., 255., 255.])
    assert normalisation_affine(s, s) is None
    scale, shift = normalisation_affine(s, t)
    raw = torch.tensor([150., 0., 255.]).view(1, 3, 1, 1)
    x_s = (raw - 100.) / 50.
    assert torch.allclose(x_s * scale + shift, raw / 255.)


# ------------------------------------------------ checkpoints from elsewhere
def test_teacher_checkpoint_from_a_url(teacher_ckpt, http_files, torch_hub_dir):
    url = http_files(teacher_ckpt.parent, requests=1) + '/' + teacher_ckpt.name
    assert resolve_checkpoint(url) == url
    teacher = FrozenTeacher.from_config(TEACHER, url)
    assert teacher.fingerprint() == FrozenTeacher.from_config(TEACHER, teacher_ckpt).fingerprint()
    assert (torch_hub_dir / 'checkpoints' / teacher_ckpt.name).is_file()  # MMEngine's cache


def test_teacher_url_is_checked_before_the_run(tmp_path, closed_port, torch_hub_dir):
    from mmengine.config import Config

    from kdkit.utils.validate import InputError, check_teachers
    url = f'http://127.0.0.1:{closed_port}/teacher.pth'
    cfg = Config(dict(custom_hooks=[dict(type='DistillLossHook',
                                         teacher=dict(config=TEACHER, checkpoint=url))]))
    with pytest.raises(InputError) as e:
        check_teachers(cfg)
    assert str(e.value).startswith(f'custom_hooks[0].teacher.checkpoint: cannot download {url} '
                                   '(URLError: ')
    assert '\n' not in str(e.value)


def test_mmpose_0x_checkpoint_loads_as_teacher(teacher_ckpt, tmp_path, mmpose0x_checkpoint):
    old = mmpose0x_checkpoint(teacher_ckpt, tmp_path / 'old.pth')
    teacher = FrozenTeacher.from_config(TEACHER, old)
    assert teacher.fingerprint() == FrozenTeacher.from_config(TEACHER, teacher_ckpt).fingerprint()


def test_build_pose_model_leaves_the_callers_config_alone():
    """The pre-run check builds the run's model: its init_cfg must survive."""
    from kdkit.distill.teacher import load_any_config
    cfg = load_any_config(HM_STUDENT)
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint='https://x/backbone.pth')
    build_pose_model(cfg)
    assert cfg.model.backbone.init_cfg.checkpoint == 'https://x/backbone.pth'
