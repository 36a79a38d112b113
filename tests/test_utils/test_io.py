"""Atomic writes leave either the old file or the new one, never a half."""
import pytest

from kdkit.utils.io import atomic_write_bytes, atomic_write_text


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / 'sub' / 'f.txt'
    atomic_write_text(path, 'one')
    atomic_write_text(path, 'two')
    assert path.read_text() == 'two'
    assert [p.name for p in path.parent.iterdir()] == ['f.txt']


def test_failed_write_keeps_old_content(tmp_path):
    path = tmp_path / 'f.bin'
    atomic_write_bytes(path, b'old')
    with pytest.raises(TypeError):
        atomic_write_bytes(path, 'not bytes')
    assert path.read_bytes() == b'old'
    assert [p.name for p in tmp_path.iterdir()] == ['f.bin']


def test_written_files_follow_the_umask(tmp_path):
    import os
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / 'r.txt', 'x')
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
