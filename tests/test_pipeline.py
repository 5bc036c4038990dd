"""Papermill runs of the stage notebooks with non-default parameters, and the `deepastro` command."""
import json, subprocess, sys
from pathlib import Path
import nbformat, pytest, papermill as pm
from conftest import ROOT, NBS, _cli, _comparable

def test_papermill_parameters_take_effect(tmp_path):
    "Run the data stage for another pair, size and seed; the run's outputs must show all three"
    from deepastro.data import load_dataset
    out = tmp_path / '02_data.ipynb'
    pm.execute_notebook(str(NBS / '02_data.ipynb'), str(out), kernel_name='python3', cwd=str(NBS), progress_bar=False,
                        parameters=dict(pair='sdss-stripe82', n_galaxies=37, seed=11, run_dir=str(tmp_path / 'run')))
    res = json.loads((tmp_path / 'run' / 'results.json').read_text())['data']
    assert res['pair'] == 'sdss-stripe82' and res['n_galaxies'] == 37 and res['seed'] == 11
    img, meta, prov = load_dataset(res['files']['source'])
    assert img.shape == (37, 3, 64, 64) and prov['survey'] == 'sdss' and prov['seed'] == 11
    img_t, _, prov_t = load_dataset(res['files']['target'])
    assert prov_t['survey'] == 'sdss-stripe82'
    # papermill injected its cell right after the tagged parameters cell
    nb = nbformat.read(str(out), as_version=4)
    i = next(k for k, c in enumerate(nb.cells) if 'parameters' in c.metadata.get('tags', []))
    assert 'injected-parameters' in nb.cells[i + 1].metadata.get('tags', [])

def test_robustness_stage_unpaired_pair(tmp_path):
    "The robustness stage on SDSS -> DECaLS (different galaxies in the two surveys) runs and skips only the paired parts"
    run = tmp_path / 'run'
    pm.execute_notebook(str(NBS / '08_evaluate.ipynb'), str(tmp_path / '08.ipynb'), kernel_name='python3', cwd=str(NBS),
                        progress_bar=False, parameters=dict(pair='sdss-decals', n_galaxies=300, epochs=2, n_curve=80,
                                                            n_attack=4, generations=3, n_isomap=60, run_dir=str(run)))
    res = json.loads((run / 'results.json').read_text())['robustness']
    for m in ('baseline', 'da'):
        r = res['models'][m]
        assert 0 <= r['target']['accuracy'] <= 1 and 'noisy' not in r['latent'] and 'perturbed' in r['latent']
    assert (run / 'figures' / 'isomaps.png').exists() and not (run / 'figures' / 'church_windows.png').exists()

def test_cli_lists_pairs(tmp_path):
    r = _cli('pairs', cwd=tmp_path)
    assert r.returncode == 0 and 'lsst-y10-y1' in r.stdout and 'sdss-decals' in r.stdout

@pytest.mark.parametrize('args,msg', [
    (['run', 'sdss-hsc'], "unknown survey pair 'sdss-hsc'; valid pairs: lsst-y10-y1"),
    (['run', 'lsst-y10-y1', '-p', 'n_galaxy', '3'], "unknown parameter(s) ['n_galaxy']"),
    (['run', 'lsst-y10-y1', '-p', 'n_galaxies', 'many'], "must be int"),
    (['run', 'lsst-y10-y1', '-p', 'epochs', '-1'], "parameter 'epochs' of 03_models.ipynb must be >= 1, got -1"),
    (['run', 'lsst-y10-y1', '--params', 'missing.yaml'], "parameter file not found"),
    (['run', 'lsst-y10-y1', '--stages', 'baseline,isomap'], "unknown stage(s) ['isomap']"),
    (['run', 'lsst-y10-y1', '--jobs', '0'], "--jobs must be at least 1"),
    (['run', 'lsst-y10-y1', '--seeds', '0,zero'], "--seeds must be integers"),
    (['run', 'lsst-y10-y1', '--seeds', '2,2'], "distinct seeds"),
])
def test_cli_bad_input(tmp_path, args, msg):
    r = _cli(*args, '--runs-dir', str(tmp_path), cwd=tmp_path)
    assert r.returncode == 2 and msg in r.stderr, r.stderr
    assert not any(tmp_path.iterdir()), "nothing should be written for rejected input"

