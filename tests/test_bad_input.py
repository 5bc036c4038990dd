"""Every bad input gives a clear error that names what was wrong (the file, the count, the bad value, the valid choices)."""
import re
import numpy as np, pandas as pd, h5py, torch, pytest
from astropy.io import fits

from deepastro.data import (DataError, FORMAT, read_galaxy10, read_deepadversaries, read_fits_cutouts, save_dataset,
                            load_dataset, read_provenance, stratified_split, ArcsinhScaler, PairData)
from deepastro.surveys import get_survey, get_pair
from deepastro.simulate import class_names, draw_population, add_noise, render_noiseless

THREE = class_names('three')


def esc(p): return re.escape(str(p))


# ---------------------------------------------------------------- helpers writing tiny files

def _galaxy10(path, images=None, ans=None, **datasets):
    images = np.zeros((3, 16, 16, 3), np.uint8) if images is None else images
    with h5py.File(path, 'w') as f:
        if images is not False: f['images'] = images
        if ans is not False: f['ans'] = np.array([0, 1, 2] if ans is None else ans)
        for k, v in datasets.items(): f[k] = v
    return path


def _deepadv(folder, images=None, labels=None, year=10, split='train'):
    images = np.ones((4, 3, 100, 100)) if images is None else images
    labels = np.eye(3)[[0, 1, 2, 0]] if labels is None else labels
    fi, fl = folder / f'images_Y{year}_{split}.npy', folder / f'labels_{split}.npy'
    np.save(fi, images); np.save(fl, labels)
    return fi, fl


def _fits_catalog(folder, cubes, labels=None, col='class_name'):
    files = []
    for i, c in enumerate(cubes):
        fits.PrimaryHDU(np.asarray(c, np.float32)).writeto(folder / f'c{i}.fits'); files.append(f'c{i}.fits')
    labels = labels or [THREE[i % 3] for i in range(len(cubes))]
    pd.DataFrame({'file': files, col: labels}).to_csv(folder / 'cat.csv', index=False)
    return folder / 'cat.csv'


def _meta(n, classes=THREE):
    y = np.arange(n) % len(classes)
    return pd.DataFrame(dict(label=y, class_name=[classes[i] for i in y]))


def _prov(classes=THREE, paired=False):
    return dict(kind='test', classes=list(classes), paired=paired, taxonomy='three')


def _deepastro(path, n=30, bands=3, size=16, classes=THREE, seed=0, paired=False):
    img = np.random.default_rng(seed).gamma(2., 1., (n, bands, size, size)).astype(np.float32)
    return save_dataset(path, img, _meta(n, classes), _prov(classes, paired))


# ---------------------------------------------------------------- missing files

def test_missing_galaxy10_file(tmp_path):
    p = tmp_path / 'Galaxy10_DECals.h5'
    with pytest.raises(FileNotFoundError, match=esc(p)): read_galaxy10(p)


def test_missing_dataset_file(tmp_path):
    p = tmp_path / 'nope.h5'
    with pytest.raises(FileNotFoundError, match=esc(p)): load_dataset(p)
    with pytest.raises(FileNotFoundError, match=esc(p)): read_provenance(p)


def test_missing_deepadversaries_images(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'images_Y1_valid\.npy'): read_deepadversaries(tmp_path, 1, 'valid')


def test_missing_deepadversaries_labels(tmp_path):
    fi, fl = _deepadv(tmp_path); fl.unlink()
    with pytest.raises(FileNotFoundError, match=r'labels_train\.npy'): read_deepadversaries(tmp_path, 10, 'train')


def test_missing_catalogue(tmp_path):
    p = tmp_path / 'cat.csv'
    with pytest.raises(FileNotFoundError, match=esc(p)): read_fits_cutouts(p)


def test_missing_cutout_listed_in_catalogue(tmp_path):
    cat = _fits_catalog(tmp_path, [np.ones((3, 8, 8))] * 2)
    (tmp_path / 'c1.fits').unlink()
    with pytest.raises(FileNotFoundError, match=r'c1\.fits'): read_fits_cutouts(cat)


