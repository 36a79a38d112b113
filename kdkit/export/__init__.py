"""ONNX export of the (student) pose network; see :mod:`kdkit.export.onnx`."""
from .onnx import (build_student, decode_outputs, export_onnx, load_config,
                   student_model_cfg)

__all__ = ['build_student', 'decode_outputs', 'export_onnx', 'load_config',
           'student_model_cfg']
