"Pairs from a researcher's files: every supported layout, the CLI on a pair file, and bad input naming file and field"
import json, subprocess, sys, os
import numpy as np, h5py, yaml, pytest, pandas as pd
from deepastro.surveys import read_pair_file, PairFileError
from deepastro.data import make_file_pair_dataset, load_dataset, DataError, save_dataset

CLI = [sys.executable, '-c', 'import sys; from deepastro.pipeline import main; sys.exit(main())']
G10 = ['round_smooth', 'in_between_round_smooth', 'cigar_shaped_smooth', 'barred_spiral', 'unbarred_tight_spiral',
       'unbarred_loose_spiral', 'edge_on_without_bulge', 'edge_on_with_bulge', 'disturbed', 'merging']

def blobs(n, size, scale, seed, labels):
    "(n, size, size) exponential blobs whose scale length (arcsec) follows the label: a learnable toy"
    rng = np.random.default_rng(seed); c = (np.arange(size) - (size - 1) / 2) * scale
    X, Y = np.meshgrid(c, c)
    return np.stack([np.exp(-np.hypot(X, Y / (0.4 + 0.2 * (y % 3))) / (0.8 + 0.3 * (y % 3))) for y in labels]) + rng.normal(0, .01, (n, size, size))

def galaxy10(path, n, size, scale, seed):
    y = np.random.default_rng(seed).integers(0, 10, n)
    im = np.clip(255 * blobs(n, size, scale, seed, y), 0, 255)
    with h5py.File(path, 'w') as f:
        f['images'] = np.repeat(im[..., None], 3, -1).astype(np.uint8); f['ans'] = y.astype(np.uint8)
    return path

def deepadversaries(folder, n, seed, year=1):
    folder.mkdir(exist_ok=True); y = np.random.default_rng(seed).integers(0, 3, n)
    im = blobs(n, 100, 0.2, seed, y)
    np.save(folder / f'images_Y{year}_train.npy', np.repeat(im[:, None], 3, 1).astype(np.float32))
    np.save(folder / 'labels_train.npy', np.eye(3)[y]); return folder

def fits_catalogue(folder, n, seed):
    from astropy.io import fits
    folder.mkdir(exist_ok=True); y = np.random.default_rng(seed).integers(0, 3, n); im = blobs(n, 64, 0.262, seed, y)
    for k in range(n): fits.PrimaryHDU(np.repeat(im[k][None], 3, 0).astype(np.float32) * 10).writeto(folder / f'g{k}.fits')
    pd.DataFrame(dict(file=[f'g{k}.fits' for k in range(n)], class_name=np.array(['spiral', 'elliptical', 'merger'])[y],
                      redshift=np.linspace(0.01, 0.1, n))).to_csv(folder / 'cat.csv', index=False)
    return folder / 'cat.csv'

G10_SDSS = ['disk_face_on_no_spiral', 'smooth_completely_round', 'smooth_in_between_round', 'smooth_cigar_shaped', 'disk_edge_on_rounded_bulge',
            'disk_edge_on_boxy_bulge', 'disk_edge_on_no_bulge', 'disk_face_on_tight_spiral', 'disk_face_on_medium_spiral', 'disk_face_on_loose_spiral']
G10_PAIR = dict(name='g10-small', pixel_scale=0.262, size=64, bands={'g': 'g', 'r': 'r', 'i': 'z'},
                source=dict(format='galaxy10', path='sdss.h5', pixel_scale=0.396, bands=['g', 'r', 'i'], unit='display'),
                target=dict(format='galaxy10', path='decals.h5', pixel_scale=0.262, bands=['g', 'r', 'z'], unit='display'),
                classes=dict(smooth=G10[:3] + G10_SDSS[1:4], disk=G10[3:8] + G10_SDSS[:1] + G10_SDSS[4:], merger=G10[8:]), unknown=['merger'],
                params=dict(n_galaxies=150, epochs=1, methods='mmd:1'))

@pytest.fixture(scope='module')
def g10_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('g10')
    galaxy10(d / 'sdss.h5', 150, 69, 0.396, 0); galaxy10(d / 'decals.h5', 150, 96, 0.262, 1)
    (d / 'pair.yaml').write_text(yaml.safe_dump(G10_PAIR, sort_keys=False)); return d

