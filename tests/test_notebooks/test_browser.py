"""The notebooks in a real browser: JupyterLab in headless Chromium.

One JupyterLab server and one Chromium for the module. Each notebook is
written with its papermill test's tiny parameters (``prepare_only``, read by
nb_params.py) into ``work_dirs/browser_test/``, opened in JupyterLab and run
with Run > Run All Cells; then the page must show every code cell executed,
no error or warning output and at least the notebook's figures. In notebook 03
moving the live panel's GT-weight slider must change its figure. Screenshots
and the executed notebooks stay in ``work_dirs/browser_test/``.

Without Chromium, chromedriver or selenium the module is skipped, unless
KDKIT_REQUIRE_BROWSER=1 (set by .ci/run): then it fails.
"""
from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

import pytest
from nb_browser import (BrowserMissing, Lab, LabBrowser, assert_clean, find_browser, problems,
                        write_notebook)
from nb_params import papermill_call

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / 'work_dirs' / 'browser_test'
SHOTS = OUT / 'screenshots'
NB03 = '03_loss_synthesis_ablations'

# notebook -> (its papermill test, the least number of figures its page shows).
# 03 runs last: the live-panel test after it works on its page and kernel.
NOTEBOOKS = {
    # frames, clip animation (one <img>), visibility, motion, labelled joints
    '01_dataset_prep': ('test_01_dataset_prep.py', 5),
    # learning curves, predictions
    '02_teacher_training': ('test_02_teacher_training.py', 2),
    # accuracy vs latency, PCK per joint, skeletons side by side
    '04_mobile_student_eval': ('test_04_mobile_student_eval.py', 3),
    # views, views with the teacher's skeletons, teacher vs student, per-joint reprojection
    '05_real_video': ('test_05_real_video.py', 4),
    # weight heatmap, rules side by side, the slider panel's figure, slider view
    NB03: ('test_03_loss_synthesis_ablations.py', 4),
}

pytestmark = pytest.mark.slow
REQUIRED = os.environ.get('KDKIT_REQUIRE_BROWSER') == '1'
try:
    BROWSER = find_browser()
except BrowserMissing as e:
    if not REQUIRED:  # one line for the whole module
        pytest.skip(f'browser test: {e}', allow_module_level=True)
    BROWSER = e


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    if isinstance(BROWSER, BrowserMissing):
        pytest.fail(f'KDKIT_REQUIRE_BROWSER=1 but {BROWSER}', pytrace=False)
    chromium, chromedriver = BROWSER
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    lab = Lab(REPO, OUT / 'lab')
    try:
        page = LabBrowser(lab, chromium, chromedriver, tmp_path_factory.mktemp('chromium'))
    except BaseException:
        lab.close()
        raise
    page.ran = {}  # notebook -> Report, or the exception its run raised
    page.current = None  # the notebook whose page and kernel are open
    try:
        yield page
    finally:
        try:
            page.close()
        finally:
            lab.close()


def run_notebook(page: LabBrowser, name: str, teacher_ckpt: Path):
    """Run notebook ``name`` in the browser (once: later calls while its page
    is still open return the same report)."""
    if page.current == name and name in page.ran:
        if isinstance(page.ran[name], BaseException):
            pytest.fail(f'{name} did not run in the browser: {page.ran[name]}')
        return page.ran[name]
    import papermill as pm
    page.current = None
    test_file, _ = NOTEBOOKS[name]
    work = OUT / 'run' / name
    work.mkdir(parents=True, exist_ok=True)
    src, parameters = papermill_call(test_file, work, teacher_ckpt=teacher_ckpt)
    dst = OUT / f'{name}.ipynb'
    pm.execute_notebook(str(src), str(dst), parameters=parameters, prepare_only=True,
                        kernel_name='python3', progress_bar=False)
    try:
        t0 = time.monotonic()
        page.open(dst.relative_to(REPO).as_posix())
        page.current = name
        seconds = page.run_all(timeout=360)
        report = page.report(name)
        report.seconds = seconds
        report.screenshot = page.screenshot_page(SHOTS / f'{name}.png')
        page.save()
        print(f'{name}: opened and ran in {time.monotonic() - t0:.0f} s (Run All {seconds:.0f} s), '
              f'{report.images} figures')
    except BaseException as e:
        page.ran[name] = e
        raise
    page.ran[name] = report
    return report


