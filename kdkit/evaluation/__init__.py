"""Evaluation of a (mobile) student against its teacher: accuracy (COCO AP via
MMPose's CocoMetric, PCK@0.2 and @0.1), temporal jitter on clips, the
mean-pose floor (``mean_pose_floor``: the PCK of a model that ignores the
image), and cost (params, GFLOPs, CPU latency). Importing this registers
``PCKJitterMetric``.

On real video without human labels: calibrated cameras (``read_qca``),
triangulation, cross-view association and reprojection error of labels and
of predictions on a held-out view (``multiview_report``), and the readers of
``kdkit predict`` results (``predictions_as_pose_labels``,
``keypoints_report``) that ``kdkit evaluate`` uses (numpy only at import)."""
from .baseline import mean_pose, mean_pose_floor
from .calibration import Camera, CalibrationError, look_at, read_qca
from .coco import (evaluate_predictions, match_predictions,
                   summarize_pck_jitter, summarize_results)
from .complexity import model_complexity
from .jitter import clip_jitter, excess_jitter, jitter
from .latency import measure_latency, onnx_latency, torch_latency
from .metric import PCKJitterMetric
from .multiview import (associate, epipolar_cost, leave_one_view_out,
                        load_labels, multiview_report, reprojection_error,
                        triangulate, triangulate_points)
from .pck import bbox_size, pck_accuracy
from .real import (keypoints_report, map_to_gt, multiview_cli_report,
                   predictions_as_pose_labels)

__all__ = ['CalibrationError', 'Camera', 'PCKJitterMetric', 'associate',
           'bbox_size', 'clip_jitter', 'epipolar_cost', 'evaluate_predictions',
           'excess_jitter', 'jitter', 'keypoints_report', 'leave_one_view_out',
           'load_labels', 'look_at', 'map_to_gt', 'match_predictions',
           'mean_pose', 'mean_pose_floor', 'measure_latency', 'model_complexity',
           'multiview_cli_report', 'multiview_report', 'onnx_latency', 'pck_accuracy',
           'predictions_as_pose_labels', 'read_qca', 'reprojection_error',
           'summarize_pck_jitter', 'summarize_results', 'torch_latency',
           'triangulate', 'triangulate_points']