def test_bad_deepadversaries_year_and_split(tmp_path):
    _deepadv(tmp_path)
    with pytest.raises(ValueError, match=r'year must be the integer 1 or 10, got 5'): read_deepadversaries(tmp_path, 5, 'train')
    with pytest.raises(ValueError, match=r"split must be.*got 'validation'"): read_deepadversaries(tmp_path, 10, 'validation')


# ---------------------------------------------------------------- corrupt files

def test_corrupt_h5_galaxy10(tmp_path):
    p = tmp_path / 'Galaxy10.h5'; p.write_text('this is a text file, not HDF5\n' * 20)
    with pytest.raises(DataError, match=esc(p) + '.*not a readable HDF5'): read_galaxy10(p)


def test_corrupt_h5_dataset(tmp_path):
    p = tmp_path / 'd.h5'; p.write_text('this is a text file, not HDF5\n' * 20)
    with pytest.raises(DataError, match=esc(p)): load_dataset(p)
    with pytest.raises(DataError, match=esc(p)): read_provenance(p)


def test_hdf5_that_is_not_a_deepastro_dataset(tmp_path):
    p = _galaxy10(tmp_path / 'g.h5')
    with pytest.raises(DataError, match=esc(p) + '.*not a deepastro dataset'): load_dataset(p)
    with pytest.raises(DataError, match=esc(p) + '.*not a deepastro dataset'): read_provenance(p)


def test_garbage_npy_images_names_file(tmp_path):
    fi, fl = _deepadv(tmp_path)
    fi.write_bytes(b'not a numpy file at all' * 10)
    with pytest.raises(DataError, match=r'images_Y10_train\.npy'): read_deepadversaries(tmp_path, 10, 'train')


def test_garbage_npy_labels_names_file(tmp_path):
    fi, fl = _deepadv(tmp_path)
    fl.write_bytes(b'not a numpy file at all' * 10)
    with pytest.raises(DataError, match=r'labels_train\.npy'): read_deepadversaries(tmp_path, 10, 'train')


def test_garbage_npy_is_a_data_error_in_the_folder(tmp_path):
    "what the library does guarantee today: a DataError mentioning the folder and that the .npy is unreadable"
    fi, fl = _deepadv(tmp_path)
    fi.write_bytes(b'not a numpy file at all' * 10)
    with pytest.raises(DataError, match=esc(tmp_path) + '.*unreadable .npy'): read_deepadversaries(tmp_path, 10, 'train')


def test_garbage_fits_names_file(tmp_path):
    cat = _fits_catalog(tmp_path, [np.ones((3, 8, 8))] * 2)
    (tmp_path / 'c1.fits').write_bytes(b'garbage, not FITS\n' * 300)
    with pytest.raises(DataError, match=esc(tmp_path / 'c1.fits') + '.*not a readable FITS'): read_fits_cutouts(cat)


def test_truncated_fits_names_file(tmp_path):
    cat = _fits_catalog(tmp_path, [np.ones((3, 8, 8))] * 2)
    q = tmp_path / 'c1.fits'; q.write_bytes(q.read_bytes()[:3000])
    with pytest.raises(DataError, match=r'c1\.fits'): read_fits_cutouts(cat)


def test_fits_without_image_data_names_file(tmp_path):
    cat = _fits_catalog(tmp_path, [np.ones((3, 8, 8))] * 2)
    q = tmp_path / 'c1.fits'; q.unlink(); fits.PrimaryHDU().writeto(q)
    with pytest.raises(DataError, match=r'c1\.fits'): read_fits_cutouts(cat)


# ---------------------------------------------------------------- wrong shapes

def test_galaxy10_channels_first(tmp_path):
    p = _galaxy10(tmp_path / 'g.h5', images=np.zeros((3, 3, 16, 16), np.uint8))
    with pytest.raises(DataError, match=esc(p) + r'.*\(N, H, W, 3\).*\(3, 3, 16, 16\)'): read_galaxy10(p)


