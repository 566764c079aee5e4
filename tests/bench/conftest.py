"""The benchmark's scripts import each other as siblings (`python bench/run.py` puts bench/
first on the path): the tests import them the same way, and share a small forest."""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))


@pytest.fixture(scope="session")
def forest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A small forest on the benchmark's columns f0..f19, saved as the benchmark saves it."""
    X, y = make_classification(n_samples=300, n_features=20, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)])
    model = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(frame, y)
    path = tmp_path_factory.mktemp("bench") / "rf.joblib"
    joblib.dump(model, path)
    return path, frame
