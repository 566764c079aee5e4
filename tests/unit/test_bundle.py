"""Bundles: the Flask template's dict, bare estimators, skops, sha256 pinning and bad files."""

from __future__ import annotations

import hashlib
import importlib
import pickle
import re
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelport import (
    BundleError,
    FeatureSpec,
    FeatureType,
    ModelMetadata,
    Predictor,
    Settings,
    Task,
    load_bundle,
    save_bundle,
)

TREE_TYPE = "sklearn.tree._tree.Tree"


def _numbers(n_rows: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n_rows, 3))


def _binary_numbers() -> tuple[np.ndarray, np.ndarray]:
    X = _numbers()
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _logistic() -> LogisticRegression:
    return LogisticRegression().fit(*_binary_numbers())


def _forest() -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=5, random_state=0).fit(*_binary_numbers())


def _numeric_features(*defaults: float) -> list[dict]:
    return [
        {"name": f"feature{i}", "type": "numeric", "default": default}
        for i, default in enumerate(defaults, start=1)
    ]


def _importances(bundle) -> list[float]:
    return [feature.importance for feature in bundle.metadata.features]


def _template_dict(model, features: list[dict], **metadata) -> dict:
    return {"model": model, "metadata": {"features": features, **metadata}}


# The Flask template's bundle format, written by hand as its example scripts do.


def test_template_logistic_regression_binary(tmp_path: Path):
    model = _logistic()
    path = tmp_path / "model.joblib"
    joblib.dump(_template_dict(model, _numeric_features(-1, 0, -1)), path)

    bundle = load_bundle(path)

    metadata = bundle.metadata
    assert metadata.task is Task.BINARY_CLASSIFICATION
    assert metadata.class_names == [str(c) for c in model.classes_] == ["0", "1"]
    assert metadata.feature_names == ["feature1", "feature2", "feature3"]
    assert all(feature.type is FeatureType.NUMERIC for feature in metadata.features)
    assert [feature.default for feature in metadata.features] == [-1, 0, -1]
    assert metadata.input_kind == "numpy"
    importances = _importances(bundle)
    assert sum(importances) == pytest.approx(1.0, abs=1e-5)
    assert max(importances) in importances[:2]  # the label depends on feature1 and feature2

    predictor = Predictor(bundle)
    X = predictor.validate({"feature1": 2.0})  # feature2 takes its default 0, not NaN
    np.testing.assert_array_equal(X, [[2.0, 0.0, -1.0]])
    expected = model.predict(np.array([[2.0, 0.0, -1.0]])).tolist()
    assert predictor.predict_records({"feature1": 2.0}) == expected


@pytest.mark.parametrize("writer", ["joblib", "pickle"])
def test_template_random_forest_three_classes(tmp_path: Path, writer: str):
    X = _numbers(45)
    y = np.digitize(X[:, 0], [-0.4, 0.4])  # classes 0, 1, 2
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    content = _template_dict(model, _numeric_features(-1, -1, -1), task="MULTILABEL_CLASSIFICATION")
    path = tmp_path / f"model.{'joblib' if writer == 'joblib' else 'pkl'}"
    if writer == "joblib":
        joblib.dump(content, path)
    else:
        with path.open("wb") as file:
            pickle.dump(content, file)

    bundle = load_bundle(path)

    assert bundle.metadata.task is Task.MULTICLASS_CLASSIFICATION
    assert bundle.metadata.class_names == [str(c) for c in model.classes_] == ["0", "1", "2"]
    assert sum(_importances(bundle)) == pytest.approx(1.0, abs=1e-5)
    predictor = Predictor(bundle)
    rows = [{"feature1": -2.0}, {"feature1": 2.0, "feature2": 0.5}]
    probabilities = predictor.predict_records(rows, proba=True)
    assert [list(row) for row in probabilities] == [["0", "1", "2"]] * 2
    expected = model.predict(np.array([[-2.0, -1.0, -1.0], [2.0, 0.5, -1.0]]))
    assert predictor.predict_records(rows) == expected.tolist()


