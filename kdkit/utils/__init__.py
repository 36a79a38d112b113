"""Small utilities shared across kdkit."""
from .checkpoint import allow_mmengine_checkpoints
from .io import atomic_write_bytes, atomic_write_text, repo_root

__all__ = ['allow_mmengine_checkpoints', 'atomic_write_bytes',
           'atomic_write_text', 'repo_root']
