"""ONNX round trips of small stock students (random weights, small inputs)."""
import os.path as osp

import numpy as np
import onnx
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from kdkit.export import (build_student, decode_outputs, export_onnx,
                          load_config, student_model_cfg)
from kdkit.export.onnx import _ort_outputs


def stock_config(rel: str) -> str:
    import mmpose
    return osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs',
                    'body_2d_keypoint', rel)


MOBILENETV2 = stock_config(
    'topdown_heatmap/coco/td-hm_mobilenetv2_8xb64-210e_coco-256x192.py')
RTMPOSE_T = stock_config('rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py')


def calibrated_student(config, input_size, path):
    """A random student whose BN statistics fit its own activations, saved to
    ``path``: unlike the raw init (outputs ~0 in eval mode) its outputs vary,
    so comparing ONNX Runtime with PyTorch means something."""
    torch.manual_seed(0)
    model = build_student(config, input_size=input_size)
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.momentum = None  # plain average over the batches below
    model.train()
    w, h = input_size
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(4, 3, h, w), None, mode='tensor')
    model.eval()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return model


def test_heatmap_model_round_trip(tmp_path):
    ckpt = tmp_path / 'mbv2.pth'
    model = calibrated_student(MOBILENETV2, (64, 64), ckpt)
    out = tmp_path / 'mbv2.onnx'
    info = export_onnx(MOBILENETV2, ckpt, out, input_size=(64, 64))
    assert out.is_file() and info['path'] == str(out)
    assert info['output_names'] == ['heatmaps']
    assert info['output_shapes']['heatmaps'] == (1, 17, 16, 16)
    assert info['max_abs_output'] > 0.1
    assert info['max_abs_diff'] <= 1e-4 + 1e-3 * info['max_abs_output']
    assert info['exporter'] in ('dynamo', 'torchscript')
    onnx.checker.check_model(str(out))
    assert not list(tmp_path.glob('.*tmp*'))  # temp file renamed away

    # ONNX Runtime reproduces the checkpoint's network on another input
    x = np.random.default_rng(1).standard_normal((1, 3, 64, 64),
                                                 dtype=np.float32)
    (heatmaps,) = _ort_outputs(out, x)
    with torch.no_grad():
        ref = model(torch.from_numpy(x), None, mode='tensor').numpy()
    np.testing.assert_allclose(heatmaps, ref, atol=1e-4, rtol=1e-3)

    # decode_outputs is MMPose's decode plus the crop -> image affine
    kpts, scores = decode_outputs([ref], info['codec'],
                                  bbox_center=[[100., 50.]],
                                  bbox_scale=[[64., 64.]])
    ref_kpts, ref_scores = model.head.decoder.decode(ref[0])
    assert kpts.shape == (1, 17, 2) and scores.shape == (1, 17)
    np.testing.assert_allclose(kpts, ref_kpts + [100. - 32., 50. - 32.])
    np.testing.assert_allclose(scores, ref_scores)


def test_rtmpose_simcc_round_trip(tmp_path):
    ckpt = tmp_path / 'rtm.pth'
    model = calibrated_student(RTMPOSE_T, (64, 96), ckpt)
    info = export_onnx(RTMPOSE_T, ckpt, tmp_path / 'rtm.onnx',
                       input_size=(64, 96))
    assert info['output_names'] == ['simcc_x', 'simcc_y']
    # split ratio 2: 2 bins per input pixel
    assert info['output_shapes'] == {'simcc_x': (1, 17, 128),
                                     'simcc_y': (1, 17, 192)}
    assert info['max_abs_output'] > 1.0
    assert info['max_abs_diff'] <= 1e-4 + 1e-3 * info['max_abs_output']

    x = np.random.default_rng(2).standard_normal((1, 3, 96, 64),
                                                 dtype=np.float32)
    outs = _ort_outputs(tmp_path / 'rtm.onnx', x)
    with torch.no_grad():
        ref = [t.numpy() for t in model(torch.from_numpy(x), None,
                                        mode='tensor')]
    for a, b in zip(outs, ref):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3)
    kpts, scores = decode_outputs(ref, info['codec'])
    ref_kpts, ref_scores = model.head.decoder.decode(*ref)
    np.testing.assert_allclose(kpts, ref_kpts)
    np.testing.assert_allclose(scores, ref_scores)
    assert kpts.shape == (1, 17, 2)
    assert (kpts >= 0).all() and (kpts[..., 0] < 64).all()


def test_distillation_config_exports_the_student():
    cfg = load_config(MOBILENETV2)
    cfg.model = dict(cfg.model, type='KDPoseEstimator',
                     teacher=dict(config='t.py', checkpoint='t.pth'),
                     distill=dict(terms={}))
    student = student_model_cfg(cfg)
    assert student['type'] == 'TopdownPoseEstimator'
    assert 'teacher' not in student and 'distill' not in student
    assert student['backbone'] == cfg.model['backbone']
    assert cfg.model['type'] == 'KDPoseEstimator'  # input left untouched


def test_corrupted_or_mismatched_checkpoint(tmp_path):
    model = build_student(MOBILENETV2, input_size=(64, 64))
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, good)
    with pytest.raises(ValueError, match='good.pth'):  # not an RTMPose
        export_onnx(RTMPOSE_T, good, tmp_path / 'rtm.onnx')

    bad = tmp_path / 'bad.pth'
    bad.write_bytes(good.read_bytes()[:1000])  # truncated download
    with pytest.raises(ValueError, match='bad.pth') as err:
        export_onnx(MOBILENETV2, bad, tmp_path / 'bad.onnx',
                    input_size=(64, 64))
    assert '\n' not in str(err.value)
    assert not (tmp_path / 'bad.onnx').exists()


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        export_onnx(MOBILENETV2, tmp_path / 'nope.pth', tmp_path / 'x.onnx')
    with pytest.raises(FileNotFoundError, match='nope.py'):
        export_onnx(tmp_path / 'nope.py', None, tmp_path / 'x.onnx')
