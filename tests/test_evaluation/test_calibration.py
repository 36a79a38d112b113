import os
import zipfile

import numpy as np
import pytest

from kdkit.evaluation.calibration import (CalibrationError, Camera, look_at,
                                          read_qca, undistort_normalized)

WHEEL = '/tmp/p2s/pose2sim-0.10.49-py3-none-any.whl'
DEMO_QCA = 'Pose2Sim/Demo_MultiPerson/calibration/Calib.qca.txt'

K = np.array([[810., 0., 330.], [0., 790., 235.], [0., 0., 1.]])
DIST = np.array([-0.12, 0.03, 0.001, -0.0007, 0.002])


def _camera():
    return look_at('camA', [3.0, -2.0, 1.6], [0.0, 0.0, 1.0], K, DIST,
                   image_size=(640, 480))


def _points(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform([-0.8, -0.8, 0.0], [0.8, 0.8, 1.9], size=(n, 3))


def test_project_matches_opencv():
    cv2 = pytest.importorskip('cv2')
    cam = _camera()
    X = _points()
    rvec, _ = cv2.Rodrigues(cam.R)
    ref, _ = cv2.projectPoints(X, rvec, cam.t, cam.K, cam.dist)
    np.testing.assert_allclose(cam.project(X), ref[:, 0], atol=1e-6)


def test_undistort_inverts_project():
    cam = _camera()
    X = _points()
    xc = cam.to_camera(X)
    uv = cam.project(X)
    np.testing.assert_allclose(cam.undistort_points(uv),
                               xc[:, :2] / xc[:, 2:], atol=1e-10)
    ideal = cam.undistort_points(uv, normalized=False)
    np.testing.assert_allclose(ideal, cam.normalized_to_pixels(
        xc[:, :2] / xc[:, 2:]), atol=1e-7)
    # the distortion is not negligible here: undistorting changes the pixels
    assert np.abs(ideal - uv).max() > 2


def test_undistort_without_distortion_is_identity():
    xy = np.array([[0.1, -0.2], [0.3, 0.4]])
    np.testing.assert_array_equal(undistort_normalized(xy, np.zeros(5)), xy)


def test_look_at_geometry():
    cam = _camera()
    np.testing.assert_allclose(cam.center, [3.0, -2.0, 1.6], atol=1e-12)
    np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(cam.R) == pytest.approx(1.0)
    # the target is on the optical axis, world up is image up
    u = cam.project(np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.5]]))
    np.testing.assert_allclose(u[0], K[:2, 2], atol=1e-9)
    assert u[1, 1] < u[0, 1]
    # behind the camera -> nan
    assert np.isnan(cam.project(2 * cam.center - np.array([0, 0, 1.0]))).all()


# ------------------------------------------------------------------- QCA

def _qca_camera_xml(cam: Camera, left=8, top=4, subpixel=64, serial=None,
                    viewrotation=0, drop=None, override=None):
    """One <camera> in QTM's conventions (module docstring of calibration):
    M = diag(1, -1, -1) @ R, centre in mm, intrinsics in sensor units x 64
    relative to the sensor (fov_video offset), distortion x 64."""
    M = np.diag([1.0, -1.0, -1.0]) @ cam.R
    c = cam.center * 1000.0
    w, h = cam.image_size
    tr = {f'r{i + 1}{j + 1}': repr(float(M[i, j]))
          for i in range(3) for j in range(3)}
    tr.update(x=repr(float(c[0])), y=repr(float(c[1])), z=repr(float(c[2])))
    k1, k2, p1, p2, k3 = cam.dist * 64
    it = dict(focalLengthU=cam.K[0, 0] * subpixel,
              focalLengthV=cam.K[1, 1] * subpixel,
              centerPointU=(cam.K[0, 2] + left) * subpixel,
              centerPointV=(cam.K[1, 2] + top) * subpixel,
              focallength=6.0, radialDistortion1=k1, radialDistortion2=k2,
              radialDistortion3=k3, tangentalDistortion1=p1,
              tangentalDistortion2=p2, skew=0.0, sensorMinU=0.0,
              sensorMinV=0.0, sensorMaxU=(left + w + 100) * subpixel,
              sensorMaxV=(top + h + 50) * subpixel)
    it = {k: repr(float(v)) for k, v in it.items()}
    for d in (tr, it):
        for k in (drop or ()):
            d.pop(k, None)
        for k, v in (override or {}).items():
            if k in d:
                d[k] = v
    attrs = lambda d: ' '.join(f'{k}="{v}"' for k, v in d.items())  # noqa
    fov = f'left="{left}" top="{top}" right="{left + w - 1}" ' \
          f'bottom="{top + h - 1}"'
    return (f'<camera active="1" avg-residual="0.4" model="none" '
            f'serial="{serial or cam.name}" viewrotation="{viewrotation}">\n'
            f'  <fov_marker {fov}/>\n  <fov_video {fov}/>\n'
            f'  <transform {attrs(tr)}/>\n  <intrinsic {attrs(it)}/>\n'
            '</camera>')


