"""The demo's figure on hand-made data: bar heights, error bars only for
multi-seed rows, the teacher line, the skeleton grid, and the PNG written
atomically from the tiny generated data."""
import numpy as np
import pytest

from kdkit.notebook import demo_figure as df
from kdkit.notebook.eval_plots import clip_frames, read_annotations

ROWS = {
    'teacher': {'PCK': [0.93], 'AP': [0.02]},
    'RTMPose-t plain': {'PCK': [0.61, 0.63, 0.60], 'AP': [0.010, 0.012, 0.008]},
    'RTMPose-t distilled': {'PCK': [0.70, 0.74, 0.72], 'AP': [0.015, 0.013, 0.017]},
    'MobileNetV2 plain': {'PCK': [0.55], 'AP': [0.005]},
    'MobileNetV2 distilled': {'PCK': [0.58], 'AP': [0.007]},
}
SKELETON = [(0, 1), (1, 2), (5, 6)]


def axes_pair():
    from matplotlib.figure import Figure
    fig = Figure()
    return fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)


def bar_containers(ax):
    from matplotlib.container import BarContainer
    return {c.get_label(): c for c in ax.containers if isinstance(c, BarContainer)}


def test_seed_stats_and_roles():
    assert df.seed_stats([0.5]) == (0.5, None, 1)
    assert df.seed_stats(0.5) == (0.5, None, 1)  # a plain number is one seed
    mean, sd, n = df.seed_stats([1.0, 2.0, 4.0])
    assert mean == pytest.approx(7 / 3) and sd == pytest.approx(np.std([1, 2, 4], ddof=1))
    assert n == 3
    mean, sd, n = df.seed_stats([float('nan')])
    assert np.isnan(mean) and sd is None and n == 0
    assert [df.model_role(n) for n in ROWS] == ['teacher', 'plain', 'distilled',
                                                'plain', 'distilled']


def test_bar_heights_error_bars_and_teacher_line():
    ax_pck, ax_ap = axes_pair()
    stats = df.plot_model_bars(ROWS, ax_pck, ax_ap)
    for key, ax in (('PCK', ax_pck), ('AP', ax_ap)):
        bars = bar_containers(ax)
        assert list(bars) == list(ROWS)  # one bar per model, in the rows' order
        for name, values in ROWS.items():
            container = bars[name]
            assert len(container.patches) == 1
            assert container.patches[0].get_height() == pytest.approx(np.mean(values[key]))
            assert stats[key][name][0] == pytest.approx(np.mean(values[key]))
            if len(values[key]) > 1:  # error bar = sample sd, centred on the mean
                assert container.errorbar is not None
                segs = container.errorbar.lines[2][0].get_segments()
                (_, lo), (_, hi) = segs[0]
                sd = np.std(values[key], ddof=1)
                assert lo == pytest.approx(np.mean(values[key]) - sd)
                assert hi == pytest.approx(np.mean(values[key]) + sd)
            else:
                assert container.errorbar is None
        teacher = [ln for ln in ax.get_lines() if ln.get_label() == 'teacher']
        assert len(teacher) == 1 and teacher[0].get_linestyle() == '--'
        assert list(teacher[0].get_ydata()) == pytest.approx([ROWS['teacher'][key][0]] * 2)
        assert ax.get_ylim()[1] > max(m + (sd or 0) for m, sd, _ in stats[key].values())
        labels = [t.get_text() for t in ax.texts]
        assert f'{np.mean(ROWS["teacher"][key]):.3f}' in labels  # value labels on the bars
    assert 'PCK@0.2' in ax_pck.get_title() and 'AP' in ax_ap.get_title()
    assert 'sd over seeds' in ax_pck.get_title()
    # pairs touch, groups are apart
    xs = [bar_containers(ax_pck)[n].patches[0].get_x() for n in ROWS]
    gaps = np.diff(xs)
    assert gaps[1] == pytest.approx(gaps[3]) and gaps[0] > gaps[1] and gaps[2] > gaps[1]


def test_single_seed_rows_have_no_error_bars_and_no_sd_title():
    rows = {'teacher': {'PCK': 0.9, 'AP': 0.5}, 'plain': {'PCK': [0.6], 'AP': [0.3]},
            'distilled': {'PCK': [0.7], 'AP': [float('nan')]}}
    ax_pck, ax_ap = axes_pair()
    df.plot_model_bars(rows, ax_pck, ax_ap)
    for ax in (ax_pck, ax_ap):
        assert all(c.errorbar is None for c in bar_containers(ax).values())
        assert 'sd' not in ax.get_title()
    assert 'n/a' in [t.get_text() for t in ax_ap.texts]  # a metric a run did not report
    with pytest.raises(ValueError, match="teacher: 'nope'"):
        df.plot_model_bars(rows, ax_pck, ax_ap, teacher='nope')


