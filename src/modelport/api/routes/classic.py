"""The Flask template's routes, per model: /info, /features, /predict, /preprocess, /."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelport.api.admission import admitted_body
from modelport.api.body import Payload, query_flag, read_payload
from modelport.api.dispatch import Dispatcher
from modelport.api.monitor import watch
from modelport.api.problems import InputSource
from modelport.api.responses import json_response
from modelport.api.routes.operation import Operation
from modelport.api.schemas import (
    Context,
    feature_schema,
    json_content,
    prediction_schema,
    problem,
    records_body,
)
from modelport.api.state import ServerState, server_state
from modelport.errors import InvalidInputError, NotSupportedError
from modelport.introspection import family, final_estimator
from modelport.predictor import Predictor
from modelport.registry import ModelEntry, ready_predictor
from modelport.validation import to_records

RESERVED_QUERY = frozenset({"proba", "explain"})


def _entry(request: Request, name: str | None, state: ServerState) -> ModelEntry:
    entry = state.registry.entry(name)  # one lookup per request
    request.scope["state"]["model"] = entry.name
    return entry


def _predictor(request: Request, name: str | None) -> Predictor:
    return ready_predictor(_entry(request, name, server_state(request.app)))


def _rows_predicted(state: ServerState, request: Request, result: dict[str, Any]) -> dict[str, Any]:
    state.metrics.count_rows(request.scope["state"]["model"], len(result["prediction"]))
    return result


async def info(request: Request, name: str | None = None) -> Response:
    """The model's metadata and what modelport knows of it, in the template's shape."""
    predictor = _predictor(request, name)
    return json_response(describe(predictor))


def describe(predictor: Predictor) -> dict[str, Any]:
    """`/info`'s body: `{"metadata": {...}, "model": {...}}` as the Flask template answers."""
    metadata = predictor.metadata
    estimator = predictor.bundle.estimator
    final = final_estimator(estimator)
    return {
        "metadata": metadata.model_dump(mode="json", exclude_none=True),
        "model": {
            "type": f"{type(estimator).__module__}.{type(estimator).__name__}",
            "predictor_type": f"{type(final).__module__}.{type(final).__name__}",
            "is_explainable": bool(metadata.is_explainable),
            "task": metadata.task,
            "family": "SKLEARN_MODEL",
            "pipeline": family(estimator),
            "runtime": predictor.runtime_name,
            "class_names": metadata.class_names,
        },
    }


async def features(request: Request, name: str | None = None) -> Response:
    """The feature list with types, defaults, categories and importances."""
    predictor = _predictor(request, name)
    return json_response(
        [f.model_dump(mode="json", exclude_none=True) for f in predictor.metadata.features]
    )


async def predict_body(request: Request, name: str | None = None) -> Response:
    """Records, a list of records, `{"_data", "_samples"}` or a CSV table → predictions."""
    state = server_state(request.app)
    entry = _entry(request, name, state)
    predictor = ready_predictor(entry)
    proba, explain = query_flag(request, "proba"), query_flag(request, "explain")
    async with admitted_body(request):
        payload = await _read_payload(request, state, predictor)
    request.scope["state"]["input_source"] = InputSource(payload.kind, payload.prefix)
    result = await _answer(request, entry.version, predictor, payload, proba, explain, state)
    return json_response(_rows_predicted(state, request, result))


async def predict_query(request: Request, name: str | None = None) -> Response:
    """`GET /predict?feature=value`: absent features take their defaults."""
    state = server_state(request.app)
    entry = _entry(request, name, state)
    predictor = ready_predictor(entry)
    proba, explain = query_flag(request, "proba"), query_flag(request, "explain")
    record = {
        k: (v if v != "" else None)
        for k, v in request.query_params.items()
        if k not in RESERVED_QUERY
    }
    request.state.input_source = InputSource("query")
    result = await _answer(
        request, entry.version, predictor, Payload(records=record), proba, explain, state
    )
    return json_response(_rows_predicted(state, request, result))


