"""Benchmark: what the two CPU settings of deepastro's training buy, in one run on the same model and data.

Trains the ConvNet (LSST 100x100 x 3 bands, batch 128, Adam, cross-entropy) for the same steps four ways:
the usual NCHW layout with glibc's default allocation (the peer), channels-last layout, `heap_alloc`, and both
(what deepastro does). Prints images per second, minor page faults and the ratio of each to the peer
(no timed assertions).
Usage: python benchmarks/bench_train.py [--steps 30] [--bs 128]
"""
import argparse, contextlib, resource, time
import torch, torch.nn.functional as F
from deepastro.core import heap_alloc
from deepastro.models import ConvNet

def run(channels_last, heap, steps, warm, bs, size=100):
    torch.manual_seed(0)
    model = ConvNet(3, 3, size)
    if not channels_last:   # the peer: plain NCHW everywhere (bypass the model's own conversion)
        model = model.to(memory_format=torch.contiguous_format)
        fwd = lambda x: model.classify(model.bottleneck(model.body(x)))
    else: fwd = model
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(bs * 8, 3, size, size, generator=g); y = torch.randint(0, 3, (bs * 8,), generator=g)
    with (heap_alloc() if heap else contextlib.nullcontext()):
        for i in range(steps + warm):
            if i == warm: t0, f0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            j = (i % 8) * bs
            loss = F.cross_entropy(fwd(x[j:j + bs]), y[j:j + bs]); opt.zero_grad(); loss.backward(); opt.step()
        dt, df = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    return steps * bs / dt, df / steps

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--steps', type=int, default=30)
    ap.add_argument('--warm', type=int, default=3); ap.add_argument('--bs', type=int, default=128)
    a = ap.parse_args(); torch.set_num_threads(2)
    cases = [('NCHW, default malloc (peer)', False, False), ('channels-last', True, False),
             ('heap_alloc', False, True), ('channels-last + heap_alloc (deepastro)', True, True),
             ('NCHW, default malloc (peer again)', False, False)]
    res = {name: run(cl, heap, a.steps, a.warm, a.bs) for name, cl, heap in cases}
    peer = (res[cases[0][0]][0] + res[cases[-1][0]][0]) / 2
    for name, (rate, faults) in res.items():
        print(f"{name:40s} {rate:7.1f} images/s  {faults:9.0f} page faults/step  ratio {rate / peer:.2f}")

if __name__ == '__main__': main()
