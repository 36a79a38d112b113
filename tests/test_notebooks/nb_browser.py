"""Run notebooks the way a user does: JupyterLab in headless Chromium.

* :class:`Lab` starts ``jupyter lab`` on a free port of 127.0.0.1 with a known
  token and its own config, runtime, data, settings, workspace and IPython
  folders (the user's settings do not matter), and stops it again;
* :class:`LabBrowser` drives headless Chromium through Selenium (with the
  system's chromedriver; Selenium Manager is never asked to download one):
  it opens a notebook, clicks Run > Run All Cells, waits until the kernel is
  idle and no cell is pending, reads what the page shows (:class:`Report`)
  and takes screenshots;
* :func:`problems` / :func:`assert_clean` judge a :class:`Report`: error
  output, cells left without an execution count, warnings, too few figures.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                  '--no-first-run', '--disable-background-networking',
                  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']
WINDOW = (1400, 1000)
MAX_SCREENSHOT_HEIGHT = 16000  # Chromium's limit for one capture is about 16k px

# JupyterLab settings for the test (written into its own settings folder):
# every cell stays in the DOM (no windowing), no news / update pop-up.
LAB_SETTINGS = {
    '@jupyterlab/notebook-extension/tracker.jupyterlab-settings': {'windowingMode': 'none'},
    '@jupyterlab/apputils-extension/notification.jupyterlab-settings': {
        'fetchNews': 'false', 'checkForUpdates': False},
}


class BrowserMissing(RuntimeError):
    """Chromium, chromedriver or selenium is not installed."""


def find_browser() -> tuple[str, str]:
    """``(chromium, chromedriver)`` paths ($KDKIT_CHROMIUM / $KDKIT_CHROMEDRIVER
    or the Debian packages' commands); :class:`BrowserMissing` says what lacks."""
    chromium = (shutil.which(os.environ['KDKIT_CHROMIUM']) if os.environ.get('KDKIT_CHROMIUM')
                else shutil.which('chromium') or shutil.which('chromium-browser'))
    driver = shutil.which(os.environ.get('KDKIT_CHROMEDRIVER') or 'chromedriver')
    missing = [name for name, path in (('chromium', chromium), ('chromedriver', driver))
               if not path]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append('selenium (pip)')
    if missing:
        raise BrowserMissing(f"no {' / '.join(missing)} (Debian: apt-get install chromium "
                             'chromium-driver; selenium comes with make setup)')
    return chromium, driver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the server
class Lab:
    """``jupyter lab`` serving ``root``; its state and log live in ``state``."""

    def __init__(self, root: Path, state: Path, token: str = 'kdkit-browser-test',
                 timeout: float = 90):
        self.root, self.state, self.token = Path(root), Path(state), token
        dirs = {name: self.state / name for name in
                ('config', 'runtime', 'data', 'settings', 'workspaces', 'ipython')}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        # Run All queues every cell; after an error ipykernel aborts only the
        # requests that reach it within stop_on_error_timeout (default 0 s), so
        # on a busy machine a later cell could still run: give them 10 s
        profile = dirs['ipython'] / 'profile_default'
        profile.mkdir(parents=True, exist_ok=True)
        (profile / 'ipython_kernel_config.py').write_text(
            'c.Kernel.stop_on_error_timeout = 10.0\n')
        for rel, value in LAB_SETTINGS.items():
            path = dirs['settings'] / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(('JUPYTER', 'JPY_')) and k not in ('IPYTHONDIR', 'MPLBACKEND')}
        env.update(JUPYTER_CONFIG_DIR=str(dirs['config']), JUPYTER_RUNTIME_DIR=str(dirs['runtime']),
                   JUPYTER_DATA_DIR=str(dirs['data']), JUPYTERLAB_SETTINGS_DIR=str(dirs['settings']),
                   JUPYTERLAB_WORKSPACES_DIR=str(dirs['workspaces']), IPYTHONDIR=str(dirs['ipython']),
                   PYTHONUNBUFFERED='1')
        self.port = free_port()
        self.base = f'http://127.0.0.1:{self.port}'
        self.log_path = self.state / 'jupyterlab.log'
        cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1',
               f'--port={self.port}', '--ServerApp.port_retries=0',
               f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={self.root}',
               '--ServerApp.allow_root=True',
               '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate']
        self._log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f'jupyter lab exited with {self.proc.returncode}:\n'
                                   + self.log_tail())
            try:
                self.api('GET', '/api/status')
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(f'jupyter lab did not answer in {timeout:.0f} s:\n'
                                       + self.log_tail())
                time.sleep(0.5)

    def log_tail(self, n: int = 30) -> str:
        return '\n'.join(self.log_path.read_text(errors='replace').splitlines()[-n:])

    def api(self, method: str, path: str):
        req = urllib.request.Request(self.base + path, method=method,
                                     headers={'Authorization': f'token {self.token}'})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        for session in self.api('GET', '/api/sessions'):
            self.api('DELETE', f"/api/sessions/{session['id']}")
        for kernel in self.api('GET', '/api/kernels'):
            self.api('DELETE', f"/api/kernels/{kernel['id']}")

    def url(self, rel_path: str) -> str:
        return f'{self.base}/lab/tree/{rel_path}?reset&token={self.token}'

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.shutdown_kernels()
            except OSError:
                pass
            self.proc.terminate()  # the server shuts its kernels down on SIGTERM
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this class started
                self.proc.wait(timeout=10)
        self._log.close()


