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
