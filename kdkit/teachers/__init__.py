"""Teachers from outside MMPose, behind the interface of
:class:`~kdkit.distill.teacher.FrozenTeacher`: an ONNX pose model
(:mod:`kdkit.teachers.onnx`), key points cached in the data as pseudo-labels
(:mod:`kdkit.teachers.pseudo_labels`), and MediaPipe BlazePose as a labelling
step in its own venv (:mod:`kdkit.teachers.mediapipe`)."""
from .mediapipe import (LABELS_FORMAT, check_pose_labels, find_real_python, label_videos,
                        read_pose_labels)
from .onnx import OnnxPoseTeacher, check_onnx_spec
from .pseudo_labels import PseudoLabelTeacher, check_pseudo_spec

__all__ = ['OnnxPoseTeacher', 'check_onnx_spec', 'PseudoLabelTeacher', 'check_pseudo_spec',
           'LABELS_FORMAT', 'check_pose_labels', 'find_real_python', 'label_videos',
           'read_pose_labels']
