"""Bad requests get a problem document that names the problem, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import EXAMPLE_NAMES

PROBLEM = "application/problem+json"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["status"] == status
    return body


def test_pointers_name_row_and_field_in_a_list(folder_client):
    body = _problem(
        folder_client.post("/models/wind-turbine/predict", json=[{}, {"Ws1_avgg": 3}]), 422
    )
    assert body["errors"] == [
        {"detail": "unknown feature; did you mean 'Ws1_avg'?", "pointer": "#/1/Ws1_avgg"}
    ]
    assert body["instance"] == "/models/wind-turbine/predict"


def test_pointers_in_a_single_record_and_under_data(folder_client):
    single = _problem(
        folder_client.post("/models/wind-turbine/predict", json={"Ws1_avg": "fast"}), 422
    )
    assert single["errors"][0]["pointer"] == "#/Ws1_avg"
    wrapped = _problem(
        folder_client.post("/models/wind-turbine/predict", json={"_data": [{"Ws1_avg": [1]}]}), 422
    )
    assert wrapped["errors"][0]["pointer"] == "#/_data/0/Ws1_avg"
    assert "nested" in wrapped["errors"][0]["detail"]


def test_every_problem_is_listed_at_once(folder_client):
    rows = [{"Ws1_avg": "x", "Ot_avg": "y"}, {"Wa_avg": {"deg": 3}}]
    body = _problem(folder_client.post("/models/wind-turbine/predict", json=rows), 422)
    # Feature by feature in the metadata's order (Ws1_avg, ..., Wa_avg, ..., Ot_avg), rows in
    # order within each: validation goes column by column.
    assert [e["pointer"] for e in body["errors"]] == ["#/0/Ws1_avg", "#/1/Wa_avg", "#/0/Ot_avg"]


def test_json_pointer_escapes_slashes_and_tildes(serve, tmp_path):
    import joblib
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit([[0.0, 1.0], [1.0, 0.0]], [0.0, 1.0])
    joblib.dump(
        {"model": model, "metadata": {"features": [{"name": "a/b"}, {"name": "c~d"}]}},
        tmp_path / "m.joblib",
    )
    with serve(tmp_path / "m.joblib") as client:
        body = _problem(client.post("/predict", json={"a/b": "x", "c~d": "y"}), 422)
    assert {e["pointer"] for e in body["errors"]} == {"#/a~1b", "#/c~0d"}


@pytest.mark.parametrize(
    ("content", "status", "words"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "empty"),
        (b'{"Ws1_avg": NaN}', 400, "not valid JSON"),
        (b'{"Ws1_avg": 1e999}', 400, "infinity"),
        (b"[" * 3000 + b"]" * 3000, 400, "depth"),
        (b"[]", 422, "no rows"),
        (b'[{"Ws1_avg": 3}, 4]', 422, "expected a record"),
        (b'"just text"', 422, "expected a record"),
        (b'{"_samples": []}', 422, "_samples needs _data"),
        (b'{"_data": {}, "extra": 1}', 422, "only those two keys"),
    ],
)
def test_malformed_bodies(folder_client, content: bytes, status: int, words: str):
    response = folder_client.post(
        "/models/wind-turbine/predict",
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert words in _problem(response, status)["detail"]


@pytest.mark.parametrize(
    "media_type", ["application/octet-stream", "application/x-python-pickle", "text/plain"]
)
def test_other_content_types_are_refused_unread(folder_client, media_type: str):
    import pickle

    response = folder_client.post(
        "/models/wind-turbine/predict",
        content=pickle.dumps({"Ws1_avg": 3}),
        headers={"Content-Type": media_type},
    )
    assert media_type in _problem(response, 415)["detail"]


def test_curl_form_content_type_gets_a_hint(folder_client):
    response = folder_client.post(
        "/models/wind-turbine/predict",
        content=b'{"Ws1_avg": 3}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert "Content-Type: application/json" in _problem(response, 415)["detail"]


def test_a_body_with_no_content_type_is_json(folder_client):
    response = folder_client.post(
        "/models/wind-turbine/predict", content=b'{"Ws1_avg": 3}', headers={"Content-Type": ""}
    )
    assert response.status_code == 200


def test_bodies_over_the_limit_are_refused(serve, example_dir):
    with serve(example_dir / "wind-turbine.joblib", max_body_bytes=100) as client:
        declared = client.post("/predict", json=[{"Ws1_avg": 3}] * 20)
        _problem(declared, 413)

        def chunks():
            for _ in range(20):
                yield b'[{"Ws1_avg": 3}]'[:10]

        streamed = client.post(
            "/predict", content=chunks(), headers={"Content-Type": "application/json"}
        )
        _problem(streamed, 413)
        assert client.post("/predict", json={"Ws1_avg": 3}).status_code == 200


def test_too_many_rows(serve, example_dir):
    with serve(example_dir / "wind-turbine.joblib", max_rows=5) as client:
        body = _problem(client.post("/predict", json=[{}] * 6), 422)
    assert "6 rows is more than the 5 allowed" in body["detail"]


@pytest.mark.parametrize("value", ["2", "maybe", "yes please"])
def test_bad_flags_name_the_parameter(folder_client, value: str):
    body = _problem(
        folder_client.post(f"/models/forest-binary/predict?proba={value}", json={}), 400
    )
    assert body["errors"] == [{"detail": body["detail"], "parameter": "proba"}]


def test_csv_errors_name_row_line_and_column(folder_client):
    response = folder_client.post(
        "/models/wind-turbine/predict",
        content="Ws1_avg,Ot_avg\n4,10\nfast,3\n",
        headers={"Content-Type": "text/csv"},
    )
    body = _problem(response, 422)
    assert body["errors"] == [
        {"detail": "expected a number, got 'fast'", "row": 1, "line": 3, "column": "Ws1_avg"}
    ]


def test_unreadable_csv(folder_client):
    response = folder_client.post(
        "/models/wind-turbine/predict",
        content=b"\xff\xfe\x00bad",
        headers={"Content-Type": "text/csv"},
    )
    assert "CSV" in _problem(response, 400)["detail"]


SERVED = ", ".join(sorted(EXAMPLE_NAMES))


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/models/nope/predict", f"no model named 'nope'; models: {SERVED}"),
        ("/models/a%00b/info", f"no model named 'a\\x00b'; models: {SERVED}"),
        # A decoded slash ends the name: no route has that many segments.
        ("/models/..%2F..%2Fetc%2Fpasswd/info", "no route /models/../../etc/passwd/info"),
    ],
)
def test_unknown_models_are_404_problems(folder_client, path: str, detail: str):
    body = _problem(
        folder_client.get(path) if path.endswith("info") else folder_client.post(path, json={}), 404
    )
    assert body["detail"] == detail


def test_unknown_routes_and_methods(folder_client):
    _problem(folder_client.get("/no/such/route"), 404)
    _problem(folder_client.delete("/models/wind-turbine/predict"), 405)


def test_models_still_loading_answer_503(serve, example_dir, monkeypatch):
    from modelport.registry import Registry

    monkeypatch.setattr(Registry, "load_all", lambda self: None)  # a load that never finishes
    from fastapi.testclient import TestClient

    from modelport import Settings
    from modelport.api import create_app

    with TestClient(
        create_app(Settings(bundle_path=example_dir / "wind-turbine.joblib"))
    ) as client:
        assert client.get("/health").text == "up"
        ready = client.get("/ready")
        assert (ready.status_code, ready.text) == (503, "not ready")
        body = _problem(client.post("/predict", json={}), 503)
    assert "loading" in body["detail"]


def test_csv_cells_stay_text_until_their_feature_types_them(serve, tmp_path):
    import joblib
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"zip": ["01234", "75001", "01234", "NA"], "rooms": [1, 2, 3, 4]})
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["zip"]), remainder="passthrough"),
        LogisticRegression(),
    )
    joblib.dump(model.fit(frame, [0, 1, 0, 1]), tmp_path / "m.joblib")
    with serve(tmp_path / "m.joblib") as client:
        rows = client.post(
            "/preprocess",
            content="zip,rooms\n01234,2\nNA,3\n",
            headers={"Content-Type": "text/csv"},
        ).json()
        response = client.post(
            "/preprocess", content="zip,rooms\n01234,2\nNA,\n", headers={"Content-Type": "text/csv"}
        )
    assert [row["zip"] for row in rows] == ["01234", "NA"]
    assert response.status_code == 422  # rooms has no default: the empty cell is missing, named
    assert response.json()["errors"] == [
        {"detail": response.json()["errors"][0]["detail"], "row": 1, "line": 3, "column": "rooms"}
    ]


def test_a_csv_with_absurdly_many_columns_is_refused_before_parsing(folder_client):
    header = ",".join(f"c{i}" for i in range(5000))
    response = folder_client.post(
        "/models/wind-turbine/predict", content=header + "\n", headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 400 and "more than 4096 columns" in response.json()["detail"]


def test_errors_in_samples_point_into_samples(folder_client):
    body = {"_data": {"Ws1_avg": 3}, "_samples": [{"Ws1_avg": 3}, {"Ws1_avg": "x"}]}
    problem = _problem(folder_client.post("/models/wind-turbine/predict?explain=1", json=body), 422)
    assert problem["errors"] == [
        {"detail": "expected a number, got 'x'", "pointer": "#/_samples/1/Ws1_avg"}
    ]
    assert problem["detail"].startswith("_samples: row 1")
