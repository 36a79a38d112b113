"""Calibrated cameras: a pinhole + OpenCV lens model, and a reader for
Qualisys QTM ``.qca.txt`` calibration files (what pose2sim ships).

Conventions of :class:`Camera` (OpenCV's): ``x_cam = R @ X_world + t`` with the
camera looking along its +z axis, x right and y down in the image; world units
are metres. A point is projected as ``K @ distort(x_cam[:2] / x_cam[2])`` with
the distortion ``(k1, k2, p1, p2, k3)`` of ``cv2.projectPoints``.

QCA conventions (one ``<camera>`` per view; determined from pose2sim 0.10.49's
converters, which write the file pose2sim's demo ships and read QTM's files):

* ``<transform x y z r11..r33>``: ``x, y, z`` is the camera centre in world
  millimetres; the matrix ``M = [[r11, r12, r13], [r21, r22, r23], [r31, r32,
  r33]]`` maps world to QTM's camera axes, whose y points up and z backwards
  (out of the lens). OpenCV's world->camera rotation is therefore
  ``R = diag(1, -1, -1) @ M`` and ``t = -R @ centre``.
* ``<intrinsic>``: focal lengths and principal point are in sensor sub-pixel
  units, ``subpixel`` (64 in QTM) per pixel; the principal point is relative to
  the full sensor, so the ``<fov_video>`` window's ``left``/``top`` are
  subtracted. The video is ``right - left + 1`` by ``bottom - top + 1`` pixels
  (inclusive pixel indices: 1088 x 1920 for pose2sim's demo).
* Distortion coefficients are divided by the same 64 (``distortion_scale``), as
  pose2sim's reader and writer do; a file written by ``calib_toml_to_qca``
  carries the OpenCV coefficients times 64.
* ``viewrotation`` other than 0 (a video shown rotated in QTM) is refused: its
  pixel convention cannot be checked on the data here.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import numpy as np

#: QTM's camera axes (y up, z backwards) -> OpenCV's (y down, z forwards)
QTM_TO_OPENCV = np.diag([1.0, -1.0, -1.0])


class CalibrationError(ValueError):
    """A malformed calibration file; the message is one line naming it."""


def distort_normalized(xy: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Apply OpenCV's lens model to normalised image points (..., 2)."""
    k1, k2, p1, p2, k3 = _dist5(dist)
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd, yd], axis=-1)


def undistort_normalized(xy_d: np.ndarray, dist: np.ndarray,
                         iterations: int = 20) -> np.ndarray:
    """Invert :func:`distort_normalized` by Newton's method (..., 2)."""
    k1, k2, p1, p2, k3 = _dist5(dist)
    xy_d = np.asarray(xy_d, dtype=np.float64)
    if not np.any([k1, k2, p1, p2, k3]):
        return xy_d.copy()
    xy = xy_d.copy()
    for _ in range(iterations):
        x, y = xy[..., 0], xy[..., 1]
        r2 = x * x + y * y
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        g = k1 + r2 * (2 * k2 + 3 * k3 * r2)  # d radial / d r2
        res = distort_normalized(xy, dist) - xy_d
        a = radial + 2 * g * x * x + 2 * p1 * y + 6 * p2 * x  # d xd / dx
        b = 2 * g * x * y + 2 * p1 * x + 2 * p2 * y           # d xd / dy = d yd / dx
        d = radial + 2 * g * y * y + 6 * p1 * y + 2 * p2 * x  # d yd / dy
        det = a * d - b * b
        det = np.where(np.abs(det) < 1e-12, 1e-12, det)
        step = np.stack([(d * res[..., 0] - b * res[..., 1]) / det,
                         (a * res[..., 1] - b * res[..., 0]) / det], axis=-1)
        xy = xy - step
        if np.nanmax(np.abs(step), initial=0.0) < 1e-14:
            break
    return xy


def _dist5(dist) -> np.ndarray:
    d = np.zeros(5)
    dist = np.asarray(dist, dtype=np.float64).ravel()
    d[:min(5, dist.size)] = dist[:5]
    return d


