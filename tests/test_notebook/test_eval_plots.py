"""Notebook 04's helpers on hand-made data: the Pareto front, per-joint PCK,
the bench record table, the plots, clip frames and the ONNX check."""
import json

import matplotlib
import numpy as np
import pytest

from kdkit.notebook import eval_plots as ep

matplotlib.use('Agg')


def record():
    rows = {
        'heatmap_teacher': dict(label='teacher', pair='heatmap', role='teacher', AP=0.70,
                                GFLOPs=0.5, ort_1t_ms=30.0),
        'heatmap_plain': dict(label='plain', pair='heatmap', role='plain', AP=0.55,
                              GFLOPs=0.2, ort_1t_ms=10.0),
        'heatmap_kd': dict(label='kd', pair='heatmap', role='kd', AP=0.62,
                           GFLOPs=0.2, ort_1t_ms=10.0),
    }
    return dict(rows=rows, data_root='data/x')


def test_pareto_front():
    assert ep.pareto_front([1, 2, 3, 4], [0.5, 0.4, 0.7, 0.7]) == [0, 2]
    assert ep.pareto_front([2, 1], [0.9, 0.1]) == [1, 0]  # fastest first
    assert ep.pareto_front([1, 1], [0.5, 0.5]) == [0, 1]  # equal points: neither dominates
    assert ep.pareto_front([], []) == []


def test_load_bench_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.json'):
        ep.load_bench(tmp_path / 'nope.json')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"rows": ')
    with pytest.raises(ValueError, match='bad.json') as e:
        ep.load_bench(bad)
    assert '\n' not in str(e.value)
    other = tmp_path / 'other.json'
    other.write_text('[1, 2]')
    with pytest.raises(ValueError, match="other.json has no 'rows'"):
        ep.load_bench(other)
    good = tmp_path / 'good.json'
    good.write_text(json.dumps(record()))
    assert ep.load_bench(good)['rows']['heatmap_kd']['AP'] == 0.62


def test_bench_table_and_pareto_plot():
    table = ep.bench_table(record())
    assert list(table.index) == ['heatmap_teacher', 'heatmap_plain', 'heatmap_kd']
    assert table.loc['heatmap_kd', 'AP'] == 0.62 and np.isnan(table.loc['heatmap_kd', 'jitter'])
    ax = ep.plot_pareto(table, threshold=0.6)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert list(lines['threshold AP = 0.6'].get_ydata()) == [0.6, 0.6]
    front = lines['Pareto front']  # plain is dominated by kd (same latency, higher AP)
    assert list(front.get_xdata()) == [10.0, 30.0] and list(front.get_ydata()) == [0.62, 0.70]
    sizes = {c.get_label(): c.get_sizes()[0] for c in ax.collections}
    assert sizes['teacher'] > sizes['kd']  # marker area grows with GFLOPs


def test_per_joint_pck_hand_computed():
    gt = np.array([[10, 10, 2], [20, 20, 2], [30, 30, 0]], float)
    preds = {
        1: dict(gt=gt, bbox=np.array([0, 0, 100, 50.]),
                pred=gt[:, :2] + [[0, 0], [30, 0], [0, 0]]),  # 0.3 of the bbox size: wrong
        2: dict(gt=gt, bbox=np.array([0, 0, 50, 100.]),
                pred=gt[:, :2] + [[0, 0], [10, 0], [50, 50]]),  # 0.1: right
    }
    pj = ep.per_joint_pck(preds, names=['a', 'b', 'c'])
    assert pj['a'] == 1.0 and pj['b'] == 0.5 and np.isnan(pj['c'])  # c never visible
    ax = ep.plot_per_joint({'teacher': pj, 'kd': pj})
    assert len(ax.patches) == 6
    with pytest.raises(ValueError, match='no predictions'):
        ep.per_joint_pck({})


def fake_split(root, n_clips=2, n_frames=5, unlabelled=(1,)):
    import cv2
    images, anns = [], []
    for v in range(n_clips):
        for f in range(n_frames):
            iid = 100 * v + f
            name = f'test/clip{v}/{f:03d}.jpg'
            (root / 'images' / name).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / 'images' / name), np.full((64, 48, 3), 90, np.uint8))
            images.append(dict(id=iid, file_name=name, vid_id=v, frame_index=f))
            if f not in unlabelled:
                anns.append(dict(id=iid, image_id=iid, bbox=[4, 4, 40, 56],
                                 keypoints=[10, 10, 2] * 17))
    (root / 'annotations').mkdir(parents=True)
    (root / 'annotations' / 'person_keypoints_test.json').write_text(
        json.dumps(dict(images=images, annotations=anns)))


def test_clip_frames_and_side_by_side(tmp_path):
    fake_split(tmp_path)
    assert ep.clip_frames(tmp_path, clip=1, n=3) == [100, 103, 104]  # frame 1 unlabelled
    assert ep.clip_frames(tmp_path, clip=0, n=10) == [0, 2, 3, 4]
    with pytest.raises(ValueError, match='clip: 2 out of range'):
        ep.clip_frames(tmp_path, clip=2)
    sample = dict(gt=np.array([[10, 10, 2]] * 17, float), pred=np.full((17, 2), 12.0))
    preds = {m: {0: sample, 2: sample} for m in ('teacher', 'plain', 'kd')}
    fig = ep.show_side_by_side(tmp_path, preds, [0, 2], skeleton=[(0, 1)])
    assert len(fig.axes) == 6 and fig.axes[0].get_title() == 'teacher'
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [  # the PNG's only key
        'labelled key points', "model's key points and skeleton"]


def test_check_export_on_real_crops(tiny_data, tmp_path):
    import torch

    from kdkit.distill.teacher import build_pose_model
    config = 'configs/student/rtmpose-t_quick_kdkit-video-128x96.py'
    torch.manual_seed(0)
    model = build_pose_model(config)
    model.init_weights()
    ckpt = tmp_path / 'student.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    out = ep.check_export(config, ckpt, tmp_path / 'student.onnx', tiny_data, n=2)
    assert (tmp_path / 'student.onnx').is_file() and out['frames'] == 2
    assert out['frame_max_abs_diff'] <= 1e-4 + 1e-3 * out['max_abs_output']
    assert out['keypoint_max_px_diff'] < 0.5
