import torch
from torch import nn

from kdkit.evaluation.latency import measure_latency, onnx_latency, torch_latency

FIELDS = ('median_ms', 'p10_ms', 'p90_ms', 'iqr_ms', 'threads', 'n')


def _check(result, n):
    assert all(k in result for k in FIELDS)
    assert result['n'] == n
    assert 0 < result['p10_ms'] <= result['median_ms'] <= result['p90_ms']
    assert result['iqr_ms'] >= 0


def test_measure_latency_fields():
    calls = []
    result = measure_latency(lambda x: calls.append(x), (1,), warmup=2,
                             iters=7, threads=3)
    assert len(calls) == 9
    assert result['threads'] == 3
    assert result['n'] == 7
    assert result['p10_ms'] <= result['median_ms'] <= result['p90_ms']


def test_torch_latency_restores_threads():
    before = torch.get_num_threads()
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
    result = torch_latency(model, (1, 3, 32, 32), threads=1, warmup=1, iters=5)
    _check(result, 5)
    assert result['threads'] == 1
    assert torch.get_num_threads() == before


def test_torch_latency_on_pose_model(mobilenetv2_64):
    _check(torch_latency(mobilenetv2_64, (1, 3, 64, 64), threads=None,
                         warmup=1, iters=3), 3)


def test_onnx_latency(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()).eval()
    path = tmp_path / 'tiny.onnx'
    torch.onnx.export(model, (torch.zeros(1, 3, 32, 32),), str(path),
                      dynamo=False)
    result = onnx_latency(path, threads=1, warmup=1, iters=5)
    _check(result, 5)
    assert result['backend'] == 'onnxruntime-cpu'
