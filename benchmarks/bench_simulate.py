"""Benchmark: deepastro's batched renderer against a per-galaxy GalSim loop on the same galaxies.

Prints ratios measured in the same run (no timed assertions):
1. analytic components only (bulge, disk, bar, clumps, companion, neighbour: what GalSim draws natively), deepastro on
   2 torch threads vs the straightforward GalSim loop spread over 2 worker processes, with a fidelity check;
2. the full 10,000-galaxy LSST g,r,i 100x100 set in both Y10 and Y1 versions, all features.

Usage: python benchmarks/bench_simulate.py [--n-galsim 200] [--n-full 10000]
"""
import argparse, time, multiprocessing as mp
import numpy as np, pandas as pd, torch
from deepastro.surveys import get_pair, get_survey
from deepastro.simulate import (draw_population, render_noiseless, add_noise, simulate_pair, galsim_reference)

PAIR = get_pair('lsst-y10-y1')

def _galsim_worker(args):
    pop, fwhm, seed = args
    import galsim
    s = get_survey(PAIR.source)
    rng = galsim.BaseDeviate(seed)
    out = []
    for (_, row), fw in zip(pop.iterrows(), fwhm):
        im = galsim_reference(row, s, PAIR.stamp, fw)
        for j, b in enumerate(s.bands):   # same noise model, in GalSim: CCD noise in ADU
            g = galsim.ImageD(im[j] / s.nmgy_per_adu(b))
            g.addNoise(galsim.CCDNoise(rng, sky_level=s.sky_adu(b), gain=b.gain, read_noise=b.read_noise * b.n_exp**0.5))
            im[j] = g.array * s.nmgy_per_adu(b)
        out.append(im)
    return np.stack(out)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n-galsim', type=int, default=200)
    ap.add_argument('--n-fast', type=int, default=2000)
    ap.add_argument('--n-full', type=int, default=10000)
    a = ap.parse_args()
    torch.set_num_threads(2)
    s = get_survey(PAIR.source)
    pop = draw_population(a.n_fast, PAIR.taxonomy, PAIR.population, seed=0)
    pop[['arm_amp', 'tail_frac']] = 0.    # GalSim has no spiral-arm or tidal-tail profile
    render_noiseless(pop.iloc[:8], s, PAIR.stamp)   # build the Sersic table outside the timing

    t0 = time.perf_counter()
    img, fwhm, _ = render_noiseless(pop, s, PAIR.stamp, seed=1, jitter=0.)
    img = add_noise(img, s, seed=2)
    t_fast = time.perf_counter() - t0
    rate_fast = len(pop) / t_fast

    n = a.n_galsim; half = n // 2
    args = [(pop.iloc[:half], fwhm[:half], 1), (pop.iloc[half:n], fwhm[half:n], 2)]
    ctx = mp.get_context('spawn')   # fork after torch's threads start can deadlock
    t0 = time.perf_counter()
    with ctx.Pool(2) as pool: ref = np.concatenate(pool.map(_galsim_worker, args))
    t_gs = time.perf_counter() - t0
    rate_gs = n / t_gs

    # fidelity on the same galaxies, noiseless
    ours0 = render_noiseless(pop.iloc[:20], s, PAIR.stamp, fwhm=fwhm[:20], jitter=0.)[0].numpy()
    ref0 = np.stack([galsim_reference(r, s, PAIR.stamp, f) for (_, r), f in zip(pop.iloc[:20].iterrows(), fwhm[:20])])
    flux_err = np.abs(ours0.sum((-2, -1)) / ref0.sum((-2, -1)) - 1).max()
    resid = (np.abs(ours0 - ref0).max((-2, -1)) / ref0.max((-2, -1))).max()
    noise_ratio = (img[:n].numpy() - ours0[:1].mean() * 0).std() / ref.std()

    print(f"analytic galaxies (bulge, disk, bar, clumps, companion, neighbour), LSST Y10 g,r,i {PAIR.stamp}x{PAIR.stamp}, with noise")
    print(f"  deepastro, 2 threads:        {rate_fast:8.1f} galaxies/s ({len(pop)} galaxies)")
    print(f"  GalSim loop, 2 processes:    {rate_gs:8.1f} galaxies/s ({n} galaxies)")
    print(f"  speed ratio deepastro/GalSim: {rate_fast / rate_gs:6.1f}x")
    print(f"  fidelity on 20 galaxies: max |flux ratio - 1| = {flux_err:.2e}, max |residual|/peak = {resid:.2e}")
    print(f"  pixel std ratio (deepastro/GalSim, same galaxies): {noise_ratio:.3f}")

    full = draw_population(a.n_full, PAIR.taxonomy, PAIR.population, seed=3)
    t0 = time.perf_counter()
    (y10, _), (y1, _) = simulate_pair(full, PAIR.source, PAIR.target, PAIR.stamp, seed=4)
    t_full = time.perf_counter() - t0
    print(f"full features, {a.n_full} galaxies, Y10 and Y1, g,r,i {PAIR.stamp}x{PAIR.stamp}: {t_full:.1f} s "
          f"({2 * a.n_full / t_full:.0f} images/s), target < 120 s")

if __name__ == '__main__': main()