def test_galaxy10_three_dimensional(tmp_path):
    p = _galaxy10(tmp_path / 'g.h5', images=np.zeros((3, 16, 16), np.uint8))
    with pytest.raises(DataError, match=esc(p) + r'.*\(N, H, W, 3\).*\(3, 16, 16\)'): read_galaxy10(p)


def test_dataset_wrong_band_count(tmp_path):
    p = _deepastro(tmp_path / 'd.h5', n=4, bands=3)
    with pytest.raises(DataError, match=esc(p) + '.*expected 5 bands, got 3'): load_dataset(p, n_bands=5)


def test_deepadversaries_labels_not_2d(tmp_path):
    _deepadv(tmp_path, labels=np.array([0, 1, 2, 0]))
    with pytest.raises(DataError, match=r'labels_train\.npy.*one-hot \(N, 3\).*\(4,\)'):
        read_deepadversaries(tmp_path, 10, 'train')


def test_deepadversaries_labels_four_columns(tmp_path):
    _deepadv(tmp_path, labels=np.eye(4)[[0, 1, 2, 3]])
    with pytest.raises(DataError, match=r'labels_train\.npy.*one-hot \(N, 3\).*\(4, 4\)'):
        read_deepadversaries(tmp_path, 10, 'train')


def test_deepadversaries_labels_rows_not_one_hot(tmp_path):
    lab = np.eye(3)[[0, 1, 2, 0]]; lab[1] = 0; lab[3] = [1, 1, 0]
    _deepadv(tmp_path, labels=lab)
    with pytest.raises(DataError, match=r'labels_train\.npy.*one-hot'): read_deepadversaries(tmp_path, 10, 'train')


def test_deepadversaries_images_channels_last(tmp_path):
    _deepadv(tmp_path, images=np.ones((4, 100, 100, 3)))
    with pytest.raises(DataError, match=r'images_Y10_train\.npy.*expected 3 bands, got 100'):
        read_deepadversaries(tmp_path, 10, 'train')


def test_deepadversaries_count_mismatch(tmp_path):
    _deepadv(tmp_path, images=np.ones((5, 3, 100, 100)))
    with pytest.raises(DataError, match=r'images_Y10_train\.npy has 5 images but .*labels_train\.npy has 4 labels'):
        read_deepadversaries(tmp_path, 10, 'train')


def test_fits_cutouts_differing_shapes(tmp_path):
    cat = _fits_catalog(tmp_path, [np.ones((3, 8, 8)), np.ones((3, 8, 8)), np.ones((3, 9, 8))])
    with pytest.raises(DataError, match=r'c2\.fits.*\(3, 9, 8\).*\(3, 8, 8\)'): read_fits_cutouts(cat)


def test_fits_cutouts_wrong_band_count(tmp_path):
    cat = _fits_catalog(tmp_path, [np.ones((3, 8, 8))] * 2)
    with pytest.raises(DataError, match=r'c0\.fits: expected 5 bands, got 3'): read_fits_cutouts(cat, n_bands=5)


def test_fits_planes_of_different_size_names_file(tmp_path):
    cat = _fits_catalog(tmp_path, [np.ones((3, 8, 8))] * 2)
    q = tmp_path / 'c1.fits'; q.unlink()
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((8, 8))), fits.ImageHDU(np.ones((8, 9)))]).writeto(q)
    with pytest.raises(DataError, match=r'c1\.fits'): read_fits_cutouts(cat)


# ---------------------------------------------------------------- NaN / inf pixels

def test_nan_in_galaxy10(tmp_path):
    im = np.ones((3, 16, 16, 3), np.float32); im[0, 1, 1, 0] = np.nan; im[0, 2, 2, 1] = np.inf; im[2, 0, 0, 2] = -np.inf
    p = _galaxy10(tmp_path / 'g.h5', images=im)
    with pytest.raises(DataError, match=esc(p) + r': 3 NaN/inf pixels in 2 images'): read_galaxy10(p)


