"""Visibility logic on hand-made geometry, then on posed bodies."""
from __future__ import annotations

import numpy as np
import pytest

from kdkit.data.camera import Camera, look_at
from kdkit.data.render import BodyPainter
from kdkit.data.skeleton import KP, LimbAngles, PoseParams, body_points, world_points
from kdkit.data.visibility import (Capsule, Polygon, capsule_front_depth,
                                   keypoint_visibility, points_in_polygon)

SIZE = (100, 80)  # width, height


def vis(points, depth, **kw):
    return keypoint_visibility(np.array(points, float), np.array(depth, float), SIZE, **kw)


def bar(depth, owners=()):
    """Horizontal capsule across the middle of the image at ``depth``."""
    return Capsule((10, 40), (90, 40), (5, 5), (depth, depth), (0.05, 0.05),
                   frozenset(owners))


def test_outside_the_image_or_behind_the_camera_is_not_labelled():
    pts = [(-1, 10), (100, 10), (10, 80), (10, -0.5), (99.9, 79.9), (50, 40)]
    v = vis(pts, [3, 3, 3, 3, 3, -1])
    assert v.tolist() == [0, 0, 0, 0, 2, 0]


def test_nearer_capsule_hides_a_point_farther_one_does_not():
    pts, depth = [(50, 40), (50, 41), (50, 60)], [3.0, 3.0, 3.0]
    assert vis(pts, depth, capsules=[bar(2.0)]).tolist() == [1, 1, 2]
    assert vis(pts, depth, capsules=[bar(4.0)]).tolist() == [2, 2, 2]


def test_own_part_never_hides_its_key_point():
    v = vis([(50, 40), (60, 40)], [3.0, 3.0], capsules=[bar(2.0, owners=[0])])
    assert v.tolist() == [2, 1]


def test_key_point_radius_is_the_depth_margin():
    # a joint centre 4 cm behind the cover's front surface: hidden only when
    # its own surface (3 cm radius) is still behind the cover
    front = float(capsule_front_depth(bar(2.0), np.array([[50.0, 40.0]]))[0])
    assert front == pytest.approx(1.95)
    d = front + 0.04
    assert vis([(50, 40)], [d], capsules=[bar(2.0)], kp_radius=0.02).tolist() == [1]
    assert vis([(50, 40)], [d], capsules=[bar(2.0)], kp_radius=0.035).tolist() == [2]


def test_capsule_cross_section_is_round():
    cap = bar(2.0)
    centre, edge, off = capsule_front_depth(cap, np.array([[50, 40], [50, 44.9], [50, 45.1]],
                                                          float))
    assert centre == pytest.approx(1.95)
    assert 1.95 < edge < 2.0
    assert np.isinf(off)
    # tapered capsule: radius interpolates along the axis
    taper = Capsule((0, 0), (100, 0), (10, 0), (1, 1), (0.1, 0.0))
    d = capsule_front_depth(taper, np.array([[10, 8.5], [90, 8.5]], float))
    assert np.isfinite(d[0]) and np.isinf(d[1])


def test_sphere_hides_the_far_side_of_itself():
    head = Capsule((50, 40), (50, 40), (10, 10), (3.0, 3.0), (0.1, 0.1))
    # nose on the near surface, an "eye" on the far surface, an ear sticking out
    v = vis([(50, 40), (52, 40), (61, 40)], [2.9, 3.09, 3.0], capsules=[head])
    assert v.tolist() == [2, 1, 2]


def test_polygon_occluder():
    square = Polygon(np.array([[40, 30], [60, 30], [60, 50], [40, 50]], float), 2.0)
    pts = [(50, 40), (70, 40), (50, 40)]
    assert vis(pts, [3, 3, 1.5], polygons=[square]).tolist() == [1, 2, 2]
    owned = Polygon(square.points, 2.0, frozenset([0]))
    assert vis(pts[:1], [3], polygons=[owned]).tolist() == [2]


def test_points_in_polygon_even_odd():
    tri = np.array([[0, 0], [10, 0], [0, 10]], float)
    inside = points_in_polygon(np.array([[2, 2], [6, 6], [-1, 1], [1, 8.5]], float), tri)
    assert inside.tolist() == [True, False, False, True]


def test_depth_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match='depth'):
        vis([(1, 1), (2, 2)], [1.0])


# ------------------------------------------------------------ posed bodies
def _shape():
    from kdkit.data.skeleton import sample_body_shape
    return sample_body_shape(np.random.default_rng(0))


def _visibility_from(azimuth_deg: float, pose: PoseParams | None = None) -> np.ndarray:
    """Visibility of a standing subject (facing +z) seen from ``azimuth``
    (0 = in front) by a 256x256 camera 4 m away at chest height."""
    shape = _shape()
    world = world_points(shape, pose or PoseParams())
    target = world[[KP['left_shoulder'], KP['right_hip']]].mean(0)
    a = np.deg2rad(azimuth_deg)
    eye = target + 4.0 * np.array([np.sin(a), 0.0, np.cos(a)])
    cam = Camera(eye, look_at(eye, target), focal=300.0, cx=128.0, cy=128.0)
    body = BodyPainter(shape, np.array([0.0, -1.0])).build(world, cam)
    uv, z = cam.project(world[:17])
    from kdkit.data.skeleton import point_radii
    return keypoint_visibility(uv, z, (256, 256), body.capsules, body.polygons,
                               kp_radius=point_radii(shape)[:17])


def test_front_view_sees_everything():
    assert (_visibility_from(0) == 2).all()


def test_back_view_hides_the_face_but_not_the_ears():
    v = _visibility_from(180)
    for name in ('nose', 'left_eye', 'right_eye'):
        assert v[KP[name]] == 1, name
    for name in ('left_ear', 'right_ear', 'left_shoulder', 'right_hip'):
        assert v[KP[name]] == 2, name


def test_side_view_hides_the_far_side():
    # seen from the subject's left (+x): the right side is behind the body
    v = _visibility_from(90)
    for name in ('right_shoulder', 'right_hip', 'right_ear', 'right_eye'):
        assert v[KP[name]] == 1, name
    for name in ('left_shoulder', 'left_hip', 'left_ear', 'left_eye', 'nose'):
        assert v[KP[name]] == 2, name


def test_hand_behind_the_back_is_hidden_from_the_front():
    pose = PoseParams()
    # upper arm swung back, hinge turned inwards: the forearm crosses the
    # lower back
    pose.arms['right'] = LimbAngles(elev=-20, plane=0, twist=90, bend=100)
    pts = body_points(_shape(), pose)
    assert pts[KP['right_wrist'], 2] < -0.05  # the wrist really is behind
    assert abs(pts[KP['right_wrist'], 0]) < 0.1  # ... the spine
    v = _visibility_from(0, pose)
    assert v[KP['right_wrist']] == 1
    assert _visibility_from(180, pose)[KP['right_wrist']] == 2