def test_pck_at_0_1_panel_and_the_floor_line():
    rows = {'teacher': {'PCK': [0.9], 'PCK@0.1': [0.6]},
            'plain': {'PCK': [0.80, 0.84], 'PCK@0.1': [0.30, 0.34]}}
    ax_pck, ax_strict = axes_pair()
    stats = df.plot_model_bars(rows, ax_pck, ax_strict, floor={'PCK': 0.855, 'PCK@0.1': 0.274},
                               second='PCK@0.1')
    assert stats['PCK@0.1']['plain'][0] == pytest.approx(0.32)
    assert 'PCK@0.1' in ax_strict.get_title()
    for ax, value in ((ax_pck, 0.855), (ax_strict, 0.274)):
        floor = [ln for ln in ax.get_lines() if 'floor' in ln.get_label()]
        assert len(floor) == 1 and floor[0].get_linestyle() == ':'
        assert list(floor[0].get_ydata()) == pytest.approx([value] * 2)
        assert ax.get_ylim()[1] >= value  # a floor above every bar is still drawn
    with pytest.raises(ValueError, match="second: expected one of"):
        df.plot_model_bars(rows, ax_pck, ax_strict, second='PCK@0.5')


def test_crop_box_keeps_person_and_aspect():
    sample = dict(bbox=np.array([100., 50., 20., 40.]),
                  gt=np.array([[105, 55, 2], [118, 88, 2], [300, 300, 0]], float))
    x0, x1, y0, y1 = df.crop_box(sample, (240, 320), margin=0.25, aspect=0.75)
    assert x0 < 100 and x1 > 120 and y0 < 50 and y1 > 90  # box plus margin
    assert (x1 - x0) / (y1 - y0) == pytest.approx(0.75)
    assert y1 < 300  # the invisible joint does not stretch the crop
    # near an edge: shifted inside the image, size kept
    x0, x1, y0, y1 = df.crop_box(dict(bbox=[0, 0, 20, 40], gt=np.zeros((0, 3))), (240, 320))
    assert x0 == 0 and y0 == 0 and (x1 - x0) / (y1 - y0) == pytest.approx(0.75)


def fake_preds(data_root, image_ids, sigmas):
    """``predict_split``-style output: ground truth plus noise of ``sigma`` px."""
    ann = read_annotations(data_root, 'test')
    rng = np.random.default_rng(0)
    wanted = set(image_ids)
    preds = {}
    for name, sigma in sigmas.items():
        preds[name] = {}
        for a in ann['annotations']:
            if a['image_id'] in wanted:
                gt = np.asarray(a['keypoints'], float).reshape(-1, 3)
                preds[name][a['image_id']] = dict(
                    gt=gt, bbox=np.asarray(a['bbox'], float),
                    pred=gt[:, :2] + rng.normal(0, sigma, (len(gt), 2)))
    return preds


SIGMAS = {'teacher': 1.0, 'RTMPose-t plain': 6.0, 'RTMPose-t distilled': 3.0}


def test_skeleton_grid_panels(tiny_data):
    from matplotlib.figure import Figure
    ids = clip_frames(tiny_data, 'test', 0, 3)
    assert len(ids) == 3
    preds = fake_preds(tiny_data, ids, SIGMAS)
    fig = Figure()
    axes = df.plot_skeleton_grid(fig, None, tiny_data, preds, ids, skeleton=SKELETON)
    assert axes.shape == (3, 3) and len(fig.axes) == 9
    assert [ax.get_title() for ax in axes[0]] == list(SIGMAS)
    assert all(ax.get_title() == '' for ax in axes[1:].ravel())
    # each panel: the frame, green ground truth and red skeleton lines, cropped around the person
    ax = axes[1, 2]
    assert len(ax.images) == 1 and len(ax.get_lines()) == len(SKELETON)
    bbox = preds['teacher'][ids[1]]['bbox']
    x0, x1 = ax.get_xlim()
    y1, y0 = ax.get_ylim()
    width = ax.images[0].get_array().shape[1]
    assert x0 <= bbox[0] and x1 >= bbox[0] + bbox[2] and y0 <= bbox[1] and y1 >= bbox[1] + bbox[3]
    assert x1 - x0 < width  # a crop, not the whole frame
    with pytest.raises(ValueError, match='not test frames'):
        df.plot_skeleton_grid(Figure(), None, tiny_data, preds, [10 ** 9], skeleton=SKELETON)


def test_save_demo_figure_end_to_end(tiny_data, tmp_path):
    import cv2
    ids = clip_frames(tiny_data, 'test', 0, 3)
    preds = fake_preds(tiny_data, ids, SIGMAS)
    rows = {k: ROWS[k] for k in ('teacher', 'RTMPose-t plain', 'RTMPose-t distilled')}
    out = tmp_path / 'figs' / 'demo.png'
    path = df.save_demo_figure(rows, preds, ids, tiny_data, out)  # default COCO-17 skeleton
    assert path == out and out.is_file()
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 600 and img.shape[1] > 600
    assert img.std() > 10  # not a blank canvas
    assert [p.name for p in out.parent.iterdir()] == ['demo.png']  # no temp file left
    # bars only, when there are no predictions
    bars_only = df.save_demo_figure(rows, None, (), None, tmp_path / 'bars.png')
    assert cv2.imread(str(bars_only)).shape[0] < img.shape[0]
    # the colours of the skeleton panels are explained; bars alone need no such key
    keys = [t.get_text() for t in df.make_demo_figure(rows, preds, ids, tiny_data).legends[0].texts]
    assert keys == ['labelled key points', "model's key points and skeleton"]
    assert not df.make_demo_figure(rows).legends
