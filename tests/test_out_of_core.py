"Stages on data read from their files instead of held in memory (DEEPASTRO_MEMORY_GB=0), and the file-backed pieces"
import math
import numpy as np, pandas as pd, pytest, torch
from deepastro.data import (PairData, FileImages, DatasetWriter, make_pair_dataset, save_dataset, load_dataset, DataError,
                            memory_budget_gb)
from deepastro.models import run_baseline
from deepastro.da import run_da
from deepastro.evaluate import run_robustness
from deepastro.uda import run_uda
from deepastro.debias import run_debias

KW = dict(pair='lsst-y10-y1', n_galaxies=160, seed=0)

@pytest.fixture
def from_files(monkeypatch):
    monkeypatch.setenv('DEEPASTRO_MEMORY_GB', '0')

def test_every_stage_reads_from_the_files(from_files, tmp_path):
    run = tmp_path / 'run'
    b = run_baseline(run, epochs=1, bs=32, **KW)
    assert not b.data.in_memory and isinstance(b.data.source('test')[0], FileImages)
    b2 = run_baseline(tmp_path / 'again', epochs=1, bs=32, **KW)          # a seed fixes the training read from files too
    assert b2.source == b.source and b2.target == b.target
    for k, v in b.learn.model.state_dict().items(): torch.testing.assert_close(v, b2.learn.model.state_dict()[k])
    d = run_da(run, epochs=1, methods='mmd:1', oracle=True, baseline=b, **KW)
    assert d.baseline['from_stage'] == 'baseline' and 0 <= d.oracle['target'] <= 1
    r = run_robustness(run, n_curve=24, n_attack=3, generations=2, n_isomap=20, **KW)
    assert set(r.models) == {'baseline', 'da'} and all(math.isfinite(r.latent_distance(m, 'noisy')) for m in r.models)
    u = run_uda(run, pair='sdss-decals', n_uda=150, uda_epochs=1, n_labelled='0', oracle=False, seed=0)
    assert len(u.models) >= 2
    db = run_debias(run, pair='sdss-decals', n_debias=300, debias_epochs=1, metric_bins=3, seed=0)
    assert isinstance(db.images, FileImages) and set(db.accuracy) >= {'naive', 'debiased'}

def test_file_backed_data_match_the_in_memory_data(tmp_path, monkeypatch):
    paths = make_pair_dataset('sdss-decals', 120, tmp_path, seed=1, verbose=False)
    mem = PairData(paths, seed=1)
    monkeypatch.setenv('DEEPASTRO_MEMORY_GB', '0'); disk = PairData(paths, seed=1)
    assert mem.in_memory and not disk.in_memory
    for dom in ('source', 'target'):
        for split in ('train', 'test'):
            (xm, ym), (xd, yd) = getattr(mem, dom)(split), getattr(disk, dom)(split)
            torch.testing.assert_close(xd[:], xm); assert torch.equal(yd, ym)
    monkeypatch.setenv('DEEPASTRO_MEMORY_GB', 'lots')
    with pytest.raises(ValueError, match="DEEPASTRO_MEMORY_GB must be a number of GB >= 0, got 'lots'"): memory_budget_gb()

def test_writer_leaves_nothing_when_a_block_is_bad(tmp_path):
    meta = pd.DataFrame(dict(label=[0, 1]))
    bad = np.ones((2, 3, 8, 8), np.float32); bad[1, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match=r'out\.h5 \(rows 2\.\.3\): 1 NaN/inf pixels in 1 images'):
        with DatasetWriter(tmp_path / 'out.h5', {}) as w:
            w.append(np.ones((2, 3, 8, 8)), meta); w.append(bad, meta)
    with pytest.raises(DataError, match='metadata columns'):
        with DatasetWriter(tmp_path / 'out.h5', {}) as w:
            w.append(np.ones((2, 3, 8, 8)), meta); w.append(np.ones((2, 3, 8, 8)), meta.rename(columns={'label': 'y'}))
    with pytest.raises(DataError, match='no images were written'):
        with DatasetWriter(tmp_path / 'out.h5', {}): pass
    assert list(tmp_path.iterdir()) == []

def test_file_images_reads_scattered_and_repeated_rows(tmp_path):
    img = np.random.default_rng(0).normal(size=(1200, 2, 4, 4)).astype(np.float32)
    save_dataset(tmp_path / 'd.h5', img, pd.DataFrame(dict(label=np.zeros(1200, int))), {})
    fi = FileImages(tmp_path / 'd.h5')
    idx = np.random.default_rng(1).integers(0, 1200, 700)           # runs, gaps, repeats, spans beyond MAX_SPAN
    np.testing.assert_array_equal(fi.read(idx), img[idx])
    np.testing.assert_array_equal(fi.subset(np.arange(1199, -1, -3))[5:9].numpy(), img[np.arange(1199, -1, -3)[5:9]])
