"""V2 tensors: JSON and binary data in, JSON and binary data out, malformed input refused."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from modelport.errors import RequestError
from modelport.v2.tensors import (
    DATATYPES,
    InferRequest,
    Tensor,
    datatype_of,
    decode_request,
    encode_response,
)


def _request(inputs: list[dict], **extra) -> bytes:
    return orjson.dumps({"inputs": inputs, **extra})


def test_json_data_flat_or_nested_is_row_major():
    flat = decode_request(
        _request([{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [1, 2, 3, 4]}]), None
    )
    nested = decode_request(
        _request([{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [[1, 2], [3, 4]]}]),
        None,
    )
    assert flat.inputs[0].data.tolist() == nested.inputs[0].data.tolist() == [[1, 2], [3, 4]]
    assert flat.inputs[0].data.dtype == np.float32


@pytest.mark.parametrize("datatype", [name for name in DATATYPES if name not in {"BYTES", "BOOL"}])
def test_binary_data_round_trips_every_numeric_datatype(datatype):
    array = np.arange(6).reshape(2, 3).astype(DATATYPES[datatype])
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "datatype": datatype,
                    "shape": [2, 3],
                    "parameters": {"binary_data_size": array.nbytes},
                }
            ]
        }
    )
    decoded = decode_request(header + array.tobytes(), str(len(header)))
    assert decoded.inputs[0].data.tolist() == array.tolist()
    assert decoded.inputs[0].data.dtype == array.dtype


def test_binary_bytes_and_bool():
    words = [b"yes", b"", "caf\u00e9".encode()]
    raw = b"".join(struct.pack("<I", len(w)) + w for w in words)
    flags = np.array([True, False, True])
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "w",
                    "datatype": "BYTES",
                    "shape": [3],
                    "parameters": {"binary_data_size": len(raw)},
                },
                {
                    "name": "f",
                    "datatype": "BOOL",
                    "shape": [3],
                    "parameters": {"binary_data_size": 3},
                },
            ]
        }
    )
    decoded = decode_request(header + raw + flags.tobytes(), str(len(header)))
    assert decoded.inputs[0].data.tolist() == ["yes", "", "caf\u00e9"]
    assert decoded.inputs[1].data.tolist() == [True, False, True]


@pytest.mark.parametrize(
    ("body", "header", "words"),
    [
        (b"{nope", None, "not valid JSON"),
        (_request([]), None, "at least one tensor"),
        (orjson.dumps({"inputs": "x"}), None, "at least one tensor"),
        (
            _request([{"name": "x", "datatype": "FP128", "shape": [1], "data": [1]}]),
            None,
            "unknown datatype",
        ),
        (
            _request([{"name": "x", "datatype": "FP64", "shape": [2], "data": [1]}]),
            None,
            "holds 2 elements but its data has 1",
        ),
        (
            _request([{"name": "x", "datatype": "FP64", "shape": [-1], "data": [1]}]),
            None,
            "non-negative",
        ),
        (
            _request([{"name": "x", "datatype": "FP64", "shape": [1], "data": ["a"]}]),
            None,
            "must be numbers",
        ),
        (
            _request([{"name": "x", "datatype": "INT8", "shape": [1], "data": [300]}]),
            None,
            "does not fit INT8",
        ),
        (
            _request([{"name": "x", "datatype": "INT64", "shape": [1], "data": [1.5]}]),
            None,
            "whole numbers",
        ),
        (
            _request([{"name": "x", "datatype": "BOOL", "shape": [1], "data": [1]}]),
            None,
            "true or false",
        ),
        (
            _request([{"name": "x", "datatype": "BYTES", "shape": [1], "data": [1]}]),
            None,
            "strings",
        ),
        (_request([{"name": "x", "datatype": "FP64", "shape": [1]}]), None, "neither 'data'"),
        (
            _request(
                [{"name": "x", "datatype": "FP64", "shape": [100000, 100000, 100], "data": []}]
            ),
            None,
            "more than",
        ),
        (
            _request([{"name": "x", "datatype": "FP64", "shape": [1], "data": [1]}] * 2),
            None,
            "unique",
        ),
        (_request([{"datatype": "FP64", "shape": [1], "data": [1]}]), None, "needs a 'name'"),
        (
            _request(
                [{"name": "x", "datatype": "FP64", "shape": [1], "data": [1]}], outputs=[{"n": 1}]
            ),
            None,
            "'outputs'",
        ),
        (b'{"inputs": []}xx', "999", "does not fit the body"),
        (b'{"inputs": []}', "abc", "does not fit the body"),
    ],
)
def test_malformed_requests_say_what_is_wrong(body, header, words):
    with pytest.raises(RequestError, match=words):
        decode_request(body, header)


def test_binary_sizes_must_add_up():
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "datatype": "FP64",
                    "shape": [2],
                    "parameters": {"binary_data_size": 16},
                }
            ]
        }
    )
    with pytest.raises(RequestError, match="runs past the body"):
        decode_request(header + b"\x00" * 8, str(len(header)))
    with pytest.raises(RequestError, match="no input claims"):
        decode_request(header + b"\x00" * 20, str(len(header)))
    short = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "datatype": "FP64",
                    "shape": [2],
                    "parameters": {"binary_data_size": 8},
                }
            ]
        }
    )
    with pytest.raises(RequestError, match="need 16"):
        decode_request(short + b"\x00" * 8, str(len(short)))


def test_deeply_nested_data_is_flattened_without_recursion():
    nested: list = [1.0]
    for _ in range(5000):
        nested = [nested]
    body = orjson.dumps(
        {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1], "data": [1.0]}]}
    ).replace(b"[1.0]", b"[" * 100 + b"1.0" + b"]" * 100)
    assert decode_request(body, None).inputs[0].data.tolist() == [1.0]


def test_responses_are_json_unless_binary_is_asked():
    labels = Tensor("predict", "BYTES", [2], np.array(["a", "b"], dtype=object))
    proba = Tensor("predict_proba", "FP64", [2, 2], np.array([[0.1, 0.9], [0.6, 0.4]]))
    plain = InferRequest(inputs=[], outputs=[], id="7")
    body, headers = encode_response("m", "1", plain, [labels, proba])
    assert headers == {"content-type": "application/json"}
    document = orjson.loads(body)
    assert document["id"] == "7" and document["model_version"] == "1"
    assert document["outputs"][1]["data"] == [0.1, 0.9, 0.6, 0.4]
    binary = InferRequest(
        inputs=[],
        outputs=[
            {"name": "predict_proba", "parameters": {"binary_data": True}},
            {"name": "predict"},
        ],
    )
    body, headers = encode_response("m", "1", binary, [proba, labels])
    length = int(headers["Inference-Header-Content-Length"])
    document = orjson.loads(body[:length])
    assert document["outputs"][0]["parameters"]["binary_data_size"] == 32
    assert "data" in document["outputs"][1]
    assert np.frombuffer(body[length:], dtype="<f8").tolist() == [0.1, 0.9, 0.6, 0.4]


def test_binary_data_output_makes_every_output_binary():
    labels = Tensor("predict", "BYTES", [2], np.array(["ab", "c"], dtype=object))
    request = InferRequest(inputs=[], outputs=[], parameters={"binary_data_output": True})
    body, headers = encode_response("m", None, request, [labels])
    length = int(headers["Inference-Header-Content-Length"])
    assert body[length:] == struct.pack("<I", 2) + b"ab" + struct.pack("<I", 1) + b"c"
    assert "model_version" not in orjson.loads(body[:length])


@pytest.mark.parametrize(
    ("array", "datatype"),
    [
        (np.array([1, 2]), "INT64"),
        (np.array([1.5]), "FP64"),
        (np.array([True]), "BOOL"),
        (np.array(["a"]), "BYTES"),
        (np.array([1], dtype=np.uint8), "UINT8"),
        (np.array([1.0], dtype=np.float32), "FP32"),
    ],
)
def test_datatype_of(array, datatype):
    assert datatype_of(array) == datatype


def test_too_many_dimensions_is_a_request_error():
    body = _request([{"name": "x", "datatype": "FP64", "shape": [1] * 65, "data": [1.0]}])
    with pytest.raises(RequestError, match="at most 32"):
        decode_request(body, None)
