"""Benchmark: training throughput of the fastai Learner with the DA callbacks against a plain PyTorch loop doing the
same MMD training (joint source+target batch, CE + 0.01 MMD, Adam) on the same model and data, in one run.

Prints source images per second for both and their ratio (no timed assertions).
Usage: python benchmarks/bench_da.py [--n-galaxies 2000] [--steps 40]
"""
import argparse, tempfile, time, warnings
import torch, torch.nn.functional as F
from fastai.torch_core import set_seed
from deepastro.data import make_pair_dataset, PairData
from deepastro.core import heap_alloc, scratch_dir
from deepastro.models import make_learner, ConvNet
from deepastro.da import TargetFeed, MMDLoss, mmd2

def plain_loop(data, xt, steps, warm, bs):
    set_seed(0, reproducible=True)
    model = ConvNet(data.n_bands, len(data.classes), data.size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.7, 0.8), weight_decay=1e-3)
    w = data.class_weights(); xs, ys = data.dls.train.x, data.dls.train.y
    g = torch.Generator().manual_seed(0); model.train()
    n = 0
    for i in range(steps + warm):
        if i == warm: t0 = time.perf_counter(); n = 0
        idx = torch.randint(0, len(xs), (bs,), generator=g); it = torch.randint(0, len(xt), (bs,), generator=g)
        out = model(torch.cat([xs[idx], xt[it]])); z = model.latent
        loss = F.cross_entropy(out[:bs], ys[idx], weight=w) + 0.01 * mmd2(z[:bs], z[bs:])
        opt.zero_grad(); loss.backward(); opt.step(); n += bs
    return n / (time.perf_counter() - t0)

def fastai_loop(data, xt, steps, warm, bs):
    learn = make_learner(data, 'convnet')
    learn.add_cbs([TargetFeed(xt), MMDLoss(0.01)])
    from fastai.callback.core import Callback, CancelFitException
    class Timer(Callback):
        order = 100
        def before_fit(self): self.i = 0
        def after_batch(self):
            if not self.training: return
            self.i += 1
            if self.i == warm: self.t0 = time.perf_counter()
            if self.i == warm + steps: self.dt = time.perf_counter() - self.t0; raise CancelFitException
    tm = Timer()
    with learn.no_bar(), learn.no_logging(): learn.fit(100, 1e-3, cbs=[tm])
    return steps * bs / tm.dt

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--n-galaxies', type=int, default=2000)
    ap.add_argument('--steps', type=int, default=40); ap.add_argument('--warm', type=int, default=5)
    a = ap.parse_args(); torch.set_num_threads(2); warnings.filterwarnings('ignore')
    d = scratch_dir()
    data = PairData(make_pair_dataset('lsst-y10-y1', a.n_galaxies, d, seed=0, verbose=False), bs=128, augment=False)
    xt = data.target('train')[0]
    rates = {}
    for name, fn in (('plain PyTorch', plain_loop), ('fastai + TargetFeed + MMDLoss', fastai_loop),
                     ('plain PyTorch (again)', plain_loop)):
        with heap_alloc(): rates[name] = fn(data, xt, a.steps, a.warm, 128)   # as deepastro's training runs
        print(f"{name:32s} {rates[name]:7.1f} source images/s")
    plain = (rates['plain PyTorch'] + rates['plain PyTorch (again)']) / 2
    print(f"throughput ratio fastai / plain: {rates['fastai + TargetFeed + MMDLoss'] / plain:.3f} (target >= 0.9)")

if __name__ == '__main__': main()
