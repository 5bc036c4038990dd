"""Property-based bad-input sweep (hypothesis) over the public functions that take arrays, tables, labels, probabilities,
sizes, counts, seeds or strings.

For every input a function must give either a correct result (checked against a property or a small reference
implementation) or a ValueError/TypeError (or the library's own subclass of them: DataError, PairFileError) whose message
names the argument. Never a NaN result, a silently clipped/wrapped/truncated value, or an IndexError / reshape /
broadcasting message from inside numpy or torch.

The sweep found 38 distinct defects (input that gave a NaN, a silently truncated value or an error from inside
numpy or torch); each is fixed, and the test that found it stays here.
"""
import json, math, re, shutil, tempfile
from pathlib import Path

import h5py, numpy as np, pandas as pd, pytest, torch, yaml
import torch.nn.functional as F
from torch import nn
from astropy.io import fits
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from deepastro.data import (DataError, ArcsinhScaler, stratified_split, read_galaxy10, read_deepadversaries,
                            read_fits_cutouts, load_dataset, save_dataset, check_images, GALAXY10_SDSS_CLASSES)
from deepastro.simulate import class_names
from deepastro.debias import bias_metric, bias_metric_1d, fit_label_bias, DebiasLoss, LabelBias
from deepastro.perturb import (hot_pixels, dead_pixels, cosmic_rays, saturate, quantize, noise_sigma, degrade_exposure,
                               degrade_psf, degrade_depth, kernel_fwhm, measure_noise, ImageNoise, one_pixel_attack)
from deepastro.da import mmd2, coral, class_mmd2, parse_recipe, LOSS_TERMS
from deepastro.evaluate import auroc, open_set_metrics
from deepastro.models import classification_metrics
from deepastro.pipeline import read_params, stage_parameters
from deepastro.surveys import read_pair_file, PairFileError, SURVEY_PAIRS

ROOT = Path(__file__).resolve().parents[1]
ERR = (ValueError, TypeError)      # DataError, PairFileError are ValueErrors
THREE = class_names('three')

SW = settings(max_examples=20, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
FEW = settings(SW, max_examples=8)
NAN, INF = float('nan'), float('inf')


def names(pattern):
    "pytest.raises for a ValueError/TypeError whose message matches `pattern` (the argument's name)"
    return pytest.raises(ERR, match=pattern)


def result_or_error(fn, pattern, check):
    "Call `fn`: a ValueError/TypeError must match `pattern`; a result must pass `check`; anything else propagates"
    try: r = fn()
    except ERR as e:
        assert re.search(pattern, str(e)), f"error does not name {pattern!r}: {type(e).__name__}: {e}"
        return
    check(r)


def finite(v): return bool(np.all(np.isfinite(np.asarray(v, dtype=float))))


def rng_of(seed): return np.random.default_rng(seed)


def tmpdir(base): return Path(tempfile.mkdtemp(dir=base))


@pytest.fixture
def work():
    "A scratch folder whose path names no test (pytest's tmp_path holds the test's name, which messages could match)"
    d = Path(tempfile.mkdtemp(prefix='sw-')).resolve()
    yield d
    shutil.rmtree(d, ignore_errors=True)


seeds = st.integers(0, 2**31 - 1)


# =============================================================== stratified_split

def _assert_partition(labels, sp, fractions=None):
    labels = np.asarray(labels); n = len(labels)
    assert set(sp) == {'train', 'valid', 'test'}
    for v in sp.values(): assert v.dtype == np.int64 and np.all(np.diff(v) > 0)
    assert np.array_equal(np.sort(np.concatenate(list(sp.values()))), np.arange(n)), "splits are not a partition of the rows"
    if fractions is None: return
    for c in np.unique(labels):
        n_c = int((labels == c).sum())
        for k, f in zip(('train', 'valid', 'test'), fractions):
            assert abs(int((labels[sp[k]] == c).sum()) - f * n_c) <= 1 + 1e-9, f"class {c!r}, {k}: fraction not kept"


@st.composite
def fractions3(draw):
    a, b = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
    return (a, b - a, 1 - b)


label_arrays = st.one_of(hnp.arrays(np.int64, st.integers(0, 60), elements=st.integers(-2, 4)),
                         hnp.arrays(np.bool_, st.integers(0, 30)),
                         st.lists(st.sampled_from(THREE), max_size=30).map(lambda v: np.array(v, dtype=object)))


@SW
@given(labels=label_arrays, fractions=fractions3(), seed=seeds)
def test_stratified_split_is_a_stratified_partition(labels, fractions, seed):
    "Any 1-D labels (ints, bools, names) split into a partition of the rows, each class within one row of its fractions, reproducibly"
    sp = stratified_split(labels, fractions, seed)
    _assert_partition(labels, sp, fractions)
    again = stratified_split(labels, fractions, seed)
    assert all(np.array_equal(sp[k], again[k]) for k in sp)


@SW
@given(fr=st.one_of(st.tuples(st.floats(0, 1), st.floats(0, 1)),
                    st.tuples(st.floats(-2, -0.01), st.floats(0, 1), st.floats(0, 1)),
                    st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)).filter(lambda t: abs(sum(t) - 1) > 1e-3),
                    st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))))
def test_stratified_split_bad_fractions_named(fr):
    "Fractions of the wrong length, negative, or not summing to one: ValueError naming fractions"
    with names('fractions'): stratified_split([0, 1, 1, 2], fr)


@pytest.mark.parametrize('call', [
    lambda: stratified_split(np.zeros((4, 2), int)),               # 2-D: rows appear in two splits
    lambda: stratified_split(np.array(3)),                         # 0-d: numpy "Calling nonzero on 0d arrays"
    lambda: stratified_split([0, 1, 1], (NAN, 0.5, 0.5)),         # "cannot convert float NaN to integer"
    lambda: stratified_split([0, 1, 1], ('a', 'b', 'c')),          # "unsupported operand type(s) for +"
    lambda: stratified_split([0, 1, 1], seed=-1),                  # numpy "expected non-negative integer"
    lambda: stratified_split([0, 1, 1], seed=1.5),                 # "SeedSequence expects int"
], ids=['labels-2d', 'labels-0d', 'fractions-nan', 'fractions-str', 'seed-negative', 'seed-float'])
def test_stratified_split_bad_arguments_named(call):
    "Malformed labels, fractions or seed: ValueError/TypeError naming labels, fractions or seed"
    with names(r'labels|fractions|seed'): call()


@SW
@given(n_nan=st.integers(1, 5), n=st.integers(0, 10))
@example(n_nan=2, n=2)
def test_stratified_split_nan_labels_partition_or_error(n_nan, n):
    "NaN labels: an error naming labels, or still a partition of all rows"
    labels = np.r_[np.full(n_nan, np.nan), np.arange(n) % 2.]
    result_or_error(lambda: stratified_split(labels), 'labels', lambda sp: _assert_partition(labels, sp))


@SW
@given(n=st.integers(1, 30), zero=st.sampled_from([0, 1, 2]), seed=seeds)
@example(n=5, zero=2, seed=0)
def test_stratified_split_zero_fraction_split_is_empty(n, zero, seed):
    "A split asked for with fraction 0 gets no rows"
    fr = [0.5, 0.5, 0.5]; fr[zero] = 0.
    sp = stratified_split(np.zeros(n, int), tuple(fr), seed)
    assert len(sp[('train', 'valid', 'test')[zero]]) == 0


# =============================================================== ArcsinhScaler

def _img(seed, n=3, bands=3, size=6):
    return rng_of(seed).gamma(2., 1., (n, bands, size, size)).astype(np.float32)


@FEW
@given(n=st.integers(1, 4), bands=st.integers(1, 3), size=st.integers(2, 8), seed=seeds, standardize=st.booleans())
def test_scaler_monotone_finite_and_round_trips(n, bands, size, seed, standardize):
    "A fitted scaler keeps the shape, gives finite values non-decreasing in each band's pixel values, and round-trips through to_dict/JSON/from_dict"
    img = _img(seed, n, bands, size)
    s = ArcsinhScaler(standardize=standardize).fit(img, seed=seed)
    y = s(img)
    assert tuple(y.shape) == img.shape and torch.isfinite(y).all()
    for b in range(bands):
        o = np.argsort(img[:, b].ravel(), kind='stable')
        assert (np.diff(y[:, b].numpy().ravel()[o]) >= -1e-6).all()
    s2 = ArcsinhScaler.from_dict(json.loads(json.dumps(s.to_dict())))
    assert torch.equal(s2(img), y)
    assert torch.equal(s(torch.as_tensor(img)), y)        # numpy and torch inputs alike


@FEW
@given(bands=st.integers(1, 3), other=st.integers(1, 4), seed=seeds)
def test_scaler_band_count_and_unfitted_named(bands, other, seed):
    "Images of another band count: DataError naming the bands; NaN images at fit: DataError; use before fit: RuntimeError"
    assume(bands != other)
    s = ArcsinhScaler().fit(_img(seed, bands=bands))
    with pytest.raises(DataError, match='bands'): s(_img(seed, bands=other))
    bad = _img(seed, bands=bands); bad[0, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match='NaN'): ArcsinhScaler().fit(bad)
    with pytest.raises(RuntimeError, match='before fit'): ArcsinhScaler()(bad)


@pytest.mark.parametrize('call', [
    lambda: ArcsinhScaler().fit(np.zeros((0, 3, 8, 8), np.float32)),     # IndexError: index -1 is out of bounds
    lambda: ArcsinhScaler().fit(np.zeros((2, 3, 0, 0), np.float32)),     # IndexError
    lambda: ArcsinhScaler().fit(np.ones((2, 0, 8, 8), np.float32)),      # cannot reshape array of size 0
], ids=['no-images', 'no-pixels', 'no-bands'])
def test_scaler_fit_empty_images_named(call):
    "Fitting on no pixels at all: DataError naming the images"
    with names(r'images|pixels|bands|empty'): call()


@pytest.mark.parametrize('max_pixels', [0, -1, 1])
def test_scaler_fit_max_pixels(max_pixels):
    "max_pixels too small: an error naming max_pixels, or a scaler with finite output"
    img = _img(0)
    result_or_error(lambda: ArcsinhScaler().fit(img, max_pixels=max_pixels)(img), 'max_pixels',
                    lambda y: torch.isfinite(y).all() or pytest.fail('NaN output'))


