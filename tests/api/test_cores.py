"""Big forest calls on the server's cores: one worker splits them, several share the cores."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from modelport import compiled_forest, parallel, runtime
from modelport.parallel import free_threads
from tests.api.conftest import running
from tests.splits import spy_on_splits


@pytest.fixture(autouse=True)
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "CORES", 2)


@pytest.fixture
def forest_splits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    return spy_on_splits(monkeypatch, runtime, compiled_forest)


def _in_a_thread() -> int:
    """What a call made in another thread of this process may use (the batcher's thread)."""
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(free_threads()))
    thread.start()
    thread.join()
    return seen[0]


def _requests(client: Any, row: dict[str, Any]) -> None:
    """One row (never split), then 2,000 rows of the 60-tree forest (work for four parts)."""
    assert client.post("/predict?proba=1", json=row).status_code == 200
    response = client.post("/predict?proba=1", json=[row] * 2_000)
    assert response.status_code == 200, response.text
    assert len(response.json()["prediction"]) == 2_000


@pytest.mark.parametrize(("workers", "threads", "splits"), [(1, 2, [2]), (2, 1, [])])
def test_a_worker_splits_big_calls_over_its_share_of_the_cores(
    example_dir: Path, example_bundles, forest_splits, workers, threads, splits
):
    with running(example_dir / "forest-binary.joblib", workers=workers) as client:
        assert _in_a_thread() == threads
        _requests(client, example_bundles["forest-binary"].metadata.examples[0])
    assert forest_splits == splits
    assert _in_a_thread() == 2  # the share ends with the server
