"""Shared fixtures: a tiny generated dataset and tiny-run config overrides."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Tests run from the repo root so configs' relative paths resolve.
os.chdir(REPO)


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory) -> Path:
    """A few short clips of generated video (seconds to make)."""
    from kdkit.data import generate_dataset
    out = tmp_path_factory.mktemp('data') / 'tiny'
    return generate_dataset(out, profile='quick', seed=0, progress=False,
                            **TINY_KNOBS)


TINY_KNOBS = dict(n_train_clips=2, n_val_clips=1, n_test_clips=1, frames_per_clip=8)


def tiny_run_options(data_root: Path, work_dir: Path, n_train: int = 4,
                     batch_size: int = 4) -> dict:
    """cfg_options for a one-iteration, no-validation MMEngine run."""
    opts = {'work_dir': str(work_dir), 'train_cfg.max_epochs': 1,
            'train_cfg.val_interval': 100, 'default_hooks.logger.interval': 1}
    for split in ('train', 'val', 'test'):
        opts.update({f'{split}_dataloader.dataset.data_root': f'{data_root}/',
                     f'{split}_dataloader.num_workers': 0,
                     f'{split}_dataloader.persistent_workers': False,
                     f'{split}_dataloader.batch_size': batch_size})
    opts['train_dataloader.dataset.indices'] = n_train
    return opts


@pytest.fixture
def run_options():
    return tiny_run_options


TEACHER_CFG = 'configs/teacher/td-hm_res18_quick_kdkit-video-128x96.py'


def save_random_weights(config: str, path: Path, seed: int = 0) -> Path:
    """An MMEngine-style checkpoint of a freshly initialised model of ``config``
    (tests need a teacher checkpoint; its accuracy does not matter)."""
    import torch
    from kdkit.distill.teacher import build_pose_model
    torch.manual_seed(seed)
    model = build_pose_model(config)
    model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture(scope='session')
def teacher_ckpt(tmp_path_factory) -> Path:
    return save_random_weights(TEACHER_CFG, tmp_path_factory.mktemp('teacher') / 'teacher.pth')


@pytest.fixture
def torch_hub_dir(tmp_path, monkeypatch) -> Path:
    """torch hub's cache (where MMEngine and kdkit put downloaded checkpoints)
    moved into tmp_path for the test."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    import torch
    return Path(torch.hub.get_dir())


@pytest.fixture
def http_files():
    """``serve(directory, requests=2) -> base URL``: the files of ``directory``
    over HTTP on 127.0.0.1 (a free port), from a thread that answers at most
    ``requests`` requests and stops when the test ends."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    class Server(http.server.HTTPServer):
        timeout = 0.2  # handle_request() returns this often to look at `stop`
        served = 0

        def process_request(self, request, client_address):
            self.served += 1
            super().process_request(request, client_address)

    running = []

    def serve(directory, requests: int = 2) -> str:
        server = Server(('127.0.0.1', 0), functools.partial(Quiet, directory=str(directory)))
        stop = threading.Event()

        def loop():
            while not stop.is_set() and server.served < requests:
                server.handle_request()

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        running.append((server, stop, thread))
        return f'http://127.0.0.1:{server.server_address[1]}'

    yield serve
    for server, stop, thread in running:
        stop.set()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def mmpose0x_checkpoint():
    """``make(src, dst) -> dst``: the weights of checkpoint ``src`` named as an
    MMPose 0.x checkpoint names them (``keypoint_head.*`` for ``head.*``, no
    version metadata) plus a ``data_preprocessor.mean`` key."""
    def make(src: Path, dst: Path) -> Path:
        import torch
        state = torch.load(src, map_location='cpu', weights_only=True)['state_dict']
        old = {('keypoint_' + k if k.startswith('head.') else k): v for k, v in state.items()}
        assert any(k.startswith('keypoint_head.') for k in old)
        old['data_preprocessor.mean'] = torch.tensor([123.675, 116.28, 103.53])
        torch.save({'state_dict': old, 'meta': {}}, dst)
        return dst
    return make
