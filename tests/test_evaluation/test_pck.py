import numpy as np
import pytest

from kdkit.evaluation.pck import bbox_size, pck_accuracy


def test_three_joints_hand_computed():
    # bbox 100 x 50 -> size 100, thr 0.2 -> correct below 20 px
    gt = np.array([[[0., 0.], [10., 0.], [0., 10.]]])
    pred = gt + np.array([[[10., 0.], [0., 25.], [12., 15.9]]])  # 10, 25, 19.9
    out = pck_accuracy(pred, gt, np.ones((1, 3), bool),
                       bbox_size([[0, 0, 100, 50]]), thr=0.2)
    np.testing.assert_allclose(out['per_joint'], [1., 0., 1.])
    assert out['pck'] == pytest.approx(2 / 3)


def test_never_visible_joint_is_nan_and_left_out_of_the_mean():
    gt = np.zeros((2, 3, 2))
    pred = gt.copy()
    pred[1, 0] = [50., 0.]  # instance 1, joint 0: 0.5 bbox away
    visible = np.array([[True, True, False], [True, True, False]])
    out = pck_accuracy(pred, gt, visible, np.array([100., 100.]))
    assert np.isnan(out['per_joint'][2])
    np.testing.assert_allclose(out['per_joint'][:2], [0.5, 1.0])
    assert out['pck'] == pytest.approx(0.75)  # mean over joints, not points
    np.testing.assert_array_equal(out['count'], [2, 2, 0])


def test_norm_shapes_agree_and_threshold_is_strict():
    gt = np.zeros((1, 2, 2))
    pred = np.array([[[20., 0.], [19.99, 0.]]])  # exactly thr * size: wrong
    vis = np.ones((1, 2), bool)
    a = pck_accuracy(pred, gt, vis, np.array([100.]))
    b = pck_accuracy(pred, gt, vis, np.array([[100., 100.]]))
    np.testing.assert_allclose(a['per_joint'], [0., 1.])
    np.testing.assert_allclose(a['per_joint'], b['per_joint'])


def test_norm_is_not_modified_in_place():
    norm = np.array([0., 100.])
    pck_accuracy(np.zeros((2, 1, 2)), np.zeros((2, 1, 2)),
                 np.ones((2, 1), bool), norm)
    np.testing.assert_array_equal(norm, [0., 100.])


def test_no_visible_joint_gives_nan():
    out = pck_accuracy(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)),
                       np.zeros((1, 2), bool), np.array([10.]))
    assert np.isnan(out['pck'])
    assert np.isnan(out['per_joint']).all()


def test_bbox_size_is_longer_side():
    np.testing.assert_allclose(bbox_size([[5, 5, 30, 80], [0, 0, 40, 10]]),
                               [80., 40.])
