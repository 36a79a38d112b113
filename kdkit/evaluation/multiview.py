"""Multi-view consistency of 2D key points on synchronised calibrated videos.

With no 2D ground truth on real video, calibrated views give a geometric
reference: key points of the same person seen by several cameras must come
from one 3D point. Three measurements build on that:

* **all-view reprojection error** of a labeller (the teacher): per frame,
  associate people across views (:func:`associate`), triangulate each joint
  from every view where it is confident (:func:`triangulate`), reproject into
  those views; the px distance says how self-consistent labels + calibration
  are (a joint seen in only 2 views is fitted by its own points: optimistic).
* **held-out view error**: triangulate from the reference labels of the OTHER
  views only, project into the held-out view (say cam04) and compare with
  the 2D points of that view, the teacher's own (the reference) or a student's
  predictions: ``reprojection_error(teacher, cams, held_out='cam04',
  predictions=student)``. The 3D points never see the evaluated view, so the
  student and the teacher are scored against the same target on the same
  joints (every joint triangulated from >= 2 other views that projects inside
  the held-out image, whatever the evaluated model's confidence).
* :func:`multiview_report`: both, as a JSON-ready dict.

Labels are the kdkit pose-labels format (``kdkit-pose-labels/1``: a dict with
``videos``, each with ``file`` and ``frames``); a video belongs to the camera
whose name is the file's stem (``cam04.mp4`` -> ``cam04``). Frames of
different views are matched by ``frame_index`` (the videos are synchronised).
"""
from __future__ import annotations

import json
import os
from itertools import combinations
from typing import Mapping, Sequence

import numpy as np

from .calibration import Camera, read_qca

#: fractions of key points within these px distances are reported
WITHIN_PX = (5.0, 10.0, 20.0)

# ------------------------------------------------------------ triangulation


def triangulate_points(points2d: np.ndarray, cams: Sequence[Camera],
                       weights: np.ndarray | None = None,
                       min_weight: float = 1e-6) -> np.ndarray:
    """Weighted DLT of N points seen by V views: (V, N, 2) -> (N, 3).

    Each view's pixels are undistorted to normalised coordinates ``(x, y)``
    and give the two rows ``w * (x P3 - P1)``, ``w * (y P3 - P2)`` of ``A``
    (``P = [R | t]``); ``X`` is the right singular vector of ``A`` with the
    smallest singular value. A view counts for a point when its weight is
    ``>= min_weight`` and its pixel is finite; a point with fewer than 2 such
    views is nan.
    """
    pts = np.asarray(points2d, dtype=np.float64)
    v, n = pts.shape[:2]
    if len(cams) != v:
        raise ValueError(f'{v} views of points but {len(cams)} cameras')
    w = np.ones((v, n)) if weights is None \
        else np.broadcast_to(np.asarray(weights, dtype=np.float64),
                             (v, n)).copy()
    ok = (w >= min_weight) & np.isfinite(pts).all(-1) & np.isfinite(w)
    w = np.where(ok, w, 0.0)
    A = np.zeros((n, 2 * v, 4))
    for i, cam in enumerate(cams):
        xy = cam.undistort_points(np.where(ok[i, :, None], pts[i], 0.0))
        P = cam.Rt
        A[:, 2 * i] = w[i, :, None] * (xy[:, :1] * P[2] - P[0])
        A[:, 2 * i + 1] = w[i, :, None] * (xy[:, 1:] * P[2] - P[1])
    # rows of A are O(1): normalised coordinates and metres; weights scale them
    X = np.full((n, 3), np.nan)
    good = ok.sum(0) >= 2
    if good.any():
        _, _, vt = np.linalg.svd(A[good])
        h = vt[:, -1]
        with np.errstate(divide='ignore', invalid='ignore'):
            X[good] = h[:, :3] / h[:, 3:]
    X[~np.isfinite(X).all(-1)] = np.nan
    return X


