"""Notebook 01 runs end to end in the quick profile and checks its data."""
import json
from pathlib import Path

import papermill as pm
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / 'notebooks'


@pytest.mark.slow
def test_dataset_prep_notebook_quick(tmp_path):
    data_root = tmp_path / 'kdkit_quick'
    out = tmp_path / 'out.ipynb'
    pm.execute_notebook(
        str(NOTEBOOKS / '01_dataset_prep.ipynb'), str(out),
        parameters=dict(profile='quick', seed=0, data_root=str(data_root), overwrite=True),
        kernel_name='python3', cwd=str(NOTEBOOKS), progress_bar=False)
    meta = json.loads((data_root / 'meta.json').read_text())
    assert meta['profile'] == 'quick' and meta['splits']['train']['frames'] > 0
    cells = json.loads(out.read_text())['cells']
    outputs = [o for c in cells if c['cell_type'] == 'code' for o in c['outputs']]
    assert not [o for o in outputs if o.get('output_type') == 'error']
    images = [o for o in outputs if 'image/png' in o.get('data', {})]
    assert len(images) >= 3  # frames, visibility, motion plots
    assert any('text/html' in o.get('data', {}) for o in outputs)  # clip animation


def test_notebook_is_committed_without_outputs():
    nb = json.loads((NOTEBOOKS / '01_dataset_prep.ipynb').read_text())
    assert nb['nbformat'] == 4 and nb['metadata']['kernelspec']['name'] == 'python3'
    code = [c for c in nb['cells'] if c['cell_type'] == 'code']
    assert 'parameters' in code[0]['metadata'].get('tags', [])
    assert all(c['outputs'] == [] and c['execution_count'] is None for c in code)
