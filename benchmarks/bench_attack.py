"""Benchmark: deepastro's one-pixel attack against torchattacks.OnePixel and a straightforward per-image loop,
on the same trained model, images and query budget (population 400, the same number of generations), in one run.

All three stop an image at its first success; success here is a change of the predicted class (torchattacks' rule),
pixel values are bounded by each image's own per-band range. Prints wall-clock times, the speed ratios and the
success rates (no timed assertions).

torchattacks is a benchmark-only dependency: `pip install --no-deps torchattacks`.
Usage: python benchmarks/bench_attack.py [--model PATH] [--n-images 16] [--steps 10] [--threads N]
"""
import argparse, tempfile, time, warnings
from pathlib import Path
import torch
from torch import nn
from deepastro.surveys import get_pair
from deepastro.simulate import draw_population, simulate
from deepastro.models import load_classifier, train_baseline, predict
from deepastro.data import make_pair_dataset, PairData
from deepastro.core import scratch_dir
from deepastro.perturb import one_pixel_attack

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / 'runs' / 'lsst-y10-y1' / 'seed-0' / 'models' / 'baseline_convnet.pth'

def get_model(path):
    if path and Path(path).exists():
        m, scaler, classes = load_classifier(path); return m, scaler, f'{path}'
    tmp = scratch_dir()
    data = PairData(make_pair_dataset('lsst-y10-y1', 1500, tmp / 'data', seed=0), seed=0)
    return train_baseline(data, 'convnet', 8, 3e-3, 0, path=tmp, quiet=True).model.eval(), data.scaler, 'quick model (1500 galaxies, 8 epochs)'

def images(model, scaler, n, seed=123):
    pop = draw_population(4 * n, 'three', get_pair('lsst-y10-y1').population, seed=seed)
    img, meta = simulate(pop, 'lsst-y10', 100, seed=seed)
    x, y = scaler(img), torch.tensor(meta.label.values)
    ok = (predict(model, x)[0].argmax(1) == y) & (y < 3)
    return x[ok][:n], y[ok][:n]

class Unit(nn.Module):
    "The model on [0, 1] inputs mapped to one image's per-band range (torchattacks wants [0, 1] images)"
    def __init__(self, m, lo, hi): super().__init__(); self.m, self.lo, self.hi = m, lo.view(1, -1, 1, 1), hi.view(1, -1, 1, 1)
    def forward(self, u): return self.m(self.lo + u * (self.hi - self.lo))

def run_torchattacks(model, x, y, steps):
    import torchattacks
    ok = []
    for i in range(len(x)):
        lo, hi = x[i].amin((1, 2)), x[i].amax((1, 2))
        w = Unit(model, lo, hi).eval()
        adv = torchattacks.OnePixel(w, pixels=1, steps=steps, popsize=400, inf_batch=400)((x[i:i + 1] - w.lo) / (w.hi - w.lo), y[i:i + 1])
        with torch.no_grad(): ok.append(bool(w(adv).argmax(1) != y[i]))
    return sum(ok) / len(ok)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', default=str(DEFAULT_MODEL)); ap.add_argument('--n-images', type=int, default=16)
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--threads', type=int, default=None, help='torch threads (default: torch decides)')
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    warnings.filterwarnings('ignore')
    model, scaler, name = get_model(a.model)
    x, y = images(model, scaler, a.n_images)
    print(f"model: {name}; {len(x)} correctly classified LSST Y10 galaxies; population 400, up to {a.steps} generations "
          f"({400 * (a.steps + 1)} queries per image); {torch.get_num_threads()} threads")
    t = time.perf_counter()
    r = one_pixel_attack(model, x, y, max_gen=a.steps, success='misclassify', seed=0)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    loop = [one_pixel_attack(model, x[i:i + 1], y[i:i + 1], max_gen=a.steps, success='misclassify', engine='full', seed=i).success
            for i in range(len(x))]
    t_loop = time.perf_counter() - t
    t = time.perf_counter(); s_ta = run_torchattacks(model, x, y, a.steps); t_ta = time.perf_counter() - t
    rr = one_pixel_attack(model, x, y, max_gen=a.steps, success='reference', seed=0)
    print(f"deepastro (batched, local):   {t_ours:7.1f} s  success {r.success_rate:.3f}  mean queries {r.queries.float().mean():.0f}")
    print(f"per-image loop (full model):  {t_loop:7.1f} s  success {torch.cat(loop).float().mean():.3f}")
    print(f"torchattacks.OnePixel:        {t_ta:7.1f} s  success {s_ta:.3f}")
    print(f"speed-up vs torchattacks: {t_ta / t_ours:.1f}x   vs per-image loop: {t_loop / t_ours:.1f}x")
    print(f"(deepastro with the reference rule, true class below 0.05: success {rr.success_rate:.3f})")

if __name__ == '__main__': main()
