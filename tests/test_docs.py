"""The documentation without quarto: every notebook processed by nbdev and rendered to HTML, with an index."""
import html, re, time
from pathlib import Path

import nbformat, pytest
from deepastro.report import build_docs, nb_title, nb_description
from conftest import NBS
EXECUTED = '00_surveys.ipynb'   # cheap notebook, executed first so that its page has a figure

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('site')
    t = time.time()
    pages = build_docs(NBS, out, execute=[EXECUTED])
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