@pytest.mark.parametrize('kw, arg', [(dict(lo=99., hi=1.), r'\blo\b|\bhi\b'), (dict(lo=-5.), r'\blo\b'), (dict(hi=150.), r'\bhi\b'),
                                     (dict(softening=0.), 'softening'), (dict(softening=-1.), 'softening'),
                                     (dict(softening=NAN), 'softening')],
                         ids=['lo>hi', 'lo<0', 'hi>100', 'softening0', 'softening<0', 'softening-nan'])
def test_scaler_bad_parameters_named(kw, arg):
    "Percentiles outside 0..100 or inverted, softening not > 0: ValueError naming the parameter"
    img = _img(1)
    with names(arg): ArcsinhScaler(**kw).fit(img)(img)


@pytest.mark.parametrize('change', [dict(p_lo=[0., 0.]), dict(std=[0., 0., 0.]), dict(p_hi=[NAN] * 3), dict(p_hi=[-1.] * 3)],
                         ids=['p_lo-length', 'std-zero', 'p_hi-nan', 'p_hi-negative'])
def test_scaler_from_dict_checked(change):
    "A stored scaler with inconsistent or impossible numbers: ValueError naming the key"
    img = _img(2); s = ArcsinhScaler().fit(img)
    with names(r'p_lo|p_hi|std'): ArcsinhScaler.from_dict({**s.to_dict(), **change})(img)


@SW
@given(bad=st.sampled_from([NAN, INF, -INF]), n_bad=st.integers(1, 5), seed=seeds)
@example(bad=NAN, n_bad=1, seed=0)
def test_scaler_call_non_finite_pixels_named(bad, n_bad, seed):
    "Scaling images with NaN/inf pixels: DataError naming the non-finite pixels"
    img = _img(seed); s = ArcsinhScaler().fit(img)
    x = img.copy(); x.reshape(-1)[:n_bad] = bad
    with names(r'NaN|inf|finite'): s(x)


# =============================================================== readers

def _write_galaxy10(path, images, ans):
    with h5py.File(path, 'w') as f: f['images'] = images; f['ans'] = ans
    return path


@FEW
@given(n=st.integers(1, 4), size=st.integers(2, 8), seed=seeds, u8=st.booleans(), lazy=st.booleans(), data=st.data())
def test_read_galaxy10_round_trip(work, n, size, seed, u8, lazy, data):
    "A valid Galaxy10 file reads back: images (N, 3, H, W) scaled by 1/255 if uint8, labels and SDSS class names as stored"
    ans = np.array(data.draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)))
    r = rng_of(seed)
    raw = r.integers(0, 256, (n, size, size, 3)).astype(np.uint8) if u8 else r.random((n, size, size, 3)).astype(np.float32)
    p = _write_galaxy10(tmpdir(work) / 'g.h5', raw, ans)
    img, meta, prov = read_galaxy10(p, lazy=lazy)
    img = img.read(slice(None)) if lazy else img
    assert img.shape == (n, 3, size, size)
    np.testing.assert_allclose(img, np.moveaxis(raw, -1, 1) / (255. if u8 else 1.), rtol=1e-6)
    assert meta.label.tolist() == ans.tolist() and meta.class_name.tolist() == [GALAXY10_SDSS_CLASSES[i] for i in ans]
    assert prov['survey'] == 'sdss' and len(prov['classes']) == 10


@FEW
@given(bad=st.one_of(st.integers(-50, -1), st.integers(10, 300)), pos=st.integers(0, 2))
def test_read_galaxy10_labels_out_of_range_named(work, bad, pos):
    "Labels outside 0-9: DataError naming 'ans' and the range"
    ans = np.array([0, 1, 2]); ans[pos] = bad
    p = _write_galaxy10(tmpdir(work) / 'g.h5', np.zeros((3, 4, 4, 3), np.uint8), ans)
    with pytest.raises(DataError, match=r"'ans' must be 0-9"): read_galaxy10(p)


def test_read_galaxy10_empty_file(work):
    "A Galaxy10 file with no images: a DataError naming the file, or empty images and metadata"
    p = _write_galaxy10(work / 'g.h5', np.zeros((0, 16, 16, 3), np.uint8), np.zeros(0, np.int64))
    try: img, meta, _ = read_galaxy10(p)
    except DataError as e: assert str(p) in str(e); return
    assert len(img) == 0 and len(meta) == 0


@pytest.mark.parametrize('ans', [np.array([0.5, 1.7, 2.]), np.array([b'a', b'b', b'c'])], ids=['fractional', 'text'])
def test_read_galaxy10_non_integer_labels_named(work, ans):
    "Labels that are not integers: DataError naming 'ans'"
    p = _write_galaxy10(work / 'g.h5', np.zeros((3, 4, 4, 3), np.uint8), ans)
    with pytest.raises(DataError, match='ans'): read_galaxy10(p)


def _write_deepadv(folder, images, labels, year=10, split='train'):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f'images_Y{year}_{split}.npy', images); np.save(folder / f'labels_{split}.npy', labels)
    return folder


@FEW
@given(n=st.integers(0, 5), size=st.integers(2, 6), year=st.sampled_from([1, 10]), split=st.sampled_from(['train', 'valid', 'test']),
       dtype=st.sampled_from([np.float64, np.int64, np.bool_]), seed=seeds, data=st.data())
def test_read_deepadversaries_round_trip(work, n, size, year, split, dtype, seed, data):
    "One-hot labels (float, int or bool) and (N, 3, H, W) images read back as argmax labels, three-class names and the same pixels"
    y = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=np.int64)
    images = rng_of(seed).random((n, 3, size, size))
    folder = _write_deepadv(tmpdir(work), images, np.eye(3, dtype=dtype)[y], year, split)
    img, meta, prov = read_deepadversaries(folder, year, split)
    np.testing.assert_allclose(img, images, rtol=1e-6)
    assert meta.label.tolist() == y.tolist() and meta.class_name.tolist() == [THREE[i] for i in y]
    assert prov['survey'] == f'lsst-y{year}'


@FEW
@given(row=st.sampled_from([[0, 0, 0], [1, 1, 0], [0.5, 0.5, 0], [2, 0, 0], [1, 0, -1]]), pos=st.integers(0, 3))
def test_read_deepadversaries_labels_not_one_hot_named(work, row, pos):
    "A label row that is not one-hot: DataError naming the labels file"
    lab = np.eye(3)[[0, 1, 2, 0]]; lab[pos] = row
    folder = _write_deepadv(tmpdir(work), np.ones((4, 3, 4, 4)), lab)
    with pytest.raises(DataError, match=r'labels_train\.npy.*not one-hot'): read_deepadversaries(folder)


@FEW
@given(year=st.one_of(st.sampled_from([1, 10, '10', '1', None, 2, 0, -10, 5.5]), st.integers(11, 100)),
       split=st.sampled_from(['train', 'Train', 'validation', '', None, 1]))
def test_read_deepadversaries_bad_year_or_split_named(work, year, split):
    "A year other than 1 or 10, or a split other than train/valid/test: ValueError naming year or split"
    folder = _write_deepadv(tmpdir(work), np.ones((2, 3, 4, 4)), np.eye(3)[[0, 1]])
    assume(split != 'train' or year not in (1, 10))
    with names(r'year|split'): read_deepadversaries(folder, year, split)


@pytest.mark.parametrize('year', [10.0, True], ids=['float', 'bool'])
def test_read_deepadversaries_year_type_named(work, year):
    "A year that is not the integer 1 or 10: ValueError naming year"
    for y in (1, 10): _write_deepadv(work, np.ones((2, 3, 4, 4)), np.eye(3)[[0, 1]], year=y)
    with names('year'): read_deepadversaries(work, year)


def _write_catalog(folder, cubes, column, values, files=None):
    folder.mkdir(parents=True, exist_ok=True); names_ = []
    for i, c in enumerate(cubes):
        fits.PrimaryHDU(np.asarray(c, np.float32)).writeto(folder / f'c{i}.fits'); names_.append(f'c{i}.fits')
    pd.DataFrame({'file': names_ if files is None else files, column: values}).to_csv(folder / 'cat.csv', index=False)
    return folder / 'cat.csv'


@FEW
@given(n=st.integers(1, 3), bands=st.integers(1, 3), size=st.integers(2, 6), by_name=st.booleans(), seed=seeds, data=st.data())
def test_read_fits_cutouts_round_trip(work, n, bands, size, by_name, seed, data):
    "Cutouts listed by class name or by label read back as the same cubes and labels"
    y = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    cubes = rng_of(seed).random((n, bands, size, size)).astype(np.float32)
    names_ = class_names('three', anomalies=True)
    cat = _write_catalog(tmpdir(work), cubes, 'class_name' if by_name else 'label', [names_[i] for i in y] if by_name else y)
    img, meta, prov = read_fits_cutouts(cat, n_bands=bands)
    np.testing.assert_array_equal(img, cubes)
    assert meta.label.tolist() == y and meta.class_name.tolist() == [names_[i] for i in y]


@FEW
@given(bad=st.one_of(st.integers(-20, -1), st.integers(4, 50)))
def test_read_fits_cutouts_label_out_of_range_named(work, bad):
    "Integer labels outside the taxonomy: DataError naming the labels and the range"
    cat = _write_catalog(tmpdir(work), np.ones((2, 1, 4, 4)), 'label', [0, bad])
    with pytest.raises(DataError, match=r'labels \[.*\] outside 0\.\.3'): read_fits_cutouts(cat)


@pytest.mark.parametrize('column, values, files', [('label', [0.5, 1, 2], None), ('label', [0, None, 2], None),
                                                   ('label', ['a', 'b', 'c'], None),
                                                   ('class_name', ['spiral'] * 3, ['c0.fits', None, 'c2.fits'])],
                         ids=['label-fraction', 'label-blank', 'label-text', 'file-blank'])
def test_read_fits_cutouts_bad_catalogue_cells_named(work, column, values, files):
    "Catalogue cells of the wrong kind: DataError naming the column"
    cat = _write_catalog(work / 'x', np.ones((3, 1, 4, 4)), column, values, files)
    with names(r"'label'|label column|labels|'file'|file column"): read_fits_cutouts(cat)


