"""bench/onnx_speedup.py: the report's ratios and verdicts, from a hand-made record."""
import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    'onnx_speedup', Path(__file__).resolve().parents[1] / 'bench' / 'onnx_speedup.py')
onnx_speedup = importlib.util.module_from_spec(spec)
spec.loader.exec_module(onnx_speedup)


def test_markdown_gives_each_pair_its_ratio_and_verdict():
    record = dict(
        command='python bench/onnx_speedup.py', seconds=1.0,
        machine=dict(cpu='cpu', cores=2, torch='t', onnxruntime='o', loadavg_before=0.5),
        archs={'T': dict(params_M=10, GFLOPs=1.0, ort_1t_ms=40.0, ort_all_ms=20.0),
               'S': dict(params_M=1, GFLOPs=0.1, ort_1t_ms=4.0, ort_all_ms=4.0)},
        pairs=[dict(teacher='T', student='S', flops_ratio=10.0, speedup_1t=10.0,
                    speedup_all=5.0),
               dict(teacher='S', student='T', flops_ratio=0.1, speedup_1t=0.1,
                    speedup_all=0.2)])
    text = onnx_speedup.format_markdown(record)
    assert '| T | 10.00 | 1.000 | 40.00 | 20.00 |' in text
    assert '| T → S | 10.0× | 10.00× | 5.00× | PASS |' in text
    assert '| S → T | 0.1× | 0.10× | 0.20× | FAIL |' in text


def test_candidate_student_reads_stage_6():
    cfg = onnx_speedup.arch_config('MobileNetV2 stage-6 head (candidate)')
    assert tuple(cfg.model.backbone.out_indices) == (6, ) and cfg.model.head.in_channels == 320
    plain = onnx_speedup.arch_config('MobileNetV2 (student)')
    assert plain.model.head.in_channels == 1280
