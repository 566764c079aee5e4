"""The classic routes, for every example bundle, in the Flask template's shapes."""

from __future__ import annotations

import math

import pytest

from modelport import __version__
from tests.conftest import EXAMPLE_NAMES, TABULAR_EXAMPLES


def test_probes(folder_client):
    health = folder_client.get("/health")
    assert (health.status_code, health.text) == (200, "up")
    ready = folder_client.get("/ready")
    assert (ready.status_code, ready.text) == (200, "ready")


def test_models_lists_every_example(folder_client):
    listing = folder_client.get("/models").json()["models"]
    assert [m["name"] for m in listing] == sorted(EXAMPLE_NAMES)
    assert all(m["state"] == "ready" and len(m["sha256"]) == 64 for m in listing)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_info_has_the_template_shape(folder_client, example_bundles, name):
    info = folder_client.get(f"/models/{name}/info").json()
    metadata = example_bundles[name].metadata
    assert set(info) == {"metadata", "model"}
    model = info["model"]
    assert {"type", "predictor_type", "is_explainable", "task", "family", "class_names"} <= set(
        model
    )
    assert model["task"] == metadata.task
    assert model["class_names"] == metadata.class_names
    assert model["is_explainable"] is metadata.is_explainable
    assert [f["name"] for f in info["metadata"]["features"]] == metadata.feature_names


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_features_list_types_defaults_and_importances(folder_client, example_bundles, name):
    features = folder_client.get(f"/models/{name}/features").json()
    expected = example_bundles[name].metadata.features
    assert [(f["name"], f["type"]) for f in features] == [(f.name, f.type) for f in expected]
    assert [f.get("default") for f in features] == [f.default for f in expected]
    if name != "sentiment":
        assert sum(f["importance"] for f in features) == pytest.approx(1, abs=1e-3)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_predict_one_record_and_a_list(folder_client, example_bundles, name):
    examples = example_bundles[name].metadata.examples
    one = folder_client.post(f"/models/{name}/predict", json=examples[0])
    assert one.status_code == 200, one.text
    many = folder_client.post(f"/models/{name}/predict", json=examples)
    assert len(many.json()["prediction"]) == len(examples)
    assert many.json()["prediction"][0] == one.json()["prediction"][0]


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in EXAMPLE_NAMES
        if n not in {"forest-regression", "xgboost-regression", "wind-turbine"}
    ],
)
def test_probabilities_sum_to_one_keyed_by_class(folder_client, example_bundles, name):
    metadata = example_bundles[name].metadata
    answer = folder_client.post(f"/models/{name}/predict?proba=1", json=metadata.examples).json()
    for row in answer["prediction"]:
        assert list(row) == metadata.class_names
        assert math.fsum(row.values()) == pytest.approx(1)


@pytest.mark.parametrize("name", ["forest-regression", "xgboost-regression", "wind-turbine"])
def test_probabilities_of_a_regressor_are_refused(folder_client, name):
    response = folder_client.post(f"/models/{name}/predict?proba=1", json={})
    assert response.status_code == 400
    assert "regressor" in response.json()["detail"]


EXPLAINED_OUTPUT = {
    "linear-binary": "margin",  # linear models: log-odds
    "forest-binary": "probability",  # forests without background rows: probability
    "forest-multiclass": "probability",
    "forest-regression": "value",
    "xgboost-regression": "value",
    "lightgbm-binary": "margin",  # boosted trees without background rows: log-odds
    "bank-marketing": "probability",  # a one-hot Pipeline: permutation, in probability
    "wind-turbine": "value",
}
"""The space each example is explained in, as the README's Explanations section says."""


@pytest.mark.parametrize("name", TABULAR_EXAMPLES)
def test_explanations_come_with_predictions(folder_client, example_bundles, name):
    metadata = example_bundles[name].metadata
    proba = "proba=1&" if metadata.task != "REGRESSION" else ""
    answer = folder_client.post(
        f"/models/{name}/predict?{proba}explain=1", json=metadata.examples[:2]
    ).json()
    assert len(answer["explanation"]) == 2
    explanation = answer["explanation"][0]
    assert explanation["output"] == EXPLAINED_OUTPUT[name]
    features = metadata.feature_names
    if metadata.task == "MULTICLASS_CLASSIFICATION":  # one explanation per class
        assert list(explanation["values"]) == metadata.class_names
        assert list(explanation["base_value"]) == metadata.class_names
        assert all(list(values) == features for values in explanation["values"].values())
    else:
        assert list(explanation["values"]) == features
        assert isinstance(explanation["base_value"], float)


def test_samples_are_the_background_and_give_probability_space(folder_client, example_bundles):
    examples = example_bundles["forest-binary"].metadata.examples
    body = {"_data": examples[0], "_samples": examples}
    answer = folder_client.post("/models/forest-binary/predict?proba=1&explain=1", json=body).json()
    [explanation] = answer["explanation"]
    assert explanation["output"] == "probability"
    total = explanation["base_value"] + sum(explanation["values"].values())
    assert total == pytest.approx(answer["prediction"][0]["malignant"], abs=1e-4)


def test_text_models_explanations_are_refused_with_a_reason(folder_client):
    response = folder_client.post("/models/sentiment/predict?explain=1", json={"text": "great"})
    assert response.status_code == 400
    assert "text model" in response.json()["detail"]


