"""The benchmark's servers, started as the benchmark starts them: the bare ASGI + ONNX
Runtime reference answers the model's probabilities, and modelport runs as deployed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest
from servers import (
    AUTH,
    CALLER,
    ONNX_TOLERANCE,
    REFERENCE,
    check,
    check_deployed_defaults,
    running,
    server_command,
)


@pytest.fixture(scope="module")
def reference(
    forest: tuple[Path, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The reference app serving the forest: its predict URL."""
    log = tmp_path_factory.mktemp("reference") / "reference.log"
    with running(REFERENCE, forest[0], log) as (url, _, _):
        yield url


def test_the_reference_answers_the_models_probabilities(
    forest: tuple[Path, pd.DataFrame], reference: str
):
    path, frame = forest
    check(reference, path, frame, ONNX_TOLERANCE)
    rows = frame.iloc[:50]
    one = httpx.post(reference, json=rows.iloc[0].to_dict(), timeout=10)
    many = httpx.post(reference, json=rows.to_dict("records"), timeout=10)
    expected = joblib.load(path).predict_proba(rows)
    assert one.status_code == many.status_code == 200
    assert np.allclose(one.json()["prediction"], expected[:1], atol=ONNX_TOLERANCE, rtol=0)
    assert np.allclose(many.json()["prediction"], expected, atol=ONNX_TOLERANCE, rtol=0)
    assert not np.allclose(many.json()["prediction"], expected[::-1], atol=ONNX_TOLERANCE)


def test_the_check_catches_a_server_that_answers_other_probabilities(
    forest: tuple[Path, pd.DataFrame], reference: str, tmp_path: Path
):
    path, frame = forest
    other = tmp_path / "other.joblib"
    model = joblib.load(path)
    joblib.dump(model.fit(frame, model.predict(frame) == 0), other)  # the labels swapped
    with pytest.raises(AssertionError, match="the model says"):
        check(reference, other, frame, ONNX_TOLERANCE)


_ROW = ", ".join(f'"f{i}": 0.5' for i in range(1, 20))


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'[{"f0": 1.0}]',  # the other features missing
        ('[{"f0": "x", ' + _ROW + "}]").encode(),
    ],
)
def test_the_reference_refuses_what_it_cannot_read(reference: str, body: bytes):
    answer = httpx.post(reference, content=body, timeout=10)
    other = httpx.get(reference, timeout=10)
    assert answer.status_code == 400
    assert "error" in answer.json()
    assert other.status_code == 404


def test_modelport_runs_as_deployed(forest: tuple[Path, pd.DataFrame], tmp_path: Path):
    path, frame = forest
    log = tmp_path / "modelport.log"
    with running("modelport", path, log) as (url, _, _):
        check(url, path, frame, 1e-9)
        for _ in range(3):
            assert httpx.post(url, json=[frame.iloc[0].to_dict()], headers=AUTH).status_code == 200
        lines = check_deployed_defaults(url, log)
    assert lines >= 5  # the start-up probe, the check's request and three more
    assert (
        "api-keys.txt"
        in server_command("modelport", path, 1, tmp_path)[2]["MODELPORT_API_KEYS_FILE"]
    )
    assert f"caller={CALLER}" in log.read_text()


def test_the_defaults_check_fails_when_the_access_log_is_off(
    forest: tuple[Path, pd.DataFrame], tmp_path: Path
):
    path, _ = forest
    log = tmp_path / "modelport.log"
    with running("modelport", path, log, {"MODELPORT_LOG_LEVEL": "warning"}) as (url, _, _):
        with pytest.raises(AssertionError, match="not at INFO"):
            check_deployed_defaults(url, log)
