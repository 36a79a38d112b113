"""MMEngine checkpoints load with torch's weights-only unpickler (resume works)."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from kdkit.utils.checkpoint import allow_mmengine_checkpoints, read_state_dict


def mmengine_like_checkpoint(path):
    hb = HistoryBuffer()
    hb.update(np.float64(0.5))
    torch.save({'meta': {'message_hub': {'log_scalars': {'train/loss': hb}},
                         'seed': np.int64(3), 'arr': np.arange(3, dtype=np.float32)},
                'state_dict': {'w': torch.ones(2)}}, path)


def test_mmengine_checkpoint_loads_weights_only(tmp_path):
    path = tmp_path / 'ckpt.pth'
    mmengine_like_checkpoint(path)
    allow_mmengine_checkpoints()
    ckpt = torch.load(path, weights_only=True)
    assert ckpt['meta']['seed'] == 3
    assert ckpt['meta']['message_hub']['log_scalars']['train/loss'].current() == 0.5
    assert torch.equal(read_state_dict(path)['w'], torch.ones(2))


class Evil:
    def __reduce__(self):
        return (print, ('pwned',))


def test_code_in_a_checkpoint_is_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': Evil()}, path)
    allow_mmengine_checkpoints()
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    with pytest.raises(ValueError, match='evil.pth is not a readable torch checkpoint'):
        read_state_dict(path)


def test_missing_and_non_checkpoint_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth does not exist'):
        read_state_dict(tmp_path / 'nope.pth')
    (tmp_path / 'text.pth').write_text('hello')
    with pytest.raises(ValueError, match='text.pth is not a readable'):
        read_state_dict(tmp_path / 'text.pth')


class SneakyGetattr:
    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_getattr_is_only_allowed_for_history_buffer_statistics(tmp_path):
    path = tmp_path / 'sneaky.pth'
    torch.save({'x': SneakyGetattr()}, path)
    allow_mmengine_checkpoints()
    with pytest.raises(pickle.UnpicklingError, match='does not allow'):
        torch.load(path, weights_only=True)
