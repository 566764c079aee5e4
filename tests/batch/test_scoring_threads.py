"""The batch scorer's threads and a forest twin's own: never more threads than allowed."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from modelport import ModelBundle, ModelMetadata, Predictor, compiled_forest, parallel, runtime
from modelport.batch import scoring
from modelport.batch.scoring import ChunkScorer, ModelIdentity, ScoreOptions
from modelport.completion import complete_metadata
from tests.splits import spy_on_splits

RNG = np.random.default_rng(2)
COLUMNS = [f"x{i}" for i in range(4)]
TRAIN = pd.DataFrame(RNG.normal(size=(300, 4)), columns=COLUMNS)
TWO_PARTS = 2 * scoring._PARALLEL_ROWS  # a chunk the scorer cuts in two


@pytest.fixture(autouse=True)
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "CORES", 2)


@pytest.fixture
def predictor() -> Predictor:
    model = RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0)
    model.fit(TRAIN, TRAIN["x0"] > 0)
    predictor = Predictor(ModelBundle(model, complete_metadata(model, ModelMetadata())))
    assert isinstance(predictor.runtime, runtime.ForestClassifierTwin)
    return predictor


def _score(predictor: Predictor, rows: int, threads: int) -> pd.DataFrame:
    scorer = ChunkScorer(
        predictor,
        ScoreOptions(proba=True),
        run_id="r1",
        identity=ModelIdentity("forest", None, None),
        ids="integer",
        threads=threads,
    )
    frame = pd.DataFrame(RNG.normal(size=(rows, 4)), columns=COLUMNS)
    chunk = scorer.score(0, frame, 0, datetime.now(UTC))
    expected = predictor.bundle.estimator.predict_proba(frame)
    np.testing.assert_array_equal(chunk.predictions["proba_True"], expected[:, 1])
    return chunk.predictions


def test_a_forest_does_not_split_again_inside_the_scorer_s_parts(predictor, monkeypatch):
    chunk_splits, forest_splits = (
        spy_on_splits(monkeypatch, scoring),
        spy_on_splits(monkeypatch, runtime, compiled_forest),
    )
    _score(predictor, TWO_PARTS + 3, threads=2)
    assert chunk_splits == [2]
    assert forest_splits == []  # two threads in all, not four


def test_a_chunk_scored_in_one_part_lets_the_forest_use_the_threads(predictor, monkeypatch):
    chunk_splits, forest_splits = (
        spy_on_splits(monkeypatch, scoring),
        spy_on_splits(monkeypatch, runtime, compiled_forest),
    )
    _score(predictor, scoring._PARALLEL_ROWS - 1, threads=2)
    assert chunk_splits == [1]
    assert forest_splits == [2]


def test_a_scorer_given_one_thread_keeps_the_forest_to_one(predictor, monkeypatch):
    chunk_splits, forest_splits = (
        spy_on_splits(monkeypatch, scoring),
        spy_on_splits(monkeypatch, runtime, compiled_forest),
    )
    _score(predictor, TWO_PARTS + 3, threads=1)
    assert chunk_splits == [1]
    assert forest_splits == []
