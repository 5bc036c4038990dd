"""The documentation without quarto: every notebook processed by nbdev and rendered to HTML, with an index."""
import html, re, time

import nbformat, pytest
from deepastro.report import build_docs, nb_title, nb_description
from conftest import NBS
EXECUTED = '00_surveys.ipynb'   # a notebook with figures among its stored outputs

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('site')
    t = time.time()
    pages = build_docs(NBS, out)                # the notebooks' stored outputs, nothing executed
    print(f'build_docs: {time.time() - t:.1f} s for {len(pages)} pages')
    return out, pages

def _page_of(pages, title):
    for p in pages:
        if re.search(r'<h1[^>]*>' + re.escape(html.escape(title, quote=False)), p.read_text()): return p

def test_every_notebook_has_a_page(site):
    out, pages = site
    nbs = sorted(NBS.glob('*.ipynb'))
    assert len(pages) == len(nbs) and all(p.exists() for p in pages)
    index = (out/'index.html').read_text()
    for nb in nbs:
        title = nb_title(nb)
        page = _page_of(pages, title)
        assert page is not None, f'no page with heading {title!r} for {nb.name}'
        assert f'href="{page.name}"' in index and html.escape(title) in index
        text = html.unescape(re.sub(r'<[^>]+>', '', page.read_text()))
        assert re.sub(r'[`*]', '', nb_description(nb))[:40] in text               # the prose under the title

def test_prose_and_code(site):
    _, pages = site
    page = _page_of(pages, 'Surveys').read_text()
    assert 'A galaxy-morphology classifier never sees a galaxy' in page          # markdown prose
    assert '<h3 id="n_eff_pixels">' in page and '>source</a>' in page            # show_doc, executed by nbdev
    assert '#|' not in re.sub(r'<script.*?</script>|<style.*?</style>', '', page, flags=re.S)  # directives stripped
    assert 'deepastro.github.io' not in page                                    # doc links made relative

def test_figures_embedded(site):
    _, pages = site
    page = _page_of(pages, nb_title(NBS/EXECUTED)).read_text()
    assert re.search(r'<img[^>]*src="data:image/png;base64,', page)
    assert not re.search(r'<img[^>]*src="(?!data:)', page)                      # self-contained

def test_math_typeset_offline(site, chromium):
    "The TeX of the prose is typeset into the page: no raw `$$`/`\\sigma` in the text, the formulas shown with no network"
    from conftest import browser_images, data_uri_images_ok
    _, pages = site
    page = _page_of(pages, nb_title(NBS/'04_perturb.ipynb'))
    body = page.read_text()
    text = re.sub(r'<script.*?</script>|<style.*?</style>|<img[^>]*>|<pre.*?</pre>|<code.*?</code>', '', body, flags=re.S)
    assert '$$' not in text and '\\mathrm' not in text
    imgs = browser_images(page, chromium, offline=True)
    maths = [i for i in imgs if '\\sigma' in i['alt']]
    assert any(i['alt'] == '\\sigma^2(f) = \\sigma_\\mathrm{sky}^2 + a\\,f,' for i in maths), [i['alt'] for i in maths]
    assert maths and all(i['ok'] and i['shown'] for i in maths), maths
    figs = data_uri_images_ok(body)
    assert figs and all(figs)                                                  # and its figures decode


# ------------------------------------------------------------ the stored outputs

def test_outputs_are_current():
    "Every notebook's stored outputs were made by its current code (fingerprint of code, modules, measured files)"
    from deepastro.report import stale_notebooks
    stale = [f.name for f in stale_notebooks(NBS)]
    assert not stale, (f'outputs older than the code of {stale}: run `deepastro docs --store-outputs` '
                       '(it re-executes just those notebooks) and commit them')

_SHOWS = re.compile(r'^(print|display|show_doc|show_\w+|plot_\w+|imshow|subplots|figure|hist|scatter|plot|Markdown|HTML)$')