def test_nan_in_deepadversaries(tmp_path):
    im = np.ones((4, 3, 100, 100)); im[0, 0, 0, :3] = np.nan; im[3, 2, 5, 5] = np.inf
    _deepadv(tmp_path, images=im)
    with pytest.raises(DataError, match=r'images_Y10_train\.npy: 4 NaN/inf pixels in 2 images'):
        read_deepadversaries(tmp_path, 10, 'train')


def test_nan_in_dataset_file(tmp_path):
    p = tmp_path / 'd.h5'
    im = np.ones((4, 3, 8, 8), np.float32); im[1, 0, :2, 0] = np.nan; im[2, 1, 3, 3] = np.nan
    with h5py.File(p, 'w') as f:
        f.attrs['format'] = FORMAT; f.attrs['provenance'] = '{}'
        f['images'] = im; f.create_group('meta')['label'] = np.zeros(4, np.int64)
    with pytest.raises(DataError, match=esc(p) + r': 3 NaN/inf pixels in 2 images'): load_dataset(p)


def test_nan_in_save_dataset(tmp_path):
    p = tmp_path / 'd.h5'
    im = np.ones((4, 3, 8, 8)); im[0, 0, 0, 0] = np.nan; im[0, 1, 0, 0] = np.inf
    with pytest.raises(DataError, match=esc(p) + r' \(rows 0\.\.3\): 2 NaN/inf pixels in 1 images'): save_dataset(p, im, _meta(4), _prov())
    assert not p.exists() and list(tmp_path.iterdir()) == []


def test_nan_in_fits_cutouts_names_cutout(tmp_path):
    a = np.ones((3, 8, 8)); b = np.ones((3, 8, 8)); b[0, 0, :3] = np.nan
    cat = _fits_catalog(tmp_path, [a, b])
    with pytest.raises(DataError, match=r'c1\.fits.*3 NaN/inf pixels'): read_fits_cutouts(cat)


def test_nan_in_scaler_fit():
    im = np.ones((2, 3, 8, 8), np.float32); im[1, 2, 4, 4] = np.nan
    with pytest.raises(DataError, match=r'scaler\.fit: 1 NaN/inf pixels in 1 images'): ArcsinhScaler().fit(im)


# ---------------------------------------------------------------- Galaxy10 labels and datasets

@pytest.mark.parametrize('ans,rng', [([0, 10, 3], '0..10'), ([-1, 4, 3], '-1..4')])
def test_galaxy10_ans_out_of_range(tmp_path, ans, rng):
    p = _galaxy10(tmp_path / 'g.h5', ans=np.array(ans, np.int16))
    with pytest.raises(DataError, match=esc(p) + r".*'ans' must be 0-9, got " + re.escape(rng)): read_galaxy10(p)


def test_galaxy10_count_mismatch(tmp_path):
    p = _galaxy10(tmp_path / 'g.h5', ans=[0, 1])
    with pytest.raises(DataError, match=esc(p) + r": 3 images but 2 labels in 'ans'"): read_galaxy10(p)


def test_galaxy10_missing_ans(tmp_path):
    p = _galaxy10(tmp_path / 'g.h5', ans=False, redshift=np.zeros(3))
    with pytest.raises(DataError, match=esc(p) + r".*missing dataset\(s\) \['ans'\].*found \['images', 'redshift'\]"):
        read_galaxy10(p)


def test_galaxy10_missing_images_and_ans(tmp_path):
    p = _galaxy10(tmp_path / 'g.h5', images=False, ans=False, ra=np.zeros(3))
    with pytest.raises(DataError, match=r"missing dataset\(s\) \['images', 'ans'\]"): read_galaxy10(p)


# ---------------------------------------------------------------- FITS catalogue

def test_catalogue_unknown_class(tmp_path):
    cat = _fits_catalog(tmp_path, [np.ones((3, 8, 8))] * 3, labels=['spiral', 'blob', 'elliptical'])
    with pytest.raises(DataError, match=esc(cat) + r".*\['blob'\].*not in taxonomy 'three'"): read_fits_cutouts(cat)