# ---------------------------------------------------------------- the page
@dataclass
class Report:
    """What the browser shows of one notebook after Run All."""
    name: str
    prompts: list[str]                   # input prompt of each code cell, e.g. '[3]:'
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    images: int = 0                      # loaded <img> in output areas
    broken_images: int = 0               # <img> that did not load
    seconds: float = 0.0
    screenshot: Path | None = None

    @property
    def unexecuted(self) -> list[int]:
        """Indices of code cells without an execution count."""
        return [i for i, p in enumerate(self.prompts) if not re.fullmatch(r'\[\d+\]:', p.strip())]


def problems(report: Report, min_images: int = 0) -> list[str]:
    """Everything wrong with ``report``, one line each (empty: all good)."""
    out = [f'error output: {e}' for e in report.errors]
    if report.unexecuted:
        out.append(f'{len(report.unexecuted)} of {len(report.prompts)} code cells have no '
                   f'execution count (code cells {report.unexecuted})')
    out += [f'warning output: {w}' for w in report.warnings]
    if report.images < min_images:
        out.append(f'{report.images} figures (img) in the output, expected at least {min_images}')
    if report.broken_images:
        out.append(f'{report.broken_images} img in the output did not load')
    return out


def assert_clean(report: Report, min_images: int = 0) -> None:
    found = problems(report, min_images)
    if found:
        shot = f' (screenshot: {report.screenshot})' if report.screenshot else ''
        raise AssertionError(f'{report.name} in JupyterLab{shot}:\n  ' + '\n  '.join(found))


_PANEL = "const p = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');"
_STATE_JS = _PANEL + """
if (!p) return null;
const ind = p.querySelector('.jp-Notebook-ExecutionIndicator');
return {status: ind ? ind.getAttribute('data-status') : null,
        prompts: [...p.querySelectorAll('.jp-CodeCell')].map(
            c => (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '')};
"""
_OUTPUTS_JS = _PANEL + """
const cells = [...p.querySelectorAll('.jp-CodeCell')];
// leaf outputs only: an Output widget's outputs sit inside the widget's output
const outs = [...p.querySelectorAll('.jp-OutputArea-output')].filter(
    e => !e.querySelector('.jp-OutputArea-output'));
const imgs = [...p.querySelectorAll('.jp-OutputArea-output img')];
return {outputs: outs.map(e => ({cell: cells.indexOf(e.closest('.jp-CodeCell')),
                                 mime: e.getAttribute('data-mime-type'),
                                 text: e.innerText || ''})),
        images: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
        broken: imgs.filter(i => i.complete && i.naturalWidth === 0).length};
"""
_PAINTED_JS = """
const done = arguments[arguments.length - 1];
const imgs = [...document.querySelectorAll('.jp-NotebookPanel img')];
Promise.all(imgs.map(i => i.decode().catch(() => null))).then(
    () => requestAnimationFrame(() => requestAnimationFrame(() => done(true))));
"""
STDERR = 'application/vnd.jupyter.stderr'  # stderr streams and tracebacks alike
_ERROR = re.compile(r'Traceback|\w*Error\b|Error displaying widget')
_WARNING = re.compile(r'Warning')


