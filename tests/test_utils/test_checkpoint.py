"""MMEngine checkpoints load with torch's weights-only unpickler (resume works)."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from kdkit.utils.checkpoint import (allow_mmengine_checkpoints, checkpoint_epoch,
                                    read_state_dict)


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


def test_checkpoint_epoch_from_meta(tmp_path):
    path = tmp_path / 'best_coco_AP_epoch_20.pth'
    torch.save({'meta': {'epoch': 20, 'seed': np.int64(3)}, 'state_dict': {}}, path)
    assert checkpoint_epoch(path) == 20
    torch.save({'state_dict': {'w': torch.ones(1)}}, tmp_path / 'packed.pth')
    assert checkpoint_epoch(tmp_path / 'packed.pth') is None  # no meta: unknown
    evil = tmp_path / 'evil.pth'
    torch.save({'meta': {'epoch': 1}, 'x': Evil()}, evil)
    assert checkpoint_epoch(evil) is None  # refused, as any code-carrying file
    assert checkpoint_epoch(tmp_path / 'missing.pth') is None
    old = tmp_path / 'legacy.pth'  # torch's pre-zip format cannot be memory-mapped
    torch.save({'meta': {'epoch': 7}}, old, _use_new_zipfile_serialization=False)
    assert checkpoint_epoch(old) == 7


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


# ------------------------------------------------- URLs, safety, fitting a model
class RunsAShellCommand:
    """Unpickling it without weights_only would create ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os
        return (os.system, (f'touch {self.marker}',))


def test_url_checkpoint_is_downloaded_once_into_torch_hub_cache(tmp_path, http_files,
                                                                torch_hub_dir):
    (tmp_path / 'srv').mkdir()
    mmengine_like_checkpoint(tmp_path / 'srv' / 'remote.pth')
    url = http_files(tmp_path / 'srv', requests=1) + '/remote.pth'
    assert torch.equal(read_state_dict(url, 'teacher checkpoint')['w'], torch.ones(2))
    cached = torch_hub_dir / 'checkpoints' / 'remote.pth'
    assert cached.is_file()  # where MMEngine's load_from_http looks first
    # the server answered its one request: the second read is the cache's
    assert torch.equal(read_state_dict(url)['w'], torch.ones(2))


def test_code_in_a_checkpoint_is_refused_from_a_path_and_a_url(tmp_path, http_files,
                                                                torch_hub_dir):
    from mmengine.runner import CheckpointLoader
    marker = tmp_path / 'pwned'
    (tmp_path / 'srv').mkdir()
    path = tmp_path / 'srv' / 'evil.pth'
    torch.save({'state_dict': {'w': torch.ones(1)}, 'x': RunsAShellCommand(marker)}, path)
    url = http_files(tmp_path / 'srv', requests=1) + '/evil.pth'
    with pytest.raises(ValueError, match=r'evil.pth is not a readable torch checkpoint '
                                         r'\(UnpicklingError'):
        read_state_dict(path)
    with pytest.raises(ValueError, match=r'^teacher checkpoint: http://\S+/evil.pth is not a '
                                         'readable torch checkpoint'):
        read_state_dict(url, 'teacher checkpoint')
    # MMEngine's own loader, used by load_from, resume and init_cfg, is weights-only too
    for name in (url, str(path)):
        with pytest.raises(pickle.UnpicklingError):
            CheckpointLoader.load_checkpoint(name, map_location='cpu', logger='silent')
    assert not marker.exists()
    # the payload is real: the unsafe unpickler runs it
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_unreachable_url_is_one_line(closed_port, torch_hub_dir):
    url = f'http://127.0.0.1:{closed_port}/teacher.pth'
    with pytest.raises(ValueError) as e:
        read_state_dict(url, 'teacher checkpoint')
    msg = str(e.value)
    assert '\n' not in msg
    assert msg.startswith(f'teacher checkpoint: cannot download {url} (URLError: ')
    assert str(torch_hub_dir / 'checkpoints' / 'teacher.pth') in msg


TEACHER_CFG = 'configs/teacher/td-hm_res18_quick_kdkit-video-128x96.py'  # teacher_ckpt's


def test_mmpose_0x_names_are_converted_by_the_models_own_hooks(tmp_path, teacher_ckpt,
                                                                mmpose0x_checkpoint):
    from kdkit.distill.teacher import build_pose_model
    from kdkit.utils.checkpoint import convert_state_dict, load_model_weights
    src = teacher_ckpt
    old = mmpose0x_checkpoint(src, tmp_path / 'old.pth')
    model = build_pose_model(TEACHER_CFG)
    want = read_state_dict(src)
    got = convert_state_dict(model, read_state_dict(old))
    assert list(got) == list(want)  # keypoint_head.* -> head.*, data_preprocessor.* dropped
    assert all(torch.equal(got[k], want[k]) for k in want)
    load_model_weights(model, old)
    assert all(torch.equal(v, want[k]) for k, v in model.state_dict().items())


def test_a_checkpoint_that_does_not_fit_changes_nothing(tmp_path):
    from kdkit.distill.teacher import build_pose_model
    from kdkit.utils.checkpoint import load_model_weights
    model = build_pose_model(TEACHER_CFG)
    state = {k: torch.full_like(v, 7) for k, v in model.state_dict().items()}
    state.pop('head.final_layer.bias')
    state['head.extra.weight'] = torch.ones(1)
    torch.save({'state_dict': state}, tmp_path / 'almost.pth')
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError) as e:
        load_model_weights(model, tmp_path / 'almost.pth', 'checkpoint')
    assert str(e.value) == (f'checkpoint: {tmp_path / "almost.pth"} does not fit the model '
                            'architecture: 1 missing (e.g. head.final_layer.bias), '
                            '1 unexpected (e.g. head.extra.weight)')
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_named_zoo_checkpoints_are_weights_only_too(tmp_path, http_files, torch_hub_dir,
                                                    monkeypatch):
    """torchvision:// names reach MMEngine's load_from_http by name, not the registry."""
    from mmengine.runner import CheckpointLoader
    from mmengine.runner import checkpoint as mmckpt
    marker = tmp_path / 'pwned'
    (tmp_path / 'srv').mkdir()
    torch.save({'state_dict': {'w': torch.ones(1)}, 'x': RunsAShellCommand(marker)},
               tmp_path / 'srv' / 'evil.pth')
    url = http_files(tmp_path / 'srv', requests=1) + '/evil.pth'
    monkeypatch.setattr(mmckpt, 'get_torchvision_models', lambda: {'evil': url})
    with pytest.raises(pickle.UnpicklingError):
        CheckpointLoader.load_checkpoint('torchvision://evil', map_location='cpu',
                                         logger='silent')
    assert not marker.exists()
