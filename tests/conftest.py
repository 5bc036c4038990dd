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


# ------------------------------------------------------------ browser helpers (test_report, test_docs)
import base64, io, json, re, subprocess

_CHECK_JS = '''<script>
window.addEventListener('load', () => {
  const r = [...document.images].map(i => { const b = i.getBoundingClientRect();
    return {alt: i.alt, ok: i.complete && i.naturalWidth > 0, shown: b.width > 0 && b.height > 0}; });
  const pre = document.createElement('pre'); pre.id = 'img-check'; pre.textContent = JSON.stringify(r);
  document.body.appendChild(pre);
});
</script>'''

def browser_images(page:Path, chromium:str, timeout:int=60, offline:bool=True) -> list:
    "Open `page` in headless Chromium (`offline`: every network request refused); per <img>: {alt, ok (decoded), shown}"
    probe = page.with_name(page.stem + '.check.html')   # same folder, so relative URLs resolve alike
    probe.write_text(page.read_text(encoding='utf-8').replace('</body>', _CHECK_JS + '</body>'), encoding='utf-8')
    try:
        res = subprocess.run([chromium, '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                              '--window-size=1280,1024', *(['--proxy-server=http://127.0.0.1:9', '--proxy-bypass-list=<-loopback>'] if offline else []),
                              '--dump-dom', probe.resolve().as_uri()],
                             capture_output=True, text=True, timeout=timeout)
    finally: probe.unlink()
    m = re.search(r'<pre id="img-check">(.*?)</pre>', res.stdout, re.S)
    assert m, f'page did not load or the check did not run:\n{res.stderr[-2000:]}'
    return json.loads(m.group(1).replace('&quot;', '"').replace('&amp;', '&').replace('&lt;', '<').replace('&gt;', '>'))

def data_uri_images_ok(page:str) -> list:
    "Decode every data: URI image of HTML `page` fully with PIL (catches truncated files a browser shows in part)"
    res = []
    for uri in re.findall(r'<img[^>]*src="data:image/[a-z]+;base64,([^"]+)"', page):
        from PIL import Image
        try: Image.open(io.BytesIO(base64.b64decode(uri))).load(); res.append(True)
        except Exception: res.append(False)
    return res


# ------------------------------------------------------------ the `deepastro` command, shared by test modules


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