def _dataset(path, n=3, bands=3, size=4, seed=0):
    img = rng_of(seed).gamma(2., 1., (n, bands, size, size)).astype(np.float32)
    meta = pd.DataFrame(dict(label=np.arange(n) % 3, class_name=[THREE[i % 3] for i in range(n)]))
    return save_dataset(path, img, meta, dict(kind='test', classes=list(THREE))), img, meta


@FEW
@given(n=st.integers(1, 5), bands=st.integers(1, 4), size=st.integers(1, 6), seed=seeds, other=st.integers(1, 6))
def test_load_dataset_round_trip_and_band_check(work, n, bands, size, seed, other):
    "save_dataset/load_dataset round-trip images and metadata; a different band count is a DataError naming the bands"
    p, img, meta = _dataset(tmpdir(work) / 'd.h5', n, bands, size, seed)
    got, m, prov = load_dataset(p, n_bands=bands)
    np.testing.assert_array_equal(got, img); pd.testing.assert_frame_equal(m, meta)
    if other != bands:
        with pytest.raises(DataError, match=f'expected {other} bands, got {bands}'): load_dataset(p, n_bands=other)


@pytest.mark.parametrize('reader', ['load_dataset', 'read_fits_cutouts'])
@pytest.mark.parametrize('n_bands', ['3', True, 0, -1, 2.5])
def test_n_bands_checked(work, reader, n_bands):
    "n_bands that is not a positive integer: ValueError/TypeError naming n_bands"
    if reader == 'load_dataset': p = _dataset(work / 'd.h5')[0]; call = lambda: load_dataset(p, n_bands=n_bands)
    else: cat = _write_catalog(work / 'f', np.ones((2, 3, 4, 4)), 'label', [0, 1]); call = lambda: read_fits_cutouts(cat, n_bands=n_bands)
    with names('n_bands'): call()


@pytest.mark.parametrize('call', [
    lambda: check_images(np.zeros((1, 3, 0, 0))), lambda: check_images(np.zeros((1, 0, 4, 4))),
    lambda: check_images(np.array([[[['a']]]])), lambda: check_images(np.full((1, 1, 2, 2), np.nan + 1j)),
    lambda: hot_pixels(torch.zeros(1, 3, 0, 0), 0.1), lambda: quantize(torch.zeros(1, 3, 0, 0)),
    lambda: noise_sigma(torch.zeros(2, 3, 0, 0)), lambda: measure_noise(torch.zeros(1, 3, 0, 0))],
    ids=['no-pixels', 'no-bands', 'text', 'complex-nan', 'hot_pixels-no-pixels', 'quantize-no-pixels', 'noise_sigma-no-pixels',
         'measure_noise-no-pixels'])
def test_check_images_rejects_empty_stamps_and_non_numbers(call):
    "Images without pixels or bands, or whose pixels are not real numbers: DataError naming the images"
    with pytest.raises(DataError, match='images'): call()


# =============================================================== bias_metric, bias_metric_1d

@st.composite
def independent_assignments(draw):
    "alpha and assignments whose composition is the same in every equal-count alpha bin (independent of resolution)"
    n_bins, m, K = draw(st.integers(2, 6)), draw(st.integers(1, 6)), draw(st.integers(2, 4))
    N = n_bins * m
    alpha = rng_of(draw(seeds)).permutation(np.linspace(0.05, 5., N))
    rank = np.argsort(np.argsort(alpha))
    if draw(st.booleans()):
        pattern = np.array(draw(st.lists(st.integers(0, K - 1), min_size=m, max_size=m)))
    else:
        w = np.array(draw(st.lists(st.lists(st.floats(0.01, 1), min_size=K, max_size=K), min_size=m, max_size=m)))
        pattern = w / w.sum(1, keepdims=True)
    return alpha, pattern[rank % m], n_bins, K


@SW
@given(case=independent_assignments())
def test_bias_metric_1d_zero_for_resolution_independent_assignments(case):
    "Labels or probabilities independent of resolution have bias L = 0; L is finite and >= 0"
    alpha, a, n_bins, K = case
    r = bias_metric_1d(alpha, a, n_bins=n_bins, n_classes=K)
    assert r['L'] >= 0 and abs(r['L']) < 1e-9 and r['n'] == len(alpha) and r['n_bins'] == n_bins


