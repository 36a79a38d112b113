"""The tiny test parameters of each notebook, read from its papermill test.

The papermill tests (``test_0*.py`` beside this file) are the one place that
says how each notebook runs in its quick test setting. Other tests (the
real-browser test) reuse exactly those parameters: :func:`papermill_call`
calls a papermill test's test function with ``papermill.execute_notebook``
replaced by a recorder that stops the test at that call, so nothing is
executed and the parameters cannot drift apart.
"""
from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

HERE = Path(__file__).resolve().parent


class _Recorded(Exception):
    """Raised by the stand-in for papermill.execute_notebook to stop the test."""


def papermill_call(test_file: str | Path, tmp_path: Path, **fixtures) -> tuple[Path, dict]:
    """``(notebook, parameters)`` of the first ``papermill.execute_notebook``
    call that the test function of ``test_file`` makes, with its ``tmp_path``
    set to ``tmp_path`` and other fixtures taken from ``fixtures`` by name."""
    import papermill

    test_file = HERE / test_file
    calls: list[tuple[Path, dict]] = []

    def record(input_path, output_path=None, parameters=None, **_):
        calls.append((Path(input_path), dict(parameters or {})))
        raise _Recorded

    real = papermill.execute_notebook
    papermill.execute_notebook = record  # before the module is loaded: any import style sees it
    try:
        spec = importlib.util.spec_from_file_location(f'_kdkit_params_{test_file.stem}', test_file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        tests = [f for name, f in vars(module).items()
                 if name.startswith('test_') and inspect.isfunction(f)
                 and 'execute_notebook' in inspect.getsource(f)]
        if len(tests) != 1:
            raise LookupError(f'{test_file.name}: expected one test function calling '
                              f'papermill.execute_notebook, found {[f.__name__ for f in tests]}')
        test = tests[0]
        available = {'tmp_path': Path(tmp_path), **fixtures}
        missing = [n for n in inspect.signature(test).parameters if n not in available]
        if missing:
            raise LookupError(f'{test_file.name}::{test.__name__} needs fixtures {missing}')
        try:
            test(**{n: available[n] for n in inspect.signature(test).parameters})
        except _Recorded:
            pass
    finally:
        papermill.execute_notebook = real
    if not calls:
        raise LookupError(f'{test_file.name} did not call papermill.execute_notebook')
    return calls[0]
