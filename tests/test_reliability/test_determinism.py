"""Determinism: the same seed gives bit-identical weights and metrics on CPU.

Same-seed generated data is byte-identical (also across worker counts):
tests/test_data/test_generator.py::test_same_seed_same_bytes_across_processes
(and, across a kill, test_resume.py::test_killed_generator_leaves_no_corrupt_dataset).

On CPU no ``randomness.deterministic=True`` is needed: MMEngine seeds torch,
numpy and random from ``randomness.seed``, the sampler shuffles with
``seed + epoch`` and every loader worker is seeded from (seed, rank, worker
id); the CPU kernels used here are deterministic. (On CUDA, cuDNN's
algorithm choice is not: set ``randomness=dict(seed=..., deterministic=True)``.)
"""
from __future__ import annotations

import pytest
import torch

from kdkit.distill.cli import test as run_test
from kdkit.distill.cli import train
from kdkit.utils.checkpoint import read_state_dict
from rel_helpers import KD_CFG, STUDENT_CFG

pytestmark = pytest.mark.slow


def train_twice_options(kd_options, work):
    # the shipped loader settings (2 persistent workers), 2 iterations
    return kd_options(work, **{'train_dataloader.dataset.indices': 8,
                               'train_dataloader.num_workers': 2,
                               'train_dataloader.persistent_workers': True})


def test_same_seed_same_weights_and_metrics(kd_options, run_options, tiny_data, tmp_path):
    states, metrics = [], []
    for run in ('a', 'b'):
        work = tmp_path / run
        train(KD_CFG, seed=3, cfg_options=train_twice_options(kd_options, work))
        states.append(read_state_dict(work / 'epoch_1.pth'))
        metrics.append(run_test(STUDENT_CFG, str(work / 'epoch_1.pth'),
                                cfg_options=run_options(tiny_data, tmp_path / f'test_{run}')))
    a, b = states
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), \
        [k for k in a if not torch.equal(a[k], b[k])][:5]
    assert metrics[0] == metrics[1]
    assert 'coco/AP' in metrics[0]

    # and the test can tell: another seed trains other weights
    work = tmp_path / 'c'
    train(KD_CFG, seed=4, cfg_options=train_twice_options(kd_options, work))
    c = read_state_dict(work / 'epoch_1.pth')
    assert not all(torch.equal(a[k], c[k]) for k in a)
