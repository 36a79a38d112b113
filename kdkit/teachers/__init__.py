"""Teachers from outside MMPose, behind the interface of
:class:`~kdkit.distill.teacher.FrozenTeacher` (see :mod:`kdkit.teachers.onnx`)."""
from .onnx import OnnxPoseTeacher, check_onnx_spec

__all__ = ['OnnxPoseTeacher', 'check_onnx_spec']
