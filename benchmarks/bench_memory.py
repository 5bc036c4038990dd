"""Benchmark: how much memory deepastro's stages need, and what reading images from their files costs in speed.

Three measurements, each printed (no timed assertions):

  stages      peak resident memory (RSS) of each stage of `deepastro run PAIR`, one stage at a time, each in its own
              `deepastro run PAIR --stages S` process. The peak is the largest resident set of that process and of
              every process it started (its notebook kernel), as the operating system reports it on exit (os.wait4).
              Data sizes are the shipped ones; pass -p epochs 1 and the like to make it quick (memory does not
              depend on the number of epochs or attack generations).
  galaxy10    a Galaxy10-DECaLS-sized file (17,736 x 256 x 256 x 3 uint8 images, synthetic content) as the source of a
              pair file: peak RSS of the data stage and of one baseline epoch.
  throughput  training images per second of the ConvNet on the datasets of a run's data stage, held in memory (the
              peer) and read from the files, alternated in one run; prints each rate and the ratio file / memory.

With `--out FILE.csv` each measurement is also written to a CSV file, a row at a time as it is measured (the file is
replaced whole after each row, so a killed benchmark keeps the rows it finished). 09_pipeline shows the tables of the
files in nbs/measured/ that these commands wrote.

Usage:
  python benchmarks/bench_memory.py stages [--pair lsst-y10-y1] [--runs-dir D] [-p NAME VALUE ...] [--out F.csv]
  python benchmarks/bench_memory.py galaxy10 [--dir D] [--n 17736] [--out F.csv]
  python benchmarks/bench_memory.py throughput --run runs-bench/lsst-y10-y1/seed-0 [--steps 80] [--rounds 3] [--out F.csv]
"""
import argparse, csv, io, os, subprocess, sys, time
from pathlib import Path

STAGES = ('data', 'baseline', 'da', 'robustness', 'uda', 'debias')
CLI = [sys.executable, '-c', 'import sys; from deepastro.pipeline import main; sys.exit(main())']

def peak_rss(cmd, **kw) -> tuple:
    "Run `cmd`; (exit status, peak RSS in GB of it and its descendants, seconds)"
    t0 = time.perf_counter(); p = subprocess.Popen(cmd, **kw)
    _, status, ru = os.wait4(p.pid, 0); p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, ru.ru_maxrss / 2**20, time.perf_counter() - t0      # ru_maxrss: KiB on Linux

class Rows:
    "The rows of one benchmark, rewritten whole to `path` (when given) after each new row"
    def __init__(self, path, fields):
        self.path, self.fields, self.rows = (Path(path) if path else None), ['host_cpus', *fields], []
    def add(self, **row):
        self.rows.append({'host_cpus': len(os.sched_getaffinity(0)), **row})
        if self.path is None: return
        buf = io.StringIO(); w = csv.DictWriter(buf, self.fields, lineterminator='\n'); w.writeheader(); w.writerows(self.rows)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + '.tmp'); tmp.write_text(buf.getvalue()); os.replace(tmp, self.path)

def stages(a):
    print(f"peak RSS per stage of {a.pair} (params {a.p or 'shipped'}), one stage at a time:")
    extra = [x for kv in a.p for x in ('-p', *kv)]
    out = Rows(a.out, ['pair', 'stage', 'params', 'peak_rss_gb', 'seconds'])
    for s in a.stages.split(','):
        rc, gb, dt = peak_rss(CLI + ['run', a.pair, '--stages', s, '--runs-dir', a.runs_dir, '--jobs', '1'] + extra,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"  {s:11s} peak RSS {gb:6.2f} GB   {dt:7.0f} s   exit {rc}", flush=True)
        if rc: sys.exit(f"stage {s} failed: see {a.runs_dir}")
        out.add(pair=a.pair, stage=s, params=' '.join(f'{k}={v}' for k, v in a.p) or 'shipped', peak_rss_gb=round(gb, 3), seconds=round(dt))

def _galaxy10(path, n, size=256, block=512, seed=0):
    "A Galaxy10-layout file of n uint8 (size, size, 3) images: exponential discs of random size plus noise"
    import numpy as np, h5py
    rng = np.random.default_rng(seed); c = np.arange(size) - (size - 1) / 2; r = np.hypot(*np.meshgrid(c, c))
    with h5py.File(path, 'w') as f:
        ds = f.create_dataset('images', (n, size, size, 3), np.uint8, chunks=(1, size, size, 3))
        f['ans'] = rng.integers(0, 10, n).astype(np.uint8)
        for a in range(0, n, block):
            m = min(block, n - a); h = rng.uniform(3, 30, m)[:, None, None]
            im = 200 * np.exp(-r[None] / h)[..., None] + rng.normal(20, 6, (m, size, size, 3))
            ds[a:a + m] = np.clip(im, 0, 255).astype(np.uint8)
    return path

