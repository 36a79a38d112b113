"""File helpers: atomic writes (temp file + rename) and the repository root."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so a reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide results from others
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode('utf-8'))


def repo_root() -> Path:
    """The kdkit checkout (where configs/ lives); notebooks run from notebooks/."""
    return Path(__file__).resolve().parents[2]


def common_suffix_len(a: tuple, b: tuple) -> int:
    """How many trailing path parts ``a`` and ``b`` share (matching a file
    to a COCO ``file_name`` given relative to another root)."""
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def index_by_file_name(images: list) -> dict:
    """COCO images -> ``{base name: [(path parts, image id), ...]}``."""
    index: dict = {}
    for img in images:
        parts = PurePosixPath(str(img.get('file_name', ''))).parts
        if parts:
            index.setdefault(parts[-1], []).append((parts, img['id']))
    return index


def best_path_matches(parts: tuple, index: dict) -> tuple[list, int]:
    """The image ids of ``index`` (:func:`index_by_file_name`) whose
    ``file_name`` shares the most trailing path parts with ``parts``, and
    that number; ``([], 0)`` when no base name matches."""
    cands = [(common_suffix_len(parts, p), i) for p, i in index.get(parts[-1], [])]
    if not cands:
        return [], 0
    best = max(n for n, _ in cands)
    return [i for n, i in cands if n == best], best
