import os, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
STAGE_NOTEBOOKS = sorted(p.name for p in NBS.glob('[0-9][0-9]_*.ipynb'))

@pytest.fixture(scope='session')
def root(): return ROOT

@pytest.fixture(scope='session')
def nbs(): return NBS

def chromium_path():
    import shutil
    return shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')

@pytest.fixture(scope='session')
def chromium():
    "Headless Chromium for the browser tests; installed with Debian's package (apt) when missing and we are root"
    import shutil, subprocess
    if chromium_path(): return chromium_path()
    if os.geteuid() != 0 or not shutil.which('apt-get'):
        pytest.skip("chromium missing and cannot be installed here: run `apt-get install -y chromium` as root")
    env = {**os.environ, 'DEBIAN_FRONTEND': 'noninteractive'}
    for cmd in (['apt-get', 'update'], ['apt-get', 'install', '-y', '--no-install-recommends', 'chromium']):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    assert chromium_path(), 'chromium was installed but is not on PATH'
    return chromium_path()


# ------------------------------------------------------------ the `deepastro` command, shared by test modules
import subprocess, sys

def _cli(*args, cwd):
    code = 'import sys; from deepastro.pipeline import main; sys.exit(main(sys.argv[1:]))'
    return subprocess.run([sys.executable, '-c', code, *args], cwd=cwd, capture_output=True, text=True)

def _comparable(d):
    "A record's dictionary without what differs between two identical runs: wall-clock times and file paths"
    if isinstance(d, dict): return {k: _comparable(v) for k, v in d.items() if 'seconds' not in k and k != 'files'}
    if isinstance(d, list): return [_comparable(v) for v in d]
    return d

@pytest.fixture(scope='session')
def quick_run(tmp_path_factory):
    "The quick main job from the checkout, beside a pair whose data stage fails: (runs folder, first result of the command)"
    tmp_path = tmp_path_factory.mktemp('quick')
    bad = tmp_path / 'sdss-decals' / 'seed-0'; bad.mkdir(parents=True); (bad / 'data').write_text('a file where the data folder should be')
    return tmp_path, _cli('run', 'sdss-decals', 'lsst-y10-y1', '--quick', '--runs-dir', str(tmp_path), '--jobs', '2', cwd=tmp_path)