def classify(outputs: list[dict]) -> tuple[list[str], list[str]]:
    """``(errors, warnings)``: one line per offending output, with its code cell."""
    errors, warnings = [], []
    for o in outputs:
        text = o['text']
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        where = f"code cell {o['cell']}: "
        if (o['mime'] == STDERR and _ERROR.search(text)) or 'Traceback (most recent call last)' \
                in text or 'Error displaying widget' in text:
            # the exception line (the last naming an error) and what follows it
            hit = [i for i, line in enumerate(lines) if _ERROR.search(line)]
            start = hit[-1] if hit else max(len(lines) - 1, 0)
            errors.append(where + (' '.join(lines[start:start + 4]) or '(empty)')[:300])
        if _WARNING.search(text):
            hit = [line for line in lines if _WARNING.search(line)]
            warnings.append(where + hit[0][:300])
    return errors, warnings


class LabBrowser:
    """One headless Chromium on a :class:`Lab`."""

    def __init__(self, lab: Lab, chromium: str, chromedriver: str, profile: Path):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        self.lab = lab
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in CHROMIUM_FLAGS + [f'--user-data-dir={profile}',
                                      f'--window-size={WINDOW[0]},{WINDOW[1]}']:
            options.add_argument(flag)
        service = Service(executable_path=chromedriver,
                          log_output=str(Path(lab.state) / 'chromedriver.log'))
        self.driver = webdriver.Chrome(options=options, service=service)
        self.driver.set_window_size(*WINDOW)

    def close(self) -> None:
        self.driver.quit()

    # -- helpers
    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, what: str, predicate, timeout: float, interval: float = 0.5):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f'{what}: not after {timeout:.0f} s')
            time.sleep(interval)

    def state(self) -> dict | None:
        return self.js(_STATE_JS)

    def menu(self, menu: str, command: str) -> None:
        """Click ``menu`` in the menu bar, then its item running ``command``."""
        from selenium.webdriver.common.by import By
        self.driver.find_element(
            By.XPATH, f"//li[contains(@class,'lm-MenuBar-item')][normalize-space()='{menu}']").click()
        item = self.wait(f'menu item {command}', lambda: self.driver.find_elements(
            By.CSS_SELECTOR, f".lm-Menu li.lm-Menu-item[data-command='{command}']"), 10, 0.2)
        item[0].click()

    def focus_notebook(self) -> None:
        """Click the first cell's prompt: Run All acts on the focused notebook,
        and on a cold start the focus may still be elsewhere (the sidebar)."""
        from selenium.webdriver.common.by import By
        prompts = self.driver.find_elements(
            By.CSS_SELECTOR, '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .jp-InputPrompt')
        if prompts:
            prompts[0].click()

    def close_menus(self) -> None:
        """Escape closes a menu left open by a dropped click."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys
        ActionChains(self.driver).send_keys(Keys.ESCAPE).perform()

    # -- the steps
    def open(self, rel_path: str, timeout: float = 120) -> None:
        """Open the notebook ``rel_path`` (relative to the served root) alone, on
        a fresh page, and wait until all its cells are on the page and its
        kernel is idle."""
        from selenium.common.exceptions import NoAlertPresentException
        nb = json.loads((self.lab.root / rel_path).read_text())
        n_code = sum(c['cell_type'] == 'code' for c in nb['cells'])
        self.driver.get('about:blank')
        try:  # a page with unsaved changes asks before it unloads
            self.driver.switch_to.alert.accept()
        except NoAlertPresentException:
            pass
        self.lab.shutdown_kernels()  # the previous notebook's
        self.driver.get(self.lab.url(rel_path))
        stable = [0]

        def ready():  # the kernel reads 'idle' once before it starts: 3 polls in a row
            s = self.js(_PANEL + """
