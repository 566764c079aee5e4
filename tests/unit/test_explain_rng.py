"""Permutation explanations draw from their own generator: reproducible, and the process's
global generator is left alone; an output other than the one asked for is said."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from modelport import ModelBundle, ModelMetadata, Predictor
from modelport.completion import complete_metadata
from modelport.permutation import PermutationShap

pytest.importorskip("shap")


def _knn() -> Predictor:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    y = (X[:, 0] + X[:, 1] - X[:, 2] > 0).astype(int)
    model = KNeighborsClassifier(n_neighbors=7).fit(X, y)
    examples = [dict(zip("abcd", row, strict=True)) for row in X[:12].tolist()]
    given = ModelMetadata(features=[{"name": n} for n in "abcd"], examples=examples)
    return Predictor(ModelBundle(model, complete_metadata(model, given)))


def _rows(predictor: Predictor, n: int, seed: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    return [dict(zip("abcd", row, strict=True)) for row in rng.normal(size=(n, 4)).tolist()]


def _same_state(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


def test_explaining_leaves_numpys_global_generator_alone():
    predictor = _knn()
    X = predictor.validate(_rows(predictor, 2, seed=1))
    background = predictor.validate(_rows(predictor, 5, seed=2))
    before = np.random.get_state()
    predictor.explain(X)
    predictor.explain(X, background)
    assert _same_state(np.random.get_state(), before)


def test_concurrent_explanations_equal_sequential_ones():
    predictor = _knn()
    inputs = [predictor.validate(_rows(predictor, 2, seed=10 + i)) for i in range(6)]
    background = predictor.validate(_rows(predictor, 8, seed=3))
    sequential = [predictor.explain(X, background) for X in inputs]
    concurrent: dict[int, list] = {}
    start = threading.Barrier(len(inputs))

    def explain(i: int) -> None:
        start.wait()
        concurrent[i] = predictor.explain(inputs[i], background)

    threads = [threading.Thread(target=explain, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [concurrent[i] for i in range(len(inputs))] == sequential


def test_a_row_is_explained_the_same_whatever_rows_come_with_it():
    predictor = _knn()
    rows = _rows(predictor, 3, seed=4)
    [alone] = predictor.explain(predictor.validate(rows[2:]))
    together = predictor.explain(predictor.validate(rows))
    assert together[2] == alone


def test_permutation_values_of_a_linear_function_are_exact():
    """For f(x) = w·x, each feature's SHAP value is w_j (x_j - mean of the background)."""
    weights = np.array([2.0, -1.0, 0.5])
    background = np.random.default_rng(5).normal(size=(30, 3))
    X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 4.0]])
    values, base = PermutationShap(lambda rows: rows @ weights, background, seed=0)(X, 500)
    np.testing.assert_allclose(values, weights * (X - background.mean(axis=0)), atol=1e-12)
    np.testing.assert_allclose(base, [background.mean(axis=0) @ weights] * 2, atol=1e-12)


def test_values_add_up_to_the_output_for_every_class():
    background = np.random.default_rng(6).normal(size=(150, 3))

    def softmax(rows: np.ndarray) -> np.ndarray:
        logits = np.stack([rows[:, 0] * rows[:, 1], np.sin(rows[:, 2]), rows.sum(axis=1)], 1)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    X = np.array([[0.3, -2.0, 1.0]])
    shap = PermutationShap(softmax, background, seed=0)
    assert len(shap.background) == 100  # sampled down, as SHAP's masker does
    values, base = shap(X, 50)
    assert values.shape == (1, 3, 3)
    np.testing.assert_allclose(base + values.sum(axis=1), softmax(X), atol=1e-12)


def test_margin_instead_of_probability_is_said_in_the_explanation_and_the_log(caplog):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    y = np.digitize(X[:, 0], [-0.5, 0.5])  # three classes: SHAP's probability space refuses
    model = pytest.importorskip("xgboost").XGBClassifier(n_estimators=5).fit(X, y)
    given = ModelMetadata(name="grades", features=[{"name": n} for n in "abc"])
    predictor = Predictor(ModelBundle(model, complete_metadata(model, given)))
    rows = predictor.validate([{"a": 0.1, "b": 0.2, "c": 0.3}])
    background = predictor.validate([{"a": v, "b": 0.0, "c": 0.0} for v in (-1.0, 0.0, 1.0)])
    with caplog.at_level(logging.WARNING, logger="modelport.explain"):
        [explanation] = predictor.explain(rows, background)
    assert explanation["output"] == "margin"
    assert explanation["note"].startswith("explained in margin (log-odds), not probability")
    assert "model grades: explained in margin" in caplog.text
    [plain] = predictor.explain(rows)  # nothing asked for probability: nothing to say
    assert "note" not in plain


def test_a_multiclass_gradient_boosting_model_is_explained_by_permutations():
    """SHAP's tree explainer refuses it; the permutation estimate, on background rows, does not."""
    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    model = GradientBoostingClassifier(n_estimators=5, random_state=0)
    model.fit(X, np.digitize(X[:, 0], [-0.5, 0.5]))
    examples = [dict(zip("abc", row, strict=True)) for row in X[:5].tolist()]
    given = ModelMetadata(features=[{"name": n} for n in "abc"], examples=examples)
    predictor = Predictor(ModelBundle(model, complete_metadata(model, given)))
    rows = predictor.validate([{"a": 1.0, "b": 0.0, "c": 0.0}])
    [explanation] = predictor.explain(rows)
    assert explanation["output"] == "probability"
    [proba] = predictor.predict_proba(rows)
    for name in predictor.metadata.class_names:
        total = explanation["base_value"][name] + sum(explanation["values"][name].values())
        assert total == pytest.approx(proba[name], abs=1e-12)
