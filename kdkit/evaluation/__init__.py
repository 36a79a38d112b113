"""Evaluation of a (mobile) student against its teacher: accuracy (COCO AP via
MMPose's CocoMetric, PCK@0.2), temporal jitter on clips, and cost (params,
GFLOPs, CPU latency). Importing this registers ``PCKJitterMetric``."""
from .coco import (evaluate_predictions, match_predictions,
                   summarize_pck_jitter, summarize_results)
from .complexity import model_complexity
from .jitter import clip_jitter, excess_jitter, jitter
from .latency import measure_latency, onnx_latency, torch_latency
from .metric import PCKJitterMetric
from .pck import bbox_size, pck_accuracy

__all__ = ['PCKJitterMetric', 'bbox_size', 'clip_jitter',
           'evaluate_predictions', 'excess_jitter', 'jitter',
           'match_predictions', 'measure_latency', 'model_complexity',
           'onnx_latency', 'pck_accuracy', 'summarize_pck_jitter',
           'summarize_results', 'torch_latency']
