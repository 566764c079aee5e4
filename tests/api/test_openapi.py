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


def test_metrics_are_documented_as_the_prometheus_text_they_are(folder_client, document):
    content = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    served = folder_client.get("/metrics").headers["content-type"]
    assert list(content) == ["text/plain"]
    assert served.split(";")[0] == "text/plain"


@pytest.mark.parametrize(
    ("row", "branch"),
    [("setosa", 0), (1, 0), (True, 0), ({"setosa": 0.9, "versicolor": 0.1}, 1)],
)
def test_a_prediction_item_matches_exactly_one_branch(document, row, branch):
    from jsonschema import Draft202012Validator

    prediction = document["paths"]["/models/forest-multiclass/predict"]["post"]["responses"]
    item = prediction["200"]["content"]["application/json"]["schema"]["properties"]["prediction"]
    matching = [
        i
        for i, schema in enumerate(item["items"]["oneOf"])
        if Draft202012Validator(schema).is_valid(row)
    ]
    assert matching == [branch]


def test_every_documented_operation_is_served_by_the_route_it_names(folder_client, document):
    """The document and the routes come from one table: nothing documented goes unanswered."""
    from starlette.routing import Match

    routes = folder_client.app.router.routes
    for path, item in document["paths"].items():
        concrete = path.replace("{name}", "iris").replace("{version}", "1")
        for method in item:
            scope = {"type": "http", "path": concrete, "method": method.upper(), "root_path": ""}
            matches = [route.matches(scope)[0] for route in routes]
            assert Match.FULL in matches, f"{method} {path} is documented but not served"


def test_every_served_route_is_documented(serve, example_dir):
    """And nothing is served undocumented (per-model routes under each model's name)."""
    from starlette.routing import Route

    with serve(example_dir / "sentiment.joblib", admin_keys=["admin"]) as client:
        paths = client.get("/openapi.json").json()["paths"]
        routes = [r for r in client.app.router.routes if type(r) is Route]
    hidden = {"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
    served = {
        (route.path, method.lower())
        for route in routes
        if route.path not in hidden
        for method in route.methods - {"HEAD"}
    }
    documented = {(path, method) for path, item in paths.items() for method in item}
    undocumented = {
        (path, method)
        for path, method in served
        if (path, method) not in documented
        and (path.replace("{name}", "sentiment"), method) not in documented
    }
    assert undocumented == set()
    assert {("/v2/repository/index", "post"), ("/v2/models/{name}/infer", "post")} <= served


def test_repository_routes_are_documented_only_when_they_are_served(serve, example_dir):
    bundle = example_dir / "forest-multiclass.joblib"
    with serve(bundle) as client:
        assert not any(
            p.startswith("/v2/repository") for p in client.get("/openapi.json").json()["paths"]
        )
    with serve(bundle, admin_keys=["admin"], api_keys=["user"]) as client:
        document = client.get("/openapi.json", headers={"Authorization": "Bearer user"}).json()
    index = document["paths"]["/v2/repository/index"]["post"]
    assert index["security"] == [{"bearer": []}] and "401" in index["responses"]
    assert "security" not in document["paths"]["/v2/health/ready"]["get"]  # a public probe


def test_without_keys_nothing_is_documented_as_needing_one(document):
    assert "securitySchemes" not in document["components"]
    assert not any(
        "401" in op["responses"] for item in document["paths"].values() for op in item.values()
    )