@SW
@given(n_bins=st.integers(2, 6), m=st.integers(1, 5), seed=seeds, n_boot=st.integers(0, 3))
def test_bias_metric_1d_positive_for_resolution_dependent_labels(n_bins, m, seed, n_boot):
    "Labels that are 1 exactly for the better-resolved half have L > 0 (and a finite bootstrap error when n_boot > 1)"
    N = n_bins * m * 2
    alpha = rng_of(seed).permutation(np.linspace(0.05, 5., N))
    y = (np.argsort(np.argsort(alpha)) >= N // 2).astype(np.int64)
    r = bias_metric_1d(alpha, y, n_bins=n_bins, n_boot=n_boot, seed=seed)
    assert r['L'] > 0.1 and finite(r['L'])
    assert (n_boot > 1) == finite(r['L_err'])


@FEW
@given(depth=st.integers(0, 2), n_bins=st.integers(2, 4), min_per_bin=st.integers(1, 3), reps=st.integers(1, 2), K=st.integers(2, 3),
       seed=seeds)
def test_bias_metric_zero_for_constant_probabilities(depth, n_bins, min_per_bin, reps, K, seed):
    "Probabilities the same for every object have L = 0, with sigma2 of shape (classes, observables, 2**depth)"
    N = 2**depth * n_bins * min_per_bin * reps; r = rng_of(seed)
    t = pd.DataFrame({c: r.random(N) for c in ('size_kpc', 'M_r', 'z', 'alpha', 'mag_r')})
    p = r.random(K) + 0.1; P = np.tile(p / p.sum(), (N, 1))
    res = bias_metric(t, P, n_bins=n_bins, depth=depth, min_per_bin=min_per_bin)
    assert abs(res['L']) < 1e-9 and res['sigma2'].shape == (K, 2, 2**depth) and res['n_intrinsic_bins'] == 2**depth


@SW
@given(n=st.integers(4, 30), d=st.integers(1, 5))
def test_bias_metric_mismatch_and_float_labels_named(n, d):
    "Assignments of another length, or fractional 1-D assignments: ValueError naming the assignments"
    alpha = np.linspace(0.1, 3, n)
    with names('assignments'): bias_metric_1d(alpha, np.zeros(n + d, int), n_bins=2)
    with names('assignments'): bias_metric_1d(alpha, np.full(n, 0.5), n_bins=2)
    t = pd.DataFrame(dict(alpha=np.r_[np.nan, alpha[1:]]))
    with names('NaN'): bias_metric(t, np.zeros(n, int), intrinsic=(), observables=('alpha',), n_bins=2, depth=0, min_per_bin=1)
    with pytest.raises(KeyError, match=r"\['mag_r'\]"): bias_metric(t, np.zeros(n, int), intrinsic=(), n_bins=2, depth=0)


@pytest.mark.parametrize('kw, arg', [(dict(n_bins=0), 'n_bins'), (dict(n_bins=-1), 'n_bins'), (dict(n_bins=2.5), 'n_bins'),
                                     (dict(depth=-1), 'depth'), (dict(depth=1.5), 'depth'), (dict(n_boot=-1), 'n_boot')],
                         ids=['n_bins0', 'n_bins-1', 'n_bins2.5', 'depth-1', 'depth1.5', 'n_boot-1'])
def test_bias_metric_bad_bin_counts_named(kw, arg):
    "Bin counts, depth or bootstrap count that are not non-negative (positive) integers: ValueError/TypeError naming them"
    r = rng_of(0); t = pd.DataFrame({c: r.random(64) for c in ('size_kpc', 'M_r', 'z', 'alpha', 'mag_r')})
    with names(arg): bias_metric(t, r.integers(0, 2, 64), **{'n_bins': 2, 'depth': 1, 'min_per_bin': 1, **kw})


def test_bias_metric_min_per_bin_zero():
    "min_per_bin=0 with more bins than objects: an error naming min_per_bin or n_bins, or a finite L"
    t = pd.DataFrame(dict(alpha=np.linspace(0.1, 3, 10)))
    result_or_error(lambda: bias_metric(t, np.zeros(10, int), intrinsic=(), observables=('alpha',), n_bins=20, depth=0, min_per_bin=0),
                    r'min_per_bin|n_bins', lambda r: finite(r['L']) or pytest.fail(f"L = {r['L']}"))


@pytest.mark.parametrize('assign', [np.r_[-np.ones(20, int), np.zeros(20, int)], np.full((40, 2), NAN), np.full((40, 2), 3.),
                                    np.tile([[1.5, -0.5]], (40, 1)), np.ones((40, 0))],
                         ids=['negative-labels', 'nan-probabilities', 'sum-not-one', 'negative-probabilities', 'no-classes'])
def test_bias_metric_bad_assignments_named(assign):
    "Labels below 0 or rows that are not probabilities: ValueError naming the assignments"
    with names('assign'): bias_metric_1d(np.linspace(0.1, 3, 40), assign, n_bins=4)


@SW
@given(y=hnp.arrays(np.bool_, 40))
@example(y=np.arange(40) % 2 == 0)
def test_bias_metric_bool_labels_as_integers(y):
    "Boolean labels: the same result as the 0/1 labels, or an error naming the assignments"
    alpha = np.linspace(0.1, 3, 40)
    result_or_error(lambda: bias_metric_1d(alpha, y, n_bins=4), 'assign',
                    lambda r: np.testing.assert_allclose(r['L'], bias_metric_1d(alpha, y.astype(int), n_bins=4)['L']))


@pytest.mark.parametrize('call', [
    lambda: bias_metric_1d(np.zeros(0), np.zeros(0, int), n_bins=2),
    lambda: bias_metric(pd.DataFrame({c: np.zeros(0) for c in ('size_kpc', 'M_r', 'z', 'alpha', 'mag_r')}), np.zeros(0, int)),
    lambda: fit_label_bias(pd.DataFrame({c: np.zeros(0) for c in ('size_kpc', 'M_r', 'z', 'alpha')}), np.zeros(0, int), depth=0)],
    ids=['bias_metric_1d', 'bias_metric', 'fit_label_bias'])
def test_debias_empty_tables_named(call):
    "No objects: ValueError saying there are no (or too few) objects"
    with names(r'objects|empty|table|labels'): call()


@pytest.mark.parametrize('kw', [dict(intrinsic='size_kpc'), dict(observables='alpha')], ids=['intrinsic', 'observables'])
def test_bias_metric_column_name_string(kw):
    "One column name given as a string: the same as a one-element tuple, or a TypeError naming the argument"
    r = rng_of(3); t = pd.DataFrame({c: r.random(64) for c in ('size_kpc', 'M_r', 'z', 'alpha', 'mag_r')}); y = r.integers(0, 2, 64)
    base = dict(n_bins=2, depth=1, min_per_bin=1)
    want = bias_metric(t, y, **base, **{k: (v,) for k, v in kw.items()})['L']
    result_or_error(lambda: bias_metric(t, y, **base, **kw), '|'.join(kw), lambda r: np.testing.assert_allclose(r['L'], want))


# =============================================================== fit_label_bias

def _table(n, seed, cols=('size_kpc', 'M_r', 'z')):
    r = rng_of(seed); return pd.DataFrame({'alpha': r.uniform(0.2, 3, n), **{c: r.random(n) for c in cols}})


@FEW
@given(n=st.integers(60, 200), f=st.floats(0.1, 0.9), depth=st.integers(0, 2), seed=seeds)
def test_fit_label_bias_unbiased_labels(n, f, depth, seed):
    "Labels independent of resolution: finite theta > 0, smooth fraction in [0, 1] near the observed one, 2**depth bins; `smooth` picks the class"
    t = _table(n, seed); y = (rng_of(seed + 1).random(n) < f).astype(np.int64)
    assume(0 < y.sum() < n)                                   # labels of one class: no theta to fit (a DataError, tested below)
    r = fit_label_bias(t, y, depth=depth)
    assert finite(r['theta']) and r['theta'] > 0 and 0 <= r['smooth_fraction'] <= 1 and len(r['bin_fractions']) == 2**depth
    if depth == 0: assert abs(r['smooth_fraction'] - y.mean()) < 0.1
    r2 = fit_label_bias(t, 1 - y, depth=depth, smooth=0)
    assert r2['theta'] == r['theta'] and r2['smooth_fraction'] == r['smooth_fraction']


@FEW
@given(n=st.integers(5, 50), d=st.integers(1, 5))
def test_fit_label_bias_mismatch_and_missing_columns_named(n, d):
    "Labels of another length: ValueError naming labels; a missing column: KeyError naming it; NaN: ValueError"
    t = _table(n, 0)
    with names('labels'): fit_label_bias(t, np.zeros(n + d, int), depth=0)
    with pytest.raises(KeyError, match=r"\['alpha'\]"): fit_label_bias(t.drop(columns='alpha'), np.zeros(n, int), depth=0)
    with names('NaN'): fit_label_bias(t.assign(z=np.nan), np.zeros(n, int), depth=0)


@pytest.mark.parametrize('make', [lambda y: -y, lambda y: y + 0.5, lambda y: np.where(y == 1, np.nan, 0.),
                                  lambda y: np.array(['disk', 'smooth'])[y], lambda y: np.eye(2)[y]],
                         ids=['negative', 'fraction', 'nan', 'text', 'one-hot'])
def test_fit_label_bias_bad_labels_named(make):
    "Labels that are not 0/1 class indices: ValueError naming labels"
    y = rng_of(4).integers(0, 2, 100)
    with names('labels'): fit_label_bias(_table(100, 4), make(y), depth=0)


@pytest.mark.parametrize('depth', [-1, 1.5])
def test_fit_label_bias_bad_depth_named(depth):
    "A depth that is not a non-negative integer: ValueError/TypeError naming depth"
    with names('depth'): fit_label_bias(_table(100, 5), rng_of(5).integers(0, 2, 100), depth=depth)


# =============================================================== LabelBias

@SW
@given(theta=st.floats(0, 5), gamma=st.floats(-1, 1), seed=seeds, n=st.integers(0, 20), K=st.integers(2, 4), data=st.data())
def test_label_bias_probabilities_transition_and_apply(theta, gamma, seed, n, K, data):
    "p_flip in [0, 1] and non-increasing in alpha; transition rows sum to one; apply changes only flip[0] labels, into flip[1]"
    classes = tuple('abcd'[:K]); src, dst = data.draw(st.lists(st.integers(0, K - 1), min_size=2, max_size=2, unique=True))
    b = LabelBias(theta, gamma, classes=classes, flip=(classes[src], classes[dst]))
    r = rng_of(seed); alpha = np.sort(r.uniform(0, 5, n)); mag = np.full(n, r.uniform(14, 24))
    p = b.p_flip(alpha, mag)
    assert p.shape == (n,) and torch.isfinite(p).all() and ((p >= 0) & (p <= 1)).all() and (p[1:] <= p[:-1] + 1e-7).all()
    if theta == 0: assert (p == 0).all()
    T = b.transition(alpha, mag)
    assert T.shape == (n, K, K) and torch.allclose(T.sum(-1), torch.ones(n, K)) and torch.equal(T[:, src, dst], p)
    y = r.integers(0, K, n); out = b.apply(y, alpha, mag, seed=seed)
    ch = out != y
    assert out.shape == y.shape and (y[ch] == src).all() and (out[ch] == dst).all()
    if theta == 0: assert not ch.any()


@SW
@given(theta=st.one_of(st.floats(max_value=-1e-9), st.sampled_from([NAN, INF])), gamma=st.sampled_from([NAN, INF, 0.]))
def test_label_bias_bad_theta_gamma_named(theta, gamma):
    "theta negative or not finite: ValueError naming theta; gamma not finite: naming gamma; flip of an unknown class: naming flip"
    with names('theta'): LabelBias(theta)
    if gamma != 0:
        with names('gamma'): LabelBias(1., gamma)
    with names('flip'): LabelBias(1., flip=('disk', 'bar'))
    with names('labels'): LabelBias(1.).apply([0, 1], [0.1, 0.2, 0.3])


@pytest.mark.parametrize('kw, arg', [(dict(theta='1'), 'theta'), (dict(theta=None), 'theta'),
                                     (dict(theta=1., gamma=0.5, mag_ref=NAN), 'mag_ref'),
                                     (dict(theta=1., flip=('disk', 'disk')), 'flip'), (dict(theta=1., classes='disk,smooth'), 'classes')],
                         ids=['theta-str', 'theta-none', 'mag_ref-nan', 'flip-same', 'classes-str'])
def test_label_bias_constructor_checks(kw, arg):
    "Malformed LabelBias parameters: ValueError/TypeError naming the parameter"
    with names(arg): LabelBias(**kw).transition([1.], [18.])


@pytest.mark.parametrize('call, arg', [
    (lambda b: b.p_flip([NAN, 1.]), 'alpha'), (lambda b: b.p_flip([-1., 1.]), 'alpha'),
    (lambda b: b.p_flip([1., 2.], [18., 19., 20.]), 'mag'), (lambda b: b.apply([0, 5, -1], [0.1, 0.2, 3.]), 'labels'),
    (lambda b: b.apply([0, 1], [NAN, 0.2]), 'alpha')],
    ids=['alpha-nan', 'alpha-negative', 'mag-length', 'labels-out-of-range', 'apply-alpha-nan'])
def test_label_bias_method_inputs_checked(call, arg):
    "Resolutions NaN or negative, magnitudes of another length, labels outside the classes: ValueError naming them"
    result_or_error(lambda: call(LabelBias(1., gamma=0.5)), arg, lambda r: pytest.fail(f'no error: {r!r}'))


def test_label_bias_transition_scalar_alpha():
    "A scalar resolution: a (1, K, K) transition like p_flip's, or an error naming alpha"
    result_or_error(lambda: LabelBias(1.).transition(1.), 'alpha', lambda T: T.shape == (1, 2, 2) or pytest.fail(str(T.shape)))


# =============================================================== DebiasLoss

@SW
@given(N=st.integers(1, 8), theta=st.floats(0.05, 3), gamma=st.floats(-0.5, 0.5), weighted=st.booleans(), seed=seeds)
def test_debias_loss_matches_reference(N, theta, gamma, weighted, seed):
    "DebiasLoss = mean (or weighted mean) of -log sum_y p(y|x) T(y -> label); no bias or theta 0: cross-entropy"
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(N, 2, generator=g) * 2; y = torch.randint(0, 2, (N,), generator=g)
    aux = torch.stack([0.5 + 2.5 * torch.rand(N, generator=g), 15 + 5 * torch.rand(N, generator=g)], 1)
    w = torch.rand(2, generator=g) + 0.1 if weighted else None
    b = LabelBias(theta, gamma)
    T = b.transition(aux[:, 0], aux[:, 1])
    lik = (F.softmax(pred, 1)[:, :, None] * T).sum(1)[torch.arange(N), y]
    nll = -lik.log(); ref = nll.mean() if w is None else (w[y] * nll).sum() / w[y].sum()
    got = DebiasLoss(b, w)(pred, y, aux)
    assert torch.isfinite(got) and torch.allclose(got, ref, rtol=1e-4, atol=1e-6)
    for none in (None, LabelBias(0.)):
        assert torch.allclose(DebiasLoss(none, w)(pred, y, aux), F.cross_entropy(pred, y, w))
    with names('aux'): DebiasLoss(b)(pred, y, None)


@pytest.mark.parametrize('bias', [LabelBias(1.), None], ids=['biased', 'unbiased'])
@pytest.mark.parametrize('y', [[0, 1, 2, 1], [0, 1, -1, 1], [0., 1.5, 0., 1.]], ids=['too-large', 'negative', 'fraction'])
def test_debias_loss_bad_labels_named(bias, y):
    "Labels that are not class indices of pred: ValueError naming y (the labels)"
    pred = torch.randn(4, 2); aux = torch.tensor([[0.5, 17.]] * 4)
    with names(r'\by\b|labels?\b'): DebiasLoss(bias)(pred, torch.tensor(y), aux)


@pytest.mark.parametrize('case, arg', [('y-length', r'\by\b|labels?'), ('aux-length', 'aux'), ('aux-columns', 'aux'),
                                       ('weight-length', 'weight'), ('pred-classes', r'pred|classes'), ('aux-nan', 'aux')])
def test_debias_loss_shapes_checked(case, arg):
    "Tensors that do not fit together, or NaN resolutions: ValueError naming the argument (no NaN loss)"
    pred, y, aux, w = torch.randn(4, 2), torch.tensor([0, 1, 0, 1]), torch.tensor([[0.5, 17.]] * 4), None
    if case == 'y-length': y = y[:2]
    if case == 'aux-length': aux = aux[:2]
    if case == 'aux-columns': aux = aux[:, :0]
    if case == 'weight-length': w = torch.ones(3)
    if case == 'pred-classes': pred = torch.randn(4, 3)
    if case == 'aux-nan': aux = torch.full((4, 2), NAN)
    result_or_error(lambda: DebiasLoss(LabelBias(1.), w)(pred, y, aux), arg, lambda r: pytest.fail(f'no error, loss {r}'))


# =============================================================== mmd2, coral, class_mmd2

def _mmd_ref(x, y, s):
    k = lambda a, b: np.exp(-((a[:, None] - b[None])**2).sum(-1)[..., None] / (2 * np.asarray(s))).sum(-1).mean()
    return k(x, x) + k(y, y) - 2 * k(x, y)


samples = st.tuples(st.integers(1, 10), st.integers(1, 10), st.integers(1, 4), seeds, st.floats(0, 3))


@SW
@given(case=samples, bw=st.sampled_from(['default', 'median', (0.5, 2.)]))
def test_mmd2_properties(case, bw):
    "mmd2 >= 0, ~0 for identical samples, symmetric, equal to a direct computation; the linear estimator is finite"
    n, m, d, seed, shift = case
    g = torch.Generator().manual_seed(seed); x = torch.randn(n, d, generator=g); y = torch.randn(m, d, generator=g) + shift
    kw = {} if bw == 'default' else dict(bandwidths=bw)
    v = mmd2(x, y, **kw).item()
    assert math.isfinite(v) and v >= -1e-4
    assert abs(mmd2(x, x, **kw).item()) < 1e-4 and abs(v - mmd2(y, x, **kw).item()) < 1e-4
    if bw == (0.5, 2.): assert abs(v - _mmd_ref(x.double().numpy(), y.double().numpy(), bw)) < 1e-4
    if min(n, m) >= 2: assert math.isfinite(mmd2(x, y, estimator='linear', **kw).item())


@SW
@given(shape=st.sampled_from([((4,), (4,)), ((4, 3), (4, 2)), ((2, 3, 1), (2, 3))]), est=st.sampled_from(['quadratic', 'Biased', '']))
def test_mmd2_bad_shapes_and_estimator_named(shape, est):
    "Samples that are not (n, d) and (m, d): ValueError saying so; an unknown estimator: ValueError naming it"
    with names(r'\(n, d\) and \(m, d\) samples'): mmd2(torch.zeros(shape[0]), torch.zeros(shape[1]))
    with names('estimator'): mmd2(torch.zeros(3, 2), torch.zeros(3, 2), estimator=est)
    with names('at least 2 samples'): mmd2(torch.zeros(1, 2), torch.zeros(3, 2), estimator='linear')


@pytest.mark.parametrize('x, y', [(torch.zeros(0, 3), torch.randn(5, 3)), (torch.zeros(0, 3), torch.zeros(0, 3)),
                                  (torch.full((4, 3), NAN), torch.randn(5, 3)), (torch.randn(4, 3), torch.full((5, 3), INF))],
                         ids=['x-empty', 'both-empty', 'x-nan', 'y-inf'])
def test_mmd2_empty_or_non_finite_named(x, y):
    "No samples, or non-finite values: ValueError saying which (no NaN result)"
    result_or_error(lambda: mmd2(x, y), r'sample|empty|NaN|finite', lambda r: pytest.fail(f'no error: {r}'))


@pytest.mark.parametrize('bw', [(-1.,), (0.,), (NAN,), (), 'mean'], ids=['negative', 'zero', 'nan', 'none', 'str'])
def test_mmd2_bad_bandwidths_named(bw):
    "Bandwidths that are not positive numbers (or 'median'): ValueError naming bandwidths"
    g = torch.Generator().manual_seed(0)
    with names('bandwidth'): mmd2(torch.randn(8, 3, generator=g), torch.randn(6, 3, generator=g), bw)


@pytest.mark.parametrize('fn', ['mmd2', 'coral', 'class_mmd2'])
def test_distances_accept_numpy_or_name_type(fn):
    "numpy samples: the same value as for tensors, or a TypeError saying tensors are needed"
    x, y = rng_of(0).normal(size=(6, 3)).astype(np.float32), rng_of(1).normal(size=(5, 3)).astype(np.float32)
    ys, pt = np.array([0, 1, 0, 1, 0, 1]), np.full((5, 2), 0.5, np.float32)
    f = dict(mmd2=lambda *a: mmd2(*a[:2]), coral=lambda *a: coral(*a[:2]), class_mmd2=lambda x, y, ys, pt: class_mmd2(x, ys, y, pt))[fn]
    want = f(*map(torch.as_tensor, (x, y, ys, pt))).item()
    result_or_error(lambda: f(x, y, ys, pt), r'[Tt]ensor', lambda r: np.testing.assert_allclose(float(r), want, rtol=1e-6))


@SW
@given(case=samples)
def test_coral_matches_covariance_reference(case):
    "coral = ||cov(x) - cov(y)||_F^2 / (4 d^2) for n, m >= 2, 0 for identical samples, symmetric"
    n, m, d, seed, shift = case
    assume(n >= 2 and m >= 2)
    r = rng_of(seed); x, y = r.normal(size=(n, d)), r.normal(size=(m, d)) * (1 + shift)
    ref = ((np.atleast_2d(np.cov(x.T)) - np.atleast_2d(np.cov(y.T)))**2).sum() / (4 * d * d)
    v = coral(torch.tensor(x), torch.tensor(y)).item()
    assert abs(v - ref) <= 1e-5 * max(1, ref) and v >= 0
    assert coral(torch.tensor(x), torch.tensor(x)).item() == 0 and abs(v - coral(torch.tensor(y), torch.tensor(x)).item()) <= 1e-6 * max(1, v)


@pytest.mark.parametrize('x, y', [(torch.randn(4, 3), torch.randn(4, 2)), (torch.randn(4), torch.randn(4)),
                                  (torch.zeros(0, 3), torch.randn(5, 3)), (torch.zeros(4, 0), torch.zeros(3, 0)),
                                  (torch.full((4, 3), NAN), torch.randn(5, 3))],
                         ids=['d-mismatch', '1-d', 'empty', 'no-features', 'nan'])
def test_coral_bad_samples_named(x, y):
    "Samples that are not two non-empty finite (n, d) and (m, d) tensors: ValueError naming them"
    result_or_error(lambda: coral(x, y), r'\bx\b|\by\b|sample|feature|rows|NaN|finite', lambda r: pytest.fail(f'no error: {r}'))


@SW
@given(n=st.integers(2, 12), m=st.integers(2, 12), d=st.integers(1, 3), K=st.integers(1, 3), seed=seeds)
def test_class_mmd2_matches_per_class_mmd2(n, m, d, K, seed):
    "With one-hot target probabilities class_mmd2 is the mean per-class mmd2 over the classes in both batches; identical batches give 0"
    g = torch.Generator().manual_seed(seed); bw = (0.5, 2.)
    xs, xt = torch.randn(n, d, generator=g), torch.randn(m, d, generator=g) + 0.5
    ls, lt = torch.randint(0, K, (n,), generator=g), torch.randint(0, K, (m,), generator=g)
    both = [k for k in range(K) if (ls == k).any() and (lt == k).any()]
    v = class_mmd2(xs, ls, xt, F.one_hot(lt, K).float(), bw).item()
    ref = np.mean([mmd2(xs[ls == k], xt[lt == k], bw).item() for k in both]) if both else 0.
    assert abs(v - ref) < 1e-4 and v >= -1e-5
    assert abs(class_mmd2(xs, ls, xs, F.one_hot(ls, K).float(), bw).item()) < 1e-4
    with names(r'probabilities \(m, K\)'): class_mmd2(xs, ls, xt, torch.ones(m + 1, K))


@pytest.mark.parametrize('case, arg', [('ys-too-large', r'\bys\b|label'), ('ys-negative', r'\bys\b|label'),
                                       ('ys-fraction', r'\bys\b|label'), ('ys-2d', r'\bys\b|label'),
                                       ('pt-nan', r'\bpt\b|probabilit'), ('pt-negative', r'\bpt\b|probabilit'),
                                       ('pt-sum', r'\bpt\b|probabilit'), ('pt-1d', r'\bpt\b|probabilit')])
def test_class_mmd2_bad_labels_or_probabilities_named(case, arg):
    "Source labels outside 0..K-1 or target rows that are not probabilities: ValueError naming ys or pt"
    g = torch.Generator().manual_seed(0)
    xs, xt = torch.randn(8, 3, generator=g), torch.randn(6, 3, generator=g)
    ys, pt = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1]), torch.softmax(torch.randn(6, 2, generator=g), 1)
    ys = dict(**{'ys-too-large': torch.tensor([0, 1, 2, 1, 0, 1, 0, 1]), 'ys-negative': torch.tensor([0, 1, -1, 1, 0, 1, 0, 1]),
                 'ys-fraction': ys.float() + 0.5, 'ys-2d': F.one_hot(ys, 2)}).get(case, ys)
    pt = {'pt-nan': torch.full((6, 2), NAN), 'pt-negative': -pt, 'pt-sum': pt * 5, 'pt-1d': pt[:, 0]}.get(case, pt)
    result_or_error(lambda: class_mmd2(xs, ys, xt, pt), arg, lambda r: pytest.fail(f'no error: {r}'))


