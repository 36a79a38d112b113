"""FrozenTeacher: eval lock, integrity fingerprint, compatibility checks."""
import pytest
import torch

from kdkit.distill.teacher import (FrozenTeacher, build_pose_model, check_compatible,
                                   normalisation_affine, resolve_checkpoint)

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


def test_input_size_mismatch_explains_fix():
    teacher = build_pose_model(TEACHER)
    student = build_pose_model(HM_STUDENT, cfg_options=dict(
        model=dict(head=dict(decoder=dict(input_size=(192, 256), heatmap_size=(48, 64))))))
    with pytest.raises(ValueError, match=r'input_size \(96, 128\) differs .*retrain'):
        check_compatible(teacher, student, TEACHER)


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
