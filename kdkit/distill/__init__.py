"""Teacher, distiller and their two entry points (loss hook, model wrapper)."""
from .distiller import Distiller, NonFiniteLossError
from .estimator import KDPoseEstimator
from .hook import DistillLossHook, find_distiller
from .teacher import FrozenTeacher, build_pose_model, student_model_cfg

__all__ = ['Distiller', 'NonFiniteLossError', 'KDPoseEstimator',
           'DistillLossHook', 'find_distiller', 'FrozenTeacher',
           'build_pose_model', 'student_model_cfg']