# =============================================================== parse_recipe

number = st.floats(0, 1e3, allow_nan=False, allow_infinity=False)
recipes = st.lists(st.tuples(st.sampled_from(list(LOSS_TERMS)), st.none() | number, st.none() | number), min_size=1, max_size=4)


@SW
@given(terms=recipes, sep=st.sampled_from([',', ', ', ' ,  ']))
def test_parse_recipe_round_trip(terms, sep):
    "A recipe written from (term, weight, warm-up) parses back to them; weight defaults to 1, warm-up to None"
    spec = sep.join(n + ('' if w is None else f':{w!r}') + ('' if u is None else f'@{u!r}') for n, w, u in terms)
    assert parse_recipe(spec) == [(n, 1. if w is None else w, u) for n, w, u in terms]


@SW
@given(name=st.sampled_from(list(LOSS_TERMS)), bad=st.sampled_from(['-1', 'nan', 'inf', '1e400', 'x', '1:2', '-0.5', 'True']),
       where=st.sampled_from(['weight', 'warm-up']), other=st.text('abcdefghijklmnopqrstuvwxyz-', min_size=1, max_size=8))
def test_parse_recipe_bad_parts_named(name, bad, where, other):
    "Weights or warm-ups that are not finite numbers >= 0: ValueError naming which; unknown terms: KeyError listing the valid ones"
    spec = f'{name}:{bad}' if where == 'weight' else f'{name}:1@{bad}'
    with names(f'{where} of {name!r}'): parse_recipe(spec)
    assume(other not in LOSS_TERMS)
    with pytest.raises(KeyError, match=f"unknown DA loss term {other!r}.*valid: mmd"): parse_recipe(f'mmd:1,{other}:1')


