"""ONNX export of the (student) pose network; see :mod:`kdkit.export.onnx`.

``load_config`` and ``student_model_cfg`` are kdkit.distill's (re-exported
for callers of the export API; they also take a Config)."""
from .onnx import (build_student, decode_outputs, export_onnx, load_config,
                   resolve_checkpoint, student_model_cfg)

__all__ = ['build_student', 'decode_outputs', 'export_onnx', 'load_config',
           'resolve_checkpoint', 'student_model_cfg']
