"""The mean-pose floor on hand-made COCO annotations (three joints)."""
import numpy as np
import pytest

from kdkit.evaluation.baseline import crop_box, mean_pose, mean_pose_floor, mean_pose_records

K = 3


def ann(ann_id, image_id, bbox, xy, vis=(2, 2, 2)):
    kpts = np.concatenate([np.asarray(xy, float), np.asarray(vis, float)[:, None]], 1)
    return dict(id=ann_id, image_id=image_id, category_id=1, bbox=list(bbox),
                keypoints=kpts.ravel().tolist(), num_keypoints=int(np.sum(vis)))


def coco(*anns, video=False):
    images = [dict(id=a['image_id'], **(dict(vid_id=1, frame_index=i) if video else {}))
              for i, a in enumerate(anns)]
    return dict(images=images, annotations=list(anns),
                categories=[dict(id=1, name='person', keypoints=['a', 'b', 'c'])])


def test_crop_box_widens_the_smaller_side_to_the_aspect():
    assert crop_box([0, 0, 30, 80], 0.75) == (15.0, 40.0, 60.0, 80.0)  # too narrow: wider
    assert crop_box([10, 0, 90, 40], 0.75) == (55.0, 20.0, 90.0, 120.0)  # too wide: taller


def test_mean_pose_averages_visible_joints_in_crop_units():
    # boxes 60 x 80 (aspect 0.75 already): centre (30, 40) and (130, 40)
    train = coco(ann(1, 1, [0, 0, 60, 80], [[30, 20], [42, 40], [0, 0]], vis=(2, 2, 0)),
                 ann(2, 2, [100, 0, 60, 80], [[130, 40], [142, 60], [0, 0]], vis=(2, 2, 0)),
                 ann(3, 3, [0, 0, 60, 80], [[0, 0]] * 3, vis=(0, 0, 0)))  # unlabelled: skipped
    pose = mean_pose(train, 0.75)
    # joint a: offsets (0, -20) and (0, 0) -> (0, -10) / (60, 80); joint c: never seen -> centre
    np.testing.assert_allclose(pose, [[0.0, -0.125], [0.2, 0.125], [0.0, 0.0]])


def test_records_draw_the_pose_in_each_test_box():
    pose = np.array([[0.0, -0.25], [0.5, 0.0], [0.0, 0.0]])
    rec, = mean_pose_records(coco(ann(7, 9, [10, 10, 30, 80], [[0, 0]] * 3)), pose)
    # box widened to 60 x 80 around (25, 50)
    np.testing.assert_allclose(rec['keypoints'], [[25, 30], [55, 50], [25, 50]])
    assert rec['image_id'] == 9 and rec['keypoint_scores'].tolist() == [1, 1, 1]


def test_floor_is_perfect_on_people_in_the_mean_pose_and_misses_others():
    xy = [[30, 20], [42, 40], [30, 60]]
    train = coco(ann(1, 1, [0, 0, 60, 80], xy))
    shifted = [[30, 20], [42 + 12, 40], [30, 60]]  # joint b 12 px off in an 80-px box
    test = coco(ann(1, 1, [0, 0, 60, 80], xy), ann(2, 2, [0, 0, 60, 80], shifted),
                ann(3, 3, [0, 0, 60, 80], xy), video=True)  # one clip of three frames
    floor = mean_pose_floor(train, test, input_size=(96, 128))
    # b is right in two of three frames at 0.1 (12 / 80 = 0.15), in all at 0.2
    assert floor['PCK@0.2'] == pytest.approx(1.0)
    assert floor['PCK@0.1'] == pytest.approx((1 + 2 / 3 + 1) / 3)
    # a constant box gives a still prediction
    assert floor['num_instances'] == 3 and floor['jitter'] == pytest.approx(0.0)


def test_train_labels_without_visible_joints_are_a_one_line_error(tmp_path):
    import json
    path = tmp_path / 'train.json'
    path.write_text(json.dumps(coco(ann(1, 1, [0, 0, 60, 80], [[0, 0]] * 3, vis=(0, 0, 0)))))
    with pytest.raises(ValueError, match=r'train\.json: expected labelled key points'):
        mean_pose(str(path))