def test_checker_reports_a_broken_notebook(browser):
    """The machinery can fail: a cell that raises (and one that warns) is
    reported, the cells after it stay unexecuted, and assert_clean raises."""
    nb = write_notebook(OUT / 'broken.ipynb', [
        "print('the first cell runs')",
        "import warnings\nwarnings.warn('deliberate warning of the browser test', UserWarning)",
        "raise RuntimeError('deliberate failure of the browser test')",
        "print('this cell never runs')",
    ])
    browser.current = None
    browser.open(nb.relative_to(REPO).as_posix())
    browser.run_all(timeout=120)
    report = browser.report('broken')
    report.screenshot = browser.screenshot_page(SHOTS / 'broken.png')
    assert any('RuntimeError' in e and 'deliberate failure' in e for e in report.errors), report
    assert any('UserWarning' in w and 'deliberate warning' in w for w in report.warnings), report
    assert report.unexecuted == [3], report.prompts
    found = problems(report, min_images=1)
    assert len(found) == 4, found  # the error, the unexecuted cell, the warning, no figure
    with pytest.raises(AssertionError, match='deliberate failure of the browser test'):
        assert_clean(report, min_images=1)


@pytest.mark.parametrize('name', list(NOTEBOOKS))
def test_notebook_runs_clean_in_jupyterlab(browser, name, teacher_ckpt):
    report = run_notebook(browser, name, teacher_ckpt)
    assert report.prompts, f'{name}: no code cells on the page'
    assert_clean(report, min_images=NOTEBOOKS[name][1])


def test_live_panel_slider_changes_the_figure(browser, teacher_ckpt):
    """Notebook 03's live panel: moving its first slider (the GT weight)
    redraws the panel's figure."""
    from PIL import Image, ImageChops
    from selenium.webdriver.common.by import By

    source = (REPO / 'notebooks' / f'{NB03}.ipynb').read_text()
    if 'make_live_panel' not in source:
        pytest.skip('notebook 03 does not call make_live_panel yet: no .kdkit-live-panel to test')
    run_notebook(browser, NB03, teacher_ckpt)
    driver = browser.driver
    panels = driver.find_elements(By.CSS_SELECTOR, '.kdkit-live-panel')
    assert panels, ('notebook 03 calls make_live_panel but its page has no .kdkit-live-panel '
                    f"(widget not rendered? see {SHOTS / (NB03 + '.png')})")
    panel = panels[0]
    sliders = (panel.find_elements(By.CSS_SELECTOR, 'input[type=range]')
               or panel.find_elements(By.CSS_SELECTOR, '.widget-slider'))
    assert sliders, 'the live panel has no slider'

    def figures():
        return panels[0].find_elements(By.CSS_SELECTOR, 'img, canvas')

    def sources():
        return [f.get_attribute('src') or '' for f in figures()]

    figs = figures()
    assert figs, 'the live panel shows no figure (img or canvas)'
    browser.element_png(panel, SHOTS / '03_live_panel_before.png')
    before = [browser.element_png(f) for f in figs]
    srcs = sources()
    old, new = browser.move_slider(sliders[0])
    assert old != new, f'the first slider of the live panel did not move (readout {old!r})'
    if srcs and any(srcs):  # <img>: wait for a new image
        browser.wait('the live figure to be redrawn after the slider moved',
                     lambda: sources() != srcs and all(driver.execute_script(
                         'return arguments[0].complete', f) for f in figures()), 60)
    browser.wait('the kernel to be idle', lambda: browser.state()['status'] == 'idle', 60)
    time.sleep(1)
    browser.element_png(panel, SHOTS / '03_live_panel_after.png')
    after = [browser.element_png(f) for f in figures()]
    (SHOTS / '03_live_figure_before.png').write_bytes(before[0])
    (SHOTS / '03_live_figure_after.png').write_bytes(after[0])

    def pixels_differ(a: bytes, b: bytes) -> bool:
        a, b = (Image.open(io.BytesIO(x)).convert('RGB') for x in (a, b))
        return a.size != b.size or ImageChops.difference(a, b).getbbox() is not None
    assert len(after) != len(before) or any(
        pixels_differ(a, b) for a, b in zip(before, after)), \
        f'moving the GT-weight slider ({old} -> {new}) left the live figure unchanged'
    new_errors = [e for e in browser.report(NB03).errors if e not in browser.ran[NB03].errors]
    assert not new_errors, f'moving the slider gave error output: {new_errors}'
