"""tritonclient's HTTP client, unchanged, against a real server with every example."""

from __future__ import annotations

import numpy as np
import pytest

from modelport import Predictor

tritonclient_http = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402


@pytest.fixture(scope="module")
def triton(example_dir, tmp_path_factory):
    from tests.e2e.conftest import running

    log = tmp_path_factory.mktemp("triton") / "server.log"
    with running(example_dir, log) as server:
        client = tritonclient_http.InferenceServerClient(f"127.0.0.1:{server.port}")
        yield client
        client.close()


def _matrix_input(rows: list[list[float]], binary: bool):
    data = np.asarray(rows, dtype=np.float64)
    tensor = tritonclient_http.InferInput("input-0", list(data.shape), "FP64")
    tensor.set_data_from_numpy(data, binary_data=binary)
    return tensor


def test_health_and_server_metadata(triton):
    assert triton.is_server_live() and triton.is_server_ready()
    assert triton.get_server_metadata()["name"] == "modelport"


@pytest.mark.parametrize(
    "name", ["forest-multiclass", "linear-binary", "forest-binary", "wind-turbine"]
)
@pytest.mark.parametrize("binary", [False, True])
def test_numeric_models_json_and_binary(triton, example_bundles, name, binary):
    assert triton.is_model_ready(name)
    metadata = triton.get_model_metadata(name)
    [spec] = metadata["inputs"]
    features = example_bundles[name].metadata.feature_names
    assert spec["shape"] == [-1, len(features)]
    examples = example_bundles[name].metadata.examples
    rows = [[row[f] for f in features] for row in examples]
    outputs = [tritonclient_http.InferRequestedOutput("predict", binary_data=binary)]
    if len(metadata["outputs"]) == 2:
        outputs.append(tritonclient_http.InferRequestedOutput("predict_proba", binary_data=binary))
    result = triton.infer(name, [_matrix_input(rows, binary)], outputs=outputs, request_id="r-1")
    assert result.get_response()["id"] == "r-1"
    expected = example_bundles[name]
    predictor = Predictor(expected)
    native = predictor.predict(predictor.validate(examples))
    labels = result.as_numpy("predict").tolist()
    labels = [label.decode() if isinstance(label, bytes) else label for label in labels]
    if isinstance(native[0], float):
        assert labels == pytest.approx(native)
    else:
        assert labels == native
    if len(outputs) == 2:
        proba = result.as_numpy("predict_proba")
        assert proba.shape == (len(rows), len(expected.metadata.class_names))
        assert proba.sum(axis=1) == pytest.approx(np.ones(len(rows)))


def test_no_requested_outputs_gives_binary_predict(triton):
    result = triton.infer("forest-multiclass", [_matrix_input([[5.1, 3.5, 1.4, 0.2]], True)])
    assert result.as_numpy("predict").tolist() == [b"setosa"]


def test_categorical_model_with_one_input_per_feature(triton):
    metadata = triton.get_model_metadata("bank-marketing")
    assert metadata["parameters"]["content_type"] == "pd"
    columns = {"job": [b"student", b"blue-collar"], "duration": [1200, 40]}
    inputs = []
    for spec in metadata["inputs"]:
        if spec["name"] not in columns:
            continue
        dtype = object if spec["datatype"] == "BYTES" else np.int64
        tensor = tritonclient_http.InferInput(spec["name"], [2], spec["datatype"])
        tensor.set_data_from_numpy(np.array(columns[spec["name"]], dtype=dtype), binary_data=True)
        inputs.append(tensor)
    outputs = [tritonclient_http.InferRequestedOutput("predict_proba", binary_data=True)]
    proba = triton.infer("bank-marketing", inputs, outputs=outputs).as_numpy("predict_proba")
    assert proba[0, 1] > proba[1, 1]  # a long call with a student beats a short one


def test_text_model(triton):
    tensor = tritonclient_http.InferInput("text", [2], "BYTES")
    tensor.set_data_from_numpy(
        np.array([b"loved it, great value", b"awful and broken"], dtype=object)
    )
    labels = triton.infer("sentiment", [tensor]).as_numpy("predict").tolist()
    assert labels == [b"Positive", b"Negative"]


def test_unknown_model_is_404_and_a_wrong_shape_400(triton):
    with pytest.raises(InferenceServerException) as missing:
        triton.infer("nope", [_matrix_input([[1.0]], False)])
    assert missing.value.status() == "404"
    assert missing.value.message().startswith("no model named 'nope'")
    with pytest.raises(InferenceServerException) as shape:
        triton.infer("forest-multiclass", [_matrix_input([[1.0, 2.0, 3.0]], True)])
    assert shape.value.status() == "400"
    assert shape.value.message() == (
        "input 'input-0' has shape [1, 3]; "
        "this model takes [-1, 4] (one column per feature) or one input per feature"
    )
