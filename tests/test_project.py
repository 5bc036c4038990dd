"""The project from outside: generated code in sync, notebooks clean, README generated, CI = README test command."""
import json, shutil, subprocess, re, sys
from pathlib import Path
import nbformat, pytest
from conftest import ROOT, NBS, STAGE_NOTEBOOKS

def _git(*args):
    return subprocess.run(['git', *args], cwd=ROOT, capture_output=True, text=True)

def _state():
    "Status and diff of the work tree, to compare before and after a command"
    return _git('status', '--porcelain').stdout + _git('diff').stdout

@pytest.mark.skipif(not (ROOT / '.git').exists(), reason='not a git checkout')
def test_export_and_clean_leave_tree_unchanged():
    before = _state()
    for cmd in (['nbdev_export'], ['nbdev_clean']):
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    after = _state()
    assert before == after, f"nbdev_export/nbdev_clean changed the tree:\n{_git('status', '--porcelain').stdout}"

def _param_cells(path):
    nb = nbformat.read(str(path), as_version=4)
    return [c for c in nb.cells if 'parameters' in c.metadata.get('tags', [])]

@pytest.mark.parametrize('name', ['02_data.ipynb', '03_models.ipynb'])
def test_stage_notebook_has_one_parameters_cell_that_survives_clean(name, tmp_path):
    assert len(_param_cells(NBS / name)) == 1
    # clean a copy (nbdev_clean reads settings.ini from the copy's project)
    shutil.copy(ROOT / 'settings.ini', tmp_path / 'settings.ini')
    (tmp_path / 'nbs').mkdir(); dst = tmp_path / 'nbs' / name
    shutil.copy(NBS / name, dst)
    r = subprocess.run(['nbdev_clean', '--fname', str(dst)], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cells = _param_cells(dst)
    assert len(cells) == 1 and 'n_galaxies' in cells[0].source

def test_every_module_comes_from_a_notebook():
    mods = {p.stem for p in (ROOT / 'deepastro').glob('*.py')} - {'__init__', '_modidx'}
    exp = set()
    for nb in NBS.glob('*.ipynb'):
        for c in nbformat.read(str(nb), as_version=4).cells:
            m = re.match(r'#\|\s*default_exp\s+(\S+)', c.source)
            if c.cell_type == 'code' and m: exp.add(m.group(1))
    assert mods == exp, f"modules without notebooks: {mods - exp}; notebooks without modules: {exp - mods}"

def test_readme_is_generated_from_index():
    from deepastro.pipeline import readme_text
    assert (ROOT / 'README.md').read_text() == readme_text(NBS / 'index.ipynb'), "run `deepastro readme`"

def test_ci_runs_the_readme_test_command():
    ci = (ROOT / '.ci' / 'run').read_text().strip().splitlines()[-1]
    readme = (ROOT / 'README.md').read_text()
    assert 'nbdev_test' in ci and 'pytest' in ci
    assert ci in readme, f"README does not contain the CI command {ci!r}"

def test_generated_modules_have_no_undefined_names():
    "A name imported only in a notebook's test cells would pass nbdev_test and fail for users of the package"
    r = subprocess.run([sys.executable, '-m', 'pyflakes', *map(str, sorted((ROOT / 'deepastro').glob('*.py')))],
                       capture_output=True, text=True)
    bad = [l for l in r.stdout.splitlines() if 'undefined name' in l]
    assert not bad, '\n'.join(bad)

def test_generated_modules_compile_without_warnings():
    "A backslash in a docstring (TeX) that is not a raw string is a SyntaxWarning today and an error in a later Python"
    import warnings
    for f in sorted((ROOT / 'deepastro').glob('*.py')):
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            compile(f.read_text(), str(f), 'exec')

def _imports(path:Path) -> set:
    "deepastro modules a module imports anywhere (top level or inside functions)"
    import ast
    out = set()
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.ImportFrom):
            mod = ('deepastro.' + n.module if n.level and n.module else 'deepastro' if n.level else n.module) or ''
            if mod == 'deepastro': out |= {a.name for a in n.names}
            elif mod.startswith('deepastro.'): out.add(mod.split('.')[1])
        elif isinstance(n, ast.Import):
            out |= {a.name.split('.')[1] for a in n.names if a.name.startswith('deepastro.')}
    return out

