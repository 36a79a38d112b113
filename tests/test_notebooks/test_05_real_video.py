"""Notebook 05 runs end to end in the quick profile: a calibrated 4-view rig
rendered by the generator, the shipped teacher exported to ONNX labels it,
`kdkit data from-video`, one epoch of the mixed student on tiny generated data
+ the pseudo-labels, predictions on the held-out view, the multi-view check
and the student's latency. Needs no data/real, .venv-real or network."""
import json
import re
from pathlib import Path

import papermill as pm
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / 'notebooks'
NOTEBOOK = NOTEBOOKS / '05_real_video.ipynb'
TINY = dict(n_train_clips=2, n_val_clips=1, n_test_clips=1, frames_per_clip=8)
# no worker processes: on tiny data starting them costs more than loading;
# small batches, no validation before the end of the one epoch
RUN = {f'{split}_dataloader.{key}': value for split in ('train', 'val', 'test')
       for key, value in (('num_workers', 0), ('persistent_workers', False), ('batch_size', 8))}
RUN['train_cfg.val_interval'] = 100
# views, views with the teacher's skeletons, teacher vs student, per-joint reprojection
MIN_FIGURES = 4


def _join(text) -> str:
    return ''.join(text) if isinstance(text, list) else (text or '')


def _text(output: dict) -> str:
    """An output's text: a stream's, an error's traceback, a result's
    text/plain and text/html."""
    if output.get('output_type') == 'stream':
        return _join(output.get('text'))
    if output.get('output_type') == 'error':
        return '\n'.join(output.get('traceback', []))
    data = output.get('data', {})
    return _join(data.get('text/plain')) + _join(data.get('text/html'))


@pytest.mark.slow
def test_real_video_notebook_quick(tmp_path):
    work_dir = tmp_path / 'work'
    out = tmp_path / 'out.ipynb'
    pm.execute_notebook(
        str(NOTEBOOK), str(out),
        parameters=dict(profile='quick', videos='rig', teacher='shipped', held_out='cam04',
                        seed=0, work_dir=str(work_dir), generated_root=str(tmp_path / 'data'),
                        data_knobs=TINY, max_epochs=1, latency_iters=3, cfg_options=RUN),
        kernel_name='python3', cwd=str(NOTEBOOKS), progress_bar=False)
    cells = json.loads(out.read_text())['cells']
    outputs = [o for c in cells if c['cell_type'] == 'code' for o in c['outputs']]
    assert not [o for o in outputs if o.get('output_type') == 'error']
    warned = [_text(o) for o in outputs if re.search('Warning', _text(o))]
    assert not warned, f'warning in the outputs: {warned[0][:300]}'
    images = [o for o in outputs if 'image/png' in o.get('data', {})]
    assert len(images) >= MIN_FIGURES, f'{len(images)} figures, expected {MIN_FIGURES}'
    printed = ''.join(_text(o) for o in outputs if o.get('output_type') == 'stream')
    assert 'summary (px on the held-out view' in printed
    summary = printed.split('summary (px on the held-out view', 1)[1]
    for column in ('params_M', 'GFLOPs', 'ort_1t_ms', 'heldout_reproj_median_px'):
        assert column in summary, f'{column} not in the printed summary'
    assert 'multi-view check skipped' not in printed  # the rig is calibrated
    assert (work_dir / 'teacher.onnx').is_file() and (work_dir / 'student.onnx').is_file()
    assert (work_dir / 'real_data' / 'meta.json').is_file()
    assert list((work_dir / 'student').glob('*.pth')), 'the student was not trained'


def test_notebook_is_committed_without_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    assert nb['nbformat'] == 4 and nb['metadata']['kernelspec']['name'] == 'python3'
    code = [c for c in nb['cells'] if c['cell_type'] == 'code']
    assert 'parameters' in code[0]['metadata'].get('tags', [])
    assert all(c['outputs'] == [] and c['execution_count'] is None for c in code)
