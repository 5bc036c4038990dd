"""Faults during runs: a `deepastro run` killed with SIGKILL in the data stage and in a training stage resumes and ends
with the results of an uninterrupted run; a second command on the same run folder is refused; a disk that fills
leaves nothing a later run would trust; damaged results and datasets are refused, naming the file, and --force
recovers. Small runs (`--quick`, data and baseline stages)."""
import json, os, resource, subprocess, sys, time
from pathlib import Path
import h5py, numpy as np, psutil, pytest
from conftest import _cli, _comparable

CODE = 'import sys; from deepastro.pipeline import main; sys.exit(main(sys.argv[1:]))'
PAIR = 'lsst-y10-y1'


def _args(runs, *extra):
    return ('run', PAIR, '--quick', '--stages', 'baseline', '--runs-dir', str(runs), '--jobs', '2', *extra)


def _start(runs, cwd):
    "The command in its own session, as a user's terminal would run it"
    return subprocess.Popen([sys.executable, '-c', CODE, *_args(runs)], cwd=cwd, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for(path, text, proc, timeout=600):
    "Until `path` (a stage's status line) contains `text`"
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            if text in path.read_text(): return
        except OSError: pass
        assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before {path.name} said {text!r}"
        time.sleep(0.2)
    raise AssertionError(f"{path} did not say {text!r} within {timeout} s")


def _kill_all(proc):
    "SIGKILL the command and every process under it (stage workers, notebook kernels), as a crash or the OOM killer would"
    procs = [psutil.Process(proc.pid)] + psutil.Process(proc.pid).children(recursive=True)
    for p in procs:
        try: p.kill()
        except psutil.NoSuchProcess: pass
    proc.wait(); psutil.wait_procs(procs, timeout=30)


def _stages(run):
    p = run / 'results.json'
    return json.loads(p.read_text()).get('stages', {}) if p.exists() else {}


def _images(path):
    with h5py.File(path, 'r') as f: return f['images'][:]


@pytest.fixture(scope='module')
def resumed(tmp_path_factory):
    "A run killed in its data stage, then in its baseline training, then run to the end: (run folder, what each step saw)"
    runs = tmp_path_factory.mktemp('faults'); run = runs / PAIR / 'seed-0'; seen = {}
    p = _start(runs, runs)
    _wait_for(run / 'logs' / 'data.status', 'rendering', p)                   # simulating the galaxies
    seen['second'] = _cli(*_args(runs), cwd=runs)                              # a second command on the same folder
    time.sleep(1); _kill_all(p)
    seen['after_data_kill'] = (_stages(run), sorted(q.name for q in (run / 'data').iterdir()))
    p = _start(runs, runs)
    _wait_for(run / 'logs' / 'baseline.status', 'epoch', p)                    # training
    time.sleep(2); _kill_all(p)
    seen['after_train_kill'] = (_stages(run), sorted(q.name for q in (run / 'data').iterdir()))
    seen['final'] = _cli(*_args(runs), cwd=runs)
    return runs, run, seen


def test_second_command_on_a_run_folder_is_refused(resumed):
    runs, run, seen = resumed; r = seen['second']
    assert r.returncode != 0 and f'{run} is in use by another deepastro run (pid ' in r.stderr, r.stdout + r.stderr


def test_killed_in_the_data_stage_leaves_nothing_trusted(resumed):
    runs, run, seen = resumed; stages, files = seen['after_data_kill']
    assert stages.get('data', {}).get('status') != 'done'
    assert not [f for f in files if f.endswith('.h5')], files                 # only temporaries of the dead writer


def test_killed_in_training_keeps_the_data_stage(resumed):
    runs, run, seen = resumed; stages, files = seen['after_train_kill']
    assert stages['data']['status'] == 'done' and stages.get('baseline', {}).get('status') != 'done'
    assert files and all(f.endswith('.h5') for f in files), files             # the killed writer's temporaries are gone


def test_resumed_run_matches_an_uninterrupted_one(resumed, quick_run):
    "Same seed and thread count: the dataset pixels and the baseline record are those of the quick main job"
    runs, run, seen = resumed; r = seen['final']
    assert r.returncode == 0, r.stdout + r.stderr
    st = _stages(run); assert st['data']['seconds'] == seen['after_train_kill'][0]['data']['seconds']   # not redone
    assert st['baseline']['status'] == 'done'
    ref = quick_run[0] / PAIR / 'seed-0'
    assert quick_run[1].returncode == 1 and _stages(ref)['baseline']['status'] == 'done'
    assert st['baseline']['threads'] == _stages(ref)['baseline']['threads']
    mine, theirs = (json.loads((d / 'results.json').read_text()) for d in (run, ref))
    assert mine['data']['files']['source'].rsplit('_', 1)[1] == theirs['data']['files']['source'].rsplit('_', 1)[1]   # one dataset key
    assert np.array_equal(_images(mine['data']['files']['target']), _images(theirs['data']['files']['target']))
    assert _comparable(mine['baseline']) == _comparable(theirs['baseline'])


def test_damaged_files_are_refused_and_force_recovers(resumed):
    runs, run, seen = resumed
    src = Path(json.loads((run / 'results.json').read_text())['data']['files']['source'])
    b = src.read_bytes(); src.write_bytes(b[:len(b) // 3])                    # a dataset cut short
    r = _cli(*_args(runs), cwd=runs)
    assert r.returncode != 0 and f'{src}: damaged' in r.stdout + r.stderr and '--force' in r.stdout + r.stderr, r.stdout + r.stderr
    r = _cli('run', PAIR, '--quick', '--stages', 'data', '--runs-dir', str(runs), '--jobs', '2', '--force', cwd=runs)
    assert r.returncode == 0, r.stdout + r.stderr
    assert src.stat().st_size == len(b) and np.array_equal(_images(src)[:1], h5py.File(src, 'r')['images'][:1])
    (run / 'results.json').write_text('{"stages": {"data": {"status": "do')    # results cut short
    r = _cli('run', PAIR, '--quick', '--stages', 'data', '--runs-dir', str(runs), cwd=runs)
    assert r.returncode != 0 and f"{run / 'results.json'}: not readable JSON" in r.stderr and '--force' in r.stderr, r.stderr
    r = _cli('run', PAIR, '--quick', '--stages', 'data', '--runs-dir', str(runs), '--jobs', '2', '--force', cwd=runs)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _stages(run)['data']['status'] == 'done' and list(run.glob('results.json.damaged-*'))


def _file_size_limit(n):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))


def test_full_disk_in_the_data_stage(tmp_path):
    "A file-size limit below the dataset's size: the error names the dataset; no dataset, temporary or 'done' is left"
    limit = 40 * 2**20          # the executed notebooks and logs fit; one quick dataset (about 180 MB) does not
    r = subprocess.run([sys.executable, '-c', CODE, 'run', PAIR, '--quick', '--stages', 'data', '--runs-dir', str(tmp_path), '--jobs', '2'],
                       cwd=tmp_path, capture_output=True, text=True, preexec_fn=_file_size_limit(limit))
    out = r.stdout + r.stderr; run = tmp_path / PAIR / 'seed-0'
    assert r.returncode != 0 and 'could not be written (File too large)' in out, out
    assert f"{run / 'data'}/{PAIR}_source_" in out, out
    assert _stages(run)['data']['status'] == 'failed'
    assert not list((run / 'data').iterdir()), list((run / 'data').iterdir())
