"""The report page: two runs (one real results.json, one partial), numbers, links, and a headless-Chromium render."""
import base64, copy, io, json, re, shutil, time
from pathlib import Path

import nbformat, pytest
from PIL import Image
from deepastro.report import write_report, report_rows
from deepastro.pipeline import load_runs, STAGES
from conftest import browser_images, data_uri_images_ok

HERE = Path(__file__).parent

# ---------------------------------------------------------------- synthetic runs

def _png(path:Path, color, size=(120, 80)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new('RGB', size, color).save(path)
    return path

def _nb(path:Path, figure:str=''):
    "A small 'executed' stage notebook that saves `figure` (mentions its file name) and shows an image output"
    path.parent.mkdir(parents=True, exist_ok=True)
    png = io.BytesIO(); Image.new('RGB', (40, 30), 'teal').save(png, 'PNG')
    cell = nbformat.v4.new_code_cell(f"plt.savefig(run / 'figures' / '{figure}')" if figure else 'print(1)')
    cell.outputs = [nbformat.v4.new_output('display_data', data={'image/png': base64.b64encode(png.getvalue()).decode(),
                                                                   'text/plain': '<Figure>'})]
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f'# {path.stem}'), cell]), path)

@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    "Two runs: lsst-y10-y1 (real results: data, baseline, da, robustness) and sdss-decals (baseline, debias, uda only)"
    runs = tmp_path_factory.mktemp('runs')
    full = json.loads((HERE/'fixtures'/'lsst-y10-y1_results.json').read_text())
    part = {k: copy.deepcopy(full[k]) for k in ('data', 'baseline')}
    part['baseline']['target']['accuracy'] = 0.61
    part['stages'] = {s: {'notebook': STAGES[s].notebook, 'status': 'done'} for s in ('data', 'baseline', 'debias', 'uda')}
    part['debias'] = dict(pair='sdss-decals', survey='sdss', n=100, n_test=45, theta=1., gamma=0., theta_fit=1.1, smooth_fraction_fit=0.4,
                          epochs=2, seed=0, L={'naive': {'L': 0.21, 'err': 0.01}, 'de-biased': {'L': 0.05, 'err': 0.01}})
    part['uda'] = dict(pair='sdss-decals', n_uda=100, epochs=2, lr=3e-3, seed=0, eta=0.05, temperature=0.05, margin=0.5, adapt_rho=False,
                       domain_specific_bn=True, anomaly_fraction=0.,
                       models={'source only': {'mode': 'source', 'n_labelled': 0, 'source': {'accuracy': 0.64}, 'target': {'accuracy': 0.18, 'auroc': 0.31}},
                               'UDA, 0 labelled/class': {'mode': 'uda', 'n_labelled': 0, 'source': {'accuracy': 0.64},
                                                         'target': {'accuracy': 0.376, 'auroc': 0.692, 'h_score': 0.2,
                                                                    'auroc_scores': {'entropy': 0.692, 'labelled': 0.915}},
                                                         'clusters': {'purity': 0.93, 'nmi': 0.1}},
                               'oracle': {'mode': 'oracle', 'n_labelled': 0, 'target': {'accuracy': 0.68}}})
    for pair, res in (('lsst-y10-y1', full), ('sdss-decals', part)):
        (runs/pair/'seed-0').mkdir(parents=True); (runs/pair/'seed-0'/'results.json').write_text(json.dumps(res))
    for f, fig in (('02_data', ''), ('03_models', 'baseline_confusion.png'), ('05_da', ''), ('08_evaluate', 'isomaps.png')):
        _nb(runs/'lsst-y10-y1'/'seed-0'/f'{f}.ipynb', fig)
    for f, fig in (('03_models', 'baseline_confusion.png'), ('07_debias', 'bias.png')):
        _nb(runs/'sdss-decals'/'seed-0'/f'{f}.ipynb', fig)
    _png(runs/'lsst-y10-y1'/'seed-0'/'figures'/'baseline_confusion.png', 'navy')
    _png(runs/'lsst-y10-y1'/'seed-0'/'figures'/'isomaps.png', 'orange')
    _png(runs/'sdss-decals'/'seed-0'/'figures'/'baseline_confusion.png', 'green')
    _png(runs/'sdss-decals'/'seed-0'/'figures'/'bias.png', 'purple')
    return runs, load_runs(runs)

NOTEBOOKS = {s: st.notebook for s, st in STAGES.items()}

