import os, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
STAGE_NOTEBOOKS = sorted(p.name for p in NBS.glob('[0-9][0-9]_*.ipynb'))

@pytest.fixture(scope='session')
def root(): return ROOT

@pytest.fixture(scope='session')
def nbs(): return NBS
