"""A big JSON list of records is read by compiled code straight into the model's input, off
the event loop: answered as the ordinary way answers it, and anything it does not read
takes the ordinary way, with the ordinary errors."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from modelport import predictor as predictor_module
from modelport.api.turns import BIG_BODY_BYTES
from modelport.predictor import Predictor

RNG = np.random.default_rng(3)


@pytest.fixture
def read(monkeypatch):
    """What `Predictor.read_json_matrix` answered, call by call (None or a row count)."""
    answers: list[int | None] = []
    original = Predictor.read_json_matrix

    def spied(self, body):
        matrix = original(self, body)
        answers.append(None if matrix is None else len(matrix))
        return matrix

    monkeypatch.setattr(Predictor, "read_json_matrix", spied)
    return answers


def _rows(client, n: int) -> list[dict[str, float]]:
    features = [f["name"] for f in client.get("/features").json()]
    return [
        dict(zip(features, RNG.normal(size=len(features)).tolist(), strict=True)) for _ in range(n)
    ]


def test_a_big_list_of_records_is_read_compiled_and_answered_as_small_bodies_are(
    serve, example_dir, read
):
    with serve(example_dir / "forest-binary.joblib") as client:
        rows = _rows(client, 600)
        body = orjson.dumps(rows)
        assert len(body) >= BIG_BODY_BYTES
        big = client.post("/predict?proba=1", content=body)
        assert big.status_code == 200, big.text
        assert read == [600]
        small = [
            client.post("/predict?proba=1", json=rows[i : i + 50]).json()["prediction"]
            for i in range(0, 600, 50)
        ]
        assert read == [600]  # small bodies take the ordinary way
        assert big.json()["prediction"] == [answer for part in small for answer in part]
        shown = client.post("/preprocess", content=body).json()
        assert shown == [{k: float(v) for k, v in row.items()} for row in rows] and read[-1] == 600


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        (lambda rows: rows[450].update(dict.fromkeys(list(rows[450])[:1])), 200, "prediction"),
        (lambda rows: rows[450].update({next(iter(rows[450])): "many"}), 422, "row"),
        (lambda rows: rows[450].update({"unknown": 1.0}), 422, "unknown feature"),
    ],
    ids=["null", "text", "unknown-feature"],
)
def test_a_big_body_the_reader_refuses_gets_the_ordinary_problem(
    serve, example_dir, read, change, status, detail
):
    with serve(example_dir / "forest-binary.joblib") as client:
        rows = _rows(client, 600)
        change(rows)
        answer = client.post("/predict", content=orjson.dumps(rows))
        assert answer.status_code == status, answer.text
        assert detail in answer.text and (status == 200 or "450" in answer.text)
        assert read == [None]  # a missing value: the ordinary way fills it, as the model allows


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (lambda rows: orjson.dumps(rows)[:-1], 400, "not valid JSON"),
        (lambda rows: orjson.dumps(rows).replace(b"}", b"}, 1e999", 1), 400, "not valid JSON"),
        (lambda rows: _with_value(rows, b"1e999"), 400, "infinity"),
    ],
    ids=["truncated", "infinite-row", "infinite-value"],
)
def test_a_big_body_that_is_not_json_is_refused_as_before(
    serve, example_dir, read, body, status, detail
):
    with serve(example_dir / "forest-binary.joblib") as client:
        answer = client.post("/predict", content=body(_rows(client, 600)))
        assert answer.status_code == status and detail in answer.text, answer.text
        assert read == [None]


def _with_value(rows: list[dict[str, float]], value: bytes) -> bytes:
    """The rows as JSON, with `value` written for the first feature of row 450."""
    rows[450][next(iter(rows[450]))] = 123.25
    return orjson.dumps(rows).replace(b"123.25", value)


def test_more_rows_than_allowed_are_refused_as_before(serve, example_dir, read):
    with serve(example_dir / "forest-binary.joblib", max_rows=500) as client:
        answer = client.post("/predict", content=orjson.dumps(_rows(client, 600)))
        assert answer.status_code == 422 and "500 allowed" in answer.text, answer.text
        assert read == [None]


def test_an_infinite_value_read_by_the_reader_is_left_to_the_ordinary_way(predictors):
    predictor = predictors["forest-binary"]
    names = predictor.input_metadata.feature_names
    finite = orjson.dumps([dict.fromkeys(names, 1.5)] * 3)
    assert predictor.read_json_matrix(finite).tolist() == [[1.5] * len(names)] * 3
    assert predictor.read_json_matrix(finite.replace(b"1.5", b"1e400", 1)) is None


def test_only_a_matrix_of_numbers_is_read_and_only_with_compiled_code(example_bundles, monkeypatch):
    bundle = example_bundles["forest-binary"]
    assert Predictor(bundle).records_reader() is not None
    mixed = [
        name
        for name, b in example_bundles.items()
        if any(f.type.value not in ("numeric", "integer", "boolean") for f in b.metadata.features)
    ]
    assert mixed and all(
        Predictor(example_bundles[name]).records_reader() is None for name in mixed
    )
    monkeypatch.setattr(predictor_module, "compiled_module", lambda name: None)
    assert Predictor(bundle).read_json_matrix(b"[]") is None


def test_the_reader_is_made_at_the_first_body_it_is_asked_to_read(example_bundles, monkeypatch):
    """Not at load: a server that never gets a big body neither starts slower nor loads numba."""
    made: list[str] = []
    original = predictor_module.compiled_module

    def counted(name):
        made.append(name)
        return original(name)

    monkeypatch.setattr(predictor_module, "compiled_module", counted)
    predictor = Predictor(example_bundles["forest-binary"])
    assert made == []
    names = predictor.input_metadata.feature_names
    body = orjson.dumps([dict.fromkeys(names, 2.0)] * 2)
    assert predictor.read_json_matrix(body).tolist() == [[2.0] * len(names)] * 2
    assert predictor.read_json_matrix(body) is not None and made == ["compiled_records"]
