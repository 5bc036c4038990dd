"""Round trips of the real-format readers in deepastro.data: each test writes tiny files in the published layouts."""
import os
import numpy as np, pandas as pd, h5py, pytest
from astropy.io import fits

from deepastro.data import (DataError, read_galaxy10, read_deepadversaries, read_fits_cutouts,
                            save_dataset, load_dataset, read_provenance)
from deepastro.simulate import class_names

G10 = class_names('galaxy10')
THREE = class_names('three')


def _galaxy10_file(path, size, n=3, ans=(2, 0, 9), consts=(10, 128, 255), extra=True, dtype=np.uint8):
    "Galaxy10 layout: images (N, size, size, 3) with a distinct constant per channel, ans, and catalogue columns"
    im = np.zeros((n, size, size, 3), dtype)
    for c, v in enumerate(consts): im[..., c] = v
    im[0, 0, 0, :] = 255                      # one bright pixel in every channel of the first image
    with h5py.File(path, 'w') as f:
        f['images'] = im
        f['ans'] = np.array(ans, np.uint8)
        if extra:
            f['ra'] = np.linspace(10., 20., n); f['dec'] = np.linspace(-5., 5., n)
            f['redshift'] = np.array([0.01, 0.05, 0.1])[:n]; f['pxscale'] = np.full(n, 0.262)
    return im


# ---------------------------------------------------------------- Galaxy10

def test_galaxy10_decals_shape_scale_channels(tmp_path):
    p = tmp_path / 'Galaxy10_DECals.h5'
    raw = _galaxy10_file(p, 256)
    images, meta, prov = read_galaxy10(p)
    assert images.shape == (3, 3, 256, 256)
    assert images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    assert images[0, :, 0, 0].tolist() == [1.0, 1.0, 1.0]            # 255 -> 1.0
    # channel order g, r, z preserved: constants 10, 128, 255 per channel
    np.testing.assert_allclose(images[1, :, 5, 7], np.array([10, 128, 255]) / 255., rtol=1e-6)
    np.testing.assert_allclose(images, np.moveaxis(raw, -1, 1) / 255., rtol=1e-6)


def test_galaxy10_decals_labels_and_meta(tmp_path):
    p = tmp_path / 'Galaxy10_DECals.h5'
    _galaxy10_file(p, 256)
    images, meta, prov = read_galaxy10(p)
    assert meta.label.tolist() == [2, 0, 9]
    assert meta.class_name.tolist() == ['round_smooth', G10[0], G10[9]]
    assert meta.class_name[0] == 'round_smooth'
    np.testing.assert_allclose(meta.redshift, [0.01, 0.05, 0.1])
    np.testing.assert_allclose(meta.ra, np.linspace(10., 20., 3))
    np.testing.assert_allclose(meta.dec, np.linspace(-5., 5., 3))
    assert len(meta) == len(images)


def test_galaxy10_decals_provenance(tmp_path):
    p = tmp_path / 'Galaxy10_DECals.h5'
    _galaxy10_file(p, 256)
    _, _, prov = read_galaxy10(p)
    assert prov['survey'] == 'decals'
    assert prov['bands'] == ['g', 'r', 'z']
    assert prov['taxonomy'] == 'galaxy10'
    assert prov['classes'] == list(G10)
    assert str(p) in prov['file']


def test_galaxy10_sdss_layout(tmp_path):
    p = tmp_path / 'Galaxy10.h5'
    im = np.zeros((4, 69, 69, 3), np.uint8)
    im[..., 0], im[..., 1], im[..., 2] = 51, 102, 255                  # g, r, i
    with h5py.File(p, 'w') as f:
        f['images'] = im; f['ans'] = np.array([2, 5, 0, 9], np.uint8)
    images, meta, prov = read_galaxy10(p)
    assert images.shape == (4, 3, 69, 69) and images.dtype == np.float32
    np.testing.assert_allclose(images[:, 0], 0.2, rtol=1e-6)
    np.testing.assert_allclose(images[:, 1], 0.4, rtol=1e-6)
    np.testing.assert_allclose(images[:, 2], 1.0, rtol=1e-6)
    # the SDSS release numbers its own classes (astroNN): 0 is a face-on disk without spiral, not DECaLS's 'disturbed'
    assert meta.class_name.tolist() == ['smooth_in_between_round', 'disk_edge_on_boxy_bulge', 'disk_face_on_no_spiral', 'disk_face_on_loose_spiral']
    assert prov['survey'] == 'sdss' and prov['bands'] == ['g', 'r', 'i'] and prov['taxonomy'] == 'galaxy10-sdss'
    assert not {'ra', 'dec', 'redshift'} & set(meta.columns)       # nothing invented when absent


def test_galaxy10_survey_override(tmp_path):
    p = tmp_path / 'g.h5'
    _galaxy10_file(p, 32, extra=False)
    _, _, prov = read_galaxy10(p, survey='decals')
    assert prov['survey'] == 'decals' and prov['bands'] == ['g', 'r', 'z']
    _, _, prov = read_galaxy10(p)
    assert prov['survey'] == 'sdss'


