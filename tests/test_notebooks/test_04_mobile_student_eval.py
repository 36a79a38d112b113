"""Notebook 04 runs end to end in the quick profile (tiny data, one epoch, the
heatmap pair; the SimCC pair and DWPose run in tests/test_bench.py)."""
from pathlib import Path

import papermill as pm
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / 'notebooks'
TINY = dict(n_train_clips=2, n_val_clips=1, n_test_clips=1, frames_per_clip=8)
# no worker processes: on tiny data starting them costs more than loading
NO_WORKERS = {f'{split}_dataloader.{key}': value for split in ('train', 'val', 'test')
              for key, value in (('num_workers', 0), ('persistent_workers', False))}


@pytest.mark.slow
def test_mobile_student_notebook_quick(tmp_path):
    work_dir = tmp_path / 'work'
    pm.execute_notebook(
        str(NOTEBOOKS / '04_mobile_student_eval.ipynb'), str(tmp_path / 'out.ipynb'),
        parameters=dict(profile='quick', seed=0, data_root=str(tmp_path / 'data'),
                        work_dir=str(work_dir), max_epochs=1, data_knobs=TINY,
                        pairs=['heatmap'], latency_iters=3, cfg_options=NO_WORKERS,
                        min_teacher_lead=None),  # 1-epoch teacher: lead not checked
        kernel_name='python3', cwd=str(NOTEBOOKS), progress_bar=False)
    bench = work_dir / 'bench_quick'
    assert list(bench.glob('kd-hm_*/bench_run.json')), 'no distilled student was trained'
    assert list((bench / 'notebook04').glob('*.onnx')), 'the KD student was not exported'