def test_query_string_input_with_defaults_for_the_rest(folder_client, example_bundles):
    low = folder_client.get("/models/wind-turbine/predict", params={"Ws1_avg": 4}).json()[
        "prediction"
    ][0]
    high = folder_client.get("/models/wind-turbine/predict", params={"Ws1_avg": "13.5"}).json()[
        "prediction"
    ][0]
    assert low < high
    defaults = {f.name: f.default for f in example_bundles["forest-multiclass"].metadata.features}
    partial = folder_client.get(
        "/models/forest-multiclass/predict", params={"petal length (cm)": 5}
    ).json()
    whole = folder_client.post(
        "/models/forest-multiclass/predict", json=defaults | {"petal length (cm)": 5}
    ).json()
    assert partial == whole == {"prediction": ["versicolor"]}


def test_query_string_feature_without_default_is_named(serve, tmp_path):
    import joblib
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0, 0.0], [1.0, 1.0]], [0, 1])
    meta = {"features": [{"name": "a", "default": 0}, {"name": "b"}]}
    joblib.dump({"model": model, "metadata": meta}, tmp_path / "m.joblib")
    with serve(tmp_path / "m.joblib") as client:
        response = client.get("/predict", params={"a": 1})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"detail": response.json()["errors"][0]["detail"], "parameter": "b"}
    ]
    assert "missing" in response.json()["errors"][0]["detail"]


def test_preprocess_shows_rows_as_the_model_sees_them(folder_client):
    rows = folder_client.post(
        "/models/bank-marketing/preprocess", json=[{"age": "41", "job": "student"}]
    ).json()
    assert rows[0]["age"] == 41 and rows[0]["job"] == "student"
    assert rows[0]["marital"] == "married"  # the default


def test_csv_bodies(folder_client):
    body = "Ws1_avg,Ot_avg\n4,10\n13,\n"
    response = folder_client.post(
        "/models/wind-turbine/predict", content=body, headers={"Content-Type": "text/csv"}
    )
    low, high = response.json()["prediction"]
    assert low < high


def test_text_model_root_answers_label_and_its_confidence(folder_client):
    response = folder_client.get(
        "/models/sentiment/",
        params={"query": "terrible service, never again"},
        follow_redirects=False,
    )
    assert response.status_code == 200  # answered where the tutorial's clients call, no redirect
    answer = response.json()
    assert answer["prediction"] == "Negative"
    probabilities = folder_client.post(
        "/models/sentiment/predict?proba=1", json={"text": "terrible service, never again"}
    ).json()
    assert answer["confidence"] == pytest.approx(probabilities["prediction"][0]["Negative"])
    assert answer["confidence"] > 0.5


def test_text_root_needs_a_query(folder_client):
    response = folder_client.get("/models/sentiment/")
    assert response.status_code == 422
    assert response.json()["errors"][0]["parameter"] == "query"


def test_root_routes_serve_the_only_model(serve, example_dir):
    with serve(example_dir / "sentiment.joblib") as client:
        assert client.get("/", params={"query": "loved it"}).json()["prediction"] == "Positive"
        assert client.post("/predict", json={"text": "awful"}).json() == {
            "prediction": ["Negative"]
        }
        info = client.get("/service-info").json()
    assert info["serving-model-name"] == "sentiment"
    assert info["version"] == __version__
    assert {
        "version-template",
        "running-since",
        "serving-model-file",
        "serving-model-family",
        "debug",
    } <= set(info)


def test_with_several_models_the_root_lists_them(folder_client):
    response = folder_client.post("/predict", json={})
    assert response.status_code == 404
    assert "/models/wind-turbine/" in response.json()["detail"]


def test_default_model_setting_picks_the_root_model(serve, example_dir):
    with serve(example_dir, default_model="wind-turbine") as client:
        assert client.get("/predict", params={"Ws1_avg": 10}).status_code == 200
        assert client.get("/info").json()["model"]["task"] == "REGRESSION"


def test_request_ids_are_echoed(folder_client):
    mine = folder_client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert mine.headers["x-request-id"] == "abc-123"
    template = folder_client.get("/health", headers={"X-Correlation-ID": "corr-9"})
    assert template.headers["x-correlation-id"] == "corr-9"
    made = folder_client.get("/health")
    assert len(made.headers["x-request-id"]) == 32
    hostile = folder_client.get("/health", headers={"X-Request-ID": "a\tb" + "x" * 500})
    assert hostile.headers["x-request-id"] != "a\tb" + "x" * 500


def test_the_onnx_runtime_serves_the_same_answers(serve, example_dir, folder_client):
    body = {"sepal length (cm)": 6.1, "petal length (cm)": 4.8, "petal width (cm)": 1.6}
    native = folder_client.post("/models/forest-multiclass/predict?proba=1", json=body).json()
    with serve(example_dir / "forest-multiclass.joblib", runtime="onnx") as client:
        assert client.get("/info").json()["model"]["runtime"] == "onnx"
        compiled = client.post("/predict?proba=1", json=body).json()
        labels = client.post("/predict", json=[body, body]).json()
    assert compiled["prediction"][0] == pytest.approx(native["prediction"][0], abs=1e-5)
    assert (
        labels["prediction"] == [max(native["prediction"][0], key=native["prediction"][0].get)] * 2
    )