def test_template_random_forest_regression(tmp_path: Path):
    X = _numbers()
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, 3 * X[:, 2] + 1)
    path = tmp_path / "model.joblib"
    joblib.dump(_template_dict(model, _numeric_features(-1, -1, 0)), path)

    bundle = load_bundle(path)

    assert bundle.metadata.task is Task.REGRESSION
    assert bundle.metadata.class_names is None
    importances = _importances(bundle)
    assert sum(importances) == pytest.approx(1.0, abs=1e-5)
    assert max(importances) == importances[2]
    predictor = Predictor(bundle)
    assert not predictor.has_proba
    values = predictor.predict_records([{"feature3": 1.5}, {}])
    expected = model.predict(np.array([[-1.0, -1.0, 1.5], [-1.0, -1.0, 0.0]]))
    assert values == pytest.approx(expected.tolist())
    assert all(isinstance(value, float) for value in values)


def test_template_lightgbm_binary_with_categorical_features(tmp_path: Path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "feature1": rng.normal(size=48),
            "feature2": rng.normal(size=48),
            "feature3": pd.Categorical(rng.choice(["A", "B"], 48), categories=["A", "B"]),
            "feature4": pd.Categorical(rng.choice(["x", "y", "z"], 48), categories=["x", "y", "z"]),
        }
    )
    target = (frame["feature3"] == "A").astype(int).to_numpy()
    model = LGBMClassifier(
        n_estimators=10, min_child_samples=2, random_state=0, n_jobs=1, verbose=-1
    ).fit(frame, target)
    features = [
        {"name": "feature1", "type": "numeric", "accepts_missing": False},
        {"name": "feature2", "type": "numeric", "default": -1, "accepts_missing": True},
        {"name": "feature3", "type": "category", "categories": ["A", "B"]},
        {"name": "feature4", "type": "string", "categories": ["x", "y", "z"], "default": "x"},
    ]
    path = tmp_path / "model.joblib"
    joblib.dump(_template_dict(model, features), path)

    bundle = load_bundle(path)

    metadata = bundle.metadata
    assert metadata.task is Task.BINARY_CLASSIFICATION
    assert metadata.class_names == [str(c) for c in model.classes_] == ["0", "1"]
    assert [feature.type for feature in metadata.features] == [
        FeatureType.NUMERIC,
        FeatureType.NUMERIC,
        FeatureType.CATEGORICAL,
        FeatureType.CATEGORICAL,
    ]
    assert metadata.feature("feature1").accepts_missing is False
    assert metadata.feature("feature3").categories == ["A", "B"]
    assert metadata.input_kind == "dataframe"
    assert metadata.allows_nan is True
    assert sum(_importances(bundle)) == pytest.approx(1.0, abs=1e-5)

    predictor = Predictor(bundle)
    rows = [{"feature1": 0.1, "feature3": "A"}, {"feature1": 0.1, "feature3": "B"}]
    expected_rows = pd.DataFrame(
        {
            "feature1": [0.1, 0.1],
            "feature2": [-1.0, -1.0],
            "feature3": pd.Categorical(["A", "B"], categories=["A", "B"]),
            "feature4": pd.Categorical(["x", "x"], categories=["x", "y", "z"]),
        }
    )
    assert predictor.predict_records(rows) == model.predict(expected_rows).tolist() == [1, 0]
    assert [list(row) for row in predictor.predict_records(rows, proba=True)] == [["0", "1"]] * 2


def test_metadata_features_are_put_in_the_order_the_model_was_fitted_on(tmp_path: Path):
    frame = pd.DataFrame(_numbers(), columns=["age", "income", "score"])
    model = LogisticRegression().fit(frame, (frame["age"] > 0).astype(int))
    features = [{"name": name, "default": 0} for name in ["score", "age", "income"]]
    path = tmp_path / "model.joblib"
    joblib.dump(_template_dict(model, features), path)

    assert load_bundle(path).metadata.feature_names == ["age", "income", "score"]


# Bare estimators: no metadata, everything inferred.


def test_bare_estimator_fitted_on_a_dataframe_takes_its_column_names(tmp_path: Path):
    frame = pd.DataFrame(_numbers(), columns=["age", "income", "score"])
    model = RandomForestClassifier(n_estimators=5, random_state=0)
    model.fit(frame, np.where(frame["income"] > 0, "rich", "poor"))
    path = tmp_path / "bare.joblib"
    joblib.dump(model, path)

    bundle = load_bundle(path)

    assert bundle.name == "bare"
    assert bundle.metadata.feature_names == ["age", "income", "score"]
    assert bundle.metadata.input_kind == "dataframe"
    assert bundle.metadata.class_names == ["poor", "rich"]
    assert sum(_importances(bundle)) == pytest.approx(1.0, abs=1e-5)
    record = {"age": 0.0, "income": 3.0, "score": 0.0}
    assert Predictor(bundle).predict_records(record) == ["rich"]


