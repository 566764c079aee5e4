"""The V2 routes are documented as the Open Inference Protocol's REST specification says.

`tests/data/open_inference_rest.yaml` is the published specification, kept unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

SPECIFICATION = Path(__file__).parents[1] / "data" / "open_inference_rest.yaml"
SPEC_REF = "#/components/schemas/"
NOTES = ("title", "description", "x-examples")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPECIFICATION.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def document(folder_client) -> dict[str, Any]:
    return folder_client.get("/openapi.json").json()


def _served_path(spec_path: str) -> str:
    """`/v2/models/${MODEL_NAME}/versions/${MODEL_VERSION}` → `/v2/models/{name}/versions/{version}`."""
    path = spec_path.replace("${MODEL_NAME}", "{name}").replace("${MODEL_VERSION}", "{version}")
    return path.rstrip("/")


def _as_served(schema: Any) -> Any:
    """A specification schema as the document carries it: notes dropped, `v2.` names."""
    if isinstance(schema, dict):
        return {
            key: (SPEC_REF + "v2." + value[len(SPEC_REF) :] if key == "$ref" else _as_served(value))
            for key, value in schema.items()
            if key not in NOTES
        }
    if isinstance(schema, list):
        return [_as_served(item) for item in schema]
    return schema


def _ref(content: dict[str, Any]) -> str:
    return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


def test_every_specified_route_is_served_with_its_method_and_also_without_a_version(spec, document):
    for spec_path, item in spec["paths"].items():
        path = _served_path(spec_path)
        methods = {m for m in item if m != "parameters"}
        assert methods <= set(document["paths"][path]), path
        unversioned = path.replace("/versions/{version}", "")
        assert methods <= set(document["paths"][unversioned]), unversioned


def test_path_parameters_are_the_specified_ones(spec, document):
    for spec_path, item in spec["paths"].items():
        specified = [p["name"] for p in item.get("parameters", [])]
        path = _served_path(spec_path)
        for method in (m for m in item if m != "parameters"):
            served = [
                p["name"]
                for p in document["paths"][path][method].get("parameters", [])
                if p["in"] == "path"
            ]
            assert served == [
                {"MODEL_NAME": "name", "MODEL_VERSION": "version"}[n] for n in specified
            ]


def test_infer_and_metadata_take_and_answer_the_specified_bodies(spec, document):
    for spec_path, item in spec["paths"].items():
        path = _served_path(spec_path)
        for method, operation in ((m, o) for m, o in item.items() if m != "parameters"):
            served = document["paths"][path][method]
            if "requestBody" in operation:
                specified = _ref(operation["requestBody"]["content"])
                assert _ref(served["requestBody"]["content"]) == "v2." + specified
            content = operation["responses"]["200"].get("content")
            if content:
                assert _ref(served["responses"]["200"]["content"]) == "v2." + _ref(content)
            errors = [status for status in operation["responses"] if status != "200"]
            for status in set(errors) & set(served["responses"]):  # GET /v2 never answers 400
                # every error schema of the specification is `{"error": string}`
                assert _ref(served["responses"][status]["content"]) == "v2.error_response"
            if path.endswith("/infer"):
                assert "400" in served["responses"]


def test_the_schemas_are_the_specified_ones(spec, document):
    """Equal, except that a field the server always sends may be required where the
    specification leaves it optional (the error message of an inference error)."""
    served = document["components"]["schemas"]
    for name, schema in spec["components"]["schemas"].items():
        ours = dict(served["v2." + ("error_response" if name.endswith("error_response") else name)])
        specified = _as_served(schema)
        assert set(specified.pop("required", [])) <= set(ours.pop("required", [])), name
        assert ours == specified, name


@pytest.mark.parametrize(
    "path", ["/v2", "/v2/models/forest-multiclass", "/v2/models/forest-multiclass/infer"]
)
def test_answers_fit_the_documented_schemas(folder_client, document, path):
    from jsonschema import Draft202012Validator

    if path.endswith("/infer"):
        tensor = {
            "name": "input-0",
            "datatype": "FP64",
            "shape": [1, 4],
            "data": [5.1, 3.5, 1.4, 0.2],
        }
        answer = folder_client.post(path, json={"id": "r1", "inputs": [tensor]})
        operation = document["paths"]["/v2/models/{name}/infer"]["post"]
    else:
        answer = folder_client.get(path)
        template = path.replace("forest-multiclass", "{name}")
        operation = document["paths"][template]["get"]
    assert answer.status_code == 200, answer.text
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    Draft202012Validator({**schema, "components": document["components"]}).validate(answer.json())


def test_a_method_a_v2_route_does_not_take_is_405_with_what_it_takes(folder_client):
    answer = folder_client.request("TRACE", "/v2/health/live")
    assert answer.status_code == 405
    assert answer.json() == {"error": "Method Not Allowed"}
    assert set(answer.headers["allow"].split(", ")) == {"GET", "HEAD"}