def test_cli_runs_a_galaxy10_pair_and_says_what_cannot_run(g10_dir):
    "Your data and your network at once: a pair file, and a network from a module on PYTHONPATH in the stage kernels"
    from test_your_model import USER_NETS
    (g10_dir / 'lab_nets_cli.py').write_text(USER_NETS)
    r = subprocess.run(CLI + ['run', 'pair.yaml', '--quick', '--stages', 'robustness,debias', '-p', 'n_galaxies', '150', '-p', 'epochs', '1',
                              '-p', 'methods', 'mmd:1', '-p', 'oracle', 'false', '-p', 'n_curve', '40', '-p', 'n_attack', '4', '-p', 'generations', '3',
                              '-p', 'arch', 'lab_nets_cli:make', '--runs-dir', 'runs'], cwd=g10_dir, capture_output=True, text=True, timeout=900,
                       env={**os.environ, 'PYTHONPATH': '.'})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    res = json.loads((g10_dir / 'runs' / 'g10-small' / 'seed-0' / 'results.json').read_text())
    st = res['stages']
    assert [st[s]['status'] for s in ('data', 'baseline', 'da', 'robustness')] == ['done'] * 4
    rob = res['robustness']     # 8-bit display images: sky noise measured on them, no gain, no PSF curve
    assert 'sky noise only' in rob['noise']['origin'] and rob['noise']['unit'] == 'display' and not rob['noise']['gain_known']
    assert all(s > 0 for s in rob['noise']['sky_sigma']) and 'display stretch' in rob['skipped']['psf']   # no PSF broadening in display levels
    assert {c['kind'] for c in rob['curves']} == {'exposure', 'hot', 'dead', 'cosmic', 'saturation', 'quantisation'}
    assert st['debias']['status'] == 'not applicable' and 'gives no resolution' in st['debias']['reason']
    assert res['baseline']['arch'] == 'lab_nets_cli:make' and (g10_dir / 'runs' / 'g10-small' / 'seed-0' / 'models' / 'da_lab_nets_cli-make.pth').exists()
    assert res['baseline']['source']['n'] > 0 and res['baseline']['accuracy_vs_alpha'] == {'reason': "the source catalogue has no resolution column 'alpha' (R_e / FWHM)"}
    x, meta, prov = load_dataset(res['data']['files']['target'])
    assert x.shape[1:] == (3, 64, 64) and prov['bands'] == ['g', 'r', 'z'] and prov['classes'] == ['smooth', 'disk']
    assert set(meta.class_name) <= {'smooth', 'disk', 'merger'} and 'file_class' in meta
    report = (g10_dir / 'runs' / 'report.html').read_text()
    assert 'Stages that did not run' in report and 'debias: not applicable' in report
    r = subprocess.run(CLI + ['run', 'pair.yaml', '--quick', '--stages', 'data', '--seeds', '0,1', '-p', 'n_galaxies', '150', '-p', 'arch', 'lab_nets_cli:make',
                              '--runs-dir', 'runs'], cwd=g10_dir, capture_output=True, text=True, timeout=600, env={**os.environ, 'PYTHONPATH': '.'})
    assert r.returncode == 0, r.stderr[-3000:]
    assert (g10_dir / 'runs' / 'g10-small' / 'seed-1' / 'results.json').exists()
    seeds = pd.read_csv(g10_dir / 'runs' / 'g10-small' / 'seeds.csv')
    assert {'seed 0', 'seed 1'} <= set(seeds.columns)

