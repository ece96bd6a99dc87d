import os

import pytest
import torch

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    """Point srnlib's repo root (checkpoints, results, figures, data) at a temporary folder."""
    monkeypatch.setenv("SRN_HOME", str(tmp_path))
    return tmp_path
