"""The REFERENCE point, not a baseline to beat: the model in ONNX behind a bare ASGI app.

uvicorn + orjson + ONNX Runtime, and nothing else: no validation, no auth, no metrics, no
access log, no error handling beyond a 400. It shows what Python can do on the machine
(the limit a real server approaches), so modelport's request path is measured against it.
The forest is converted as modelport converts it (skl2onnx, float32 input, no zipmap) and
run with one ONNX Runtime thread, as modelport runs it.
"""

import os
import warnings

import joblib
import numpy as np
import onnxruntime
import orjson
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType


def _session(model: object, n_features: int) -> onnxruntime.InferenceSession:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = convert_sklearn(
            model,
            initial_types=[("input", FloatTensorType([None, n_features]))],
            options={id(model): {"zipmap": False}},
        )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        converted.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


_model = joblib.load(os.environ["BENCH_MODEL_PATH"])
FEATURES = list(_model.feature_names_in_)
SESSION = _session(_model, len(FEATURES))
INPUT = SESSION.get_inputs()[0].name
PROBABILITIES = [SESSION.get_outputs()[1].name]
del _model

_JSON = [(b"content-type", b"application/json")]


def predict_proba(body: bytes) -> bytes:
    """A JSON record or list of records → `{"prediction": [[p0, p1, ...], ...]}`."""
    records = orjson.loads(body)
    if isinstance(records, dict):
        records = [records]
    X = np.array([[record[name] for name in FEATURES] for record in records], dtype=np.float32)
    [probabilities] = SESSION.run(PROBABILITIES, {INPUT: X})
    return orjson.dumps({"prediction": probabilities}, option=orjson.OPT_SERIALIZE_NUMPY)


async def app(scope: dict, receive, send) -> None:
    """POST any path with JSON rows; anything else is a 404, a bad body a 400."""
    if scope["type"] != "http":
        return
    if scope["method"] != "POST":
        await _answer(send, 404, b"{}")
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    try:
        answer = predict_proba(b"".join(chunks))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        await _answer(send, 400, orjson.dumps({"error": str(error)}))
        return
    await _answer(send, 200, answer)


async def _answer(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _JSON})
    await send({"type": "http.response.body", "body": body})
