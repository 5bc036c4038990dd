"""Past one machine: survey-pair runs on a local Dask cluster (deepastro.pipeline) (failures isolated, progress streamed back), and
data-parallel training (deepastro.ddp) on 2 CPU processes with the gloo backend (sharding, accuracy against 1 process, torchrun)."""
import sys, os, json, math, time, shutil, subprocess
from pathlib import Path
import pytest, torch
from deepastro import ddp
from deepastro.pipeline import run_pairs_dask, pair_task
from deepastro.ddp import train_distributed, free_port

def touch_runner(pair, runs_dir, overrides, log=print, **kw):
    "A stand-in for `run_pair`: logs two lines, writes runs_dir/pair/done.txt, and raises for pairs starting with 'bad'"
    d = Path(runs_dir) / pair; d.mkdir(parents=True, exist_ok=True)
    log(f"[{pair}] start with {overrides}")
    time.sleep(0.2)
    if pair.startswith('bad'): raise RuntimeError(f"boom in {pair}")
    (d / 'done.txt').write_text(json.dumps(overrides))
    log(f"[{pair}] done")
    return dict(pair=pair, n=overrides.get('n'))

def test_pair_task_in_process(tmp_path):
    "Outside a cluster the task function still works, prints its lines and turns an exception into a failed outcome"
    ok = pair_task('a', tmp_path, dict(n=1), touch_runner)
    bad = pair_task('bad-b', tmp_path, {}, touch_runner)
    assert ok['status'] == 'ok' and ok['results'] == dict(pair='a', n=1) and (tmp_path / 'a' / 'done.txt').exists()
    assert bad['status'] == 'failed' and 'RuntimeError: boom in bad-b' in bad['error'] and 'Traceback' in bad['traceback']

def test_local_cluster(tmp_path):
    "Four pairs on a 2-worker local cluster: the failing one is reported, the others finish, progress lines come back"
    lines = []
    t0 = time.perf_counter()
    out = run_pairs_dask(['p1', 'bad-p2', 'p3', 'p4'], dict(n=7), tmp_path / 'runs', scheduler='local', n_workers=2,
                         runner=touch_runner, log=lines.append)
    dt = time.perf_counter() - t0
    print(f"\nlocal-cluster test: {dt:.1f} s"); print('\n'.join(lines))
    assert list(out) == ['p1', 'bad-p2', 'p3', 'p4']
    assert out['bad-p2']['status'] == 'failed' and 'boom in bad-p2' in out['bad-p2']['error']
    for p in ('p1', 'p3', 'p4'):
        assert out[p]['status'] == 'ok' and out[p]['results'] == dict(pair=p, n=7), out[p]
        assert json.loads((tmp_path / 'runs' / p / 'done.txt').read_text()) == dict(n=7)
    assert not (tmp_path / 'runs' / 'bad-p2' / 'done.txt').exists()
    assert len({o['worker'] for o in out.values()}) == 2          # both workers were used
    for p in out: assert f"[{p}] start with {{'n': 7}}" in lines   # progress lines streamed from the workers
    assert '[bad-p2] FAILED: RuntimeError: boom in bad-p2' in lines
    assert dt < 60

def test_existing_client_and_dead_worker(tmp_path):
    "With a Client passed in it is reused and left open; a task that kills its worker is reported (KilledWorker), not raised"
    import dask
    from distributed import Client, LocalCluster
    # the first death is final (dask's default retries a killed task on restarted workers, which on a loaded machine takes minutes)
    with dask.config.set({'distributed.scheduler.allowed-failures': 0}), \
         LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as c, Client(c) as client:
        out = run_pairs_dask(['p1'], {}, tmp_path, scheduler=client, runner=touch_runner, log=lambda m: None)
        assert out['p1']['status'] == 'ok' and client.status == 'running'
        out = run_pairs_dask(['p9'], {}, tmp_path, scheduler=client, runner=suicide_runner, log=lambda m: None)
        assert out['p9']['status'] == 'failed' and 'KilledWorker' in out['p9']['error'], out['p9']

def suicide_runner(pair, runs_dir, overrides, log=print, **kw):
    "A runner whose worker process dies (as on an out-of-memory kill)"
    import os; os._exit(1)

def test_validation_rejects_bad_input(tmp_path):
    "With the real runner, unknown pairs and parameters fail before anything is submitted"
    with pytest.raises(KeyError): run_pairs_dask(['no-such-pair'], {}, tmp_path, scheduler='local')
    with pytest.raises(KeyError): run_pairs_dask(['lsst-y10-y1'], {'no_such_param': 1}, tmp_path, scheduler='local')