def test_catalogue_class_from_other_taxonomy(tmp_path):
    cat = _fits_catalog(tmp_path, [np.ones((3, 8, 8))] * 2, labels=['spiral', 'round_smooth'])
    with pytest.raises(DataError, match=r"\['round_smooth'\].*not in taxonomy 'three'"): read_fits_cutouts(cat)
    # the same catalogue is fine against galaxy10 only if every class is there: 'spiral' is not
    with pytest.raises(DataError, match=r"\['spiral'\].*not in taxonomy 'galaxy10'"): read_fits_cutouts(cat, 'galaxy10')


def test_catalogue_without_file_column(tmp_path):
    p = tmp_path / 'cat.csv'; pd.DataFrame(dict(path=['a.fits'], class_name=['spiral'])).to_csv(p, index=False)
    with pytest.raises(DataError, match=esc(p) + r".*needs a 'file' column.*\['path', 'class_name'\]"):
        read_fits_cutouts(p)


def test_catalogue_without_label_column(tmp_path):
    p = tmp_path / 'cat.csv'; pd.DataFrame(dict(file=['a.fits'], kind=['spiral'])).to_csv(p, index=False)
    with pytest.raises(DataError, match=esc(p) + r".*needs a 'class_name' or 'label' column"): read_fits_cutouts(p)


def test_catalogue_unknown_taxonomy(tmp_path):
    cat = _fits_catalog(tmp_path, [np.ones((3, 8, 8))])
    with pytest.raises(KeyError, match=r"unknown taxonomy 'gz2'.*three.*galaxy10"): read_fits_cutouts(cat, taxonomy='gz2')


def test_catalogue_label_too_large(tmp_path):
    cat = _fits_catalog(tmp_path, [np.ones((3, 8, 8))] * 2, labels=[0, 7], col='label')
    with pytest.raises(DataError, match=esc(cat) + '.*7'): read_fits_cutouts(cat)


def test_catalogue_label_negative(tmp_path):
    cat = _fits_catalog(tmp_path, [np.ones((3, 8, 8))] * 2, labels=[0, -1], col='label')
    with pytest.raises(DataError, match=esc(cat) + '.*-1'): read_fits_cutouts(cat)


# ---------------------------------------------------------------- surveys, taxonomies, population

def test_unknown_survey():
    with pytest.raises(KeyError, match=r"unknown survey 'hst'.*lsst-y10.*lsst-y1.*sdss.*decals"): get_survey('hst')


def test_unknown_pair():
    with pytest.raises(KeyError, match=r"unknown survey pair 'lsst-hsc'.*lsst-y10-y1.*sdss-decals"): get_pair('lsst-hsc')


def test_unknown_band():
    with pytest.raises(KeyError, match=r"'lsst-y10' has no band 'z'.*\('g', 'r', 'i'\)"): get_survey('lsst-y10').band('z')
    assert get_survey('decals').band('z').name == 'z'


def test_unknown_taxonomy():
    with pytest.raises(KeyError, match=r"unknown taxonomy 'gz2'.*three, galaxy10"): class_names('gz2')


def test_unknown_population_parameter():
    with pytest.raises(KeyError, match=r"unknown population parameter\(s\) \['zmax'\].*z_max"):
        draw_population(10, params={'zmax': 1})


@pytest.mark.parametrize('zmin,zmax', [(0.5, 0.1), (0.0, 0.5), (0.1, 5.0), (0.3, 0.3)])
def test_bad_z_range(zmin, zmax):
    with pytest.raises(ValueError, match=r'0 < z_min < z_max <= 3, got ' + re.escape(f'{zmin}, {zmax}')):
        draw_population(10, params=dict(z_min=zmin, z_max=zmax))


def test_unknown_class_in_class_fractions():
    with pytest.raises(KeyError, match=r"class_fractions names \['blob'\] not in taxonomy 'three'"):
        draw_population(10, params=dict(class_fractions={'spiral': 0.5, 'blob': 0.5}))


