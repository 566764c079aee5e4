"""The ONNX runtime: used only when it agrees with the native model, else native and why."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from modelport import Predictor, Task

pytest.importorskip("onnxruntime")

NUMERIC = [
    "linear-binary",
    "forest-binary",
    "forest-multiclass",
    "forest-regression",
    "xgboost-regression",
    "wind-turbine",
]


@pytest.mark.parametrize("name", NUMERIC)
def test_numeric_models_compile_and_answer_as_the_model(example_bundles, name):
    native = Predictor(example_bundles[name])
    compiled = Predictor(example_bundles[name], runtime="onnx")
    assert compiled.runtime_name == "onnx"
    X = native.validate(native.metadata.examples)
    if native.metadata.task is Task.REGRESSION:
        assert compiled.predict(X) == pytest.approx(native.predict(X), rel=1e-5)
        return
    assert compiled.predict(X) == native.predict(X)
    for served, expected in zip(compiled.predict_proba(X), native.predict_proba(X), strict=True):
        assert list(served) == list(expected)
        assert np.allclose(list(served.values()), list(expected.values()), atol=1e-5)


def test_models_with_categories_stay_native_and_say_why(example_bundles, caplog):
    with caplog.at_level(logging.WARNING, logger="modelport.runtime"):
        predictor = Predictor(example_bundles["bank-marketing"], runtime="onnx")
    assert predictor.runtime_name == "native"
    assert "runs natively: ONNX is used for models whose features are all numbers" in caplog.text


def test_auto_falls_back_quietly(example_bundles, caplog):
    with caplog.at_level(logging.WARNING, logger="modelport.runtime"):
        predictor = Predictor(example_bundles["sentiment"], runtime="auto")
    assert predictor.runtime_name == "native"
    assert caplog.text == ""


def test_a_compiled_model_that_disagrees_is_not_used(example_bundles, monkeypatch, caplog):
    import modelport.onnx_runtime as onnx_runtime

    monkeypatch.setattr(onnx_runtime, "TOLERANCE", 0.0)  # float32 trees can't match exactly
    with caplog.at_level(logging.WARNING, logger="modelport.runtime"):
        predictor = Predictor(example_bundles["wind-turbine"], runtime="onnx")
    assert predictor.runtime_name == "native"
    assert "differ from the model's" in caplog.text


def test_a_model_the_converters_do_not_know_stays_native(caplog):
    from modelport import ModelBundle, ModelMetadata
    from modelport.completion import complete_metadata

    class Doubler:
        def predict(self, X):
            return np.asarray(X)[:, 0] * 2

    metadata = complete_metadata(Doubler(), ModelMetadata(features=[{"name": "x"}]))
    with caplog.at_level(logging.WARNING, logger="modelport.runtime"):
        predictor = Predictor(ModelBundle(Doubler(), metadata), runtime="onnx")
    assert predictor.runtime_name == "native"
    assert "could not be converted" in caplog.text
    assert predictor.predict_records({"x": 2}) == [4.0]