def test_bare_estimator_fitted_on_numpy_gets_numbered_features(tmp_path: Path):
    model = _logistic()
    path = tmp_path / "bare.pkl"
    with path.open("wb") as file:
        pickle.dump(model, file)

    bundle = load_bundle(path)

    assert bundle.metadata.feature_names == ["f0", "f1", "f2"]
    assert bundle.metadata.input_kind == "numpy"
    assert bundle.metadata.task is Task.BINARY_CLASSIFICATION
    record = {"f0": 1.0, "f1": 1.0, "f2": 0.0}
    assert Predictor(bundle).predict_records(record) == model.predict([[1.0, 1.0, 0.0]]).tolist()


# skops: only the types a caller trusts are loaded.


def test_skops_forest_loads_when_its_tree_type_is_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    model = _forest()
    path = tmp_path / "forest.skops"
    save_bundle(model, path)
    monkeypatch.setenv("MODELPORT_TRUSTED_TYPES", f" {TREE_TYPE} , numpy.float64")

    bundle = load_bundle(path, trusted_types=Settings().trusted_types)

    X = _numbers(5, seed=3)
    np.testing.assert_array_equal(bundle.estimator.predict(X), model.predict(X))
    assert bundle.metadata.class_names == ["0", "1"]


def test_skops_forest_is_refused_when_its_tree_type_is_not_trusted(tmp_path: Path):
    path = tmp_path / "forest.skops"
    save_bundle(_forest(), path)

    pattern = f"not trusted: {re.escape(TREE_TYPE)} .*MODELPORT_TRUSTED_TYPES"
    with pytest.raises(BundleError, match=pattern):
        load_bundle(path)
    with pytest.raises(BundleError, match="not trusted"):
        load_bundle(path, trusted_types=["sklearn.linear_model.LogisticRegression"])


def test_skops_scaler_and_logistic_regression_need_no_trusted_types(tmp_path: Path):
    X, y = _binary_numbers()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    path = tmp_path / "linear.skops"
    save_bundle(model, path)

    bundle = load_bundle(path)

    np.testing.assert_array_equal(bundle.estimator.predict(X), model.predict(X))


def test_skops_file_keeps_the_metadata(tmp_path: Path):
    metadata = ModelMetadata(
        name="tiny",
        version="3",
        description="A tiny scaled logistic regression.",
        features=[
            FeatureSpec(name="f0", default=0, min=-3.0, max=3.0, description="first"),
            FeatureSpec(name="f1", type="integer", default=2),
            FeatureSpec(name="f2", accepts_missing=False, importance=0.5),
        ],
        examples=[{"f0": 0.5, "f1": 1, "f2": -0.25}],
    )
    X, y = _binary_numbers()
    path = tmp_path / "tiny.skops"
    save_bundle(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), path, metadata)

    loaded = load_bundle(path).metadata

    assert (loaded.name, loaded.version, loaded.description) == (
        "tiny",
        "3",
        "A tiny scaled logistic regression.",
    )
    assert loaded.examples == metadata.examples
    first, second, third = loaded.features
    assert (first.default, first.min, first.max, first.description) == (0, -3.0, 3.0, "first")
    assert (second.type, second.default) == (FeatureType.INTEGER, 2)
    assert (third.accepts_missing, third.importance) == (False, 0.5)


# sha256 pinning.


def test_a_pinned_hash_that_matches_loads_in_either_case(tmp_path: Path):
    path = tmp_path / "model.joblib"
    digest = save_bundle(_logistic(), path)

    assert load_bundle(path, sha256=digest).sha256 == digest
    assert load_bundle(path, sha256=digest.upper()).sha256 == digest
    assert load_bundle(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_a_wrong_hash_is_refused_before_any_code_in_the_file_runs(tmp_path: Path):
    marker = tmp_path / "code-ran"

    class TouchOnLoad:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(TouchOnLoad()))
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    wrong = "ab" * 32

    with pytest.raises(BundleError, match=f"has sha256 {actual}, expected {wrong}"):
        load_bundle(path, sha256=wrong)
    assert not marker.exists()
    with pytest.raises(BundleError, match="not a model"):
        load_bundle(path)  # unpinned, the file's code runs: the check above is what stopped it
    assert marker.exists()