def test_no_import_cycles():
    "The modules form a layered graph: no module imports one that (directly or not) imports it back"
    mods = {p.stem: p for p in (ROOT / 'deepastro').glob('*.py') if p.stem not in ('__init__', '_modidx')}
    graph = {m: _imports(p) & set(mods) - {m} for m, p in mods.items()}
    def reach(m, seen):
        for n in graph[m]:
            if n not in seen: seen.add(n); reach(n, seen)
        return seen
    cycles = sorted(m for m in graph if m in reach(m, set()))
    assert not cycles, f"modules in an import cycle: {cycles}; graph: {graph}"
    assert graph['core'] == set(), graph['core']          # the process helpers depend on nothing else of deepastro

def _constraints():
    pins = {}
    for line in (ROOT / 'constraints.txt').read_text().splitlines():
        if line.strip() and not line.startswith('#'):
            name, sep, ver = line.partition('==')
            assert sep and ver, f"constraints.txt: {line!r} is not name==version"
            pins[name.lower().replace('_', '-')] = ver
    return pins

def test_constraints_pin_every_requirement_and_the_package_keeps_ranges():
    "constraints.txt fixes one tested version of every requirement, inside its range; settings.ini itself pins nothing"
    from configparser import ConfigParser
    from packaging.requirements import Requirement
    cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini')
    pins = _constraints()
    for r in cfg['DEFAULT']['requirements'].split() + cfg['DEFAULT']['dev_requirements'].split():
        req = Requirement(r); name = req.name.lower().replace('_', '-')
        assert not any(s.operator in ('==', '===') for s in req.specifier), f"settings.ini pins {r}: a library keeps ranges"
        assert name in pins, f"{req.name} is required but missing from constraints.txt (run .ci/refresh-constraints)"
        assert req.specifier.contains(pins[name], prereleases=True), f"constraints.txt has {req.name}=={pins[name]}, outside {r}"

def test_the_readme_installs_use_the_constraints():
    readme = (ROOT / 'README.md').read_text()
    installs = [l for l in readme.splitlines() if l.startswith('pip install')]
    assert len(installs) == 2 and all('-c constraints.txt' in l for l in installs), installs

def _public_callables():
    "(module, name, object) of every function and class in a deepastro module's __all__, defined there"
    import importlib, inspect, pkgutil, deepastro
    for m in pkgutil.iter_modules(deepastro.__path__):
        if m.name.startswith('_'): continue
        mod = importlib.import_module(f'deepastro.{m.name}')
        for name in getattr(mod, '__all__', []):
            o = getattr(mod, name, None)
            if (inspect.isfunction(o) or inspect.isclass(o)) and o.__module__ == mod.__name__: yield m.name, name, o

def test_parameters_are_documented_inline():
    "Every public function or class with more than four parameters says, beside each, what it is (docments)"
    import inspect
    from fastcore.docments import docments
    missing, n = [], 0
    for mod, name, o in _public_callables():
        try: sig = inspect.signature(o.__init__ if inspect.isclass(o) else o)
        except (TypeError, ValueError): continue
        ps = [p for p in sig.parameters if p not in ('self', 'cls')]
        if len(ps) <= 4: continue
        n += 1
        docs = docments(o, full=False, args_kwargs=True)
        bad = [p for p in ps if not docs.get(p)]
        if bad: missing.append(f'{mod}.{name}: {bad}')
    assert n >= 90, n
    assert not missing, 'parameters without a comment:\n' + '\n'.join(missing)

def test_export_cells_are_short():
    """Export cells read as documentation: none over 60 lines, the median under 25; one whose code (its docments
    parameter lines not counted) runs past 40 lines follows prose saying why it is kept whole"""
    import ast, statistics
    def code_lines(s):
        lines, sig = s.splitlines(), set()
        for n in ast.walk(ast.parse(s)):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.body:
                sig |= set(range(n.lineno + 1, n.body[0].lineno))   # one parameter per line, each with its comment
        return len(lines) - len(sig)
    lengths, unexplained = [], []
    for f in sorted(NBS.glob('*.ipynb')):
        cells = json.loads(f.read_text())['cells']
        for i, c in enumerate(cells):
            s = ''.join(c['source'])
            if c['cell_type'] != 'code' or not s.startswith('#| export'): continue
            lengths.append((len(s.splitlines()), f.name, s.splitlines()[1][:60]))
            if code_lines(s) > 40:
                prose = [''.join(cells[i - 1]['source'])] if cells[i - 1]['cell_type'] == 'markdown' else []
                if not any('kept whole' in p for p in prose): unexplained.append((f.name, i, s.splitlines()[1][:60]))
    long = [l for l in lengths if l[0] > 60]
    assert not long, f'export cells over 60 lines: {sorted(long, reverse=True)}'
    assert statistics.median(l[0] for l in lengths) <= 25
    assert not unexplained, f'export cells of over 40 lines of code without prose saying why they are kept whole: {unexplained}'