def galaxy10(a):
    d = Path(a.dir); d.mkdir(parents=True, exist_ok=True)
    src = d / 'Galaxy10_DECals_synthetic.h5'
    if not src.exists() or a.force:
        t0 = time.perf_counter(); _galaxy10(src, a.n)
        print(f"wrote {src} ({src.stat().st_size / 2**30:.2f} GB) in {time.perf_counter() - t0:.0f} s")
    tgt = d / 'Galaxy10_SDSS_synthetic.h5'
    if not tgt.exists(): _galaxy10(tgt, 2000, size=69, seed=1)
    (d / 'g10-big.yaml').write_text(f"""name: g10-big
source: {{format: galaxy10, path: {src.name}, pixel_scale: 0.262, bands: [g, r, z], unit: display}}
target: {{format: galaxy10, path: {tgt.name}, pixel_scale: 0.396, bands: [g, r, i], unit: display}}
pixel_scale: 0.262
size: 100
classes:     # the two Galaxy10 versions number different classes (02_data)
  smooth: [round_smooth, in_between_round_smooth, cigar_shaped_smooth, smooth_completely_round, smooth_in_between_round, smooth_cigar_shaped]
  disk: [barred_spiral, unbarred_tight_spiral, unbarred_loose_spiral, edge_on_without_bulge, edge_on_with_bulge, disk_face_on_no_spiral,
         disk_edge_on_rounded_bulge, disk_edge_on_boxy_bulge, disk_edge_on_no_bulge, disk_face_on_tight_spiral, disk_face_on_medium_spiral,
         disk_face_on_loose_spiral]
  merger: [disturbed, merging]
params: {{n_galaxies: {a.n}, epochs: 1}}
""")
    print(f"a pair file with a {a.n}-image Galaxy10-DECaLS-sized source, on 100 pixels of 0.262\":")
    out = Rows(a.out, ['n_images', 'file_gb', 'stage', 'peak_rss_gb', 'seconds'])
    for s in ('data', 'baseline'):
        rc, gb, dt = peak_rss(CLI + ['run', str(d / 'g10-big.yaml'), '--stages', s, '--runs-dir', str(d / 'runs'), '--jobs', '1'],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"  {s:11s} peak RSS {gb:6.2f} GB   {dt:7.0f} s   exit {rc}", flush=True)
        if rc: sys.exit(f"stage {s} failed: see {d / 'runs'}")
        out.add(n_images=a.n, file_gb=round(src.stat().st_size / 2**30, 3), stage=s, peak_rss_gb=round(gb, 3), seconds=round(dt))

def throughput(a):
    import torch
    from deepastro.core import heap_alloc
    from deepastro.data import PairData
    from deepastro.models import make_learner
    torch.set_num_threads(a.threads)
    from deepastro.core import read_results
    files = read_results(a.run).get('data', {}).get('files')
    if not files: sys.exit(f"{a.run}: no data stage in its results.json (run `deepastro run PAIR --stages data` first)")
    paths = {k: Path(v) for k, v in files.items()}
    data = {'memory': PairData(paths, max_memory_gb=1e9), 'file': PairData(paths, max_memory_gb=0)}
    print(f"{paths['source'].name}: {len(data['file'].split['train'])} training images of {data['file'].x_s.shape[1:]}; "
          f"{a.steps} steps of batch {data['file'].dls.train.bs} per measurement, {a.threads} threads")
    rate = {k: [] for k in data}
    out = Rows(a.out, ['round', 'loader', 'images_per_s', 'steps', 'batch', 'threads'])
    for r in range(a.rounds):
        for k, d in data.items():
            learn = make_learner(d, 'convnet', seed=0); learn.model.train(); opt = torch.optim.Adam(learn.model.parameters(), 1e-3)
            it = iter(d.dls.train); n = 0
            with heap_alloc():
                for i in range(a.steps + 2):
                    if i == 2: t0, n = time.perf_counter(), 0
                    try: xb, yb = next(it)
                    except StopIteration: it = iter(d.dls.train); xb, yb = next(it)
                    loss = torch.nn.functional.cross_entropy(learn.model(xb), yb); opt.zero_grad(); loss.backward(); opt.step(); n += len(xb)
            rate[k].append(n / (time.perf_counter() - t0))
            print(f"  round {r}: {k:6s} {rate[k][-1]:7.1f} images/s", flush=True)
            out.add(round=r, loader=k, images_per_s=round(rate[k][-1], 2), steps=a.steps, batch=d.dls.train.bs, threads=a.threads)
    m = {k: sum(v) / len(v) for k, v in rate.items()}
    print(f"from memory (peer) {m['memory']:.1f} images/s, from the files {m['file']:.1f} images/s: ratio {m['file'] / m['memory']:.2f}")

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); sub = ap.add_subparsers(dest='what', required=True)
    s = sub.add_parser('stages'); s.add_argument('--pair', default='lsst-y10-y1'); s.add_argument('--runs-dir', default='runs-bench')
    s.add_argument('--stages', default=','.join(STAGES)); s.add_argument('-p', nargs=2, action='append', default=[], metavar=('NAME', 'VALUE'))
    g = sub.add_parser('galaxy10'); g.add_argument('--dir', default='bench-galaxy10'); g.add_argument('--n', type=int, default=17736)
    g.add_argument('--force', action='store_true')
    t = sub.add_parser('throughput'); t.add_argument('--run', required=True, help='a run folder whose data stage is done'); t.add_argument('--steps', type=int, default=80)
    t.add_argument('--rounds', type=int, default=3); t.add_argument('--threads', type=int, default=2)
    for p in (s, g, t): p.add_argument('--out', help='CSV file to write the measurements to')
    a = ap.parse_args(); dict(stages=stages, galaxy10=galaxy10, throughput=throughput)[a.what](a)