def triangulate(points2d: np.ndarray, cams: Sequence[Camera],
                weights: np.ndarray | None = None,
                min_weight: float = 1e-6) -> np.ndarray:
    """One point from V views: ``points2d`` (V, 2) pixels, ``weights`` (V,)
    (e.g. key-point scores) -> ``X`` (3,) in world units; nan with fewer than
    2 views of weight ``>= min_weight``. See :func:`triangulate_points`."""
    pts = np.asarray(points2d, dtype=np.float64).reshape(-1, 1, 2)
    w = None if weights is None \
        else np.asarray(weights, dtype=np.float64).reshape(-1, 1)
    return triangulate_points(pts, cams, w, min_weight)[0]


# ------------------------------------------------------------- association


def _as_array(person) -> np.ndarray:
    """A person (dict with ``keypoints`` or an array) -> (K, 3) x, y, score."""
    kp = person['keypoints'] if isinstance(person, Mapping) else person
    a = np.asarray(kp, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] not in (2, 3):
        raise ValueError(f'key points must be (K, 2) or (K, 3), got {a.shape}')
    if a.shape[1] == 2:
        a = np.hstack([a, np.ones((len(a), 1))])
    return a


def _fundamental(ca: Camera, cb: Camera) -> np.ndarray:
    """F with ``xb^T F xa = 0`` for undistorted (ideal) pixels."""
    R = cb.R @ ca.R.T
    t = cb.t - R @ ca.t
    tx = np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]])
    return np.linalg.inv(cb.K).T @ tx @ R @ np.linalg.inv(ca.K)


def epipolar_cost(pa: np.ndarray, pb: np.ndarray, ca: Camera, cb: Camera,
                  min_score: float = 0.3, min_joints: int = 3) -> float:
    """Median over joints confident in both views of the symmetric epipolar
    distance (mean of the px distances of each point to the other's epipolar
    line, on undistorted pixels); inf with fewer than ``min_joints``."""
    pa, pb = _as_array(pa), _as_array(pb)
    both = (pa[:, 2] >= min_score) & (pb[:, 2] >= min_score) \
        & np.isfinite(pa[:, :2]).all(1) & np.isfinite(pb[:, :2]).all(1)
    if both.sum() < min_joints:
        return float('inf')
    xa = ca.undistort_points(pa[both, :2], normalized=False)
    xb = cb.undistort_points(pb[both, :2], normalized=False)
    return float(np.median(_sym_epi(xa, xb, _fundamental(ca, cb))))


def _sym_epi(xa: np.ndarray, xb: np.ndarray, F: np.ndarray) -> np.ndarray:
    ha = np.hstack([xa, np.ones((len(xa), 1))])
    hb = np.hstack([xb, np.ones((len(xb), 1))])
    lb = ha @ F.T   # epipolar lines in b
    la = hb @ F     # epipolar lines in a
    db = np.abs((lb * hb).sum(1)) / np.hypot(lb[:, 0], lb[:, 1])
    da = np.abs((la * ha).sum(1)) / np.hypot(la[:, 0], la[:, 1])
    return 0.5 * (da + db)