# ---------------------------------------------------------------- DeepAdversaries

def _deepadv(folder, year, split, n=6, seed=0):
    rng = np.random.default_rng(seed)
    im = rng.normal(0, 1, (n, 3, 100, 100)).astype(np.float64)
    y = np.arange(n) % 3
    onehot = np.eye(3)[y]
    np.save(folder / f'images_Y{year}_{split}.npy', im)
    np.save(folder / f'labels_{split}.npy', onehot)
    return im, y


@pytest.mark.parametrize('year,split', [(10, 'train'), (1, 'valid'), (10, 'test')])
def test_deepadversaries_round_trip(tmp_path, year, split):
    im, y = _deepadv(tmp_path, year, split, seed=year)
    images, meta, prov = read_deepadversaries(tmp_path, year, split)
    assert images.shape == (6, 3, 100, 100)
    np.testing.assert_array_equal(images, im.astype(np.float32))
    assert meta.label.tolist() == y.tolist()
    assert meta.class_name.tolist() == [THREE[i] for i in y]
    assert meta.class_name.tolist()[:3] == ['spiral', 'elliptical', 'merger']
    assert prov['survey'] == f'lsst-y{year}' and prov['bands'] == ['g', 'r', 'i']
    assert f'images_Y{year}_{split}.npy' in prov['file']


def test_deepadversaries_picks_requested_year(tmp_path):
    im10, _ = _deepadv(tmp_path, 10, 'train', seed=1)
    im1, _ = _deepadv(tmp_path, 1, 'train', seed=2)
    np.testing.assert_array_equal(read_deepadversaries(tmp_path, 1, 'train')[0], im1.astype(np.float32))
    np.testing.assert_array_equal(read_deepadversaries(tmp_path, 10, 'train')[0], im10.astype(np.float32))


# ---------------------------------------------------------------- FITS cutouts

def _cube(seed, shape=(3, 12, 12)):
    return np.random.default_rng(seed).normal(0, 1, shape).astype(np.float32)


def _write_cube(path, a): fits.PrimaryHDU(a).writeto(path)
def _write_planes(path, a):
    fits.HDUList([fits.PrimaryHDU()] + [fits.ImageHDU(x) for x in a]).writeto(path)


def _catalog(folder, files, extra, label_col='class_name', labels=('spiral', 'merger', 'elliptical')):
    cat = pd.DataFrame({'file': files, label_col: list(labels)[:len(files)], **extra})
    cat.to_csv(folder / 'cat.csv', index=False)
    return folder / 'cat.csv'


def test_fits_cube_and_plane_layouts_agree(tmp_path):
    cubes = [_cube(i) for i in range(3)]
    (tmp_path / 'a').mkdir(); (tmp_path / 'b').mkdir()
    extra = dict(ra=[1.5, 2.5, 3.5], objid=['x1', 'x2', 'x3'])
    for i, c in enumerate(cubes):
        _write_cube(tmp_path / 'a' / f'c{i}.fits', c)
        _write_planes(tmp_path / 'b' / f'c{i}.fits', c)
    files = [f'c{i}.fits' for i in range(3)]
    ia, ma, pa = read_fits_cutouts(_catalog(tmp_path / 'a', files, extra))
    ib, mb, pb = read_fits_cutouts(_catalog(tmp_path / 'b', files, extra))
    assert ia.shape == (3, 3, 12, 12) and ia.dtype == np.float32
    np.testing.assert_array_equal(ia, np.stack(cubes))
    np.testing.assert_array_equal(ia, ib)
    pd.testing.assert_frame_equal(ma, mb)
    assert ma.class_name.tolist() == ['spiral', 'merger', 'elliptical']
    assert ma.label.tolist() == [0, 2, 1]
    assert ma.ra.tolist() == [1.5, 2.5, 3.5] and ma.objid.tolist() == ['x1', 'x2', 'x3']
    assert pa['taxonomy'] == 'three' and pa['classes'] == list(THREE)


def test_fits_label_column_and_n_bands(tmp_path):
    cubes = [_cube(10 + i, (4, 8, 8)) for i in range(2)]
    for i, c in enumerate(cubes): _write_cube(tmp_path / f'c{i}.fits', c)
    cat = _catalog(tmp_path, ['c0.fits', 'c1.fits'], dict(mag=[19.0, 20.5]), label_col='label', labels=(1, 2))
    images, meta, _ = read_fits_cutouts(cat, n_bands=4)
    np.testing.assert_array_equal(images, np.stack(cubes))
    assert meta.label.tolist() == [1, 2]
    assert meta.class_name.tolist() == ['elliptical', 'merger']
    assert meta.mag.tolist() == [19.0, 20.5]