def test_the_bytes_hashed_are_the_bytes_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    X, y = _binary_numbers()
    original = LogisticRegression().fit(X, y)
    impostor = LogisticRegression().fit(X, np.where(y == 1, "evil", "good"))
    path = tmp_path / "model.joblib"
    digest = save_bundle(original, path)
    real_read_bytes = Path.read_bytes
    reads = []

    def read_then_swap(self: Path) -> bytes:
        data = real_read_bytes(self)
        reads.append(self)
        joblib.dump({"model": impostor}, self)  # the file changes right after the check
        return data

    monkeypatch.setattr(Path, "read_bytes", read_then_swap)
    bundle = load_bundle(path, sha256=digest)
    monkeypatch.undo()

    assert reads == [path]  # one read: what was hashed is what was unpickled
    assert bundle.sha256 == digest
    assert bundle.metadata.class_names == ["0", "1"]
    np.testing.assert_array_equal(bundle.estimator.predict(X), original.predict(X))
    assert load_bundle(path).metadata.class_names == ["evil", "good"]  # the swap did happen
    with pytest.raises(BundleError, match="expected"):
        load_bundle(path, sha256=digest)


# Every bad file is a BundleError that names the file and the problem.


def _save(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    joblib.dump(content, path)
    return path


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _half_of_a_bundle(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    save_bundle(_forest(), path)
    return _write(tmp_path, name, path.read_bytes()[: path.stat().st_size // 2])


def _folder(tmp_path: Path) -> Path:
    path = tmp_path / "model.joblib"
    path.mkdir()
    return path


def _with_metadata(tmp_path: Path, metadata) -> Path:
    return _save(tmp_path, "model.joblib", {"model": _logistic(), "metadata": metadata})


def _fitted_on_columns(tmp_path: Path, listed: list[str]) -> Path:
    frame = pd.DataFrame(_numbers(), columns=["age", "income", "score"])
    model = LogisticRegression().fit(frame, (frame["age"] > 0).astype(int))
    features = [{"name": name} for name in listed]
    return _save(tmp_path, "model.joblib", _template_dict(model, features))


BAD_FILES = {
    "missing": (lambda tmp: tmp / "model.joblib", "bundle file not found"),
    "empty": (lambda tmp: _write(tmp, "model.joblib", b""), "is empty"),
    "truncated": (
        lambda tmp: _half_of_a_bundle(tmp, "model.joblib"),
        r"not a readable joblib or pickle file \(truncated or corrupt",
    ),
    "folder": (_folder, "is a folder, not a bundle file"),
    "random bytes": (
        lambda tmp: _write(tmp, "model.joblib", np.random.default_rng(0).bytes(512)),
        "not a readable joblib or pickle file",
    ),
    "a list": (
        lambda tmp: _save(tmp, "model.joblib", [1, 2, 3]),
        r"holds a list, not a model \(it has no predict method\)",
    ),
    "dict without model": (
        lambda tmp: _save(tmp, "model.joblib", {"estimator": _logistic(), "metadata": {}}),
        r"dict without a 'model' key \(its keys: estimator, metadata\)",
    ),
    "unfitted": (
        lambda tmp: _save(tmp, "model.joblib", LogisticRegression()),
        r"unfitted LogisticRegression: call fit\(\) before saving it",
    ),
    "metadata not a dict": (
        lambda tmp: _with_metadata(tmp, ["feature1", "feature2", "feature3"]),
        "metadata must be a dict, not a list",
    ),
    "unknown type": (
        lambda tmp: _with_metadata(
            tmp, {"features": [{"name": "feature1", "type": "banana"}, {"name": "feature2"}]}
        ),
        r"invalid metadata at features\.0\.type: Input should be 'numeric'",
    ),
    "duplicate names": (
        lambda tmp: _with_metadata(tmp, {"features": _numeric_features(1, 2) * 2}),
        "features named more than once: feature1, feature2",
    ),
    "default not a category": (
        lambda tmp: _with_metadata(
            tmp,
            {
                "features": [
                    {"name": "c", "type": "category", "categories": ["A", "B"], "default": "Z"}
                ]
            },
        ),
        r"invalid metadata at features\.0: .*'c': default 'Z' is not one of its categories",
    ),
    "features disagree with the fitted names": (
        lambda tmp: _fitted_on_columns(tmp, ["age", "salary", "score"]),
        "the model needs income but the metadata lacks them; "
        "the metadata lists salary which the model was not fitted on",
    ),
    "a feature the model was not fitted on": (
        lambda tmp: _fitted_on_columns(tmp, ["age", "income", "score", "salary"]),
        "disagree with the model: the metadata lists salary which the model was not fitted on",
    ),
    "feature count differs": (
        lambda tmp: _with_metadata(tmp, {"features": _numeric_features(0, 0)}),
        "metadata lists 2 features but the model was fitted on 3",
    ),
    "corrupt skops": (
        lambda tmp: _write(tmp, "model.skops", np.random.default_rng(0).bytes(512)),
        "not a readable skops file",
    ),
    "truncated skops": (
        lambda tmp: _half_of_a_bundle(tmp, "model.skops"),
        "not a readable skops file",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_file_is_a_bundle_error_naming_the_file_and_the_problem(tmp_path: Path, case: str):
    make, problem = BAD_FILES[case]
    path = make(tmp_path)

    with pytest.raises(BundleError, match=problem) as caught:
        load_bundle(path, trusted_types=[TREE_TYPE])

    assert str(path) in str(caught.value)


def test_a_pickle_needing_a_module_that_is_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    module_name = "modelport_test_vanished_module"
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{module_name}.py").write_text(
        "class Model:\n    def predict(self, X):\n        return [0] * len(X)\n"
    )
    monkeypatch.syspath_prepend(str(site))
    module = importlib.import_module(module_name)
    path = _save(
        tmp_path,
        "model.joblib",
        {"model": module.Model(), "metadata": {"features": [{"name": "x"}]}},
    )
    assert load_bundle(path).estimator.predict([[1], [2]]) == [0, 0]  # fine while installed

    monkeypatch.delitem(sys.modules, module_name)
    monkeypatch.setattr(sys, "path", [entry for entry in sys.path if entry != str(site)])

    with pytest.raises(BundleError, match=f"needs the Python module '{module_name}'"):
        load_bundle(path)


def test_a_bundle_error_is_a_value_error(tmp_path: Path):
    assert issubclass(BundleError, ValueError)
    with pytest.raises(ValueError, match="bundle file not found"):
        load_bundle(tmp_path / "missing.joblib")


# Saving.


@pytest.mark.parametrize("suffix", [".joblib", ".skops"])
def test_save_bundle_replaces_the_file_atomically_and_returns_its_hash(tmp_path: Path, suffix: str):
    folder = tmp_path / "out"
    path = folder / f"model{suffix}"

    first = save_bundle(_logistic(), path)
    second = save_bundle(LogisticRegression().fit(_numbers(), ["a"] * 20 + ["b"] * 20), path)

    assert [entry.name for entry in folder.iterdir()] == [path.name]  # no temporary file left
    assert second == hashlib.sha256(path.read_bytes()).hexdigest() != first
    assert load_bundle(path, sha256=second).metadata.class_names == ["a", "b"]


def test_what_is_inferred_at_load_time_is_not_stored(tmp_path: Path):
    source = tmp_path / "source.joblib"
    joblib.dump(_template_dict(_forest(), _numeric_features(-1, 0, -1)), source)
    loaded = load_bundle(source).metadata
    # A forest on a plain array: SHAP's tree explainer takes it, and it splits on NaN.
    assert (loaded.input_kind, loaded.is_explainable, loaded.allows_nan) == ("numpy", True, True)

    path = tmp_path / "saved.joblib"
    save_bundle(load_bundle(source).estimator, path, loaded)
    stored = joblib.load(path)["metadata"]

    assert not {"input_kind", "is_explainable", "allows_nan"} & set(stored)
    assert stored["task"] == "BINARY_CLASSIFICATION"
    assert [feature["default"] for feature in stored["features"]] == [-1, 0, -1]
    again = load_bundle(path).metadata  # inferred anew from the estimator
    assert (again.input_kind, again.is_explainable, again.allows_nan) == ("numpy", True, True)


def test_saved_bundles_are_readable_by_others_as_open_would_make_them(tmp_path: Path):
    import os
    import stat

    from sklearn.linear_model import LinearRegression

    from modelport import save_bundle

    umask = os.umask(0o022)
    try:
        save_bundle(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), tmp_path / "m.joblib")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "m.joblib").stat().st_mode) == 0o644