@pytest.mark.parametrize('spaced, plain', [('mmd : 1', 'mmd:1'), ('coral :2@1', 'coral:2@1'), ('mmd:1, cmmd :0.5 @ 5', 'mmd:1,cmmd:0.5@5')])
def test_parse_recipe_spaces_around_separators(spaced, plain):
    "Spaces around ':' and '@' parse as without them"
    assert parse_recipe(spaced) == parse_recipe(plain)


@pytest.mark.parametrize('spec', [None, 5, ['mmd']], ids=['none', 'int', 'list'])
def test_parse_recipe_non_string_named(spec):
    "A recipe that is not a string: TypeError naming the recipe"
    with names(r'recipe|spec'): parse_recipe(spec)


# =============================================================== auroc, open_set_metrics

scores_labels = st.integers(2, 40).flatmap(lambda n: st.tuples(
    hnp.arrays(np.float64, n, elements=st.one_of(st.integers(-3, 3).map(float), st.floats(-10, 10))),
    hnp.arrays(np.bool_, n)))


@SW
@given(sl=scores_labels)
def test_auroc_matches_sklearn(sl):
    "auroc equals sklearn's roc_auc_score (ties shared), auroc(-s) = 1 - auroc(s); one class only: NaN (its documented value)"
    from sklearn.metrics import roc_auc_score
    s, pos = sl
    if pos.all() or not pos.any(): assert math.isnan(auroc(s, pos)); return
    a = auroc(s, pos)
    assert abs(a - roc_auc_score(pos, s)) < 1e-12 and abs(auroc(-s, pos) - (1 - a)) < 1e-12
    assert auroc(s, pos.astype(int)) == a
    with names('scores'): auroc(s, pos[:-1])


@pytest.mark.parametrize('score, positive, arg', [
    ([NAN, 2, 3, 4], [0, 0, 1, 1], 'score'), ([1, 2, 3, 4], [0, 0, 2, 2], 'positive'), ([1, 2, 3, 4], [1, 0, -1, -1], 'positive'),
    ([1, 2, 3, 4], [0, 0, 0.5, 1], 'positive'), ([1, 2, 3, 4], [0, 0, NAN, 1], 'positive'),
    (np.arange(4.).reshape(2, 2), [[0, 1], [0, 1]], r'score|positive')],
    ids=['score-nan', 'positive-2', 'positive-minus1', 'positive-fraction', 'positive-nan', '2-d'])
def test_auroc_bad_inputs_named(score, positive, arg):
    "Scores that are not finite, or positives that are not booleans/0/1, or not 1-D: ValueError naming them"
    with names(arg): auroc(np.asarray(score), np.asarray(positive))


@st.composite
def open_set_case(draw):
    n, K = draw(st.integers(1, 30)), draw(st.integers(2, 4))
    ints = lambda lo, hi: hnp.arrays(np.int64, n, elements=st.integers(lo, hi))
    return (draw(ints(-1, K - 1)), draw(ints(0, K - 1)), draw(hnp.arrays(np.bool_, n)),
            draw(hnp.arrays(np.float64, n, elements=st.floats(0, 1))))


@SW
@given(case=open_set_case())
def test_open_set_metrics_match_reference(case):
    "Every open-set score equals its definition; NaN only where it is undefined (no known, no unknown or no flagged images)"
    y, pred, flag, score = case
    m = open_set_metrics(y, pred, flag, score)
    known, unk = y >= 0, y < 0
    def same(v, want): assert (math.isnan(v) and math.isnan(want)) or abs(v - want) < 1e-12, (v, want)
    nan = float('nan')
    same(m['accuracy'], (pred[known] == y[known]).mean() if known.any() else nan)
    same(m['known_accuracy'], ((pred == y) & ~flag)[known].mean() if known.any() else nan)
    same(m['false_flags'], flag[known].mean() if known.any() else nan)
    same(m['unknown_recall'], flag[unk].mean() if unk.any() else nan)
    same(m['unknown_precision'], (flag & unk).sum() / flag.sum() if flag.any() else nan)
    same(m['auroc'], auroc(score, unk))
    assert m['n_known'] + m['n_unknown'] == len(y)
    with names('lengths differ'): open_set_metrics(y, pred[:-1], flag, score)


@pytest.mark.parametrize('case, arg', [('y-nan', r'\by\b'), ('y-minus5', r'\by\b'), ('y-fraction', r'\by\b'),
                                       ('flag-nan', 'flag'), ('flag-2', 'flag'), ('flag-fraction', 'flag')])
def test_open_set_metrics_bad_labels_or_flags_named(case, arg):
    "Labels other than -1..K-1 integers, flags other than booleans/0/1: ValueError naming y or flag"
    y, pred, flag, score = [0., 1., -1., 0.], [0, 1, 0, 1], [0., 0., 1., 0.], [.1, .2, .9, .3]
    if case.startswith('y'): y[1] = {'y-nan': NAN, 'y-minus5': -5., 'y-fraction': 1.5}[case]
    else: flag[0] = {'flag-nan': NAN, 'flag-2': 2., 'flag-fraction': 0.5}[case]
    with names(arg): open_set_metrics(np.array(y), np.array(pred), np.array(flag), np.array(score))


@pytest.mark.parametrize('args', [([], [], [], []), (np.zeros((4, 2)), np.zeros(4), np.zeros(4), np.zeros(4)), (0, 0, 0, 0)],
                         ids=['empty', '2-d', 'scalar'])
def test_open_set_metrics_empty_or_not_1d_named(args):
    "No images, or arrays that are not 1-D: ValueError naming y (no all-NaN result)"
    result_or_error(lambda: open_set_metrics(*args), r'\by\b|empty|1-D|one-dimensional',
                    lambda r: pytest.fail(f'no error: {r}'))


# =============================================================== classification_metrics

@SW
@given(K=st.integers(1, 4), data=st.data())
def test_classification_metrics_match_sklearn(K, data):
    "Accuracy, per-class precision/recall/F1 and the confusion matrix equal sklearn's (zero_division=0)"
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
    n = data.draw(st.integers(1, 30))
    y = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, K - 1))); p = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, K - 1)))
    classes = [f'c{i}' for i in range(K)]
    m = classification_metrics(y.tolist() if data.draw(st.booleans()) else y, p, classes)
    cm = confusion_matrix(y, p, labels=range(K))
    assert m['confusion'] == cm.tolist() and m['n'] == n and abs(m['accuracy'] - (y == p).mean()) < 1e-12
    pr, rc, f1, _ = precision_recall_fscore_support(y, p, labels=range(K), zero_division=0)
    for i, c in enumerate(classes):
        assert np.allclose([m['per_class'][c][k] for k in ('precision', 'recall', 'f1')], [pr[i], rc[i], f1[i]])


@pytest.mark.parametrize('y_true, y_pred, classes, arg', [
    ([0, -1], [0, 1], ['a', 'b', 'c'], 'y_true'), ([0, 1], [0, -1], ['a', 'b', 'c'], 'y_pred'),
    ([0, 3], [0, 1], ['a', 'b', 'c'], 'y_true'), ([0, 1], [0, 1, 2], ['a', 'b', 'c'], r'y_true|y_pred|length'),
    ([0, 1], [0, 1], ['a', 'a'], 'classes')],
    ids=['y_true-negative', 'y_pred-negative', 'y_true-too-large', 'lengths', 'duplicate-classes'])
def test_classification_metrics_bad_labels_named(y_true, y_pred, classes, arg):
    "Labels outside 0..K-1, unequal lengths or repeated class names: ValueError naming the argument"
    with names(arg): classification_metrics(y_true, y_pred, classes)


@pytest.mark.parametrize('y_true, y_pred', [([], []), ([0., 1., 2.], [0., 2., 2.]), ([True, False], [True, True])],
                         ids=['empty-lists', 'integral-floats', 'booleans'])
def test_classification_metrics_label_dtypes(y_true, y_pred):
    "Empty lists, integral floats or booleans: the result for the integer labels, or a TypeError naming y_true"
    want = classification_metrics(np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64), ['a', 'b', 'c'])
    result_or_error(lambda: classification_metrics(y_true, y_pred, ['a', 'b', 'c']), 'y_true', lambda r: r == want or pytest.fail(str(r)))


# =============================================================== perturbations

images = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(2, 8), seeds).map(
    lambda t: torch.as_tensor(rng_of(t[3]).uniform(-1, 5, t[:3] + (t[2],)), dtype=torch.float32))


@SW
@given(x=images, f=st.floats(0, 1), value=st.floats(-10, 10), seed=seeds)
def test_hot_and_dead_pixels_properties(x, f, value, seed):
    "hot/dead pixels keep shape, set only the band maximum / `value`, are reproducible, and change nothing at fraction 0"
    h = hot_pixels(x, f, seed=seed); mx = x.amax((2, 3), keepdim=True).expand_as(x)
    assert h.shape == x.shape and ((h == x) | (h == mx)).all() and torch.equal(h, hot_pixels(x, f, seed=seed))
    d = dead_pixels(x, f, value, seed)
    assert d.shape == x.shape and ((d == x) | (d == value)).all()
    assert torch.equal(hot_pixels(x, 0.), x) and torch.equal(dead_pixels(x, 0., value), x)