def associate(people_per_view: Mapping[str, Sequence],
              cams: Mapping[str, Camera], min_score: float = 0.3,
              max_px: float = 40.0, min_joints: int = 3,
              min_views: int = 2) -> list[dict[str, int]]:
    """Match the people of one frame across views.

    Method: for every pair of views and every pair of people in them, the
    cost is :func:`epipolar_cost`, the median symmetric epipolar distance
    (px, undistorted) over the joints confident (``score >= min_score``) in
    both (inf with fewer than ``min_joints`` such joints). Then greedy
    agglomerative clustering with average linkage: every detection starts as
    its own group; the two groups with the lowest mean cost over their finite
    cross-pairs are merged, provided they share no view (one person per view
    per group) and that mean is ``<= max_px``; repeat until no merge is
    allowed. No view is privileged, so a person missing from any view
    (the busiest included) still groups the views that see them, and the
    average over all pairs of views outvotes a wrong pair that happens to lie
    along an epipolar line.

    Args:
        people_per_view: ``{view: [person, ...]}``, a person a (K, 3)
            ``x, y, score`` array or a pose-labels person dict.
        cams: ``{view: Camera}``; views without a camera are ignored.

    Returns:
        Groups seen in at least ``min_views`` views, each ``{view: index of
        the person in that view's list}``, most views first.
    """
    views = [v for v in people_per_view if v in cams]
    people = {v: [_as_array(p) for p in people_per_view[v]] for v in views}
    nodes = [(v, i) for v in views for i in range(len(people[v]))]
    cost = {}
    for va, vb in combinations(views, 2):
        for i, pa in enumerate(people[va]):
            for j, pb in enumerate(people[vb]):
                c = epipolar_cost(pa, pb, cams[va], cams[vb], min_score,
                                  min_joints)
                cost[(va, i), (vb, j)] = cost[(vb, j), (va, i)] = c
    groups = [{v: i} for v, i in nodes]
    while True:
        best, best_pair = max_px, None
        for a, b in combinations(range(len(groups)), 2):
            ga, gb = groups[a], groups[b]
            if ga.keys() & gb.keys():
                continue
            cs = [cost[(va, ia), (vb, ib)] for va, ia in ga.items()
                  for vb, ib in gb.items()]
            cs = [c for c in cs if np.isfinite(c)]
            if cs and np.mean(cs) <= best:
                best, best_pair = float(np.mean(cs)), (a, b)
        if best_pair is None:
            break
        a, b = best_pair
        groups[a] = {**groups[a], **groups[b]}
        del groups[b]
    groups = [g for g in groups if len(g) >= min_views]
    order = {v: k for k, v in enumerate(views)}
    groups.sort(key=lambda g: (-len(g), sorted((order[v], i)
                                               for v, i in g.items())))
    return [{v: g[v] for v in sorted(g, key=order.get)} for g in groups]


# ------------------------------------------------------------------- labels


def _view_name(file: str) -> str:
    base = os.path.basename(str(file))
    return base.split('.')[0] if base else str(file)


def load_labels(src, cams: Mapping[str, Camera] | None = None,
                view: str | None = None) -> dict:
    """Pose labels -> ``dict(views={view: {frame_index: [(K, 3) array]}},
    keypoint_names=[...], teacher=..., sizes={view: (w, h)})``.

    ``src`` is a path to a ``kdkit-pose-labels/1`` JSON, the loaded dict, or
    already ``{view: {frame_index: [person, ...]}}`` / ``{view: [[person,
    ...] per frame]}``. A video is named by its file's stem; ``view`` renames
    a single-video document (predictions made on cam04 under another name).
    With ``cams``, a video whose size differs from its camera's raises.
    """
    doc = src
    if isinstance(src, (str, os.PathLike)):
        with open(src) as f:
            try:
                doc = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f'{os.fspath(src)}: not JSON ({e})') from None
    where = os.fspath(src) if isinstance(src, (str, os.PathLike)) \
        else 'labels'
    out = dict(views={}, keypoint_names=None, teacher=None, sizes={})
    if isinstance(doc, Mapping) and 'videos' in doc:
        out['keypoint_names'] = doc.get('keypoint_names')
        out['teacher'] = doc.get('teacher')
        videos = doc['videos']
        if view is not None and len(videos) != 1:
            raise ValueError(f'{where}: view={view!r} needs a single video, '
                             f'found {len(videos)}')
        for vid in videos:
            name = view or _view_name(vid.get('file', ''))
            if name in out['views']:
                raise ValueError(f'{where}: two videos for view {name!r}')
            frames = {}
            for fr in vid.get('frames', []):
                frames[int(fr['frame_index'])] = [
                    _as_array(p) for p in fr.get('people', [])]
            out['views'][name] = frames
            if 'width' in vid and 'height' in vid:
                out['sizes'][name] = (int(vid['width']), int(vid['height']))
    elif isinstance(doc, Mapping):
        for name, frames in doc.items():
            if isinstance(frames, Mapping):
                items = frames.items()
            else:
                items = enumerate(frames)
            out['views'][name] = {int(k): [_as_array(p) for p in ppl]
                                  for k, ppl in items}
    else:
        raise ValueError(f'{where}: not kdkit pose labels (no "videos")')
    if cams is not None:
        for name, size in out['sizes'].items():
            if name in cams and tuple(size) != tuple(cams[name].image_size):
                raise ValueError(
                    f'{where}: video {name!r} is {size[0]}x{size[1]} but its '
                    f'calibration is {cams[name].image_size[0]}x'
                    f'{cams[name].image_size[1]}')
    return out


