"""/docs and /openapi.json describe each model's request from its metadata."""

from __future__ import annotations

import pytest

from tests.conftest import EXAMPLE_NAMES


@pytest.fixture(scope="module")
def document(folder_client):
    return folder_client.get("/openapi.json").json()


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_each_model_has_its_paths(document, name):
    for suffix in ("predict", "preprocess", "info", "features"):
        assert f"/models/{name}/{suffix}" in document["paths"]


def test_record_schema_follows_the_metadata(document, example_bundles):
    schema = document["components"]["schemas"]["bank-marketing.Record"]
    job = schema["properties"]["job"]
    metadata = example_bundles["bank-marketing"].metadata
    assert job["enum"][:-1] == metadata.feature("job").categories
    assert job["default"] == metadata.feature("job").default
    assert schema["properties"]["age"]["type"] == ["integer", "null"]
    assert schema["additionalProperties"] is False
    assert "Training range" in schema["properties"]["age"]["description"]


def test_examples_are_the_models_example_rows(document, example_bundles):
    body = document["paths"]["/models/wind-turbine/predict"]["post"]["requestBody"]["content"]
    examples = body["application/json"]["examples"]
    assert examples["several records"]["value"] == example_bundles["wind-turbine"].metadata.examples
    assert body["text/csv"]["example"].startswith("Ws1_avg,Ws2_avg")


def test_examples_in_the_document_are_accepted_by_the_server(folder_client, document):
    """What Swagger's "Try it out" sends with no editing must succeed."""
    for path, item in document["paths"].items():
        operation = item.get("post")
        if not operation or not path.endswith("/predict"):
            continue
        for example in operation["requestBody"]["content"]["application/json"]["examples"].values():
            assert folder_client.post(path, json=example["value"]).status_code == 200, path
        csv = operation["requestBody"]["content"]["text/csv"]["example"]
        response = folder_client.post(path, content=csv, headers={"Content-Type": "text/csv"})
        assert response.status_code == 200, (path, response.text)


def test_query_parameters_for_get_predict(document):
    parameters = document["paths"]["/models/wind-turbine/predict"]["get"]["parameters"]
    names = [p["name"] for p in parameters]
    assert names[:2] == ["Ws1_avg", "Ws2_avg"] and {"proba", "explain"} <= set(names)


def test_text_models_document_the_root_query(document):
    assert "/models/sentiment/" in document["paths"]


def test_root_paths_follow_the_default_model(serve, example_dir):
    with serve(example_dir / "wind-turbine.joblib") as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert "/predict" in paths and "/models/wind-turbine/predict" in paths


def test_docs_page_loads_its_assets_locally(folder_client):
    html = folder_client.get("/docs").text
    assert "cdn" not in html.lower()
    assert "/static-offline-docs/swagger-ui-bundle.js" in html
    assert folder_client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200


def test_similar_model_names_get_their_own_schemas(serve, tmp_path):
    import joblib
    from sklearn.linear_model import LinearRegression

    for name, n in (("my-model", 1), ("my_model", 2)):
        joblib.dump(
            LinearRegression().fit([[0.0] * n, [1.0] * n], [0.0, 1.0]), tmp_path / f"{name}.joblib"
        )
    with serve(tmp_path) as client:
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert len(schemas["my-model.Record"]["properties"]) == 1
    assert len(schemas["my_model.Record"]["properties"]) == 2
