"""A bundle without example rows is smoke-tested on a row made from its metadata."""

from __future__ import annotations

import os
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline

from modelport import ModelMetadata, Settings
from modelport.metadata import smoke_rows
from modelport.registry import Registry


class BrokenRegression(LinearRegression):
    """Fitted like any regression, but fails on every row it is asked to predict."""

    def predict(self, X):
        raise RuntimeError("this model cannot predict")


def _fit(model: LinearRegression) -> LinearRegression:
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    return model.fit(X, X["a"] * 2 + X["b"])


def _replace(path: Path, model: object) -> None:
    """Write a new bundle over the old one, with a modification time that surely differs."""
    before = path.stat().st_mtime_ns
    joblib.dump(model, path)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_a_bare_pickle_that_cannot_predict_never_replaces_one_that_can(tmp_path: Path):
    path = tmp_path / "power.joblib"
    joblib.dump(_fit(LinearRegression()), path)
    registry = Registry(Settings(bundle_path=path))
    registry.load_all()
    X = registry.get().validate({"a": 1.0, "b": 1.0})
    assert registry.get().predict(X) == pytest.approx([3.0])

    _replace(path, _fit(BrokenRegression()))
    registry.refresh()

    [entry] = registry.entries
    assert entry.state == "ready"
    assert entry.error is not None and "this model cannot predict" in entry.error
    assert registry.get().predict(X) == pytest.approx([3.0])  # the old model still answers


def test_a_bare_pickle_that_cannot_predict_is_not_served_at_start(tmp_path: Path):
    path = tmp_path / "power.joblib"
    joblib.dump(_fit(BrokenRegression()), path)
    registry = Registry(Settings(bundle_path=path))
    registry.load_all()
    [entry] = registry.entries
    assert entry.state == "failed"
    assert not registry.ready


def test_the_smoke_row_takes_defaults_then_mid_ranges_then_first_categories():
    metadata = ModelMetadata(
        features=[
            {"name": "given", "default": 7, "min": 0, "max": 100},
            {"name": "ranged", "min": 10, "max": 20},
            {"name": "floor", "type": "integer", "min": 3},
            {"name": "count", "type": "integer", "min": 0, "max": 5},
            {"name": "city", "type": "categorical", "categories": ["rome", "oslo"]},
            {"name": "flag", "type": "boolean"},
            {"name": "free"},
        ]
    )
    assert smoke_rows(metadata) == [
        {
            "given": 7,
            "ranged": 15.0,
            "floor": 3,
            "count": 2,
            "city": "rome",
            "flag": False,
            "free": 0.0,
        }
    ]


def test_no_smoke_row_for_a_category_nothing_names():
    metadata = ModelMetadata(features=[{"name": "city", "type": "categorical"}, {"name": "a"}])
    assert smoke_rows(metadata) == []


@pytest.mark.parametrize("kind", ["numbers", "text"])
def test_working_bare_pickles_pass_the_smoke_test(kind: str, tmp_path: Path):
    if kind == "text":
        model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(
            ["good", "bad", "fine", "awful"], [1, 0, 1, 0]
        )
    else:
        model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    joblib.dump(model, tmp_path / "bare.joblib")
    registry = Registry(Settings(bundle_path=tmp_path / "bare.joblib"))
    registry.load_all()
    assert registry.ready, registry.entries