# ------------------------------------------------------------------ errors


def _summary(err: np.ndarray) -> dict:
    err = np.asarray(err, dtype=np.float64)
    if err.size == 0:
        return dict(median_px=float('nan'), mean_px=float('nan'), count=0,
                    within_px={f'{t:g}': float('nan') for t in WITHIN_PX})
    return dict(median_px=float(np.median(err)), mean_px=float(err.mean()),
                count=int(err.size),
                within_px={f'{t:g}': float((err < t).mean())
                           for t in WITHIN_PX})


def _group_people(frame_people: Mapping[str, list], group: dict[str, int],
                  cams: Mapping[str, Camera], min_score: float):
    gviews = list(group)
    kp = np.stack([frame_people[v][group[v]] for v in gviews])  # (V, K, 3)
    conf = (kp[..., 2] >= min_score) & np.isfinite(kp[..., :2]).all(-1)
    X = triangulate_points(kp[..., :2], [cams[v] for v in gviews],
                           np.where(conf, kp[..., 2], 0.0), min_weight=1e-9)
    return gviews, kp, conf, X


def _match_projected(proj: np.ndarray, visible: np.ndarray, people: list,
                     match_frac: float, min_joints: int = 3):
    """Hungarian matching of projected 3D people (P, K, 2) to 2D people by
    the median px distance over reference-visible joints; a match is kept
    when that median is <= ``match_frac`` x the projected skeleton's size."""
    from scipy.optimize import linear_sum_assignment
    if not len(proj) or not people:
        return []
    big = 1e12
    cost = np.full((len(proj), len(people)), big)
    limit = np.zeros(len(proj))
    for p in range(len(proj)):
        vis = visible[p]
        if vis.sum() < min_joints:
            continue
        pts = proj[p, vis]
        limit[p] = match_frac * float((pts.max(0) - pts.min(0)).max())
        for q, pe in enumerate(people):
            d = np.linalg.norm(pe[vis, :2] - pts, axis=-1)
            d = d[np.isfinite(d)]
            if d.size >= min_joints:
                cost[p, q] = float(np.median(d))
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols)
            if cost[r, c] < big and cost[r, c] <= limit[r]]


