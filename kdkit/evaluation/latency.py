"""CPU latency of one forward pass at batch 1: eager PyTorch and ONNX Runtime.

Numbers are wall-clock (``time.perf_counter``) per call, reported as the
median and the 10th/90th percentiles so a noisy neighbour shows up as spread
rather than shifting a mean. Report "1 thread" (phone-like, one big core) and
"all threads" side by side; only compare numbers taken on the same machine.
"""
from __future__ import annotations

import os
import time
from typing import Callable, Sequence

import numpy as np


def _summary(times_s: Sequence[float], threads: int | None) -> dict:
    ms = np.asarray(times_s, dtype=np.float64) * 1e3
    p10, p25, median, p75, p90 = np.percentile(ms, [10, 25, 50, 75, 90])
    return dict(median_ms=float(median), p10_ms=float(p10),
                p90_ms=float(p90), iqr_ms=float(p75 - p25),
                mean_ms=float(ms.mean()), threads=threads, n=len(ms))


def measure_latency(fn: Callable, inputs=(), warmup: int = 10,
                    iters: int = 50, threads: int | None = None) -> dict:
    """Time ``fn(*inputs)`` ``iters`` times after ``warmup`` untimed calls.

    ``threads`` is only recorded here (the helpers below set it up).
    Returns ``dict(median_ms, p10_ms, p90_ms, iqr_ms, mean_ms, threads, n)``.
    """
    if iters < 1:
        raise ValueError('iters must be >= 1')
    if not isinstance(inputs, (tuple, list)):
        inputs = (inputs,)
    for _ in range(warmup):
        fn(*inputs)
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn(*inputs)
        times.append(time.perf_counter() - start)
    return _summary(times, threads)


def all_threads() -> int:
    """CPU cores this process may use (the "all threads" setting)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _tensor_forward(model):
    """``model(x)`` for plain modules; the raw network for MMPose models."""
    if hasattr(model, 'extract_feat') and hasattr(model, '_forward'):
        return lambda x: model(x, None, mode='tensor')
    return model


def torch_latency(model, input_shape: Sequence[int] = (1, 3, 256, 192),
                  threads: int | None = None, warmup: int = 10,
                  iters: int = 50) -> dict:
    """Eager PyTorch latency under ``torch.inference_mode`` on CPU.

    ``threads`` sets ``torch.set_num_threads`` for the measurement (None:
    all cores) and the previous setting is restored afterwards.
    """
    import torch

    threads = threads or all_threads()
    previous = torch.get_num_threads()
    was_training = model.training
    model.eval()
    forward = _tensor_forward(model)
    x = torch.randn(*input_shape, generator=torch.Generator().manual_seed(0))
    try:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            result = measure_latency(forward, (x,), warmup, iters, threads)
    finally:
        torch.set_num_threads(previous)
        model.train(was_training)
    return dict(result, backend='torch-eager')


def onnx_latency(onnx_path: str, input_shape: Sequence[int] | None = None,
                 threads: int | None = None, warmup: int = 10,
                 iters: int = 50) -> dict:
    """ONNX Runtime (CPUExecutionProvider) latency of ``onnx_path``.

    ``threads`` is the session's ``intra_op_num_threads`` (None: all cores);
    ``input_shape`` defaults to the model's own (static) input shape.
    """
    import onnxruntime as ort

    threads = threads or all_threads()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options,
                                   providers=['CPUExecutionProvider'])
    model_input = session.get_inputs()[0]
    shape = input_shape or [d if isinstance(d, int) else 1
                            for d in model_input.shape]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    result = measure_latency(lambda a: session.run(None, {model_input.name: a}),
                             (x,), warmup, iters, threads)
    return dict(result, backend='onnxruntime-cpu')