@pytest.fixture(scope='module')
def report(runs, tmp_path_factory):
    runs_dir, records = runs
    t = time.time()
    page = write_report(records, tmp_path_factory.mktemp('out')/'report.html', runs_dir, notebooks=NOTEBOOKS)
    print(f'write_report: {time.time() - t:.1f} s')
    return page

# ---------------------------------------------------------------- tests

def _cells(page:str, label:str) -> list:
    "The cells (inner HTML) of the table row labelled `label`"
    row = re.search(r'<tr><td class="label">' + re.escape(label) + r'</td>(.*?)</tr>', page)
    assert row, f'no row {label!r}'
    return re.findall(r'<td>(.*?)</td>', row.group(1))

def test_table(report):
    page = report.read_text()
    assert re.search(r'<th class="">lsst-y10-y1</th><th class="">sdss-decals</th>', page)
    base, decals = _cells(page, 'accuracy, target')
    assert '72.6%' in base and '61.0%' in decals
    assert re.search(r'href="report_notebooks/lsst-y10-y1/seed-0/03_models.html"', base)
    da = _cells(page, 'mmd-median:1: gap recovered')
    assert '63.7%' in da[0] and 'href="report_notebooks/lsst-y10-y1/seed-0/05_da.html"' in da[0] and da[1] == '-'
    att = _cells(page, 'baseline: attack success, untargeted')
    assert '72.7%' in att[0] and '08_evaluate.html' in att[0] and att[1] == '-'
    L = _cells(page, 'bias L, naive')
    assert L[0] == '-' and '0.210' in L[1] and '07_debias.html' in L[1]
    auc = _cells(page, 'UDA, 0 labelled/class: AUROC of the flagging score')
    assert auc[0] == '-' and '0.692' in auc[1] and '06_uda.html' not in auc[1]      # no 06_uda notebook in that run folder
    assert '0.915' in _cells(page, 'UDA, 0 labelled/class: AUROC, nearest-labelled-image score')[1]
    assert '39.2%' in _cells(page, 'UDA, 0 labelled/class: gap recovered')[1]   # (0.376 - 0.18) / (0.68 - 0.18)
    assert '37.6%' in _cells(page, 'UDA, 0 labelled/class: accuracy, target')[1]

def test_links_resolve(report):
    page = report.read_text()
    hrefs = re.findall(r'<a href="([^"]+)"', page)
    assert len(hrefs) > 30
    for h in set(hrefs): assert (report.parent/h).is_file(), h
    nbpage = (report.parent/'report_notebooks'/'lsst-y10-y1'/'seed-0'/'08_evaluate.html').read_text()
    assert re.search(r'<img[^>]*src="data:image/png', nbpage)                       # executed outputs kept

def test_rows_missing_sections():
    rows = report_rows({'p': {}})
    assert all(get({}) is None for *_, get in rows)

def test_renders_in_chromium(report, chromium):
    t = time.time()
    imgs = browser_images(report, chromium)
    print(f'chromium: {time.time() - t:.1f} s')
    assert len(imgs) == 4, imgs                                     # 3 figure rows x 2 pairs, 2 of them '-'
    assert all(i['ok'] and i['shown'] for i in imgs), imgs
    assert all(data_uri_images_ok(report.read_text()))

def test_broken_image_fails(runs, tmp_path, chromium):
    runs_dir, records = runs
    bad = tmp_path/'runs'; shutil.copytree(runs_dir, bad)
    (bad/'sdss-decals'/'seed-0'/'figures'/'bias.png').write_bytes(b'not a png' * 10)                 # undecodable
    data = (bad/'lsst-y10-y1'/'seed-0'/'figures'/'isomaps.png').read_bytes()
    (bad/'lsst-y10-y1'/'seed-0'/'figures'/'isomaps.png').write_bytes(data[:len(data) // 2])        # truncated
    page = write_report(records, tmp_path/'report.html', bad, notebooks=NOTEBOOKS, render_nbs=False)
    imgs = {i['alt']: i['ok'] for i in browser_images(page, chromium)}
    assert imgs == {'lsst-y10-y1/seed-0: baseline_confusion.png': True, 'lsst-y10-y1/seed-0: isomaps.png': True,
                    'sdss-decals/seed-0: baseline_confusion.png': True, 'sdss-decals/seed-0: bias.png': False}
    assert data_uri_images_ok(page.read_text()).count(False) == 2              # PIL catches the truncated one too
