"""Write a notebook from a plain-text cell list (keeps notebooks reviewable as code).

Usage: python tools/make_notebook.py SRC.py OUT.ipynb
SRC.py holds cells separated by lines '# %% [markdown]' or '# %%'
('# %% parameters' marks the papermill parameters cell). No outputs are stored.
"""
import json
import sys


def cells_from_source(text: str) -> list:
    cells, kind, tags, buf = [], None, [], []

    def flush():
        if kind is None:
            return
        src = '\n'.join(buf).strip('\n')
        if kind == 'markdown':
            src = '\n'.join(line[2:] if line.startswith('# ') else line.lstrip('#')
                            for line in src.splitlines())
            cells.append(dict(cell_type='markdown', metadata={}, source=src))
        else:
            cells.append(dict(cell_type='code', metadata={'tags': tags} if tags else {},
                              execution_count=None, outputs=[], source=src))

    for line in text.splitlines():
        if line.startswith('# %%'):
            flush()
            buf = []
            kind = 'markdown' if '[markdown]' in line else 'code'
            tags = ['parameters'] if 'parameters' in line else []
        else:
            buf.append(line)
    flush()
    return cells


def main(src: str, out: str) -> None:
    nb = dict(nbformat=4, nbformat_minor=5, cells=cells_from_source(open(src).read()),
              metadata=dict(kernelspec=dict(name='python3', display_name='Python 3',
                                            language='python'),
                            language_info=dict(name='python')))
    for i, c in enumerate(nb['cells']):
        c['id'] = f'cell-{i}'
    with open(out, 'w') as f:
        json.dump(nb, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main(*sys.argv[1:])
