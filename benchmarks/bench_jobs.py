"""Benchmark: two training processes with one thread each against one process with two threads (what `deepastro run
--jobs` relies on), in one run, on the same model and data. Prints images per second and the ratio (no assertions).
Usage: python benchmarks/bench_jobs.py [--steps 30] [--size 100] [--procs 2]
"""
import argparse, json, os, subprocess, sys

CHILD = r"""
import json, sys, time, torch, torch.nn.functional as F
from deepastro.core import heap_alloc
from deepastro.models import ConvNet
steps, size, bs = int(sys.argv[1]), int(sys.argv[2]), 128
torch.manual_seed(0); model = ConvNet(3, 3, size); opt = torch.optim.Adam(model.parameters(), 1e-3)
x = torch.randn(8 * bs, 3, size, size); y = torch.randint(0, 3, (8 * bs,))
with heap_alloc():
    for i in range(steps + 3):
        if i == 3: t0 = time.perf_counter()
        j = (i % 8) * bs; loss = F.cross_entropy(model(x[j:j + bs]), y[j:j + bs]); opt.zero_grad(); loss.backward(); opt.step()
print(json.dumps(dict(rate=steps * bs / (time.perf_counter() - t0), threads=torch.get_num_threads())))
"""

def launch(n, threads, steps, size):
    env = {**os.environ, 'OMP_NUM_THREADS': str(threads), 'PYTHONWARNINGS': 'ignore'}
    ps = [subprocess.Popen([sys.executable, '-c', CHILD, str(steps), str(size)], env=env, stdout=subprocess.PIPE, text=True) for _ in range(n)]
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in ps]
    return sum(o['rate'] for o in outs), [o['threads'] for o in outs]

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--steps', type=int, default=30)
    ap.add_argument('--size', type=int, default=100); ap.add_argument('--procs', type=int, default=2)
    a = ap.parse_args()
    one, t1 = launch(1, a.procs, a.steps, a.size)
    many, tn = launch(a.procs, 1, a.steps, a.size)
    one2, _ = launch(1, a.procs, a.steps, a.size)
    peer = (one + one2) / 2
    print(f"1 process x {t1[0]} threads (peer, mean of 2)  {peer:7.1f} images/s")
    print(f"{a.procs} processes x {tn[0]} thread (together)     {many:7.1f} images/s  ratio {many / peer:.2f}")

if __name__ == '__main__': main()
