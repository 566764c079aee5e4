"""V2 routes through the app: metadata, inference, and the protocol's own error body."""

from __future__ import annotations

import orjson
import pytest


def test_server_metadata_and_health(folder_client):
    assert folder_client.get("/v2").json() == {
        "name": "modelport",
        "version": folder_client.get("/service-info").json()["version"],
        "extensions": ["binary_tensor_data"],
    }
    assert folder_client.get("/v2/health/live").status_code == 200
    assert folder_client.get("/v2/health/ready").json() == {"ready": True}


def test_numeric_models_take_one_matrix(folder_client):
    metadata = folder_client.get("/v2/models/forest-multiclass").json()
    assert metadata["inputs"] == [
        {
            "name": "input-0",
            "datatype": "FP64",
            "shape": [-1, 4],
            "parameters": {
                "content_type": "np",
                "feature_names": [
                    "sepal length (cm)",
                    "sepal width (cm)",
                    "petal length (cm)",
                    "petal width (cm)",
                ],
            },
        }
    ]
    assert [o["name"] for o in metadata["outputs"]] == ["predict", "predict_proba"]
    body = {
        "id": "r1",
        "inputs": [
            {
                "name": "input-0",
                "datatype": "FP32",
                "shape": [2, 4],
                "data": [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3],
            }
        ],
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
    }
    answer = folder_client.post("/v2/models/forest-multiclass/infer", json=body).json()
    assert answer["id"] == "r1" and answer["model_name"] == "forest-multiclass"
    predict, proba = answer["outputs"]
    assert predict == {
        "name": "predict",
        "datatype": "BYTES",
        "shape": [2],
        "data": ["setosa", "virginica"],
    }
    assert proba["shape"] == [2, 3] and sum(proba["data"][:3]) == pytest.approx(1)


def test_v2_and_classic_routes_agree(folder_client, example_bundles):
    examples = example_bundles["forest-regression"].metadata.examples
    names = example_bundles["forest-regression"].metadata.feature_names
    matrix = [[row[name] for name in names] for row in examples]
    body = {
        "inputs": [
            {
                "name": "input-0",
                "datatype": "FP64",
                "shape": [len(matrix), len(names)],
                "data": matrix,
            }
        ]
    }
    v2 = folder_client.post("/v2/models/forest-regression/infer", json=body).json()["outputs"][0][
        "data"
    ]
    classic = folder_client.post("/models/forest-regression/predict", json=examples).json()[
        "prediction"
    ]
    assert v2 == pytest.approx(classic)


def test_categorical_models_take_one_input_per_feature(folder_client):
    metadata = folder_client.get("/v2/models/bank-marketing").json()
    assert metadata["parameters"] == {"content_type": "pd"}
    types = {i["name"]: i["datatype"] for i in metadata["inputs"]}
    assert types["job"] == "BYTES" and types["age"] == "INT64"
    body = {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": "job", "datatype": "BYTES", "shape": [2], "data": ["student", "admin"]},
            {"name": "duration", "datatype": "INT64", "shape": [2, 1], "data": [[900], [30]]},
        ],
        "outputs": [{"name": "predict_proba"}],
    }
    [proba] = folder_client.post("/v2/models/bank-marketing/infer", json=body).json()["outputs"]
    assert proba["shape"] == [2, 2]
    yes_first, yes_second = proba["data"][1], proba["data"][3]
    assert yes_first > yes_second


def test_a_body_with_no_content_type_is_accepted(folder_client):
    body = orjson.dumps(
        {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["loved it"]}]}
    )
    response = folder_client.post(
        "/v2/models/sentiment/infer", content=body, headers={"Content-Type": ""}
    )
    assert response.json()["outputs"][0]["data"] == ["Positive"]


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/v2/models/nope/infer", {"inputs": []}, 404, "no model named 'nope'"),
        ("/v2/models/forest-multiclass/versions/9/infer", {"inputs": []}, 404, "no version '9'"),
        (
            "/v2/models/forest-multiclass/infer",
            {
                "inputs": [
                    {"name": "input-0", "datatype": "FP64", "shape": [1, 3], "data": [1, 2, 3]}
                ]
            },
            400,
            "takes [-1, 4]",
        ),
        (
            "/v2/models/forest-multiclass/infer",
            {
                "inputs": [
                    {"name": "input-0", "datatype": "FP64", "shape": [1, 4], "data": [1, 2, 3]}
                ]
            },
            400,
            "data has 3",
        ),
        (
            "/v2/models/forest-multiclass/infer",
            {
                "inputs": [
                    {"name": "input-0", "datatype": "FP99", "shape": [1, 4], "data": [1, 2, 3, 4]}
                ]
            },
            400,
            "unknown datatype",
        ),
        (
            "/v2/models/bank-marketing/infer",
            {"inputs": [{"name": "jobb", "datatype": "BYTES", "shape": [1], "data": ["a"]}]},
            400,
            "unknown input 'jobb'",
        ),
        (
            "/v2/models/bank-marketing/infer",
            {"inputs": [{"name": "job", "datatype": "BYTES", "shape": [1], "data": ["astronaut"]}]},
            400,
            "unknown category",
        ),
        (
            "/v2/models/forest-multiclass/infer",
            {
                "inputs": [
                    {"name": "input-0", "datatype": "FP64", "shape": [1, 4], "data": [1, 2, 3, 4]}
                ],
                "outputs": [{"name": "scores"}],
            },
            400,
            "unknown output 'scores'",
        ),
        (
            "/v2/models/forest-regression/infer",
            {
                "inputs": [
                    {"name": "input-0", "datatype": "FP64", "shape": [1, 10], "data": [0] * 10}
                ],
                "outputs": [{"name": "predict_proba"}],
            },
            400,
            "regressor",
        ),
    ],
)
def test_errors_use_the_protocols_body(folder_client, path, body, status, words):
    response = folder_client.post(path, json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert list(response.json()) == ["error"]
    assert words in response.json()["error"]


def test_unknown_model_metadata_is_404_whatever_the_body(folder_client):
    for path in (
        "/v2/models/nope",
        "/v2/models/nope/ready",
        "/v2/models/forest-multiclass/versions/2/ready",
    ):
        response = folder_client.get(path)
        assert response.status_code == 404 and "error" in response.json()


def test_model_version_pin_and_readiness(folder_client):
    assert folder_client.get("/v2/models/wind-turbine/versions/1/ready").json() == {
        "name": "wind-turbine",
        "ready": True,
    }
    assert folder_client.get("/v2/models/wind-turbine/versions/1").json()["versions"] == ["1"]