def test_cli_params_file_and_run_dir_version(tmp_path):
    "A YAML file of overrides is checked like -p; a run folder from another version is refused, untouched"
    (tmp_path / 'p.yaml').write_text('n_galaxies: many\n')
    r = _cli('run', 'lsst-y10-y1', '--params', str(tmp_path / 'p.yaml'), '--runs-dir', str(tmp_path / 'runs'), cwd=tmp_path)
    assert r.returncode == 2 and "must be int" in r.stderr, r.stderr
    old = tmp_path / 'runs' / 'lsst-y10-y1' / 'seed-0'; old.mkdir(parents=True)
    text = json.dumps({'deepastro_version': '0.0.1', 'baseline': {'source': {'accuracy': 0.9}}})
    (old / 'results.json').write_text(text)
    r = _cli('run', 'lsst-y10-y1', '--runs-dir', str(tmp_path / 'runs'), cwd=tmp_path)
    assert r.returncode == 2 and 'written by deepastro 0.0.1' in r.stderr, r.stderr
    assert (old / 'results.json').read_text() == text and [p.name for p in old.iterdir()] == ['results.json']

def test_cli_unwritable_runs_dir(tmp_path):
    "A runs folder that cannot be made (a file stands in its path) is refused before anything runs"
    (tmp_path / 'a-file').write_text('x')
    r = _cli('run', 'lsst-y10-y1', '--runs-dir', str(tmp_path / 'a-file' / 'runs'), cwd=tmp_path)
    assert r.returncode == 2 and 'cannot write into' in r.stderr and 'not a folder' in r.stderr, r.stderr
    assert (tmp_path / 'a-file').read_text() == 'x' 