async def preprocess(request: Request, name: str | None = None) -> Response:
    """The rows as the model will see them: defaults filled in, types coerced."""
    state = server_state(request.app)
    predictor = ready_predictor(_entry(request, name, state))
    async with admitted_body(request):
        payload = await _read_payload(request, state, predictor)
    request.state.input_source = InputSource(payload.kind, payload.prefix)
    X = await _validate(state.dispatch, predictor, payload)
    return json_response(to_records(X, predictor.metadata))


async def text_query(request: Request, name: str | None = None) -> Response:
    """`GET /?query=some text` for text models: the label and the probability of that label."""
    predictor = _predictor(request, name)
    if predictor.metadata.input_kind != "text":
        raise NotSupportedError(
            "GET /?query= is for text models; this model takes features: use /predict"
        )
    text = request.query_params.get("query")
    request.state.input_source = InputSource("query")
    if text is None or not text.strip():
        raise InvalidInputError.single("send the text to classify as ?query=...", field="query")
    feature = predictor.metadata.feature_names[0]

    def answer() -> dict[str, Any]:
        X = predictor.validate({feature: text})
        [label] = predictor.predict(X)
        if not predictor.has_proba:
            return {"prediction": label}
        [probabilities] = predictor.predict_proba(X)
        return {"prediction": label, "confidence": probabilities[str(label)]}

    return json_response(await run_in_threadpool(answer))


async def _read_payload(request: Request, state: ServerState, predictor: Predictor) -> Payload:
    return await read_payload(
        request,
        state.settings.max_body_bytes,
        state.dispatch.turns,
        predictor.read_json_matrix,
    )


async def _validate(dispatch: Dispatcher, predictor: Predictor, payload: Payload) -> Any:
    """The payload's rows as model input; a big payload's rows are consumed (only its
    `_samples` are read afterwards)."""
    if payload.matrix is not None:
        return payload.matrix
    if payload.columns is not None:
        return await dispatch.validate(predictor, payload.columns, columns=True, consume=True)
    return await dispatch.validate(predictor, payload.records, consume=True)


async def _answer(
    request: Request,
    version: str,
    predictor: Predictor,
    payload: Payload,
    proba: bool,
    explain: bool,
    state: ServerState,
) -> dict[str, Any]:
    """Validate (inline when small), predict through the batcher, explain off the loop; then
    hand what was served to the monitor."""
    dispatch: Dispatcher = state.dispatch
    model = request.scope["state"]["model"]
    X = await _validate(dispatch, predictor, payload)
    if explain:  # unbatched, but its rows wait for the model like any others
        with dispatch.admission.rows(model, len(X)):
            result = await run_in_threadpool(_explained, predictor, X, payload.samples, proba)
    else:
        if proba and not predictor.has_proba:
            predictor.predict_proba_array(X)  # raises the NotSupportedError that says why
        method = "predict_proba" if proba else "predict"
        result = {"prediction": await dispatch.batcher(predictor, method, model)(X)}
    answers = result["prediction"]
    labels, probabilities = (None, answers) if proba else (answers, None)
    watch(request, predictor, version, "classic", X, labels, probabilities)
    return result


def _explained(predictor: Predictor, X: Any, samples: Any, proba: bool) -> dict[str, Any]:
    """Predictions and their explanations: the slow path, unbatched, off the event loop."""
    if not predictor.metadata.is_explainable and samples is None:
        predictor.explain(X)  # raises the NotSupportedError that says why
    result: dict[str, Any] = {
        "prediction": predictor.predict_proba(X) if proba else predictor.predict(X)
    }
    background = None
    if samples is not None:
        try:
            background = predictor.validate(samples)
        except InvalidInputError as error:
            raise InvalidInputError(error.problems, error.total, within="_samples") from None
    result["explanation"] = predictor.explain(X, background=background)
    return result