return p && !p.classList.contains('jp-MainAreaWidget-ContainStrict')
    && !p.querySelector('.jp-Spinner');""") and self.state()
            ok = bool(s) and len(s['prompts']) == n_code and s['status'] == 'idle'
            stable[0] = stable[0] + 1 if ok else 0
            return stable[0] >= 3
        self.wait(f'{rel_path} opened with an idle kernel', ready, timeout)
        # more room for the notebook in screenshots: fold the file browser away
        # (Lumino tab bars answer real pointer events, not a scripted click())
        from selenium.webdriver.common.by import By
        for tab in self.driver.find_elements(
                By.CSS_SELECTOR, '.jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current'):
            tab.click()

    def run_all(self, timeout: float = 300) -> float:
        """Run > Run All Cells; wait until the kernel is idle with no cell
        pending (twice in a row). Returns the seconds it took."""
        t0 = clicked = time.monotonic()
        self.focus_notebook()
        self.menu('Run', 'runmenu:run-all')
        stable, started = 0, False
        while True:
            time.sleep(1)
            s = self.state() or {'status': None, 'prompts': []}
            pending = any('*' in p for p in s['prompts'])
            if s['status'] == 'dead':
                break
            started = started or pending or any(re.search(r'\d', p) for p in s['prompts'])
            if not started and time.monotonic() - t0 > 60:
                raise TimeoutError(f'Run All started no cell in 60 s: kernel {s["status"]}')
            if not started and time.monotonic() - clicked > 15:
                # a page that has just loaded can drop the first menu click (seen
                # once on a cold server); nothing ran, so asking again is safe
                self.close_menus()
                self.focus_notebook()
                self.menu('Run', 'runmenu:run-all')
                clicked = time.monotonic()
            stable = stable + 1 if (s['status'] == 'idle' and not pending and started) else 0
            if stable >= 2:
                break
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f'Run All did not finish in {timeout:.0f} s: kernel '
                                   f"{s['status']}, prompts {s['prompts']}")
        return time.monotonic() - t0

    def report(self, name: str) -> Report:
        s = self.state()
        data = self.js(_OUTPUTS_JS)
        errors, warnings = classify(data['outputs'])
        if s['status'] != 'idle':
            errors.append(f"kernel status {s['status']!r} after Run All")
        return Report(name=name, prompts=s['prompts'], errors=errors, warnings=warnings,
                      images=data['images'], broken_images=data['broken'])

    def save(self) -> None:
        """File > Save Notebook (keeps the executed notebook as an artefact)."""
        self.menu('File', 'docmanager:save')
        self.wait('notebook saved', lambda: not self.js(
            "return !!document.querySelector('.lm-DockPanel-tabBar "
            ".lm-TabBar-tab.lm-mod-current.jp-mod-dirty');"), 30)

    def screenshot_page(self, path: Path) -> Path:
        """The whole notebook in one PNG: the window is made as tall as the
        notebook for the capture."""
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = self.js(_PANEL + """
const o = p.querySelector('.jp-WindowedPanel-outer') || p.querySelector('.jp-Notebook');
o.scrollTop = 0;
return o.scrollHeight - o.clientHeight;""") or 0
        height = min(WINDOW[1] + int(extra) + 40, MAX_SCREENSHOT_HEIGHT)
        self.driver.set_window_size(WINDOW[0], height)
        try:
            # the newly visible part: images decoded, then two frames painted
            self.driver.set_script_timeout(30)
            self.driver.execute_async_script(_PAINTED_JS)
            time.sleep(0.3)
            self.driver.save_screenshot(str(path))
        finally:
            self.driver.set_window_size(*WINDOW)
        return path

    def element_png(self, element, path: Path | None = None) -> bytes:
        self.js("arguments[0].scrollIntoView({block: 'center'});", element)
        time.sleep(0.3)
        png = element.screenshot_as_png
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png)
        return png

    def move_slider(self, slider, presses: int = 5) -> tuple[str, str]:
        """Move a slider right by ``presses`` steps from the keyboard (a native
        ``input[type=range]`` or an ipywidgets 8 noUiSlider handle; dragged
        with the mouse if the keys do nothing). Returns its readout before and
        after ('' where it has none)."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        def readout():
            return self.js("""
const s = arguments[0];
if (s.matches('input')) return s.value;
const box = s.closest('.widget-slider, .widget-hslider, .jupyter-widgets');
const r = box && box.querySelector('.widget-readout');
return r ? (r.value !== undefined && r.value !== '' ? String(r.value) : r.textContent) : '';""",
                           slider)
        target = slider
        if not slider.tag_name.lower() == 'input':
            handles = slider.find_elements(By.CSS_SELECTOR, '.noUi-handle')
            target = handles[0] if handles else slider
        before = readout()
        self.js("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", target)
        for _ in range(presses):
            target.send_keys(Keys.ARROW_RIGHT)
            time.sleep(0.1)
        after = readout()
        if after == before:
            ActionChains(self.driver).drag_and_drop_by_offset(target, 40, 0).perform()
            time.sleep(0.3)
            after = readout()
        return before, after


def write_notebook(path: Path, sources: list[str]) -> Path:
    """A python3 notebook of code cells ``sources`` (for the tests of the test)."""
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3',
                                 'language': 'python'}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path