def papermill_runner(pair, runs_dir, overrides, log=print, **kw):
    "Execute a tiny parameterised notebook with papermill, as `run_pair` does, to show kernels start inside dask workers"
    import nbformat, papermill as pm
    d = Path(runs_dir) / pair; d.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1", metadata=dict(tags=['parameters'])),
        nbformat.v4.new_code_cell("import os, pathlib\nassert x != 13, 'unlucky'\n"
                                  "pathlib.Path(run_dir, 'out.txt').write_text(f\"{x} {os.environ.get('OMP_NUM_THREADS')}\")")],
        metadata=dict(kernelspec=dict(name='python3', display_name='Python 3', language='python'), language_info=dict(name='python')))
    nbformat.write(nb, str(d / 'tiny.ipynb'))
    log(f"[{pair}] executing tiny.ipynb")
    pm.execute_notebook(str(d / 'tiny.ipynb'), str(d / 'tiny.out.ipynb'), parameters=dict(run_dir=str(d), **overrides),
                        progress_bar=False, kernel_name='python3')
    return (d / 'out.txt').read_text()

def test_papermill_in_workers(tmp_path):
    "Notebook kernels start from dask worker processes; a failing notebook's error text comes back; `threads` reaches the kernel"
    t0 = time.perf_counter()
    ok = run_pairs_dask(['p1'], dict(x=2), tmp_path, scheduler='local', runner=papermill_runner, threads=2, log=lambda m: None)
    bad = run_pairs_dask(['p2'], dict(x=13), tmp_path, scheduler='local', runner=papermill_runner, log=lambda m: None)
    print(f"\npapermill-in-dask test: {time.perf_counter() - t0:.1f} s")
    assert ok['p1']['status'] == 'ok' and ok['p1']['results'] == '2 2', ok['p1']
    assert bad['p2']['status'] == 'failed' and 'AssertionError' in bad['p2']['error'] and 'unlucky' in bad['p2']['error'], bad['p2']['error']

@pytest.fixture(scope='module')
def paths(tmp_path_factory):
    from deepastro.data import make_pair_dataset
    return make_pair_dataset('lsst-y10-y1', 600, tmp_path_factory.mktemp('data'), seed=0, verbose=False)

def _shard_worker(rank, world_size, port, out_dir):
    "One gloo process: wrap ArrayDataLoaders (train: shuffled, drop_last; valid: ordered) and record what this rank draws"
    from deepastro.data import ArrayDataLoader
    from fastai.distributed import DistributedDL
    ddp.set_dist_env(rank, world_size, port=port); ddp.init_gloo()
    n = 101; x, y = torch.arange(n).float()[:, None], torch.zeros(n, dtype=torch.long)
    res = {}
    for name, dl in dict(train=ArrayDataLoader(x, y, bs=8, shuffle=True, seed=rank),   # different seeds: rank 0's order must win
                         valid=ArrayDataLoader(x, y, bs=16)).items():
        d = ddp.CPUDistributedDL(dl)
        res[name] = dict(epochs=[[int(v) for b in d for v in b[0][:, 0]] for _ in range(2)], n_batches=len(list(d)), len=len(d))
    try: next(iter(DistributedDL(ArrayDataLoader(x, y, bs=8)))); res['fastai_cpu'] = 'ok'
    except Exception as e: res['fastai_cpu'] = f"{type(e).__name__}: {e}"
    Path(out_dir, f'shard{rank}.json').write_text(json.dumps(res))
    torch.distributed.destroy_process_group()

def test_distributed_dl_shards_array_loader(tmp_path):
    "Each rank gets a disjoint half of rank 0's permutation (padded to even), a fresh one each epoch, and len() is exact"
    import torch.multiprocessing as mp
    mp.start_processes(_shard_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, start_method='spawn')
    r = [json.loads((tmp_path / f'shard{i}.json').read_text()) for i in range(2)]
    for ep in range(2):
        tr = [r[i]['train']['epochs'][ep] for i in range(2)]
        assert len(tr[0]) == len(tr[1]) == 48                     # 51 indices per rank, drop_last -> 6 batches of 8
        assert not set(tr[0]) & set(tr[1])                        # disjoint shards of one broadcast permutation
        va = r[0]['valid']['epochs'][ep] + r[1]['valid']['epochs'][ep]
        assert sorted(va) == sorted(list(range(101)) + [0])       # everything once, padded with a repeat of the first
    assert r[0]['train']['epochs'][0] != r[0]['train']['epochs'][1]   # reshuffled every epoch
    for i in range(2):
        for k in ('train', 'valid'): assert r[i][k]['len'] == r[i][k]['n_batches']
    assert 'NVIDIA' in r[0]['fastai_cpu'] or 'CUDA' in r[0]['fastai_cpu']   # fastai's own DistributedDL needs a GPU