def reprojection_error(labels_per_view, cams: Mapping[str, Camera],
                       min_score: float = 0.3, held_out: str | None = None,
                       predictions=None, max_px: float = 40.0,
                       match_frac: float = 0.5, keypoint_names=None) -> dict:
    """Reprojection error of 2D key points through triangulated 3D joints.

    Args:
        labels_per_view: reference labels of all views (see
            :func:`load_labels`: a pose-labels path/dict or ``{view: ...}``).
        cams: ``{view: Camera}`` (:func:`read_qca`).
        min_score: a 2D key point is used for association and triangulation
            (and, without ``held_out``, scored) when its score is >= this.
        held_out: None -> every view: per frame, :func:`associate` the views,
            triangulate each group's joints from all views with a confident
            point (>= 2 views) and reproject into each view where that joint
            was confident. A view name -> leave that view out: associate and
            triangulate from the other views' reference labels, project into
            the held-out view and score the 2D points there, which are
            ``predictions`` if given (``kdkit predict`` output for that view,
            any file name) else the reference labels of the held-out view
            (the teacher's own error). Projected people are matched to the
            held-out view's people by Hungarian assignment on the median px
            distance (kept when <= ``match_frac`` x the projected skeleton's
            size); a joint is scored when triangulated and projected inside
            the image, whatever its predicted score, so every model is scored
            on the same joints.
        predictions: 2D points for the held-out view only.
        max_px: association threshold, see :func:`associate`.

    Returns:
        A dict: ``overall``, ``per_view`` and ``per_joint`` summaries
        (``median_px``, ``mean_px``, ``count``, ``within_px`` fractions),
        ``num_triangulated_joints``, ``people_per_frame`` (the associated
        groups, >= 2 views, per frame) and, when held out, ``people_3d``,
        ``people_matched``, ``people_missed`` and ``people_extra``.
    """
    ref = labels_per_view if isinstance(labels_per_view, Mapping) and \
        set(labels_per_view) >= {'views', 'keypoint_names'} \
        else load_labels(labels_per_view, cams)
    names = keypoint_names or ref['keypoint_names']
    views = [v for v in ref['views'] if v in cams]
    if held_out is not None and held_out not in cams:
        raise ValueError(f'held-out view {held_out!r} has no calibration '
                         f'(cameras: {", ".join(cams)})')
    src_views = [v for v in views if v != held_out]
    if len(src_views) < 2:
        raise ValueError(f'need >= 2 calibrated views to triangulate, got '
                         f'{src_views} (labels: {list(ref["views"])}, '
                         f'cameras: {list(cams)})')
    evaluated = None
    if held_out is not None:
        if predictions is not None:
            pred = predictions if isinstance(predictions, Mapping) and \
                set(predictions) >= {'views', 'keypoint_names'} \
                else _load_predictions(predictions, cams, held_out)
            evaluated = pred['views'].get(held_out)
            if evaluated is None:
                raise ValueError(f'predictions have no view {held_out!r}')
        else:
            evaluated = ref['views'].get(held_out)
            if evaluated is None:
                raise ValueError(f'reference labels have no view {held_out!r}')
    frames = sorted(set().union(*(ref['views'][v].keys() for v in src_views)))
    rec_view, rec_joint, rec_err = [], [], []
    people_per_frame, n_tri = [], 0
    n3d = n_matched = n_extra = 0
    cam_out = cams[held_out] if held_out is not None else None
    for fi in frames:
        fp = {v: ref['views'][v].get(fi, []) for v in src_views}
        groups = associate(fp, cams, min_score, max_px)
        people_per_frame.append(len(groups))
        proj_all, vis_all = [], []
        for g in groups:
            gviews, kp, conf, X = _group_people(fp, g, cams, min_score)
            finite = np.isfinite(X).all(-1)
            n_tri += int(finite.sum())
            if held_out is None:
                for i, v in enumerate(gviews):
                    use = conf[i] & finite
                    if not use.any():
                        continue
                    e = np.linalg.norm(cams[v].project(X[use]) - kp[i, use, :2],
                                       axis=-1)
                    rec_view += [v] * int(use.sum())
                    rec_joint += list(np.flatnonzero(use))
                    rec_err += list(e)
            else:
                proj = cam_out.project(X)
                proj_all.append(proj)
                vis_all.append(finite & cam_out.in_image(proj))
        if held_out is None:
            continue
        people = evaluated.get(fi, [])
        n3d += len(proj_all)
        if not proj_all:
            n_extra += len(people)
            continue
        proj_all, vis_all = np.stack(proj_all), np.stack(vis_all)
        pairs = _match_projected(proj_all, vis_all, people, match_frac)
        n_matched += len(pairs)
        n_extra += len(people) - len(pairs)
        for p, q in pairs:
            use = vis_all[p] & np.isfinite(people[q][:, :2]).all(-1)
            e = np.linalg.norm(people[q][use, :2] - proj_all[p, use], axis=-1)
            rec_view += [held_out] * int(use.sum())
            rec_joint += list(np.flatnonzero(use))
            rec_err += list(e)
    err = np.asarray(rec_err, dtype=np.float64)
    rec_view = np.asarray(rec_view, dtype=object)
    rec_joint = np.asarray(rec_joint, dtype=int)
    k = len(names) if names else (int(rec_joint.max()) + 1 if rec_joint.size
                                  else 0)
    names = list(names) if names else [str(j) for j in range(k)]
    out_views = [held_out] if held_out is not None else views
    counts = np.asarray(people_per_frame, dtype=int)
    result = dict(
        mode='all_views' if held_out is None else 'held_out',
        held_out=held_out,
        evaluated=None if held_out is None
        else ('predictions' if predictions is not None else 'reference'),
        min_score=min_score, views=views, source_views=src_views,
        num_frames=len(frames),
        overall=_summary(err),
        per_view={v: _summary(err[rec_view == v]) for v in out_views},
        per_joint={names[j]: _summary(err[rec_joint == j]) for j in range(k)},
        num_triangulated_joints=n_tri,
        people_per_frame=dict(
            mean=float(counts.mean()) if counts.size else float('nan'),
            min=int(counts.min()) if counts.size else 0,
            max=int(counts.max()) if counts.size else 0,
            counts=counts.tolist()))
    if held_out is not None:
        result.update(people_3d=n3d, people_matched=n_matched,
                      people_missed=n3d - n_matched, people_extra=n_extra)
    return result


