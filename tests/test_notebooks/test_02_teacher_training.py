"""Notebook 02 runs end to end in the quick profile (tiny data, one epoch)."""
from pathlib import Path

import papermill as pm

NOTEBOOKS = Path(__file__).resolve().parents[2] / 'notebooks'
TINY = dict(n_train_clips=2, n_val_clips=1, n_test_clips=1, frames_per_clip=8)


def test_teacher_notebook_quick(tmp_path):
    work_dir = tmp_path / 'teacher'
    pm.execute_notebook(
        str(NOTEBOOKS / '02_teacher_training.ipynb'), str(tmp_path / 'out.ipynb'),
        parameters=dict(profile='quick', seed=0, data_root=str(tmp_path / 'data'),
                        work_dir=str(work_dir), max_epochs=1, data_knobs=TINY),
        kernel_name='python3', cwd=str(NOTEBOOKS), progress_bar=False)
    assert list(work_dir.glob('*.pth')), 'the notebook saved no teacher checkpoint'
    assert (work_dir / 'last_checkpoint').is_file()
