"""`modelport score` publishes the answers the API gives: same labels, same probabilities.

Every example bundle scores one table twice: as a CSV file through the `score` command,
and as JSON records through `POST /predict` on a real server. Row by row, the numbers must
be the same (exactly: one validation, one predictor, one label space).
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelport import ModelBundle
from modelport.metadata import FeatureSpec, FeatureType
from tests.conftest import EXAMPLE_NAMES
from tests.e2e.conftest import Server, running

N_ROWS = 120
_PHRASES = [
    "great value, works perfectly",
    "terrible, it broke after one day",
    "not bad at all",
    "awful customer service and a refund refused",
    "I love it, my whole family uses it",
    "it is fine",
]


def _value(spec: FeatureSpec, rng: np.random.Generator) -> Any:
    """A plausible value of the feature: within its range, one of its categories."""
    if spec.type is FeatureType.TEXT:
        return str(rng.choice(_PHRASES))
    if spec.type is FeatureType.CATEGORICAL:
        return str(rng.choice([str(c) for c in spec.categories or ["a"]]))
    if spec.type is FeatureType.BOOLEAN:
        return bool(rng.integers(2))
    low = spec.min if spec.min is not None else 0.0
    high = spec.max if spec.max is not None else low + 10.0
    if spec.type is FeatureType.INTEGER:
        return int(rng.integers(math.floor(low), math.floor(high) + 1))
    return round(float(rng.uniform(low, high)), 4)


def _table(bundle: ModelBundle) -> list[dict[str, Any]]:
    """The example rows, then random rows; some values left out, to take their default."""
    rng = np.random.default_rng(7)
    rows = [dict(row) for row in bundle.metadata.examples]
    while len(rows) < N_ROWS:
        row = {spec.name: _value(spec, rng) for spec in bundle.metadata.features}
        for spec in bundle.metadata.features:
            if spec.default is not None and rng.random() < 0.1:
                del row[spec.name]
        rows.append(row)
    return rows


def _score(bundle_path: Path, csv_path: Path, output: Path, proba: bool) -> pd.DataFrame:
    command = [sys.executable, "-m", "modelport", "score", str(bundle_path), str(csv_path)]
    command += ["--output", str(output), "--quiet", *(["--proba"] if proba else [])]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return pd.read_parquet(output).sort_values("row").reset_index(drop=True)


@pytest.fixture(scope="module")
def server(example_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for every example (the folder of bundles), as an operator would run it."""
    with running(example_dir, tmp_path_factory.mktemp("server") / "server.log") as started:
        yield started


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_score_publishes_what_the_api_answers(
    name: str,
    example_dir: Path,
    example_bundles: dict[str, ModelBundle],
    server: Server,
    tmp_path: Path,
):
    bundle = example_bundles[name]
    records = _table(bundle)
    csv_path = tmp_path / "table.csv"
    pd.DataFrame(records, columns=bundle.metadata.feature_names).to_csv(csv_path, index=False)
    classifier = bool(bundle.metadata.task and bundle.metadata.task.is_classification)
    published = _score(example_dir / f"{name}.joblib", csv_path, tmp_path / "out", classifier)
    with server.client() as client:
        labels = client.post(f"/models/{name}/predict", json=records)
        assert labels.status_code == 200, labels.text
        assert published["prediction"].tolist() == labels.json()["prediction"]
        if classifier:
            answer = client.post(f"/models/{name}/predict?proba=1", json=records)
            assert answer.status_code == 200, answer.text
            for i, probabilities in enumerate(answer.json()["prediction"]):
                row = published.iloc[i]
                assert {c: row[f"proba_{c}"] for c in probabilities} == probabilities, i
    assert published["row"].tolist() == list(range(len(records)))
    assert set(published["model_sha256"]) == {bundle.sha256}