_FLAGS = [
    {
        "name": "proba",
        "in": "query",
        "schema": {"type": "integer", "enum": [0, 1], "default": 0},
        "description": "1: one {class: probability} per row instead of labels (classifiers).",
    },
    {
        "name": "explain",
        "in": "query",
        "schema": {"type": "integer", "enum": [0, 1], "default": 0},
        "description": "1: add SHAP explanations (`_samples`, if sent, is the background).",
    },
]
_MODEL_ERRORS = {
    "404": problem("the model is unloaded"),
    "503": problem("the model is loading, or failed to load"),
}
_BODY_ERRORS = {
    "400": problem("unreadable body, or an option this model does not support"),
    "413": problem("the body is larger than the server accepts"),
    "415": problem("neither JSON nor CSV"),
    "422": problem("a problem document naming each wrong field"),
    **_MODEL_ERRORS,
}


def _predict_body(context: Context) -> dict[str, Any]:
    return {
        "parameters": _FLAGS,
        "requestBody": records_body(context),
        "responses": {
            "200": json_content(prediction_schema(context.model_metadata), "one per row"),
            **_BODY_ERRORS,
        },
    }


def _predict_query(context: Context) -> dict[str, Any]:
    query = [
        {"name": f.name, "in": "query", "required": False, "schema": feature_schema(f)}
        for f in context.model_metadata.features
    ]
    return {
        "parameters": [*query, *_FLAGS],
        "responses": {
            "200": json_content(prediction_schema(context.model_metadata), "one prediction"),
            "400": problem("an option this model does not support"),
            "422": problem("a problem document naming each wrong parameter"),
            **_MODEL_ERRORS,
        },
    }


def _preprocess(context: Context) -> dict[str, Any]:
    rows = {"type": "array", "items": {"type": "object"}}
    return {
        "requestBody": records_body(context),
        "responses": {"200": json_content(rows, "the validated rows"), **_BODY_ERRORS},
    }


def _info(context: Context) -> dict[str, Any]:
    body = {
        "type": "object",
        "required": ["metadata", "model"],
        "properties": {"metadata": {"type": "object"}, "model": {"type": "object"}},
    }
    return {"responses": {"200": json_content(body, "metadata and model"), **_MODEL_ERRORS}}


def _features(context: Context) -> dict[str, Any]:
    feature = {
        "type": "object",
        "required": ["name", "type"],
        "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
    }
    body = {"type": "array", "items": feature}
    return {"responses": {"200": json_content(body, "the features"), **_MODEL_ERRORS}}


def _text_query(context: Context) -> dict[str, Any] | None:
    metadata = context.model_metadata
    if metadata.input_kind != "text":
        return None
    answer = {
        "type": "object",
        "required": ["prediction"],
        "properties": {
            "prediction": {"type": ["string", "number", "boolean"]},
            "confidence": {"type": "number"},
        },
    }
    query = {
        "name": "query",
        "in": "query",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "pattern": r"\S"},
        "example": metadata.features[0].example or "great value",
    }
    return {
        "parameters": [query],
        "responses": {
            "200": json_content(answer, "the label and the probability of that label"),
            "422": problem("no text sent"),
            **_MODEL_ERRORS,
        },
    }


OPERATIONS = [
    Operation("GET", "/info", info, "info", "model", _info, per_model=True),
    Operation("GET", "/features", features, "features", "model", _features, per_model=True),
    Operation("POST", "/predict", predict_body, "predict", "model", _predict_body, per_model=True),
    Operation(
        "GET", "/predict", predict_query, "predict_query", "model", _predict_query, per_model=True
    ),
    Operation(
        "POST", "/preprocess", preprocess, "preprocess", "model", _preprocess, per_model=True
    ),
    Operation("GET", "/", text_query, "text", "model", _text_query, per_model=True),
]
"""The classic routes; per-model operations are tagged with the model's name."""
