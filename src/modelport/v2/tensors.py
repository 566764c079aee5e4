"""V2 tensors ↔ numpy: JSON data (flat or nested) and the binary tensor extension."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from modelport.errors import RequestError

DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
HEADER_LENGTH = "inference-header-content-length"
MAX_DIMENSIONS = 32
MAX_ELEMENTS = 50_000_000
"""A declared shape larger than this is refused before any allocation."""


@dataclass
class Tensor:
    """One named input or output: datatype, shape and a numpy array of that shape."""

    name: str
    datatype: str
    shape: list[int]
    data: np.ndarray
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class InferRequest:
    """A decoded `/infer` request."""

    inputs: list[Tensor]
    outputs: list[dict[str, Any]]
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


def decode_request(body: bytes, header_length: str | None) -> InferRequest:
    """An `/infer` body → tensors, whether its data is JSON or binary after the header.

    Raises:
        RequestError: anything malformed, with a message saying what (the route answers 400).
    """
    header, binary = _split(body, header_length)
    try:
        document = orjson.loads(header)
    except orjson.JSONDecodeError as error:
        raise RequestError(f"the request is not valid JSON: {error}") from None
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("inputs"), list)
        or not document["inputs"]
    ):
        raise RequestError("the request needs an 'inputs' list with at least one tensor")
    offset = 0
    inputs = []
    for index, raw in enumerate(document["inputs"]):
        tensor, used = _decode_input(raw, index, binary, offset)
        inputs.append(tensor)
        offset += used
    if offset != len(binary):
        raise RequestError(
            f"the request carries {len(binary) - offset} bytes of binary data no input claims"
        )
    names = [tensor.name for tensor in inputs]
    if len(set(names)) != len(names):
        raise RequestError("input names must be unique")
    outputs = document.get("outputs") or []
    if not isinstance(outputs, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
    ):
        raise RequestError("'outputs' must be a list of objects with a 'name'")
    parameters = document.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise RequestError("'parameters' must be an object")
    request_id = document.get("id")
    return InferRequest(
        inputs, outputs, None if request_id is None else str(request_id), parameters
    )


def _split(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    if header_length is None:
        return body, b""
    if not header_length.strip().isdigit() or int(header_length) > len(body):
        raise RequestError(
            f"Inference-Header-Content-Length {header_length[:20]!r} does not fit the body"
        )
    length = int(header_length)
    return body[:length], body[length:]


def _decode_input(raw: Any, index: int, binary: bytes, offset: int) -> tuple[Tensor, int]:
    if not isinstance(raw, dict):
        raise RequestError(f"input {index} must be an object")
    name, datatype, shape = raw.get("name"), raw.get("datatype"), raw.get("shape")
    if not isinstance(name, str) or not name:
        raise RequestError(f"input {index} needs a 'name'")
    if datatype not in DATATYPES:
        raise RequestError(
            f"input {name!r}: unknown datatype {str(datatype)[:20]!r}; "
            f"use one of {', '.join(DATATYPES)}"
        )
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMENSIONS
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise RequestError(
            f"input {name!r}: 'shape' must be a list of at most {MAX_DIMENSIONS} "
            "non-negative integers"
        )
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise RequestError(f"input {name!r}: shape {shape} holds more than {MAX_ELEMENTS} elements")
    parameters = raw.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise RequestError(f"input {name!r}: 'parameters' must be an object")
    size = parameters.get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or size < 0 or offset + size > len(binary):
            raise RequestError(f"input {name!r}: binary_data_size {size!r} runs past the body")
        data = _from_binary(name, datatype, binary[offset : offset + size], count)
        return Tensor(name, datatype, shape, data.reshape(shape), parameters), size
    if "data" not in raw:
        raise RequestError(f"input {name!r} has neither 'data' nor binary_data_size")
    data = _from_json(name, datatype, raw["data"], count)
    return Tensor(name, datatype, shape, data.reshape(shape), parameters), 0


def _from_json(name: str, datatype: str, data: Any, count: int) -> np.ndarray:
    flat = _flatten(data)
    if len(flat) != count:
        raise RequestError(
            f"input {name!r}: its shape holds {count} elements but its data has {len(flat)}"
        )
    if datatype == "BYTES":
        if not all(isinstance(item, str) for item in flat):
            raise RequestError(f"input {name!r}: BYTES data must be strings")
        return np.array(flat, dtype=object)
    if datatype == "BOOL":
        if not all(isinstance(item, bool) for item in flat):
            raise RequestError(f"input {name!r}: BOOL data must be true or false")
    elif not all(isinstance(item, int | float) and not isinstance(item, bool) for item in flat):
        raise RequestError(f"input {name!r}: {datatype} data must be numbers")
    try:
        array = np.array(flat, dtype=DATATYPES[datatype])
    except (OverflowError, ValueError):
        raise RequestError(f"input {name!r}: a value does not fit {datatype}") from None
    if datatype.startswith(("INT", "UINT")) and any(
        isinstance(item, float) and not item.is_integer() for item in flat
    ):
        raise RequestError(f"input {name!r}: {datatype} data must be whole numbers")
    return array


def _flatten(data: Any) -> list[Any]:
    """Row-major data, flat or nested lists, → one flat list (iteratively: no recursion limit)."""
    if not isinstance(data, list):
        return [data]
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _from_binary(name: str, datatype: str, chunk: bytes, count: int) -> np.ndarray:
    if datatype == "BYTES":
        return np.array(
            [item.decode("utf-8", "replace") for item in _split_bytes(name, chunk, count)],
            dtype=object,
        )
    dtype = DATATYPES[datatype]
    if len(chunk) != count * dtype.itemsize:
        raise RequestError(
            f"input {name!r}: binary data is {len(chunk)} bytes; "
            f"its shape and {datatype} need {count * dtype.itemsize}"
        )
    return np.frombuffer(chunk, dtype=dtype).copy()


def _split_bytes(name: str, chunk: bytes, count: int) -> list[bytes]:
    """BYTES elements in binary: each a 4-byte little-endian length, then that many bytes."""
    items, offset = [], 0
    while offset < len(chunk):
        if offset + 4 > len(chunk):
            raise RequestError(f"input {name!r}: truncated BYTES element")
        (length,) = struct.unpack_from("<I", chunk, offset)
        offset += 4
        if offset + length > len(chunk):
            raise RequestError(f"input {name!r}: truncated BYTES element")
        items.append(chunk[offset : offset + length])
        offset += length
    if len(items) != count:
        raise RequestError(
            f"input {name!r}: its shape holds {count} elements but its data has {len(items)}"
        )
    return items


def encode_response(
    model_name: str, model_version: str | None, request: InferRequest, outputs: list[Tensor]
) -> tuple[bytes, dict[str, str]]:
    """Outputs → the response body and its headers; binary where the request asked for it."""
    all_binary = bool(request.parameters.get("binary_data_output"))
    asked = {
        o["name"]: bool((o.get("parameters") or {}).get("binary_data", all_binary))
        for o in request.outputs
    }
    documents, chunks = [], []
    for tensor in outputs:
        document: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": tensor.shape,
        }
        if asked.get(tensor.name, all_binary):
            chunk = _to_binary(tensor)
            document["parameters"] = {"binary_data_size": len(chunk)}
            chunks.append(chunk)
        else:
            document["data"] = tensor.data.ravel().tolist()
        documents.append(document)
    body: dict[str, Any] = {"model_name": model_name, "outputs": documents}
    if model_version is not None:
        body["model_version"] = model_version
    if request.id is not None:
        body["id"] = request.id
    header = orjson.dumps(body)
    if not chunks:
        return header, {"content-type": "application/json"}
    return header + b"".join(chunks), {
        "content-type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(header)),
    }


def _to_binary(tensor: Tensor) -> bytes:
    if tensor.datatype == "BYTES":
        parts = []
        for item in tensor.data.ravel().tolist():
            raw = item if isinstance(item, bytes) else str(item).encode()
            parts.append(struct.pack("<I", len(raw)) + raw)
        return b"".join(parts)
    return np.ascontiguousarray(tensor.data, dtype=DATATYPES[tensor.datatype]).tobytes()


def datatype_of(array: np.ndarray) -> str:
    """The V2 datatype that holds a numpy array's values (object and strings → BYTES)."""
    for name, dtype in DATATYPES.items():
        if name != "BYTES" and array.dtype == dtype:
            return name
    if array.dtype.kind in "iu":
        return "INT64"
    if array.dtype.kind == "f":
        return "FP64"
    return "BYTES"