def _qca(*cameras_xml):
    return ('<?xml version="1.0" encoding="ASCII"?>\n<calibration '
            'type="regular"><results/><cameras>\n' + '\n'.join(cameras_xml)
            + '\n</cameras></calibration>\n')


def test_qca_round_trip(tmp_path):
    a = _camera()
    b = look_at('camB', [-2.5, 3.0, 2.2], [0.2, 0.1, 0.8], K * [[1.1], [1.1],
                [1]], DIST / 2, image_size=(1088, 1920))
    path = tmp_path / 'calib.qca.txt'
    path.write_text(_qca(_qca_camera_xml(a), _qca_camera_xml(b, left=0,
                                                             top=0)))
    cams = read_qca(path)
    assert list(cams) == ['camA', 'camB']
    for ref in (a, b):
        got = cams[ref.name]
        np.testing.assert_allclose(got.K, ref.K, atol=1e-9)
        np.testing.assert_allclose(got.R, ref.R, atol=1e-12)
        np.testing.assert_allclose(got.t, ref.t, atol=1e-12)
        np.testing.assert_allclose(got.dist, ref.dist, atol=1e-15)
        assert got.image_size == ref.image_size
        X = _points()
        np.testing.assert_allclose(got.project(X), ref.project(X), atol=1e-6)


def test_qca_binning_via_subpixel(tmp_path):
    cam = _camera()
    path = tmp_path / 'c.qca.txt'
    path.write_text(_qca(_qca_camera_xml(cam, subpixel=128)))
    got = read_qca(path, subpixel=128)['camA']
    np.testing.assert_allclose(got.K, cam.K, atol=1e-9)


@pytest.mark.parametrize('kw, needle', [
    (dict(drop=['focalLengthU']), "no 'focalLengthU'"),
    (dict(override={'r12': 'abc'}), "r12='abc' is not a number"),
    (dict(override={'r11': '2.0'}), 'is not a rotation'),
    (dict(viewrotation=90), 'viewrotation=90 is not supported'),
    (dict(override={'focalLengthV': '-5'}), 'focal lengths must be positive'),
])
def test_qca_malformed_one_line_errors(tmp_path, kw, needle):
    path = tmp_path / 'bad.qca.txt'
    path.write_text(_qca(_qca_camera_xml(_camera(), **kw)))
    with pytest.raises(CalibrationError) as e:
        read_qca(path)
    msg = str(e.value)
    assert needle in msg and str(path) in msg and "'camA'" in msg
    assert '\n' not in msg


def test_qca_not_xml_or_no_cameras(tmp_path):
    p = tmp_path / 'x.qca.txt'
    p.write_text('<calibration><cameras>')
    with pytest.raises(CalibrationError, match='not a QCA XML file'):
        read_qca(p)
    p.write_text('<calibration><cameras/></calibration>')
    with pytest.raises(CalibrationError, match='no <calibration>'):
        read_qca(p)
    with pytest.raises(FileNotFoundError):
        read_qca(tmp_path / 'missing.qca.txt')
    assert issubclass(CalibrationError, ValueError)


# ---------------------------------------------------- pose2sim's real file

@pytest.fixture(scope='module')
def demo_cams(tmp_path_factory):
    if not os.path.isfile(WHEEL):
        pytest.skip(f'{WHEEL} not present')
    path = tmp_path_factory.mktemp('p2s') / 'Calib.qca.txt'
    with zipfile.ZipFile(WHEEL) as z:
        path.write_bytes(z.read(DEMO_QCA))
    return read_qca(path)


def test_pose2sim_demo_calibration_is_plausible(demo_cams):
    cams = demo_cams
    assert list(cams) == ['cam01', 'cam02', 'cam03', 'cam04']
    centres = np.array([c.center for c in cams.values()])
    rig = centres.mean(0)
    target = np.array([rig[0], rig[1], 1.0])  # about a person's mid-height
    for c in cams.values():
        assert c.image_size == (1088, 1920)  # portrait, fov_video 0..1087
        assert 1500 < c.K[0, 0] < 1900 and c.K[0, 0] == pytest.approx(
            c.K[1, 1], rel=1e-3)
        assert abs(c.K[0, 2] - 543.5) < 40 and abs(c.K[1, 2] - 959.5) < 40
        assert np.abs(c.dist).max() < 0.01  # pose2sim's /64
        assert 1.0 < c.center[2] < 3.0       # z up, cameras 1-3 m high
        d = target - c.center
        assert c.optical_axis @ d / np.linalg.norm(d) > 0.95  # facing it
        # the floor under the rig centre and a point 1.7 m above it are seen
        uv = c.project(np.array([[rig[0], rig[1], 0.0],
                                 [rig[0], rig[1], 1.7]]))
        assert c.in_image(uv).all()
        assert uv[1, 1] < uv[0, 1]  # up in the world is up in the image
    dists = [np.linalg.norm(a - b) for i, a in enumerate(centres)
             for b in centres[i + 1:]]
    assert 2.0 < min(dists) and max(dists) < 8.0