@SW
@given(x=images, rate=st.floats(0, 5), amp=st.just(0.) | st.floats(0.5, 100), max_length=st.integers(1, 10), seed=seeds)
def test_cosmic_rays_add_whole_tracks(x, rate, amp, max_length, seed):
    "Cosmic rays only add whole multiples of the amplitude, and nothing at rate 0"
    out = cosmic_rays(x, rate, amp, max_length, seed)
    d = (out - x).double()
    assert out.shape == x.shape and (d >= -1e-5).all()
    if amp > 0: assert ((d / amp - (d / amp).round()).abs() < 1e-3).all()
    assert torch.equal(cosmic_rays(x, 0., amp, max_length, seed), x)


@SW
@given(x=images, level=st.floats(-2, 6), per_band=st.booleans(), q=st.floats(0.5, 8), dither=st.booleans(), seed=seeds)
def test_saturate_and_quantize_properties(x, level, per_band, q, dither, seed):
    "saturate = min(x, level) (scalar or per band); quantize moves each pixel by at most one step sigma/q"
    lv = torch.full((x.shape[1],), level) + torch.arange(x.shape[1]) if per_band else level
    assert torch.equal(saturate(x, lv), torch.minimum(x, torch.as_tensor(lv, dtype=torch.float32).view(1, -1, 1, 1)))
    step = (noise_sigma(x) / q).clamp_min(1e-30)[..., None, None]
    out = quantize(x, q, dither=dither, seed=seed)
    assert out.shape == x.shape and ((out - x).abs() <= step * (1 if dither else 0.5) + 1e-4).all()


@FEW
@given(x=images, factor=st.floats(0.05, 1), fwhm=st.floats(0.3, 2), extra=st.floats(0, 1), seed=seeds)
def test_degrade_exposure_and_psf_properties(x, factor, fwhm, extra, seed):
    "Exposure factor 1 and an unchanged PSF leave images as they are; otherwise the result is finite and of the same shape"
    nz = ImageNoise(torch.full((x.shape[1],), 0.1), torch.full((x.shape[1],), 0.01), pixel_scale=0.2)
    assert torch.equal(degrade_exposure(x, nz, 1.), x)
    e = degrade_exposure(x, nz, factor, seed); assert e.shape == x.shape and torch.isfinite(e).all()
    assert torch.allclose(degrade_psf(x, nz, fwhm, fwhm, renoise=False), x, atol=1e-4)
    p = degrade_psf(x, nz, fwhm, fwhm + extra, seed=seed); assert p.shape == x.shape and torch.isfinite(p).all()


@FEW
@given(n=st.integers(1, 3), C=st.integers(1, 3), seed=seeds)
def test_measure_noise_recovers_gaussian_sky(n, C, seed):
    "Pure Gaussian sky: the measured level and sigma of every image and band lie within 30% of a sigma of the truth"
    g = torch.Generator().manual_seed(seed)
    s, lvl = torch.rand(n, C, generator=g) * 2 + 0.1, torch.randn(n, C, generator=g)
    x = torch.randn(n, C, 24, 24, generator=g) * s[..., None, None] + lvl[..., None, None]
    nz = measure_noise(x, pixel_scale=0.2)
    assert nz.sky_sigma.shape == (n, C) and ((nz.sky_sigma / s - 1).abs() < 0.3).all() and ((nz.sky_level - lvl).abs() < 0.3 * s).all()
    with names('frame'): measure_noise(x, frame=0.6)


@FEW
@given(x=st.tuples(st.integers(1, 3), st.integers(2, 8), seeds).map(
    lambda t: torch.as_tensor(rng_of(t[2]).uniform(-1, 5, (t[0], 3, t[1], t[1])), dtype=torch.float32)), seed=seeds)
def test_degrade_depth_adds_only_missing_noise(x, seed):
    "Degrading a survey to itself changes nothing; to a shallower one gives finite images; to a deeper one is a ValueError"
    assert torch.equal(degrade_depth(x, 'lsst-y10', 'lsst-y10', seed), x)
    y = degrade_depth(x, 'lsst-y10', 'lsst-y1', seed); assert y.shape == x.shape and torch.isfinite(y).all()
    with names('deeper'): degrade_depth(x, 'lsst-y1', 'lsst-y10')
    with pytest.raises(DataError, match='expected 3 bands'): degrade_depth(x[:, :2], 'lsst-y10', 'lsst-y1')


@SW
@given(x=images, bad=st.one_of(st.floats(max_value=-1e-6), st.floats(min_value=1.000001), st.sampled_from([NAN, INF, -INF])))
def test_perturbation_out_of_range_numbers_named(x, bad):
    "Numbers outside each parameter's range: ValueError naming the parameter; NaN images: DataError"
    with names('fraction'): hot_pixels(x, bad)
    with names('fraction'): dead_pixels(x, bad)
    with names('factor'): degrade_exposure(x, 'lsst-y10' if x.shape[1] == 3 else ImageNoise(torch.ones(x.shape[1])), bad)
    if bad < 0 or bad != bad or bad == INF:
        with names('rate'): cosmic_rays(x, bad, 1.)
        with names('amplitude'): cosmic_rays(x, 1., bad)
    if not bad > 0 or bad == INF:
        with names(r'\bq\b'): quantize(x, bad)
    y = x.clone(); y[0, 0, 0, 0] = NAN
    with pytest.raises(DataError, match='NaN'): hot_pixels(y, 0.1)
    with pytest.raises(DataError, match=r'\(N, bands, H, W\)'): saturate(x[0], 1.)


@pytest.mark.parametrize('call, arg', [
    (lambda x: hot_pixels(x, '0.5'), 'fraction'), (lambda x: dead_pixels(x, None), 'fraction'),
    (lambda x: cosmic_rays(x, '1', 1.), 'rate'), (lambda x: cosmic_rays(x, 1., None), 'amplitude'),
    (lambda x: quantize(x, '4'), r'\bq\b'), (lambda x: degrade_exposure(x, 'lsst-y10', [0.5]), 'factor')],
    ids=['hot-fraction', 'dead-fraction', 'cosmic-rate', 'cosmic-amplitude', 'quantize-q', 'exposure-factor'])
def test_perturbation_non_numbers_named(call, arg):
    "A parameter given as a string, None or list: TypeError/ValueError naming the parameter"
    with names(arg): call(torch.rand(2, 3, 6, 6))


@pytest.mark.parametrize('call, arg', [
    (lambda x: hot_pixels(x, 0.5, value=NAN), 'value'), (lambda x: hot_pixels(x, 0.5, value=INF), 'value'),
    (lambda x: dead_pixels(x, 0.5, value=NAN), 'value'), (lambda x: saturate(x, [1., 2.]), 'level'),
    (lambda x: saturate(x, '1'), 'level'), (lambda x: quantize(x, sigma=-1.), 'sigma'), (lambda x: quantize(x, sigma=NAN), 'sigma'),
    (lambda x: quantize(x, sigma=torch.ones(5)), 'sigma')],
    ids=['hot-nan', 'hot-inf', 'dead-nan', 'saturate-bands', 'saturate-str', 'quantize-negative', 'quantize-nan', 'quantize-shape'])
def test_perturbation_values_checked(call, arg):
    "Pixel values, levels or noise sigmas that are not finite, of the wrong shape or negative: ValueError naming them"
    x = torch.rand(2, 3, 6, 6)
    result_or_error(lambda: call(x), arg, lambda r: pytest.fail(f'no error; finite output: {bool(torch.isfinite(r).all())}'))


@pytest.mark.parametrize('fwhm_from, fwhm_to', [(NAN, 1.), (-1., 1.), ([0.7, 0.7], 1.)], ids=['nan', 'negative', 'shape'])
def test_degrade_psf_bad_fwhm(fwhm_from, fwhm_to):
    "FWHMs that are not positive numbers of a fitting shape: ValueError naming fwhm"
    nz = ImageNoise(torch.full((3,), 0.1), pixel_scale=0.2); x = torch.rand(2, 3, 6, 6)
    result_or_error(lambda: degrade_psf(x, nz, fwhm_from, fwhm_to), 'fwhm',
                    lambda r: pytest.fail(f'no error; finite output: {bool(torch.isfinite(r).all())}'))
    result_or_error(lambda: kernel_fwhm(fwhm_from, fwhm_to), 'fwhm', lambda r: finite(r) or pytest.fail(f'kernel_fwhm = {r}'))


@pytest.mark.parametrize('call', [lambda x: degrade_psf(x, ImageNoise(torch.full((3,), 0.1), pixel_scale=0.2), 0.7, 1.),
                                  lambda x: measure_noise(x)], ids=['degrade_psf', 'measure_noise'])
def test_perturbations_of_an_empty_batch(call):
    "No images: nothing back (no images, no noise rows), or an error naming the images"
    result_or_error(lambda: call(torch.zeros(0, 3, 8, 8)), 'images', lambda r: len(r) == 0 or pytest.fail(f'{len(r)} rows'))


@pytest.mark.parametrize('rate', [1e20, 1e30])
def test_cosmic_rays_huge_rate_named(rate):
    "A rate whose track count cannot be drawn: ValueError naming the rate"
    with names('rate'): cosmic_rays(torch.rand(2, 3, 6, 6), rate, 1.)


# =============================================================== one_pixel_attack

def _model(C, H, W, K, seed):
    g = torch.Generator().manual_seed(seed); m = nn.Sequential(nn.Flatten(), nn.Linear(C * H * W, K))
    with torch.no_grad(): m[1].weight.copy_(torch.randn(K, C * H * W, generator=g) * 3); m[1].bias.zero_()
    return m


@FEW
@given(B=st.integers(1, 3), C=st.integers(1, 3), H=st.integers(2, 4), W=st.integers(2, 4), K=st.integers(2, 3), k=st.integers(1, 2),
       popsize=st.integers(4, 8), max_gen=st.integers(0, 2), targeted=st.booleans(), bounded=st.booleans(),
       success=st.sampled_from(['reference', 'misclassify']), seed=seeds)