def _load_predictions(src, cams, held_out: str) -> dict:
    """Predictions for the held-out view; a single video with another name
    (say ``student_cam04.mp4``) is taken as that view."""
    doc = load_labels(src)
    if held_out not in doc['views'] and len(doc['views']) == 1:
        doc = load_labels(src, view=held_out)
    size = doc['sizes'].get(held_out)
    if size is not None and tuple(size) != cams[held_out].image_size:
        raise ValueError(f'predictions for {held_out!r} are {size[0]}x'
                         f'{size[1]} but its calibration is '
                         f'{cams[held_out].image_size[0]}x'
                         f'{cams[held_out].image_size[1]}')
    return doc


def leave_one_view_out(labels_per_view, cams: Mapping[str, Camera],
                       min_score: float = 0.3, **kw) -> dict:
    """:func:`reprojection_error` with each calibrated view held out in turn
    (the reference labels scored against the other views): ``{view:
    result}``."""
    ref = load_labels(labels_per_view, cams) \
        if not (isinstance(labels_per_view, Mapping)
                and set(labels_per_view) >= {'views', 'keypoint_names'}) \
        else labels_per_view
    return {v: reprojection_error(ref, cams, min_score, held_out=v, **kw)
            for v in ref['views'] if v in cams}


# ------------------------------------------------------------------- report


def _jsonable(obj):
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj


def multiview_report(calibration, reference, predictions=None,
                     held_out: str | None = 'cam04', min_score: float = 0.3,
                     max_px: float = 40.0, all_held_out: bool = False) -> dict:
    """Everything ``kdkit evaluate multiview`` would print, as a JSON-ready
    dict (nan -> None).

    Args:
        calibration: a ``.qca.txt`` path or ``{view: Camera}``.
        reference: the teacher's labels of all views (pose-labels path/dict).
        predictions: optional student predictions for ``held_out`` only.
        held_out: the view scored against the others (None: skip).
        all_held_out: also hold out each view in turn (reference only).

    Returns:
        ``dict(format='kdkit-multiview-report/1', cameras=[...],
        all_views=..., held_out=dict(view, reference, predictions,
        delta_median_px, delta_mean_px), leave_one_view_out=...)``.
    """
    cams = calibration if isinstance(calibration, Mapping) \
        else read_qca(calibration)
    ref = load_labels(reference, cams)
    out = dict(format='kdkit-multiview-report/1',
               calibration=None if isinstance(calibration, Mapping)
               else os.fspath(calibration),
               reference=os.fspath(reference)
               if isinstance(reference, (str, os.PathLike)) else None,
               teacher=ref.get('teacher'), min_score=min_score,
               cameras=[c.summary() for c in cams.values()],
               all_views=reprojection_error(ref, cams, min_score,
                                            max_px=max_px))
    if held_out is not None:
        h = dict(view=held_out,
                 reference=reprojection_error(ref, cams, min_score,
                                              held_out=held_out,
                                              max_px=max_px))
        if predictions is not None:
            p = reprojection_error(ref, cams, min_score, held_out=held_out,
                                   predictions=predictions, max_px=max_px)
            h.update(predictions=p,
                     predictions_file=os.fspath(predictions)
                     if isinstance(predictions, (str, os.PathLike)) else None,
                     delta_median_px=p['overall']['median_px']
                     - h['reference']['overall']['median_px'],
                     delta_mean_px=p['overall']['mean_px']
                     - h['reference']['overall']['mean_px'])
        out['held_out'] = h
    if all_held_out:
        out['leave_one_view_out'] = {
            v: dict(overall=r['overall'], people_3d=r['people_3d'],
                    people_matched=r['people_matched'])
            for v, r in leave_one_view_out(ref, cams, min_score,
                                           max_px=max_px).items()}
    return _jsonable(out)