def _shows(source:str) -> bool:
    "Would this code cell print or draw? (a call to print/display/plot*/show* at top level, or a value as its last line)"
    import ast
    from deepastro.report import _code_tree, _split_directives
    dirs, body = _split_directives(source)
    if dirs.keys() & {'export', 'exports', 'exporti', 'hide', 'slow'} or dirs.get('eval') == 'false' \
            or dirs.get('output') == 'false': return False
    tree = _code_tree(body)
    if tree is None or not tree.body: return False
    def calls(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)): return
        if isinstance(node, ast.Call):
            f = node.func
            yield f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ''
        for c in ast.iter_child_nodes(node): yield from calls(c)
    names = [n for s in tree.body for n in calls(s)]
    if 'close' in names and 'plt.close' in body: return False   # a figure drawn for a test and closed: shown nowhere
    last = tree.body[-1]
    if isinstance(last, ast.Expr) and not isinstance(last.value, (ast.Call, ast.Await, ast.Constant)): return True
    return any(_SHOWS.match(n) for n in names)

def test_shows_heuristic():
    assert _shows("print(1)") and _shows("df = f()\ndf") and _shows("fig = plot_isomap(z)")
    assert not _shows("#| export\ndef f(): print(1)") and not _shows("test_eq(f(), 1)") and not _shows("x = 1")
    assert not _shows("def g():\n    print(1)") and not _shows("#| eval: false\nprint(1)")
    assert not _shows("ax = plot_open_set(a)\ntest_eq(len(ax), 2)\nplt.close('all')")

def test_cells_that_show_have_outputs():
    "A code cell that prints or plots is stored with its output: a reader sees the table or the figure without running it"
    missing = []
    for f in sorted(NBS.glob('*.ipynb')):
        for i, c in enumerate(nbformat.read(f, as_version=4).cells):
            if c.cell_type == 'code' and _shows(c.source) and not c.get('outputs'):
                missing.append(f'{f.name} cell {i}: {c.source.splitlines()[0][:60]}')
    assert not missing, 'cells that print or plot but have no stored output:\n' + '\n'.join(missing)

def test_every_figure_reaches_its_page(site):
    "Each page whose notebook stores a figure shows at least one, decoded (PIL) and embedded"
    from conftest import data_uri_images_ok
    _, pages = site
    with_figs = [f for f in sorted(NBS.glob('*.ipynb')) if any({'image/png', 'image/jpeg'} & set(o.get('data', {}))
                 for c in nbformat.read(f, as_version=4).cells if c.cell_type == 'code' for o in c.get('outputs', []))]
    assert len(with_figs) >= 8, [f.name for f in with_figs]
    for f in with_figs:
        page = _page_of(pages, nb_title(f)).read_text()
        ok = data_uri_images_ok(page)
        assert ok and all(ok), f'{f.name}: {ok.count(True)} of {len(ok)} figures decode'

def test_notebook_sizes():
    "Stored outputs stay small: no notebook over 3 MB, no single output (a figure, base64) over 400 kB"
    for f in sorted(NBS.glob('*.ipynb')):
        assert f.stat().st_size < 3e6, f'{f.name}: {f.stat().st_size / 1e6:.1f} MB'
        for i, c in enumerate(nbformat.read(f, as_version=4).cells):
            for o in c.get('outputs', []):
                n = len(str(o))
                assert n < 4e5, f'{f.name} cell {i}: an output of {n / 1e3:.0f} kB'

def test_pages_fetch_nothing(site):
    "The pages need no network: no script, style or image loaded from elsewhere (links to the source may point out)"
    _, pages = site
    for p in pages:
        page = p.read_text()
        assert not re.search(r'<(script|img|link)[^>]*\s(src|href)="https?://', page), p.name
        assert 'x-mathjax-config' not in page, p.name

def test_parameters_documented_on_the_pages(site):
    "show_doc puts each parameter's comment (docments) on the page, beside the parameter"
    _, pages = site
    text = html.unescape(re.sub(r'<[^>]+>', '', _page_of(pages, nb_title(NBS/'04_perturb.ipynb')).read_text()))
    assert 'DE mutation factor m' in text and 'pixels changed per image' in text
