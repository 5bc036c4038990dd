"Every stage runs on a small timm network and on a network a user writes (issue: your data, your model)"
import sys, textwrap, math
import pytest, torch
from deepastro.models import run_baseline, load_classifier, arch_slug, ArchError, create_model
from deepastro.da import run_da
from deepastro.evaluate import run_robustness
from deepastro.uda import run_uda
from deepastro.debias import run_debias

USER_NETS = '''
import torch
from torch import nn
class Net(nn.Module):
    "A plain classifier as a user writes it: no encode/classify, no latent attribute"
    def __init__(self, n_bands, n_classes):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(n_bands, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.MaxPool2d(4), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.embed = nn.Linear(64, 24)
        self.classifier = nn.Linear(24, n_classes)
    def forward(self, x): return self.classifier(torch.relu(self.embed(self.features(x))))
def make(n_bands, n_classes): return Net(n_bands, n_classes)
def broken(n_bands): return 42
'''

@pytest.fixture(scope='module')
def user_module(tmp_path_factory):
    d = tmp_path_factory.mktemp('user_code'); (d / 'user_nets_t.py').write_text(USER_NETS)
    sys.path.insert(0, str(d)); yield 'user_nets_t'
    sys.path.remove(str(d)); sys.modules.pop('user_nets_t', None)

@pytest.mark.parametrize('arch', ['lcnet_035', 'user_nets_t:make'])
def test_every_stage_runs_on_the_network(arch, user_module, tmp_path):
    run, kw = tmp_path / 'run', dict(pair='lsst-y10-y1', n_galaxies=160, seed=0)
    b = run_baseline(run, arch=arch, epochs=1, bs=32, **kw)
    assert b.arch == arch and 0 <= b.source['accuracy'] <= 1 and b.target is not None
    f = run / 'models' / f'baseline_{arch_slug(arch)}.pth'
    trust = arch if ':' in arch else None
    m, sc, classes = load_classifier(f, trust_arch=trust)
    x, _ = b.data.source('test')
    b.learn.model.eval(); torch.testing.assert_close(m(x[:4]), b.learn.model(x[:4]))   # the saved model is the trained one
    d = run_da(run, arch=arch, epochs=1, methods='mmd:1;dann:0.1', oracle=False, baseline=b, **kw)
    assert d.baseline['from_stage'] == 'baseline' and set(d.methods) == {'mmd:1', 'dann:0.1'}
    assert (run / 'models' / f'da_{arch_slug(arch)}.pth').exists()
    r = run_robustness(run, arch=arch, n_curve=24, n_attack=3, generations=2, n_isomap=20, **kw)
    assert set(r.models) == {'baseline', 'da'}          # the run's own two models, loaded
    for name in r.models:
        lat = r.models[name]['latent']
        assert all(math.isfinite(v) for v in lat.values() if isinstance(v, float)), lat
    u = run_uda(run, pair='sdss-decals', n_uda=150, arch=arch, uda_epochs=1, n_labelled='0', oracle=False, seed=0)
    assert 'uda 0' in ' '.join(u.models) or len(u.models) >= 2
    db = run_debias(run, pair='sdss-decals', n_debias=300, arch=arch, debias_epochs=1, metric_bins=3, seed=0)
    assert set(db.accuracy) >= {'naive', 'debiased'}

def test_user_network_errors(user_module):
    with pytest.raises(ArchError, match="returned a int, not a torch nn.Module"): create_model('user_nets_t:broken', 3, 3, 32)
    with pytest.raises(ArchError, match="'embed.wrong' is not a layer of Net"): create_model('user_nets_t:make@embed.wrong', 3, 3, 32)
    with pytest.raises(ArchError, match="cannot import module 'user_nets_missing'"): create_model('user_nets_missing:make', 3, 3, 32)
    m = create_model('user_nets_t:make@features', 3, 3, 32)      # the flattened features: a latent space, but no head after it
    assert m.latent_dim == 64
    with pytest.raises(ArchError, match='does not feed its final linear layer'): m.classify(torch.zeros(1, 64))

CLI = [sys.executable, '-c', 'import sys; from deepastro.pipeline import main; sys.exit(main())']

def test_cli_refuses_a_network_that_does_not_exist(tmp_path):
    "A bad arch fails before any stage runs (a user network running through the CLI is tested in test_your_data.py)"
    import subprocess, os
    (tmp_path / 'lab_nets_cli.py').write_text(USER_NETS)
    env = {**os.environ, 'PYTHONPATH': '.'}
    for arch, msg in (('lab_nets_cli:nope', "no callable 'nope'"), ('resnet10', 'timm.list_models()'),
                      ('lab_nets_cli:make@embedding', "latent layer 'embedding' is not a layer of Net")):
        r = subprocess.run(CLI + ['run', 'lsst-y10-y1', '--quick', '-p', 'arch', arch, '--runs-dir', 'runs'],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 2 and msg in r.stderr and not (tmp_path / 'runs').exists(), r.stderr
