"""Whose fault a failed model call is: modelport's fast path (the model answers instead),
the input (422, rows named), or the model itself (raised as it is, for a 500)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from modelport import InvalidInputError, ModelBundle, ModelMetadata, Predictor
from modelport.completion import complete_metadata


def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_twin_that_fails_on_valid_rows_gives_way_to_the_model_logged_once(
    example_bundles, caplog
):
    bundle = example_bundles["forest-binary"]  # fitted on a DataFrame: the model wants one
    predictor = Predictor(bundle)
    X = predictor.validate(bundle.metadata.examples)
    expected = predictor.predict(X), predictor.predict_proba(X)
    predictor.runtime.n_features += 1  # a bug of the twin's: it counts a feature too many
    with pytest.raises(ValueError, match="for a forest of"):
        predictor.runtime.predict_proba(X)

    with caplog.at_level(logging.INFO, logger="modelport.runtime"):
        answers = [(predictor.predict(X), predictor.predict_proba(X)) for _ in range(3)]
    assert answers == [expected] * 3
    [record] = _errors(caplog)
    assert record.getMessage().startswith(
        "model forest-binary: its numpy runtime failed in predict (ValueError: "
    )
    assert "rows for a forest of" in record.getMessage()
    assert record.exc_info is not None  # with its traceback, for the bug report


def test_an_onnx_runtime_that_fails_on_valid_rows_gives_way_to_the_model(example_bundles, caplog):
    pytest.importorskip("onnxruntime")
    bundle = example_bundles["forest-multiclass"]
    predictor = Predictor(bundle, runtime="onnx")
    assert predictor.runtime_name == "onnx"
    X = predictor.validate(bundle.metadata.examples)
    expected = bundle.estimator.predict(X).tolist()
    predictor.runtime.input_name = "not-the-input"  # ONNX Runtime itself refuses the call

    with caplog.at_level(logging.INFO, logger="modelport.runtime"):
        assert predictor.predict(X) == expected
        assert len(predictor.predict_proba(X)) == len(X)
    [record] = _errors(caplog)
    assert "model forest-multiclass: its onnx runtime failed in predict" in record.getMessage()


class _AlwaysBroken:
    """Loads, but every call fails with a ValueError about itself, whatever the rows."""

    def predict(self, X):
        raise ValueError("internal cache index out of sync")


class _RefusesLargeValues:
    """Answers x up to 100; refuses larger values as estimators refuse input: ValueError."""

    def predict(self, X):
        values = np.asarray(X, dtype=np.float64)[:, 0]
        if (values > 100).any():
            raise ValueError(f"x must be at most 100, got {values.max():g}")
        return values * 2


def _custom(model, examples: list[dict]) -> Predictor:
    metadata = ModelMetadata(task="REGRESSION", features=[{"name": "x"}], examples=examples)
    return Predictor(ModelBundle(model, complete_metadata(model, metadata)))


@pytest.mark.parametrize("records", [{"x": 1}, [{"x": 1}, {"x": 2}, {"x": 3}]])
def test_a_model_that_fails_on_its_own_example_rows_too_is_not_the_inputs_fault(records):
    predictor = _custom(_AlwaysBroken(), [{"x": 1}])
    with pytest.raises(ValueError, match="internal cache") as caught:
        predictor.predict_records(records)
    assert not isinstance(caught.value, InvalidInputError)


def test_without_example_rows_a_model_is_trusted_once_it_has_answered_rows():
    """Before the model has answered anything, nothing tells a refused value from a bug:
    never blame the client. Once it has answered rows, it works: what it refuses is input."""
    predictor = _custom(_RefusesLargeValues(), [])
    with pytest.raises(ValueError, match="at most 100") as caught:
        predictor.predict_records({"x": 500})
    assert not isinstance(caught.value, InvalidInputError)

    assert predictor.predict_records({"x": 4}) == [8.0]
    with pytest.raises(InvalidInputError, match="the model rejected the input: x must be at"):
        predictor.predict_records({"x": 500})


def test_without_example_rows_the_rows_a_request_gets_answered_show_the_model_works():
    predictor = _custom(_RefusesLargeValues(), [])
    with pytest.raises(InvalidInputError) as caught:
        predictor.predict_records([{"x": 500}, {"x": 4}])
    assert [problem.row for problem in caught.value.problems] == [0]


def test_without_example_rows_a_model_that_never_answers_is_not_the_inputs_fault():
    predictor = _custom(_AlwaysBroken(), [])
    for records in ({"x": 1}, [{"x": 1}, {"x": 2}]):
        with pytest.raises(ValueError, match="internal cache") as caught:
            predictor.predict_records(records)
        assert not isinstance(caught.value, InvalidInputError)


def test_a_value_refused_by_a_model_that_answers_its_examples_is_the_inputs_fault():
    predictor = _custom(_RefusesLargeValues(), [{"x": 1}])
    with pytest.raises(InvalidInputError) as caught:
        predictor.predict_records([{"x": 4}, {"x": 500}, {"x": 6}])
    assert [problem.row for problem in caught.value.problems] == [1]
    assert "the model rejected this row: x must be at most 100, got 500" in str(caught.value)


def test_an_input_error_the_model_raises_itself_is_kept_as_it_is():
    class Checks:
        def predict(self, X):
            raise InvalidInputError.single("x must be even", 0, "x")

    predictor = _custom(Checks(), [])
    with pytest.raises(InvalidInputError) as caught:
        predictor.predict_records({"x": 3})
    assert [(p.row, p.field, p.detail) for p in caught.value.problems] == [
        (0, "x", "x must be even")
    ]
