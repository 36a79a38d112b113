"""A small IoU tracker: person boxes of one video's frames -> track ids.

Each frame's boxes are matched to the live tracks by IoU with the track's
box *predicted* at its velocity (of the box corner, averaged over the last
matches; the size is kept), so two people who cross keep their ids. Both
boxes are first grown by ``buffer`` of their size on each side (the
"buffered IoU" of C-BIoU trackers: a fast person whose boxes of two frames
barely overlap still matches). Assignment is Hungarian
(``scipy.optimize.linear_sum_assignment``), greedy by IoU without scipy. A
match needs IoU >= ``iou_thr``; a box left over starts a new track; a track
not matched for more than ``max_gap`` frames ends (a person who comes back
later gets a new id).

    ids = assign_tracks([[(x, y, w, h), ...], ...])   # one list per frame
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

try:
    from scipy.optimize import linear_sum_assignment
except ImportError:  # pragma: no cover - scipy is in the env
    linear_sum_assignment = None


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every (x, y, w, h) box of ``a`` (n, 4) with every one of ``b`` (m, 4)."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def match_boxes(a, b, iou_thr: float) -> list[tuple[int, int]]:
    """Pairs (i, j) of boxes of ``a`` and ``b`` with IoU >= ``iou_thr``,
    each box in one pair at most, maximising the total IoU (Hungarian;
    greedy by IoU without scipy)."""
    iou = iou_matrix(a, b)
    if iou.size == 0:
        return []
    if linear_sum_assignment is not None:
        rows, cols = linear_sum_assignment(-iou)
        pairs = zip(rows.tolist(), cols.tolist())
    else:  # pragma: no cover
        pairs = _greedy(iou)
    return [(i, j) for i, j in pairs if iou[i, j] >= iou_thr]


def _greedy(iou: np.ndarray) -> list[tuple[int, int]]:
    pairs, used_i, used_j = [], set(), set()
    for flat in np.argsort(-iou, axis=None):
        i, j = np.unravel_index(flat, iou.shape)
        if i not in used_i and j not in used_j:
            pairs.append((int(i), int(j)))
            used_i.add(i)
            used_j.add(j)
    return pairs


@dataclass
class _Track:
    id: int
    box: np.ndarray       # last matched box (x, y, w, h)
    velocity: np.ndarray  # per-frame change of the box (x, y only)
    last: int             # frame of the last match

    hits: int = 1         # matches so far

    def predict(self, t: int) -> np.ndarray:
        """The box at frame ``t``: moved at the velocity, its size kept."""
        return self.box + self.velocity * (t - self.last)

    def update(self, box: np.ndarray, t: int) -> None:
        """A match at frame ``t``: the velocity of the box's corner (x, y),
        averaged with the previous estimate (half each) once there is one."""
        step = np.zeros(4)
        step[:2] = (box[:2] - self.box[:2]) / (t - self.last)
        self.velocity = step if self.hits == 1 else 0.5 * (self.velocity + step)
        self.box, self.last, self.hits = box.copy(), t, self.hits + 1


def buffered(boxes: np.ndarray, buffer: float) -> np.ndarray:
    """(x, y, w, h) boxes grown by ``buffer`` times their size on each side."""
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    pad = boxes[:, 2:] * buffer
    return np.concatenate([boxes[:, :2] - pad, boxes[:, 2:] + 2 * pad], axis=1)


def assign_tracks(frames: Sequence[Sequence], iou_thr: float = 0.3, max_gap: int = 5,
                  frame_indices: Optional[Sequence[int]] = None,
                  buffer: float = 0.25) -> list[list[int]]:
    """Track ids (ints from 0, in order of appearance) for the boxes of each
    frame of one video.

    Args:
        frames: per frame, its (x, y, w, h) boxes.
        iou_thr: least IoU between a box and a track's predicted box.
        max_gap: frames a track may go unmatched and still continue.
        frame_indices: the frames' indices in the video (default 0, 1, ...);
            gaps between them count towards ``max_gap``.
        buffer: growth of both boxes on each side before the IoU, as a
            fraction of their size.
    """
    if iou_thr <= 0 or iou_thr > 1:
        raise ValueError(f'iou_thr: expected a number in (0, 1], got {iou_thr!r}')
    if max_gap < 0:
        raise ValueError(f'max_gap: expected an int >= 0, got {max_gap!r}')
    times = list(range(len(frames))) if frame_indices is None else list(frame_indices)
    tracks: list[_Track] = []
    next_id, out = 0, []
    for t, boxes in zip(times, frames):
        boxes = np.asarray(boxes, float).reshape(-1, 4)
        tracks = [tr for tr in tracks if t - tr.last <= max_gap + 1]
        pred = np.array([tr.predict(t) for tr in tracks]).reshape(-1, 4)
        ids = [-1] * len(boxes)
        for i, j in match_boxes(buffered(pred, buffer), buffered(boxes, buffer), iou_thr):
            tr = tracks[i]
            tr.update(boxes[j], t)
            ids[j] = tr.id
        for j, tid in enumerate(ids):
            if tid < 0:
                tracks.append(_Track(next_id, boxes[j].copy(), np.zeros(4), t))
                ids[j], next_id = next_id, next_id + 1
        out.append(ids)
    return out