def test_fits_galaxy10_taxonomy_and_anomaly_class(tmp_path):
    for i in range(2): _write_cube(tmp_path / f'c{i}.fits', _cube(i))
    cat = _catalog(tmp_path, ['c0.fits', 'c1.fits'], {}, labels=('barred_spiral', 'lens'))
    _, meta, prov = read_fits_cutouts(cat, taxonomy='galaxy10')
    assert meta.label.tolist() == [G10.index('barred_spiral'), len(G10)]   # anomalies come after the known classes
    assert prov['classes'] == list(G10) and 'lens' in prov['anomaly_classes']


# ---------------------------------------------------------------- deepastro HDF5 format

def _meta(n):
    return pd.DataFrame(dict(label=np.arange(n) % 3, class_name=[THREE[i % 3] for i in range(n)],
                             z=np.linspace(0.1, 0.5, n), objid=[f'obj{i:03d}' for i in range(n)]))


def _prov(**kw):
    return dict(kind='test', survey='lsst-y10', bands=['g', 'r', 'i'], classes=list(THREE), paired=False,
                seed=7, population=dict(z_min=0.02, z_max=0.5), **kw)


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.normal(0, 1, (5, 3, 16, 16)).astype(np.float32)
    meta = _meta(5)
    p = save_dataset(tmp_path / 'd.h5', images, meta, _prov(columns=list(meta.columns)))
    assert p == tmp_path / 'd.h5' and p.exists()
    im2, meta2, prov2 = load_dataset(p)
    np.testing.assert_array_equal(im2, images)
    assert im2.dtype == np.float32
    pd.testing.assert_frame_equal(meta2, meta)
    for k, v in _prov(columns=list(meta.columns)).items(): assert prov2[k] == v, k
    assert {'deepastro_version', 'created'} <= set(prov2)
    assert read_provenance(p) == prov2
    assert load_dataset(p, n_bands=3)[0].shape == (5, 3, 16, 16)


def test_save_load_string_and_numeric_dtypes(tmp_path):
    meta = _meta(4)
    save_dataset(tmp_path / 'd.h5', np.ones((4, 3, 8, 8)), meta, _prov())
    _, m2, _ = load_dataset(tmp_path / 'd.h5')
    assert m2.class_name.tolist() == meta.class_name.tolist() and isinstance(m2.class_name[0], str)
    assert m2.objid.tolist() == meta.objid.tolist()
    assert m2.label.dtype.kind == 'i' and m2.label.tolist() == meta.label.tolist()
    np.testing.assert_array_equal(m2.z.values, meta.z.values)


def test_save_load_keeps_column_order_without_columns_key(tmp_path):
    meta = _meta(4)[['z', 'objid', 'label', 'class_name']]
    save_dataset(tmp_path / 'd.h5', np.ones((4, 3, 8, 8)), meta, _prov())
    _, m2, _ = load_dataset(tmp_path / 'd.h5')
    assert list(m2.columns) == list(meta.columns)


def _no_temp_files(folder):
    return [q.name for q in folder.iterdir() if q.name.endswith('.tmp')] == []


def test_failed_save_keeps_old_file_nan(tmp_path):
    p = tmp_path / 'd.h5'
    good = np.arange(3 * 3 * 8 * 8, dtype=np.float32).reshape(3, 3, 8, 8)
    save_dataset(p, good, _meta(3), _prov())
    bad = good.copy(); bad[1, 0, 2, 2] = np.nan
    with pytest.raises(DataError, match='NaN'):
        save_dataset(p, bad, _meta(3), _prov())
    im, meta, _ = load_dataset(p)
    np.testing.assert_array_equal(im, good)
    assert meta.objid.tolist() == _meta(3).objid.tolist()
    assert _no_temp_files(tmp_path)


def test_failed_write_midway_removes_temp_and_keeps_old_file(tmp_path):
    "a meta column h5py cannot store fails inside the write: the temporary file goes, the old file stays"
    p = tmp_path / 'd.h5'
    good = np.ones((3, 3, 8, 8), np.float32)
    save_dataset(p, good, _meta(3), _prov(tag='old'))
    meta = _meta(3); meta['when'] = pd.to_datetime(['2020-01-01', '2021-01-01', '2022-01-01'])
    with pytest.raises(TypeError, match='dtype'):
        save_dataset(p, good * 2, meta, _prov(tag='new'))
    assert _no_temp_files(tmp_path)
    im, _, prov = load_dataset(p)
    np.testing.assert_array_equal(im, good)
    assert prov['tag'] == 'old'


def test_save_creates_parent_folders_and_overwrites(tmp_path):
    p = tmp_path / 'deep' / 'er' / 'd.h5'
    save_dataset(p, np.zeros((2, 3, 8, 8)), _meta(2), _prov(tag='first'))
    save_dataset(p, np.ones((3, 3, 8, 8)), _meta(3), _prov(tag='second'))
    im, meta, prov = load_dataset(p)
    assert im.shape == (3, 3, 8, 8) and (im == 1).all() and len(meta) == 3 and prov['tag'] == 'second'
    assert _no_temp_files(p.parent)
