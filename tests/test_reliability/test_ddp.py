"""Multi-process training: ``torchrun --nproc_per_node=2 -m kdkit.cli train
CONFIG --launcher pytorch`` on CPU (gloo).

Checked: every rank's teacher stays frozen and bit-identical to its
checkpoint; the per-rank losses average to those of a 1-process run with the
same global batch (2 x 2 vs 4), at the first iteration and after one
gradient-synchronised update; the weights agree; only rank 0 writes the
work_dir (one log, one scalar stream, checkpoints).

What makes the comparison exact: the sampler deals the same shuffled
indices out to the ranks (rank r takes every 2nd from r), so the global batch
holds the same samples; random augmentation is off (a rank draws its own
flips/crops); and student BatchNorm runs on its running statistics
(``FreezeBNHook``). In a normal run BN normalises each rank's batch with its
own statistics (2 samples here instead of 4), so DDP losses then differ from
a 1-process run by the batch-statistics noise, not by a bug: use
``sync_bn='torch'`` on GPUs when per-GPU batches are small. Both losses are
plain means over equal per-rank batches, so the mean of the rank means is the
global mean and DDP's averaged gradient is the 1-process gradient.
"""
from __future__ import annotations

import json
import re
import sys

import pytest

from kdkit.distill.cli import train
from kdkit.distill.teacher import FrozenTeacher
from kdkit.utils.checkpoint import read_state_dict
from rel_helpers import (REPO, TEACHER_CFG, child_env, cli_options, free_port,
                         write_test_config)

pytestmark = pytest.mark.slow


def ddp_options(kd_options, work, per_rank_batch):
    return kd_options(work, **{'train_dataloader.dataset.indices': 8,  # 2 iterations
                               'train_dataloader.batch_size': per_rank_batch,
                               'val_dataloader.num_workers': 0,
                               'val_dataloader.persistent_workers': False})


def test_two_cpu_processes_match_one(kd_options, teacher_ckpt, tmp_path):
    import subprocess

    def config(name):
        hooks = (f"dict(type='RecordRankHook', out_dir={str(tmp_path / name)!r}), "
                 "dict(type='FreezeBNHook'),")
        return write_test_config(tmp_path / f'{name}.py', teacher_ckpt, hooks, plain_pipeline=True)

    # 2 processes x batch 2
    work = tmp_path / 'ddp_work'
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
           '--master_addr=127.0.0.1', f'--master_port={free_port()}',
           '-m', 'kdkit.cli', 'train', config('ddp'), '--launcher', 'pytorch',
           *cli_options(ddp_options(kd_options, work, 2))]
    proc = subprocess.run(cmd, cwd=REPO, env=child_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    # 1 process x batch 4
    one = train(config('one'), cfg_options=ddp_options(kd_options, tmp_path / 'one_work', 4))
    assert one.world_size == 1

    ranks = [json.loads((tmp_path / 'ddp' / f'rank{r}.json').read_text()) for r in (0, 1)]
    ref = json.loads((tmp_path / 'one' / 'rank0.json').read_text())

    # the teacher: frozen and identical to its checkpoint in every rank
    expected = FrozenTeacher.from_config(TEACHER_CFG, teacher_ckpt).fingerprint()
    for r in ranks + [ref]:
        assert r['fingerprint_before'] == r['fingerprint_after'] == expected, r['rank']
        assert not (r['teacher_training'] or r['any_module_training'] or r['requires_grad']
                    or r['has_grad'] or r['teacher_in_student'])
    assert [r['rank'] for r in ranks] == [0, 1] and ranks[0]['world_size'] == 2

    # losses: mean over ranks == the 1-process global batch
    assert len(ref['losses']) == len(ranks[0]['losses']) == len(ranks[1]['losses']) == 2
    for it in range(2):
        for key in ('loss_gt', 'loss_kd_heatmap', 'loss'):
            ddp = (ranks[0]['losses'][it][key] + ranks[1]['losses'][it][key]) / 2
            assert ddp == pytest.approx(ref['losses'][it][key], rel=1e-4), (it, key)
        # the ranks saw different samples
        assert ranks[0]['losses'][it]['loss_gt'] != ranks[1]['losses'][it]['loss_gt']

    # the weights after 2 synchronised steps
    w_ddp = read_state_dict(work / 'epoch_1.pth')
    w_one = read_state_dict(tmp_path / 'one_work' / 'epoch_1.pth')
    worst = max((w_ddp[k].float() - w_one[k].float()).abs().max().item() for k in w_one)
    assert worst < 1e-5, worst
    print('ddp vs 1-process: losses', [[(r['losses'][i]['loss_gt'], r['losses'][i]['loss_kd_heatmap'])
                                         for r in ranks + [ref]] for i in range(2)],
          'max weight diff', worst)

    # only rank 0 wrote the work_dir: one run folder, one log, one scalar stream
    runs = [p for p in work.iterdir() if re.fullmatch(r'\d{8}_\d{6}', p.name)]
    assert len(runs) == 1, sorted(p.name for p in work.iterdir())
    logs = sorted(p.name for p in runs[0].rglob('*.log'))
    assert logs == [f'{runs[0].name}.log'], logs
    assert not [p for p in work.rglob('*') if 'rank' in p.name]
    scalars = (runs[0] / 'vis_data' / 'scalars.json').read_text().splitlines()
    assert sum('"loss"' in line for line in scalars) == 2  # 2 iterations, logged once
    assert {p.name for p in work.glob('*.pth')} == {'epoch_1.pth', 'best_coco_AP_epoch_1.pth'}
    log = (runs[0] / f'{runs[0].name}.log').read_text()
    assert 'Distributed launcher: pytorch' in log and 'Distributed training: True' in log


def test_cpu_launcher_setup_from_slurm_variables(monkeypatch):
    """``--launcher slurm`` without GPUs: kdkit maps srun's variables to
    torch's, joins a gloo group and asks for a CPU DDP (MMEngine's own
    launchers call torch.cuda.set_device and pass device_ids=[LOCAL_RANK])."""
    import torch.distributed as dist
    from mmengine.config import Config

    from kdkit.distill.cli import init_cpu_distributed
    for var in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.setenv(var, '')  # recorded, so the variables set below are undone
        monkeypatch.delenv(var)
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    with pytest.raises(ValueError, match=r"^--launcher pytorch: environment variable RANK is "
                       r'not set; start kdkit with torchrun'):
        init_cpu_distributed(cfg, 'pytorch')
    monkeypatch.setenv('SLURM_PROCID', '0')
    monkeypatch.setenv('SLURM_NTASKS', '1')
    monkeypatch.setenv('SLURM_LOCALID', '0')
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(free_port()))
    assert not dist.is_initialized()
    try:
        init_cpu_distributed(cfg, 'slurm')
        assert dist.is_initialized() and dist.get_backend() == 'gloo'
        assert dist.get_world_size() == 1 and dist.get_rank() == 0
        assert cfg.model_wrapper_cfg.device_ids is None
        assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