def test_other_layouts_reach_the_common_grid(tmp_path):
    "FITS cutouts with a catalogue against DeepAdversaries arrays, in nanomaggies; a deepastro dataset against itself"
    fits_catalogue(tmp_path / 'fits', 30, 0); deepadversaries(tmp_path / 'da', 40, 1)
    d = dict(name='fits-da', pixel_scale=0.3, size=48,
             source=dict(format='fits', path='fits/cat.csv', pixel_scale=0.262, bands=['g', 'r', 'i'], taxonomy='three',
                         unit='adu', zero_point=[25., 25., 25.], gain=[4., 4., 4.], catalog={'redshift': 'redshift'}),
             target=dict(format='deepadversaries', path='da', year=1, pixel_scale=0.2, bands=['g', 'r', 'i']))
    (tmp_path / 'p.yaml').write_text(yaml.safe_dump(d))
    paths = make_file_pair_dataset(read_pair_file(tmp_path / 'p.yaml'), 100, tmp_path / 'data', verbose=False)
    (xs, ms, ps), (xt, mt, pt) = load_dataset(paths['source']), load_dataset(paths['target'])
    assert xs.shape == (30, 3, 48, 48) and xt.shape == (40, 3, 48, 48) and ps['units'] == 'nanomaggies'
    assert 'redshift' in ms and ps['classes'] == ['spiral', 'elliptical', 'merger']
    np.testing.assert_allclose(ps['nmgy_per_electron'], [0.1 / 4] * 3)   # ZP 25: 0.1 nanomaggies per ADU, 4 e- per ADU
    assert pt['nmgy_per_electron'] is None                                # no gain given: the Poisson term stays unknown
    one = make_file_pair_dataset(read_pair_file(tmp_path / 'p.yaml'), 100, tmp_path / 'data1', verbose=False, domains=('source',))
    assert list(one) == ['source'] and one['source'].name == paths['source'].name
    np.testing.assert_array_equal(load_dataset(one['source'])[0], xs)     # the same file, whether or not the target is written
    raw = pd.read_csv(tmp_path / 'fits' / 'cat.csv')
    from astropy.io import fits
    adu = fits.getdata(tmp_path / 'fits' / raw.file[0]).astype(np.float64)[0].sum()
    assert abs(xs[0, 0].sum() / (adu * 0.1) - 1) < 0.01    # ZP 25: one ADU is 0.1 nmgy; the 48 x 0.3" stamp holds the whole blob
    d2 = dict(name='self', pixel_scale=0.262, size=64, source=dict(format='deepastro', path=str(paths['source'])),
              target=dict(format='deepastro', path=str(paths['source'])))
    (tmp_path / 'q.yaml').write_text(yaml.safe_dump(d2))
    p2 = make_file_pair_dataset(read_pair_file(tmp_path / 'q.yaml'), 100, tmp_path / 'data2', verbose=False)
    assert load_dataset(p2['target'])[0].shape == (30, 3, 64, 64)

def _pair(tmp_path, **change):
    galaxy10(tmp_path / 'sdss.h5', 20, 69, 0.396, 0); galaxy10(tmp_path / 'decals.h5', 20, 96, 0.262, 1)
    d = json.loads(json.dumps(G10_PAIR))
    for k, v in change.items():
        if '.' in k: a, b = k.split('.'); d[a][b] = v
        else: d[k] = v
    f = tmp_path / 'pair.yaml'; f.write_text(yaml.safe_dump(d, sort_keys=False)); return f

@pytest.mark.parametrize('change, err, msg', [
    (dict(bands={}, **{'target.bands': ['g', 'r']}), DataError, "target.bands lists 2 bands ['g', 'r'] but the images have 3"),
    (dict(**{'target.bands': ['g', 'z', 'y']}), PairFileError, "bands: names bands ['r'] that the domains do not have"),
    (dict(**{'source.unit': 'nanomaggies'}), DataError, "source.unit must be 'display'"),
    (dict(classes=dict(smooth=['round_smooth'], ring=['ring']), unknown=[]), DataError, "file classes ['ring'] that neither file has"),
    (dict(classes=dict(smooth=['round_smooth'], disk=['barred_spiral']), unknown=['smooth', 'disk']), DataError, "every study class is unknown"),
    (dict(bands={}), None, None),
])
def test_bad_pair_contents_name_file_and_field(tmp_path, change, err, msg):
    import re
    f = _pair(tmp_path, **change)
    if msg is None:   # no mapping: g and r are shared, i and z are not: two bands
        paths = make_file_pair_dataset(read_pair_file(f), 20, tmp_path / 'data', verbose=False)
        assert load_dataset(paths['source'])[2]['bands'] == ['g', 'r']; return
    with pytest.raises(err, match=re.escape(msg)):
        make_file_pair_dataset(read_pair_file(f), 20, tmp_path / 'data', verbose=False)
    assert not (tmp_path / 'data').exists() or not list((tmp_path / 'data').glob('*.h5'))   # nothing half-written

