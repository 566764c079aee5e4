"""An ONNX model that ONNX Runtime cannot load leaves the model running natively, as a
model the converters refuse does."""

from __future__ import annotations

import logging

import pytest

from modelport import Predictor

pytest.importorskip("onnxruntime")


def test_a_session_that_cannot_be_created_leaves_the_model_native(
    example_bundles, monkeypatch, caplog
):
    import modelport.onnx_runtime as onnx_runtime

    convert = onnx_runtime._convert

    def newer_than_the_runtime(*args):
        """A converter ahead of the installed ONNX Runtime: an opset it does not know."""
        model = convert(*args)
        for opset in model.opset_import:
            if opset.domain in ("", "ai.onnx"):
                opset.version = 99
        return model

    monkeypatch.setattr(onnx_runtime, "_convert", newer_than_the_runtime)
    bundle = example_bundles["forest-multiclass"]
    with caplog.at_level(logging.WARNING, logger="modelport.runtime"):
        predictor = Predictor(bundle, runtime="onnx")
    assert predictor.runtime_name == "native"
    assert "runs natively: ONNX Runtime could not load the converted model (Fail: " in caplog.text
    X = predictor.validate(bundle.metadata.examples)
    assert predictor.predict(X) == bundle.estimator.predict(X).tolist()