def se(p, n): return math.sqrt(p * (1 - p) / n)

KW = dict(epochs=6, bs=32, lr=3e-3, seed=0, threads=1)   # 600 galaxies, 13 steps/epoch: learns well above chance in 6 epochs

@pytest.fixture(scope='module')
def two_proc(paths, tmp_path_factory):
    "The 2-process run (spawn launcher), shared by the comparison and the torchrun test"
    t0 = time.perf_counter(); r = train_distributed(paths, tmp_path_factory.mktemp('p2'), nprocs=2, **KW)
    return r, time.perf_counter() - t0

def test_one_vs_two_processes(paths, two_proc, tmp_path):
    """Same recipe on 1 and 2 CPU processes: source test accuracies agree within binomial noise; 2-process weights identical
    on both ranks. The target (Y1) accuracy is printed, not compared: a small model's accuracy across the domain shift
    varies from one training run to the next far more than binomial noise (the study's own subject)."""
    t0 = time.perf_counter(); r1 = train_distributed(paths, tmp_path / 'p1', nprocs=1, **KW); t1 = time.perf_counter() - t0
    r2, t2 = two_proc
    print()
    for r, t in ((r1, t1), (r2, t2)):
        a, n = r['accuracy']['source'], r['n_test']['source']
        print(f"{r['world_size']} proc: source test acc {a:.3f} +- {se(a, n):.3f} (n={n}), target {r['accuracy']['target']:.3f}; "
              f"train {r['train_images_per_s']:.0f} img/s, fit {r['fit_seconds']:.1f} s, wall {t:.1f} s")
    assert r2['ddp'] and not r1['ddp'] and len(set(r2['rank_weights'])) == 1
    assert r1['train_images'] == r2['train_images']                # same global batches per epoch
    a1, a2, n = r1['accuracy']['source'], r2['accuracy']['source'], r1['n_test']['source']
    assert abs(a1 - a2) < 3 * math.hypot(se(a1, n), se(a2, n)), (a1, a2)
    for r in (r1, r2): assert r['accuracy']['source'] > 1 / 3 + 2 * se(1 / 3, r['n_test']['source'])   # learned something

def test_torchrun_matches_spawn(paths, two_proc, tmp_path):
    "The torchrun command line reproduces the spawn launcher's weights bit for bit (same seed: deterministic DDP)"
    exe = Path(sys.executable).parent / 'deepastro-ddp'
    exe = str(exe) if exe.exists() else shutil.which('deepastro-ddp')
    assert exe, 'the deepastro-ddp command is not installed (pip install -e .)'
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', '--no-python', exe,
           str(paths['source']), str(paths['target']), '--out', str(tmp_path / 'tr'), '--epochs', str(KW['epochs']),
           '--bs', str(KW['bs']), '--lr', str(KW['lr']), '--seed', str(KW['seed'])]
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, 'OMP_NUM_THREADS': '1'}, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    a, b = json.loads(p.stdout[p.stdout.index('{\n'):p.stdout.rindex('}') + 1]), two_proc[0]
    assert a['world_size'] == 2 and a['ddp'] and a['weights'] == b['weights'] and a['accuracy'] == b['accuracy']

def test_cli_scheduler_local(tmp_path):
    "`deepastro run ... --scheduler local`: the pair runs as a Dask task; a failing stage is reported and the command fails"
    import subprocess
    bad = tmp_path / 'sdss-decals' / 'seed-0'; bad.mkdir(parents=True); (bad / 'data').write_text('not a folder')
    code = 'import sys; from deepastro.pipeline import main; sys.exit(main(sys.argv[1:]))'
    r = subprocess.run([sys.executable, '-c', code, 'run', 'sdss-decals', '--quick', '--scheduler', 'local', '--runs-dir', str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 1 and 'sdss-decals failed' in r.stderr, r.stdout + r.stderr
    assert 'submitted 1 pair(s)' in r.stdout and json.loads((bad / 'results.json').read_text())['stages']['data']['status'] == 'failed'