def test_nan_pixels_in_a_domain_name_the_file(tmp_path):
    deepadversaries(tmp_path / 'da', 10, 0); f = tmp_path / 'da' / 'images_Y1_train.npy'
    a = np.load(f); a[3, 1, 5, 5] = np.nan; np.save(f, a)
    d = dict(name='nan', pixel_scale=0.2, size=32, source=dict(format='deepadversaries', path='da', year=1, pixel_scale=0.2, bands=['g', 'r', 'i']),
             target=dict(format='deepadversaries', path='da', year=1, pixel_scale=0.2, bands=['g', 'r', 'i']))
    (tmp_path / 'p.yaml').write_text(yaml.safe_dump(d))
    with pytest.raises(DataError, match=r'images_Y1_train\.npy \(rows 0\.\.\d+\): 1 NaN/inf pixels in 1 images'):
        make_file_pair_dataset(read_pair_file(tmp_path / 'p.yaml'), 10, tmp_path / 'data', verbose=False)

def test_cli_refuses_a_bad_pair_file_before_anything_runs(tmp_path):
    f = _pair(tmp_path); d = yaml.safe_load(f.read_text()); d['source'].pop('pixel_scale'); f.write_text(yaml.safe_dump(d))
    r = subprocess.run(CLI + ['run', str(f), '--runs-dir', str(tmp_path / 'runs')], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and 'source.pixel_scale: missing' in r.stderr and str(f) in r.stderr
    assert not (tmp_path / 'runs').exists()
    r = subprocess.run(CLI + ['run', str(tmp_path / 'none.yaml')], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and 'pair file not found' in r.stderr

def catalogue_fits(folder, n, seed, theta=1.0):
    "FITS cutouts in ADU (zero point 25) of disks and smooth blobs, with a catalogue of sizes, redshifts, seeing and labels biased by resolution"
    from astropy.io import fits
    from astropy.cosmology import Planck18
    import astropy.units as u
    folder.mkdir(exist_ok=True); rng = np.random.default_rng(seed)
    size_kpc, z, fwhm = rng.uniform(1, 8, n), rng.uniform(0.02, 0.15, n), rng.uniform(0.8, 1.6, n)
    alpha = size_kpc / Planck18.kpc_proper_per_arcmin(z).to_value(u.kpc / u.arcsec) / fwhm
    smooth = rng.random(n) < 0.4
    label = np.where(smooth | (rng.random(n) < np.exp(-alpha**2 / (2 * theta**2))), 'elliptical', 'spiral')   # disks mistaken when unresolved
    im = blobs(n, 48, 0.3, seed, np.where(smooth, 0, 1))
    for k in range(n): fits.PrimaryHDU(np.repeat(im[k][None], 3, 0).astype(np.float32) * 200 + rng.normal(0, 2, (3, 48, 48)).astype(np.float32)).writeto(folder / f'g{k}.fits')
    pd.DataFrame(dict(file=[f'g{k}.fits' for k in range(n)], class_name=label, R50_kpc=size_kpc, zspec=z, psf_fwhm=fwhm,
                      rmag=rng.uniform(15, 18, n))).to_csv(folder / 'cat.csv', index=False)
    return folder / 'cat.csv'

def test_cli_robustness_and_debias_on_catalogue_files(tmp_path):
    "FITS cutouts with a catalogue (ADU, gain, PSF FWHM, sizes and redshifts) against DeepAdversaries arrays: every stage runs"
    catalogue_fits(tmp_path / 'fits', 240, 0); deepadversaries(tmp_path / 'da', 200, 1)
    d = dict(name='fits-cat', pixel_scale=0.3, size=40, classes=dict(disk=['spiral'], smooth=['elliptical']),
             source=dict(format='fits', path='fits/cat.csv', pixel_scale=0.3, bands=['g', 'r', 'i'], taxonomy='three', unit='adu',
                         zero_point=25., gain=[4., 4., 4.],
                         catalog=dict(size_kpc='R50_kpc', redshift='zspec', fwhm='psf_fwhm', mag_r='rmag')),
             target=dict(format='deepadversaries', path='da', year=1, pixel_scale=0.2, bands=['g', 'r', 'i']),
             params=dict(n_galaxies=240, epochs=1, methods='mmd:1', oracle=False, n_curve=40, n_attack=4, generations=3,
                         n_debias=240, debias_epochs=1, metric_bins=3, metric_intrinsic='size_kpc,z'))
    (tmp_path / 'p.yaml').write_text(yaml.safe_dump(d))
    r = subprocess.run(CLI + ['run', 'p.yaml', '--stages', 'robustness,debias', '--runs-dir', 'runs'], cwd=tmp_path,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    res = json.loads((tmp_path / 'runs' / 'fits-cat' / 'seed-0' / 'results.json').read_text())
    assert {s: v['status'] for s, v in res['stages'].items()} == dict(data='done', baseline='done', da='done', robustness='done', debias='done')
    rob = res['robustness']
    assert rob['noise']['gain_known'] and 'gain from the pair file' in rob['noise']['origin'] and rob['skipped'] == {}
    assert {c['kind'] for c in rob['curves']} >= {'exposure', 'psf'}
    sky = np.array(rob['noise']['sky_sigma'])   # the blobs' 0.01 x 200 ADU and 2 ADU added: sqrt(8) ADU, 0.1 nanomaggies each at ZP 25
    assert np.all(np.abs(sky / (0.1 * 8**0.5) - 1) < 0.1), sky
    db = res['debias']
    assert db['truth'] is False and db['accuracy'] == {} and db['theta'] is None and np.isfinite(db['theta_fit'])
    assert {'labels', 'naive', 'de-biased'} <= set(db['L']) and 'truth' not in db['L'] and db['metric']['intrinsic'] == ['size_kpc', 'z']
    assert set(db['label_agreement']) == {'naive', 'debiased'} and 0 <= db['smooth_fraction']['labels'] <= 1

def test_debias_reason_and_catalogue_table(tmp_path):
    from deepastro.debias import debias_reason, catalogue_table
    f = _pair(tmp_path)
    assert 'gives no resolution' in debias_reason(str(f))
    assert "do not include ['spiral']" in debias_reason(str(f), 'spiral,smooth')
    assert debias_reason('sdss-decals') == ''
    t = catalogue_table(pd.DataFrame(dict(size_kpc=[2., 4.], redshift=[0.05, 0.1], fwhm=[1., 1.], mag_r=[16., 17.])))
    from astropy.cosmology import Planck18
    import astropy.units as u
    assert list(t.columns) == ['alpha', 'mag_r', 'size_kpc', 'z']
    np.testing.assert_allclose(t.alpha, [2, 4] / Planck18.kpc_proper_per_arcmin([0.05, 0.1]).to_value(u.kpc / u.arcsec), rtol=1e-6)
    assert list(catalogue_table(pd.DataFrame(dict(alpha=[0.5, 2.]))).columns) == ['alpha']   # resolution alone: a 1-D study
    with pytest.raises(DataError, match='redshifts must be finite and > 0'):
        catalogue_table(pd.DataFrame(dict(size_kpc=[2.], redshift=[0.], fwhm=[1.])))
    with pytest.raises(DataError, match=r"non-finite values \(count per column\): \{'mag_r': 1\}"):
        catalogue_table(pd.DataFrame(dict(alpha=[1., 2.], mag_r=[16., np.nan])))

def test_cli_scheduler_local_runs_a_pair_file(g10_dir, tmp_path):
    "A pair file as a Dask task: the worker reads the pair file itself; its run folder is named by the pair"
    r = subprocess.run(CLI + ['run', str(g10_dir / 'pair.yaml'), '--quick', '--stages', 'data', '-p', 'n_galaxies', '60',
                              '--scheduler', 'local', '--runs-dir', str(tmp_path / 'runs')], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    res = json.loads((tmp_path / 'runs' / 'g10-small' / 'seed-0' / 'results.json').read_text())
    assert res['stages']['data']['status'] == 'done' and res['data']['n_galaxies'] == 60
