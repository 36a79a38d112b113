"""The GPU device recipe (bench/device/) without a GPU: the fetch list and its
pins, that the carried files plus the device image cover the stack, the pip
download commands, run.sh's modes and its refusals before any build, and the
time plan on hand-made numbers. The setup itself (install the carried wheels,
build xtcocotools and mmcv, import the stack in a clean venv) is one slow test
that runs only with KDKIT_DEVICE_SETUP_TEST=1: it needs the package registry and
builds mmcv, 10-15 min on 2 cores."""
import importlib.metadata as md
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUN_SH = REPO / 'bench' / 'device' / 'run.sh'


def load_recipe():
    spec = importlib.util.spec_from_file_location('recipe', REPO / 'bench/device/recipe.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


recipe = load_recipe()


def run_sh(*args, env=None, timeout=60):
    return subprocess.run(['bash', str(RUN_SH), *args], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=timeout, cwd=REPO)


# ---------------------------------------------------------------- fetch list
def test_fetch_list_is_pinned_by_environment_yml():
    items = {i['name']: i for i in recipe.fetch_list()}
    pins = recipe.env_pins()
    assert pins['mmcv'] == '2.1.0' and pins['torch'] == '2.13.0'
    for name, item in items.items():
        want = pins.get(recipe.canonical(name)) or recipe.EXTRA_PINS[name]
        assert item['version'] == want, name
    assert items['mmcv']['kind'] == 'sdist' and items['xtcocotools']['kind'] == 'sdist'
    assert items['mmpose']['version'] == '1.3.2' and items['setuptools']['version'] == '80.9.0'
    # torch and what the image has are never carried
    assert not {recipe.canonical(n) for n in items} & {recipe.canonical(n)
                                                       for n in recipe.DEVICE_HAS}


def test_extra_pins_are_the_versions_the_tests_run_with():
    pins = recipe.env_pins()
    for name, version in recipe.EXTRA_PINS.items():
        assert pins.get(recipe.canonical(name)) == version, name  # setup installs them
        assert md.version(name) == version, name


def requirements(dist: str) -> set:
    """Run-time requirement names of an installed distribution on the device's
    Python 3.12 / Linux (extras and other platforms' markers dropped)."""
    from packaging.requirements import Requirement
    env = dict(python_version='3.12', python_full_version='3.12.3', sys_platform='linux',
               platform_system='Linux', os_name='posix', extra='')
    out = set()
    for line in md.requires(dist) or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(env):
            out.add(recipe.canonical(req.name))
    return out


def test_the_carried_files_and_the_image_cover_the_stack():
    carried = {recipe.canonical(i['name']) for i in recipe.fetch_list()}
    image = {recipe.canonical(n) for n in recipe.DEVICE_HAS}
    covered = carried | image | {recipe.canonical(recipe.ALIASES.get(n, n)) for n in image}
    aliases = {recipe.canonical(k): recipe.canonical(v) for k, v in recipe.ALIASES.items()}
    for dist in carried - {'setuptools'}:
        for req in requirements(dist) - {'chumpy'}:  # mmpose's broken, unused pin
            assert aliases.get(req, req) in covered, f'{dist} needs {req}'
    # what kdkit itself imports (kdkit/, top-level third-party modules)
    kdkit_needs = {'torch', 'torchvision', 'numpy', 'scipy', 'matplotlib', 'pandas', 'seaborn',
                   'opencv-python', 'pyyaml', 'pillow', 'tqdm', 'onnx', 'onnxruntime',
                   'imageio', 'pycocotools', 'mmengine', 'mmcv', 'mmpose', 'mmdet'}
    for req in kdkit_needs:
        assert aliases.get(req, req) in covered, req


def test_download_commands():
    cmds = {c[-1]: c for c in recipe.download_commands('3.12', 'build/x', pip=['pip'])}
    assert set(cmds) == {f"{i['name']}=={i['version']}" for i in recipe.fetch_list()}
    mmcv = cmds['mmcv==2.1.0']
    assert mmcv[:2] == ['pip', 'download'] and '--no-deps' in mmcv
    assert mmcv[mmcv.index('--no-binary') + 1] == ':all:' and '--python-version' not in mmcv
    shapely = cmds[next(k for k in cmds if k.startswith('shapely=='))]
    assert shapely[shapely.index('--only-binary') + 1] == ':all:'
    assert shapely[shapely.index('--python-version') + 1] == '3.12'
    assert shapely[shapely.index('-d') + 1] == 'build/x'
    assert 'manylinux2014_x86_64' in shapely and 'manylinux_2_28_x86_64' in shapely
    assert '--no-deps' in shapely
    py311 = recipe.download_commands('3.11', 'd', pip=['pip'])
    assert all('3.11' in c for c in py311 if '--only-binary' in c)


def test_fetch_sh_is_the_recipe_fetch():
    text = (REPO / 'bench/device/fetch.sh').read_text()
    assert 'recipe.py fetch "$@"' in text
    assert 'build/device-wheels' in text and recipe.DEFAULT_DEST == 'build/device-wheels'
    assert '/build/' in (REPO / '.gitignore').read_text().split()  # the wheels stay out of git


# ------------------------------------------------------------------- run.sh
def test_run_sh_help_and_an_unknown_mode():
    help_ = run_sh('--help')
    assert help_.returncode == 0
    for word in ('setup-only', 'plan', 'KDKIT_MMCV_CUDA', 'carry', '$OUT', 'How the 10 minutes'):
        assert word in help_.stdout, word
    bad = run_sh('train-everything')
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("run.sh: unknown mode 'train-everything' (expected all, "
                                  'setup-only or plan; --help)')


def test_run_sh_plan_mode_prints_the_recipe_plan():
    out = run_sh('plan', '200', env=dict(KDKIT_SEEDS='0 1 2', KDKIT_JOBS='auto'))
    assert out.returncode == 0, out.stderr
    best = recipe.plan_best(570, 200, 3)
    assert out.stdout.strip().splitlines()[-1] == (
        f"EPOCHS={best['epochs']} TEACHER_EPOCHS={best['teacher_epochs']} JOBS={best['jobs']}")
    assert 'setup and data took 200 s' in out.stdout
    out = run_sh('plan', '100', env=dict(KDKIT_SEEDS='0 1', KDKIT_JOBS='6', KDKIT_BUDGET_S='400'))
    p = recipe.time_plan(400, 100, 2, 6)
    assert out.stdout.strip().splitlines()[-1] == (
        f"EPOCHS={p['epochs']} TEACHER_EPOCHS={p['teacher_epochs']} JOBS=6")


def test_run_sh_refuses_missing_carried_files_before_building(tmp_path):
    env = dict(KDKIT_WHEELS=str(tmp_path / 'none'), KDKIT_SITE=str(tmp_path / 'site'),
               KDKIT_BUILD=str(tmp_path / 'build'), OUT=str(tmp_path / 'out'))
    out = run_sh('setup-only', env=env)
    assert out.returncode == 1
    assert 'not found: run bench/device/fetch.sh here and carry it' in out.stdout
    assert 'not found' in (tmp_path / 'out' / 'setup.log').read_text()
    wheels = tmp_path / 'wheels'
    wheels.mkdir()
    for item in recipe.fetch_list():
        if item['name'] != 'mmcv':
            suffix = '.tar.gz' if item['kind'] == 'sdist' else '-py3-none-any.whl'
            (wheels / f"{item['name']}-{item['version']}{suffix}").write_bytes(b'')
    out = run_sh('setup-only', env=dict(env, KDKIT_WHEELS=str(wheels)))
    assert out.returncode == 1
    assert re.search(r'missing in \S+wheels: mmcv==2\.1\.0 \(sdist\)', out.stdout), out.stdout
    assert not (tmp_path / 'site').exists()  # nothing was installed


def test_run_sh_all_needs_out(tmp_path):
    text = RUN_SH.read_text()
    assert "[ -n \"$OUT\" ] || die 'OUT is not set" in text
    # the bench runs with the plan's epochs and jobs, three seeds, no ONNX timing
    # (the CPU is busy with the training jobs), and writes the record to $OUT
    bench = text[text.index('-m kdkit.cli bench'):]
    for part in ('--profile full', '--seeds $SEEDS', '--epochs "$EPOCHS"',
                 '--teacher-epochs "$TEACHER_EPOCHS"', '--jobs "$JOBS"', '--latency-iters 0',
                 '--out "$OUT"'):
        assert part in bench, part


# ----------------------------------------------------------------- time plan
EST = dict(job_rate=1000.0, machine_rate=8000.0, job_overhead_s=30.0, final_s=40.0, safety=1.0)


def test_time_plan_on_hand_computed_numbers():
    # 3 seeds: phase 1 = 2 teachers + 2 plain x 3 = 8 jobs (1 wave of 8),
    # phase 2 = 8 x 3 = 24 jobs (3 waves); 8000 / 8 = 1000 samples/s a job: an
    # epoch of 6,400 frames takes 6.4 s. (570 - 200 - 40) / 4 waves = 82.5 s a
    # job, minus 30 s overhead = 52.5 s: 8 epochs (teachers 16).
    p = recipe.time_plan(570, 200, seeds=3, jobs=8, est=EST)
    assert (p['waves'], p['epochs'], p['teacher_epochs']) == (4, 8, 16)
    assert p['samples_per_s_per_job'] == 1000 and p['job_s'] == round(30 + 8 * 6.4)
    assert not p['full_schedule']
    assert p['full_schedule_s'] == round(4 * (30 + 60 * 6.4))
    # 16 jobs: 1 + 2 waves, but 500 samples/s each (the machine's rate is shared)
    p16 = recipe.time_plan(570, 200, seeds=3, jobs=16, est=EST)
    assert (p16['waves'], p16['samples_per_s_per_job']) == (3, 500)
    assert p16['epochs'] == 6  # (330 / 3 waves - 30) / 12.8 = 6.25
    # no time left after setup: nothing fits
    assert recipe.time_plan(570, 560, est=EST)['epochs'] == 0
    # a long budget is capped at the configs' 60 epochs (teachers too)
    long = recipe.time_plan(100000, 0, est=EST)
    assert (long['epochs'], long['teacher_epochs'], long['full_schedule']) == (60, 60, True)
    with pytest.raises(ValueError, match='jobs and seeds'):
        recipe.time_plan(570, 0, jobs=0)


def test_plan_best_takes_the_jobs_that_fit_most_epochs():
    best = recipe.plan_best(570, 200, 3, est=EST)
    every = [recipe.time_plan(570, 200, 3, j, EST) for j in recipe.JOB_CHOICES]
    assert best['epochs'] == max(p['epochs'] for p in every)
    assert best['jobs'] == min(p['jobs'] for p in every if p['epochs'] == best['epochs']
                               and p['spare_s'] == best['spare_s'])
    text = recipe.format_plan(best)
    assert text.splitlines()[-1] == (f"EPOCHS={best['epochs']} "
                                     f"TEACHER_EPOCHS={best['teacher_epochs']} JOBS={best['jobs']}")
    assert 'the record states the epochs used' in text


# ------------------------------------------------------------- the setup
def image_site(target: Path) -> Path:
    """A folder standing for the device image's packages: links to this venv's
    distributions except the carried ones (and mmcv, kdkit), which run.sh has
    to bring."""
    import sysconfig
    site = Path(sysconfig.get_paths()['purelib'])
    skip = {recipe.canonical(i['name']) for i in recipe.fetch_list()} | {'kdkit', 'mmcv'}
    target.mkdir(parents=True)
    for dist in md.distributions(path=[str(site)]):
        if recipe.canonical(dist.metadata['Name']) in skip:
            continue
        tops = {Path(str(f)).parts[0] for f in dist.files or []}
        for top in tops - {'..', '__pycache__'}:
            if (site / top).exists() and not (target / top).exists():
                (target / top).symlink_to(site / top)
    return target


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get('KDKIT_DEVICE_SETUP_TEST') != '1',
                    reason='builds mmcv from the carried sdist (10-15 min on 2 cores) and '
                    'fetches the wheels: set KDKIT_DEVICE_SETUP_TEST=1')