# ---------------------------------------------------------------- simulator inputs

@pytest.mark.parametrize('exact', [False, True])
def test_add_noise_wrong_band_count(exact):
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\) for survey 'lsst-y10'.*got \(2, 5, 16, 16\)"):
        add_noise(torch.zeros(2, 5, 16, 16), 'lsst-y10', exact_poisson=exact)


def test_add_noise_unbatched_image():
    with pytest.raises(ValueError, match=r'got \(3, 16, 16\)'): add_noise(torch.zeros(3, 16, 16), 'sdss')


@pytest.fixture(scope='module')
def pop():
    return draw_population(3, seed=0)


@pytest.mark.parametrize('stamp', [5, 32.0, 0])
def test_render_noiseless_bad_stamp(pop, stamp):
    with pytest.raises(ValueError, match=r'stamp must be an integer number of pixels >= 16, got ' + re.escape(repr(stamp))):
        render_noiseless(pop, 'lsst-y10', stamp)


def test_render_noiseless_unknown_survey(pop):
    with pytest.raises(KeyError, match=r"unknown survey 'euclid'"): render_noiseless(pop, 'euclid', 32)


# ---------------------------------------------------------------- splits and scaler

@pytest.mark.parametrize('fr', [(0.5, 0.3, 0.1), (0.7, 0.3), (1.2, -0.1, -0.1)])
def test_stratified_split_bad_fractions(fr):
    with pytest.raises(ValueError, match=r'summing to 1, got ' + re.escape(str(fr))): stratified_split(np.arange(30) % 3, fr)


def test_scaler_used_before_fit():
    with pytest.raises(RuntimeError, match='before fit'): ArcsinhScaler()(np.ones((1, 3, 8, 8)))


def test_scaler_band_count_mismatch():
    s = ArcsinhScaler().fit(np.random.default_rng(0).gamma(2., 1., (4, 3, 8, 8)))
    assert s(np.ones((2, 3, 8, 8))).shape == (2, 3, 8, 8)
    with pytest.raises(DataError, match=r'fitted for 3 bands, got images of shape \(2, 5, 8, 8\)'):
        s(np.ones((2, 5, 8, 8)))
    with pytest.raises(DataError, match=r'fitted for 3 bands, got images of shape \(3, 8, 8\)'):
        s(np.ones((3, 8, 8)))


# ---------------------------------------------------------------- PairData source/target consistency

def test_pairdata_matching_target_loads(tmp_path):
    "control for the mismatch tests below: a consistent pair of files builds"
    d = PairData(dict(source=_deepastro(tmp_path / 's.h5'), target=_deepastro(tmp_path / 't.h5', seed=1)), bs=8)
    assert d.x_t.shape == (30, 3, 16, 16) and d.classes == list(THREE) and d.n_bands == 3


def test_pairdata_target_band_count(tmp_path):
    t = _deepastro(tmp_path / 't.h5', bands=4, seed=1)
    with pytest.raises(DataError, match=esc(t) + '.*expected 3 bands, got 4'):
        PairData(dict(source=_deepastro(tmp_path / 's.h5'), target=t), bs=8)


def test_pairdata_target_image_size(tmp_path):
    t = _deepastro(tmp_path / 't.h5', size=20, seed=1)
    with pytest.raises(DataError, match=r'target images \(3, 20, 20\) differ in shape from source images \(3, 16, 16\)'):
        PairData(dict(source=_deepastro(tmp_path / 's.h5'), target=t), bs=8)


def test_pairdata_target_classes(tmp_path):
    other = ('elliptical', 'spiral', 'merger')
    t = _deepastro(tmp_path / 't.h5', classes=other, seed=1)
    with pytest.raises(DataError, match=r"class mismatch: source classes \['spiral', 'elliptical', 'merger'\], "
                                        r"target classes \['elliptical', 'spiral', 'merger'\]"):
        PairData(dict(source=_deepastro(tmp_path / 's.h5'), target=t), bs=8)