def test_cli_quick_run_and_resume(quick_run):
    """A small run of the main job: executed notebooks, logs, records, tables, figures, summary; a second call skips
    finished stages. A second pair whose first stage fails keeps its notebook with the error, and does not stop the first.
    Two stages run at a time, each in its own process with half the cores as threads; nothing but deepastro's own
    lines reaches the terminal."""
    tmp_path, r = quick_run; bad = tmp_path / 'sdss-decals' / 'seed-0'
    assert r.returncode == 1 and 'sdss-decals/seed-0 failed: data stage' in r.stderr, r.stdout + r.stderr
    assert '2 stage(s) at a time' in r.stdout and '[7/12 stages' in r.stdout, r.stdout
    for noise in ('IPKernelApp', 'FutureWarning', 'Executing Cell', 'Warning'): assert noise not in r.stdout + r.stderr, noise
    assert json.loads((bad / 'results.json').read_text())['stages']['data']['status'] == 'failed'
    err_nb = nbformat.read(str(bad / '02_data.ipynb'), as_version=4)
    assert any(o.get('output_type') == 'error' for c in err_nb.cells for o in c.get('outputs', []))
    run = tmp_path / 'lsst-y10-y1' / 'seed-0'
    from deepastro.pipeline import STAGES, load_run, pair_params
    for s in STAGES.values():
        assert (run / s.notebook).exists(), s.notebook
        log = (run / 'logs' / f'{s.name}.log').read_text(); assert 'Executing Cell' in log, s.name
    assert 'epoch' in (run / 'logs' / 'baseline.status').read_text()     # the last status line of its training
    res = json.loads((run / 'results.json').read_text())
    assert all(res['stages'][s]['status'] == 'done' for s in STAGES)
    import os
    assert {res['stages'][s]['threads'] for s in STAGES} == {max(1, len(os.sched_getaffinity(0)) // 2)}
    rec = load_run(run)
    assert set(rec) == set(STAGES)
    da = rec['da']; assert da.oracle_target_acc > 0 and da.saved in da.methods
    assert (da.gap_won() == da.gap_won()) == (da.oracle_target_acc > da.baseline['target'])   # defined exactly when there is a gap
    rob = rec['robustness']; assert set(rob.models) == {'baseline', 'da'} and 0 <= rob.attack_success('baseline') <= 1
    assert (run / 'models' / 'da_convnet.pth').exists() and (run / 'figures' / 'robustness_curves.png').exists()
    b = rec['baseline']
    assert b.epochs == pair_params('lsst-y10-y1', quick=True)['epochs'] and b.source['n'] > 0
    assert b.source['accuracy'] > 0.5 and 0 <= b.target['accuracy'] <= 1   # three classes: chance is 1/3
    assert (run / 'figures' / 'baseline_confusion.png').stat().st_size > 1000
    assert 'source acc' in r.stdout and 'lsst-y10-y1' in r.stdout
    u = rec['uda']; assert u.unknown == ['merger'] and u.classes == ['spiral', 'elliptical']
    assert {'source only', 'UDA, 0 labelled/class', 'UDA, 10 labelled/class', 'oracle'} <= set(u.models)
    assert u.models['source only']['target']['n_unknown'] > 0 and (run / 'figures' / 'uda_latents.png').exists()
    d = rec['debias']; assert d.L['naive']['L'] > 0 and 0 < d.accuracy['debiased'] <= 1 and d.theta_fit > 0
    assert 'source.accuracy' in (run / 'tables' / 'baseline.csv').read_text()
    assert (tmp_path / 'summary.csv').read_text().startswith('pair,seeds,')
    assert (tmp_path / 'lsst-y10-y1' / 'seeds.csv').read_text().startswith('stage,metric,mean,se,n_seeds,seed 0')
    page = (tmp_path / 'report.html').read_text()
    assert 'lsst-y10-y1' in page and 'report_notebooks/lsst-y10-y1/seed-0/05_da.html' in page and 'sdss-decals' in page
    args = ('run', 'lsst-y10-y1', '--quick', '--runs-dir', str(tmp_path))
    r2 = _cli(*args, cwd=tmp_path)
    assert r2.returncode == 0 and r2.stdout.count('finished') == len(STAGES), r2.stdout
    assert all(json.loads((run / 'results.json').read_text())['stages'][s]['seconds'] == res['stages'][s]['seconds'] for s in STAGES)

def test_installed_wheel_runs_the_quick_pipeline(quick_run, tmp_path):
    """`pip install` of a built wheel (not editable, outside the checkout) runs `deepastro run lsst-y10-y1 --quick` (its
    data and baseline stages) from any folder, with the notebooks and parameter files it carries; its records equal
    the checkout's run (same seed and thread count)"""
    import os, zipfile
    dist, site, work = tmp_path / 'dist', tmp_path / 'site', tmp_path / 'elsewhere'
    for cmd in (lambda: [sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(dist), str(ROOT)],
                lambda: [sys.executable, '-m', 'pip', 'install', '--no-deps', '-q', '--target', str(site), *map(str, dist.glob('*.whl'))]):
        p = subprocess.run(cmd(), capture_output=True, text=True, cwd=tmp_path); assert p.returncode == 0, p.stdout + p.stderr
    names = zipfile.ZipFile(next(dist.glob('*.whl'))).namelist()
    assert 'deepastro/nbs/05_da.ipynb' in names and 'deepastro/nbs/pairs/lsst-y10-y1.yaml' in names and 'deepastro/nbs/params/quick.yaml' in names
    assert not any(n.startswith('deepastro/nbs/_') or n == 'deepastro/scale.py' for n in names), names   # nothing stale
    work.mkdir(); env = {**os.environ, 'PYTHONPATH': str(site)}
    where = subprocess.run([sys.executable, '-c', 'import deepastro.pipeline as p; print(p.nbs_dir())'], capture_output=True, text=True, cwd=work, env=env)
    assert where.stdout.strip() == str(site / 'deepastro' / 'nbs'), where.stdout + where.stderr    # not the checkout
    exe = site / 'bin' / 'deepastro'
    # the first two stages (the whole chain runs from the checkout in `quick_run`; the wheel carries the same notebooks)
    r = subprocess.run([str(exe), 'run', 'lsst-y10-y1', '--quick', '--stages', 'data,baseline', '--runs-dir', 'runs', '--jobs', '2'],
                       capture_output=True, text=True, cwd=work, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    from deepastro.pipeline import load_run
    mine, theirs = load_run(work / 'runs' / 'lsst-y10-y1' / 'seed-0'), load_run(quick_run[0] / 'lsst-y10-y1' / 'seed-0')
    assert set(mine) == {'data', 'baseline'} and set(mine) <= set(theirs)
    for s in mine: assert _comparable(mine[s].to_dict()) == _comparable(theirs[s].to_dict()), s
