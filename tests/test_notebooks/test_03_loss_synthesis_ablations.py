"""Notebook 03 runs end to end in the quick profile: tiny data, one epoch, a
three-setting grid, one seed; its results land in the ablation cache."""
import json
from pathlib import Path

import papermill as pm

NOTEBOOKS = Path(__file__).resolve().parents[2] / 'notebooks'
TINY = dict(n_train_clips=2, n_val_clips=1, n_test_clips=1, frames_per_clip=8)
FAST = {'train_dataloader.dataset.indices': 4, 'train_dataloader.batch_size': 4,
        'model.test_cfg.flip_test': False,
        **{f'{s}_dataloader.{k}': v for s in ('train', 'val', 'test')
           for k, v in (('num_workers', 0), ('persistent_workers', False))}}


def test_ablation_notebook_quick(tmp_path, teacher_ckpt):
    out_dir = tmp_path / 'ablation'
    grid = [dict(rule='weighted_sum'), dict(rule='uncertainty'), dict(kd_weight=2.0)]
    nb = pm.execute_notebook(
        str(NOTEBOOKS / '03_loss_synthesis_ablations.ipynb'), str(tmp_path / 'out.ipynb'),
        parameters=dict(profile='quick', seeds=[0], epochs=1, data_root=str(tmp_path / 'data'),
                        teacher_checkpoint=str(teacher_ckpt), out_dir=str(out_dir),
                        data_knobs=TINY, grid=grid, cfg_options=FAST),
        kernel_name='python3', cwd=str(NOTEBOOKS), progress_bar=False)
    results = [json.loads(p.read_text()) for p in (out_dir / 'results').glob('*.json')]
    assert sorted(r['resolved']['label'] for r in results) == [
        'uncertainty gt=1 kd=1', 'weighted_sum gt=1 kd=1', 'weighted_sum gt=1 kd=2']
    text = json.dumps(nb['cells'])
    assert 'nearest cached run: weighted_sum gt=1 kd=2' in text or \
        'exact match: weighted_sum gt=1 kd=2' in text
    assert 'gt_weight=3.0 out of range: the gt_weight slider allows [0, 2]' in text
    images = [o for c in nb['cells'] for o in c.get('outputs', [])
              if 'image/png' in o.get('data', {})]
    assert len(images) >= 4  # weight heatmap, rule comparison, live view, slider view
    assert 'metric: PCK@0.2' in text or 'metric: AP' in text  # and the reason, printed
    live = section(nb['cells'], '## Live view')
    assert any('image/png' in o.get('data', {}) for c in live for o in c.get('outputs', []))
    assert 'share of the loss:' in json.dumps(live)
    outputs = [o for c in nb['cells'] for o in c.get('outputs', [])]
    assert not [o for o in outputs if o.get('output_type') == 'error']
    assert not [printed(o) for o in outputs if 'Warning' in printed(o)]


def printed(output) -> str:
    """An output's text (streams, plain-text results), not its images."""
    text = output.get('text', '') or output.get('data', {}).get('text/plain', '')
    return ''.join(text) if isinstance(text, list) else text


def section(cells, heading: str) -> list:
    """The cells from the markdown cell starting with ``heading`` to the next '## '."""
    start = next(i for i, c in enumerate(cells) if c['cell_type'] == 'markdown'
                 and ''.join(c['source']).startswith(heading))
    end = next((i for i, c in enumerate(cells[start + 1:], start + 1)
                if c['cell_type'] == 'markdown' and ''.join(c['source']).startswith('## ')),
               len(cells))
    return cells[start:end]