def test_setup_only_builds_and_imports_the_stack_in_a_clean_venv(tmp_path):
    """As far as a CPU allows: fetch the carried files for this Python, make a
    clean venv that has only what the device image has (torch, numpy, ...), and
    let run.sh setup-only install, build (CPU ops) and check the stack."""
    py = f'{sys.version_info[0]}.{sys.version_info[1]}'
    wheels = REPO / 'build' / f'device-wheels-py{py.replace(".", "")}'
    subprocess.run(['bash', str(REPO / 'bench/device/fetch.sh'), '--python', py,
                    '--dest', str(wheels)], check=True, cwd=REPO)
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    clean_site = next((venv / 'lib').glob('python*/site-packages'))
    (clean_site / 'device_image.pth').write_text(str(image_site(tmp_path / 'image')) + '\n')
    python = str(venv / 'bin' / 'python')
    gone = subprocess.run([python, '-c', 'import mmcv'], capture_output=True)
    assert gone.returncode != 0  # the clean venv starts without the stack
    out = tmp_path / 'out'
    env = dict(PYTHON=python, KDKIT_WHEELS=str(wheels), KDKIT_SITE=str(tmp_path / 'site'),
               KDKIT_BUILD=str(tmp_path / 'build'), KDKIT_MMCV_CUDA='auto', OUT=str(out))
    env.pop('PYTHONPATH', None)
    proc = run_sh('setup-only', env=env, timeout=3600)
    log = (out / 'setup.log').read_text()
    assert proc.returncode == 0, log[-3000:]
    assert 'setup done' in log and 'kdkit doctor: broken' not in log
    check = subprocess.run(
        [python, '-c', 'import mmcv, mmcv.ops, mmpose, kdkit; print(mmcv.__file__)'],
        capture_output=True, text=True,
        env=dict(os.environ, PYTHONPATH=f"{tmp_path / 'site'}:{REPO}"))
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip().startswith(str(tmp_path / 'site'))