def test_one_pixel_attack_result_consistent(B, C, H, W, K, k, popsize, max_gen, targeted, bounded, success, seed):
    "At most k pixels change per image, to values within the bounds; queries, probabilities and success agree"
    m = _model(C, H, W, K, seed); g = torch.Generator().manual_seed(seed + 1)
    x = torch.rand(B, C, H, W, generator=g); lab = torch.randint(0, K, (B,), generator=g)
    tg = (lab + 1) % K if targeted else None
    bounds = (-1., 2.) if bounded else None
    r = one_pixel_attack(m, x, lab, tg, k=k, bounds=bounds, popsize=popsize, max_gen=max_gen, success=success, seed=seed)
    assert r.images.shape == x.shape and r.pixels.shape == (B, k, 2) and r.values.shape == (B, k, C)
    lo, hi = (torch.full((B, C), -1.), torch.full((B, C), 2.)) if bounded else (x.amin((2, 3)), x.amax((2, 3)))
    for i in range(B):
        changed = {tuple(p) for p in torch.nonzero((r.images[i] != x[i]).any(0)).tolist()}
        assert changed <= {tuple(p) for p in r.pixels[i].tolist()} and len(changed) <= k
        assert ((r.values[i] >= lo[i] - 1e-6) & (r.values[i] <= hi[i] + 1e-6)).all()
    assert ((r.pixels[..., 0] < H) & (r.pixels[..., 1] < W) & (r.pixels >= 0).all(-1)).all()
    assert ((r.queries >= popsize) & (r.queries <= popsize * (1 + max_gen))).all()
    assert torch.allclose(r.prob_before.sum(1), torch.ones(B)) and torch.allclose(r.prob_after.sum(1), torch.ones(B))
    cls = tg if targeted else lab; pc = r.prob_after[torch.arange(B), cls]
    if success == 'reference': ok = pc > 0.5 - 1e-5 if targeted else pc < 0.05 + 1e-5
    else: ok = (r.prob_after.argmax(1) == cls) if targeted else (r.prob_after.argmax(1) != cls)
    assert (ok | ~r.success).all()


@SW
@given(case=st.sampled_from([('labels', dict(labels=[0, 3])), ('labels', dict(labels=[0, -1])), ('labels', dict(labels=[0])),
                             (r'\bk\b', dict(k=0)), (r'\bk\b', dict(k=1.0)), ('popsize', dict(popsize=3)), ('popsize', dict(popsize=8.0)),
                             ('mutation', dict(mutation=0.)), ('mutation', dict(mutation=NAN)), ('max_gen', dict(max_gen=-1)),
                             ('max_queries', dict(max_queries=3)), ('success', dict(success='x')), ('engine', dict(engine='fast')),
                             ('target', dict(targets=[0, 1])), ('targets', dict(targets=[5, 0])), ('bounds', dict(bounds=(1., 0.))),
                             ('no images', dict(images=torch.zeros(0, 3, 4, 4), labels=[]))]))
def test_one_pixel_attack_bad_arguments_named(case):
    "Labels, targets, k, popsize, mutation, max_gen, max_queries, success, engine, bounds out of their range: ValueError naming them"
    arg, kw = case
    kw = {'images': torch.rand(2, 3, 4, 4), 'labels': [0, 1], 'popsize': 8, 'max_gen': 1, **kw}
    with names(arg): one_pixel_attack(_model(3, 4, 4, 3, 0), **kw)


@pytest.mark.parametrize('kw, arg', [(dict(labels=[0., 1.7]), 'labels'), (dict(labels=[0, 1], targets=[1.5, 0.]), 'targets')])
def test_one_pixel_attack_fractional_labels_named(kw, arg):
    "Labels or targets that are not integers: ValueError naming them"
    with names(arg): one_pixel_attack(_model(3, 4, 4, 3, 0), torch.rand(2, 3, 4, 4), popsize=8, max_gen=1, **kw)


@pytest.mark.parametrize('kw, arg', [(dict(bounds=(NAN, 1.)), 'bounds'), (dict(bounds=(0., INF)), 'bounds'),
                                     (dict(bounds=([0., 0.], [1., 1.])), 'bounds'), (dict(bounds=(0., 1., 2.)), 'bounds'),
                                     (dict(chunk=0), 'chunk'), (dict(chunk=-1), 'chunk'), (dict(max_gen=1.5), 'max_gen'),
                                     (dict(mutation='a'), 'mutation')],
                         ids=['bounds-nan', 'bounds-inf', 'bounds-bands', 'bounds-three', 'chunk0', 'chunk-1', 'max_gen-float', 'mutation-str'])
def test_one_pixel_attack_bounds_chunk_named(kw, arg):
    "Bounds that are not finite (lo, hi) of one or C values, chunk < 1, a non-integer max_gen: ValueError/TypeError naming them"
    kw = {'popsize': 8, 'max_gen': 1, **kw}
    result_or_error(lambda: one_pixel_attack(_model(3, 4, 4, 3, 0), torch.rand(2, 3, 4, 4), [0, 1], **kw), arg,
                    lambda r: pytest.fail(f'no error; finite images: {bool(torch.isfinite(r.images).all())}'))


# =============================================================== parameter and pair files

param_names = st.from_regex(r'[a-z][a-z0-9_]{0,12}', fullmatch=True)
param_values = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False), st.booleans(), st.none(),
                         st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12))


@SW
@given(d=st.dictionaries(param_names, param_values, max_size=6))
def test_read_params_round_trip(work, d):
    "A flat mapping written as YAML reads back as the same mapping"
    p = tmpdir(work) / 'p.yaml'; p.write_text(yaml.safe_dump(d))
    assert read_params(p) == d


@SW
@given(text=st.sampled_from(['- 1\n- 2', '5', 'a: [1]', 'a: {b: 1}', 'just text', 'a: "x', 'a: b: c']))
def test_read_params_bad_files_named(work, text):
    "YAML that is not a flat mapping or not YAML: ValueError naming the file; a missing file: FileNotFoundError naming it"
    p = tmpdir(work) / 'p.yaml'; p.write_text(text)
    with names(re.escape(str(p)) + r': (a parameter file must be a flat mapping|not valid YAML)'): read_params(p)
    with pytest.raises(FileNotFoundError, match=re.escape(str(p.with_name('none.yaml')))): read_params(p.with_name('none.yaml'))


@pytest.mark.parametrize('text', ['1: 2', 'null: 3', 'true: 1', '1.5: x'])
def test_read_params_non_string_names(work, text):
    "A parameter name that is not a string: ValueError naming the name"
    p = work / 'p.yaml'; p.write_text(text)
    with names(r'name|key'): read_params(p)


NB_DATA, NB_DEBIAS = ROOT / 'nbs' / '02_data.ipynb', ROOT / 'nbs' / '07_debias.ipynb'


@SW
@given(v=st.one_of(st.integers(-100, 10**7), st.floats(allow_nan=True), st.booleans(), st.text(max_size=4)))
def test_stage_parameters_int_checked(v):
    "n_galaxies: an int >= 1 passes through; an int < 1 is a ValueError, anything else a TypeError, each naming n_galaxies"
    if isinstance(v, int) and not isinstance(v, bool) and v >= 1:
        assert stage_parameters('lsst-y10-y1', NB_DATA, {'n_galaxies': v}, Path('/r'))['n_galaxies'] == v
    else:
        with names(r"'n_galaxies' of 02_data\.ipynb must be"): stage_parameters('lsst-y10-y1', NB_DATA, {'n_galaxies': v}, Path('/r'))


@pytest.mark.parametrize('ov', [{'theta': INF}, {'gamma': NAN}, {'gamma': INF}, {'n_debias': None}], ids=['theta-inf', 'gamma-nan', 'gamma-inf', 'n_debias-none'])
def test_stage_parameters_non_finite_named(ov):
    "A parameter that is not finite, or None for a number: ValueError/TypeError naming the parameter"
    with names(f'{next(iter(ov))!r}'): stage_parameters('sdss-decals', NB_DEBIAS, ov, Path('/r'))


_PAIR = yaml.safe_load((ROOT / 'nbs' / 'pairs' / 'sdss-decals.yaml').read_text())


def _pair_file(base, **changes):
    p = tmpdir(base) / 'pair.yaml'; p.write_text(yaml.safe_dump({**_PAIR, 'name': 'mine', **changes})); return p


@SW
@given(size=st.one_of(st.integers(-5, 2000), st.floats(8, 64), st.booleans(), st.text(max_size=3), st.none()),
       name=st.one_of(st.from_regex(r'[A-Za-z0-9_.-]{1,12}', fullmatch=True), st.sampled_from(['', 'a b', 'a/b', 'é', 5, None])))
def test_read_pair_file_size_and_name_checked(work, size, name):
    "size must be an int in 8..1024 and name letters/digits/-_. (not a built-in pair): PairFileError naming the key; else read back"
    good_size = isinstance(size, int) and not isinstance(size, bool) and 8 <= size <= 1024
    good_name = isinstance(name, str) and name != '' and all(c.isalnum() or c in '-_.' for c in name)
    assume(name not in SURVEY_PAIRS)
    p = _pair_file(work, size=size, name=name)
    if good_size and good_name:
        pr = read_pair_file(p); assert pr.name == name and pr.stamp == size
    else:
        with pytest.raises(PairFileError, match=re.escape(str(p.resolve())) + r': (size|name)'): read_pair_file(p)


@SW
@given(key=st.sampled_from(['taxonomy', 'paired', 'unknown', 'params', 'population', 'source']),
       value=st.sampled_from(['x', 5, [1], {'a': [1]}, 'yes', {'z_min': 'a'}]))
def test_read_pair_file_bad_values_named(work, key, value):
    "A pair-file value of the wrong kind: PairFileError naming the file and the key (or the value is valid and read)"
    ok = {'taxonomy': lambda v: v in ('three', 'galaxy10'), 'paired': lambda v: isinstance(v, bool),
          'unknown': lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
          'params': lambda v: isinstance(v, dict) and not any(isinstance(x, (dict, list)) for x in v.values()),
          'population': lambda v: isinstance(v, dict) and all(isinstance(x, (int, float)) for x in v.values()),
          'source': lambda v: False}[key]
    p = _pair_file(work, **{key: value})
    if ok(value): read_pair_file(p); return
    with pytest.raises(PairFileError, match=re.escape(str(p.resolve())) + f': {key}'): read_pair_file(p)


@pytest.mark.parametrize('pop', [{'z_min': NAN}, {'z_max': INF}, {'bogus': 1}], ids=['nan', 'inf', 'unknown'])
def test_read_pair_file_population_checked(work, pop):
    "Population parameters that are unknown or not finite: PairFileError naming the file and 'population'"
    p = _pair_file(work, population=pop)
    with pytest.raises(PairFileError, match='population'): read_pair_file(p)