@dataclass
class Camera:
    """One calibrated view (OpenCV conventions, see the module docstring).

    Attributes:
        name: the view's name (QCA ``serial``, e.g. ``cam01``).
        K: (3, 3) intrinsic matrix in pixels.
        dist: (5,) ``k1, k2, p1, p2, k3``.
        R, t: world -> camera rotation (3, 3) and translation (3,), metres.
        image_size: ``(width, height)`` in pixels.
    """
    name: str
    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray
    t: np.ndarray
    image_size: tuple[int, int]
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.K = np.asarray(self.K, dtype=np.float64).reshape(3, 3)
        self.dist = _dist5(self.dist)
        self.R = np.asarray(self.R, dtype=np.float64).reshape(3, 3)
        self.t = np.asarray(self.t, dtype=np.float64).reshape(3)
        self.image_size = (int(self.image_size[0]), int(self.image_size[1]))

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world coordinates, (3,)."""
        return -self.R.T @ self.t

    @property
    def optical_axis(self) -> np.ndarray:
        """Viewing direction (camera +z) in world coordinates, (3,)."""
        return self.R[2].copy()

    @property
    def Rt(self) -> np.ndarray:
        """(3, 4) ``[R | t]``: the projection matrix in normalised coords."""
        return np.hstack([self.R, self.t[:, None]])

    def to_camera(self, X: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> camera coordinates (..., 3)."""
        return np.asarray(X, dtype=np.float64) @ self.R.T + self.t

    def project(self, X: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> distorted pixel coordinates (..., 2).

        Points behind the camera (depth <= 0) come out as nan.
        """
        xc = self.to_camera(X)
        z = xc[..., 2]
        with np.errstate(divide='ignore', invalid='ignore'):
            xy = xc[..., :2] / np.where(z > 0, z, np.nan)[..., None]
        return self.normalized_to_pixels(distort_normalized(xy, self.dist))

    def normalized_to_pixels(self, xy: np.ndarray) -> np.ndarray:
        """Normalised (..., 2) -> pixels through ``K`` (no distortion)."""
        xy = np.asarray(xy, dtype=np.float64)
        K = self.K
        u = K[0, 0] * xy[..., 0] + K[0, 1] * xy[..., 1] + K[0, 2]
        v = K[1, 1] * xy[..., 1] + K[1, 2]
        return np.stack([u, v], axis=-1)

    def pixels_to_normalized(self, uv: np.ndarray) -> np.ndarray:
        """Pixels (..., 2) -> normalised through ``K^-1`` (no distortion)."""
        uv = np.asarray(uv, dtype=np.float64)
        K = self.K
        y = (uv[..., 1] - K[1, 2]) / K[1, 1]
        x = (uv[..., 0] - K[0, 2] - K[0, 1] * y) / K[0, 0]
        return np.stack([x, y], axis=-1)

    def undistort_points(self, uv: np.ndarray,
                         normalized: bool = True) -> np.ndarray:
        """Distorted pixels (..., 2) -> undistorted normalised coordinates
        (``x/z, y/z``), or ideal pixels ``K @ (x/z, y/z, 1)`` when
        ``normalized=False``."""
        xy = undistort_normalized(self.pixels_to_normalized(uv), self.dist)
        return xy if normalized else self.normalized_to_pixels(xy)

    def in_image(self, uv: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """(..., 2) -> (...,) bool: finite and inside the image."""
        uv = np.asarray(uv, dtype=np.float64)
        w, h = self.image_size
        with np.errstate(invalid='ignore'):
            return (np.isfinite(uv).all(-1)
                    & (uv[..., 0] >= -margin) & (uv[..., 0] <= w - 1 + margin)
                    & (uv[..., 1] >= -margin) & (uv[..., 1] <= h - 1 + margin))

    def summary(self) -> dict:
        """A JSON-ready description (centre in metres, fx, fy, cx, cy...)."""
        return dict(name=self.name, image_size=list(self.image_size),
                    fx=float(self.K[0, 0]), fy=float(self.K[1, 1]),
                    cx=float(self.K[0, 2]), cy=float(self.K[1, 2]),
                    dist=[float(d) for d in self.dist],
                    center_m=[float(c) for c in self.center],
                    optical_axis=[float(a) for a in self.optical_axis])


def look_at(name: str, center, target, K, dist=(0, 0, 0, 0, 0),
            image_size=(640, 480), up=(0.0, 0.0, 1.0)) -> Camera:
    """A camera at ``center`` looking at ``target`` with world ``up`` up in
    the image (handy for synthetic rigs)."""
    center = np.asarray(center, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - center
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(x) < 1e-9:
        raise ValueError('look_at: viewing direction parallel to up')
    x /= np.linalg.norm(x)
    y = np.cross(z, x)  # image y down = -up
    R = np.stack([x, y, z])
    return Camera(name, K, dist, R, -R @ center, image_size)


# --------------------------------------------------------------------- QCA


def _attr(path, cam, elem, tag: str, key: str) -> float:
    if elem is None:
        raise CalibrationError(f'{path}: camera {cam!r}: missing <{tag}>')
    raw = elem.get(key)
    if raw is None:
        raise CalibrationError(
            f'{path}: camera {cam!r}: <{tag}> has no {key!r} attribute')
    try:
        value = float(raw)
    except ValueError:
        raise CalibrationError(f'{path}: camera {cam!r}: <{tag}> {key}='
                               f'{raw!r} is not a number') from None
    if not np.isfinite(value):
        raise CalibrationError(
            f'{path}: camera {cam!r}: <{tag}> {key}={raw!r} is not finite')
    return value


def _parse_camera(path, index: int, el, subpixel: float,
                  distortion_scale: float) -> Camera:
    name = el.get('serial') or f'camera{index + 1}'
    rot = el.get('viewrotation', '0')
    try:
        rot_deg = float(rot)
    except ValueError:
        raise CalibrationError(f'{path}: camera {name!r}: viewrotation='
                               f'{rot!r} is not a number') from None
    if rot_deg % 360 != 0:
        raise CalibrationError(
            f'{path}: camera {name!r}: viewrotation={rot} is not supported '
            '(only 0: the video in the calibration sensor orientation)')

    fov = el.find('fov_video')
    left, top, right, bottom = (_attr(path, name, fov, 'fov_video', k)
                                for k in ('left', 'top', 'right', 'bottom'))
    width, height = right - left + 1, bottom - top + 1
    if width < 1 or height < 1:
        raise CalibrationError(f'{path}: camera {name!r}: empty <fov_video> '
                               f'({left:g}, {top:g}, {right:g}, {bottom:g})')

    tr = el.find('transform')
    M = np.array([[_attr(path, name, tr, 'transform', f'r{i}{j}')
                   for j in (1, 2, 3)] for i in (1, 2, 3)])
    centre_mm = np.array([_attr(path, name, tr, 'transform', k)
                          for k in 'xyz'])
    err = np.abs(M @ M.T - np.eye(3)).max()
    if err > 1e-3 or np.linalg.det(M) < 0:
        raise CalibrationError(
            f'{path}: camera {name!r}: <transform> r11..r33 is not a rotation '
            f'(|M M^T - I| = {err:.2g}, det = {np.linalg.det(M):.3g})')

    it = el.find('intrinsic')
    g = lambda k: _attr(path, name, it, 'intrinsic', k)  # noqa: E731
    fx, fy = g('focalLengthU') / subpixel, g('focalLengthV') / subpixel
    if fx <= 0 or fy <= 0:
        raise CalibrationError(f'{path}: camera {name!r}: <intrinsic> focal '
                               f'lengths must be positive')
    cx = g('centerPointU') / subpixel - left
    cy = g('centerPointV') / subpixel - top
    opt = lambda k: 0.0 if it.get(k) is None else g(k)  # noqa: E731
    skew = opt('skew') / subpixel
    dist = np.array([opt('radialDistortion1'), opt('radialDistortion2'),
                     opt('tangentalDistortion1'), opt('tangentalDistortion2'),
                     opt('radialDistortion3')]) / distortion_scale
    K = np.array([[fx, skew, cx], [0, fy, cy], [0, 0, 1]])

    R = QTM_TO_OPENCV @ M
    t = -R @ (centre_mm / 1000.0)
    meta = dict(active=el.get('active', '1') != '0',
                avg_residual=el.get('avg-residual'),
                sensor_px=[(float(it.get('sensorMaxU', 0) or 0)
                            - float(it.get('sensorMinU', 0) or 0)) / subpixel,
                           (float(it.get('sensorMaxV', 0) or 0)
                            - float(it.get('sensorMinV', 0) or 0)) / subpixel],
                fov_video=[left, top, right, bottom])
    return Camera(name, K, dist, R, t, (int(round(width)), int(round(height))),
                  meta)


def read_qca(path, subpixel: float = 64.0,
             distortion_scale: float = 64.0) -> dict[str, Camera]:
    """Read a Qualisys ``.qca.txt`` calibration: ``{serial: Camera}`` in file
    order (conventions in the module docstring).

    Args:
        path: the file.
        subpixel: sensor sub-pixel units per video pixel (QTM: 64; 128 for
            a video binned 2x2, pose2sim's ``binning_factor=2``).
        distortion_scale: divisor of the distortion coefficients (64, as
            pose2sim; 1 reads them as plain OpenCV coefficients).

    Raises:
        FileNotFoundError: no such file.
        CalibrationError: (a ``ValueError``) a malformed file, in one line
            naming the file, the camera and the field.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such calibration file')
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise CalibrationError(f'{path}: not a QCA XML file ({e})') from None
    elems = root.findall('cameras/camera')
    if root.tag != 'calibration' or not elems:
        raise CalibrationError(f'{path}: no <calibration>/<cameras>/<camera> '
                               'entries (not a QCA calibration)')
    cams: dict[str, Camera] = {}
    for i, el in enumerate(elems):
        cam = _parse_camera(path, i, el, subpixel, distortion_scale)
        if cam.name in cams:
            raise CalibrationError(
                f'{path}: two cameras with serial {cam.name!r}')
        cams[cam.name] = cam
    return cams
