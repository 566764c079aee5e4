"""The Flask template's routes, per model: /info, /features, /predict, /preprocess, /."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelport.api.admission import admitted_body
from modelport.api.body import Payload, query_flag, read_payload
from modelport.api.dispatch import Dispatcher
from modelport.api.problems import InputSource
from modelport.api.routes import add_plain_route
from modelport.errors import InvalidInputError, NotSupportedError
from modelport.introspection import family, final_estimator
from modelport.predictor import Predictor
from modelport.registry import Registry, ready_predictor
from modelport.validation import to_records

RESERVED_QUERY = frozenset({"proba", "explain"})
Handler = Callable[[Request, str | None], Awaitable[Response]]


def json_response(content: Any, status: int = 200) -> Response:
    """Render with orjson, numpy-aware (NaN never gets here: the predictor refuses it)."""
    return Response(
        orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY),
        status,
        media_type="application/json",
    )


def install_classic_routes(app: FastAPI) -> None:
    """Each route at the root (default model) and under /models/{name}/ (every model).

    Routes are added to the app itself, not through an included router, so `app.routes`
    lists every one (the auth test walks them).
    """
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/info", info),
        ("GET", "/features", features),
        ("POST", "/predict", predict_body),
        ("GET", "/predict", predict_query),
        ("POST", "/preprocess", preprocess),
        ("GET", "/", text_query),
    ]
    for method, path, handler in routes:
        add_plain_route(app, path, _endpoint(handler, named=False), [method])
        add_plain_route(app, "/models/{name}" + path, _endpoint(handler, named=True), [method])


def _endpoint(handler: Handler, *, named: bool) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint: the model name, when the path has one, from the path."""

    async def endpoint(request: Request) -> Response:
        return await handler(request, request.path_params["name"] if named else None)

    endpoint.__name__ = f"{handler.__name__}_named" if named else handler.__name__
    return endpoint


def _predictor(request: Request, name: str | None) -> Predictor:
    registry: Registry = request.app.state.registry
    entry = registry.entry(name)  # one lookup per request
    request.state.model = entry.name
    return ready_predictor(entry)


def _rows_predicted(request: Request, result: dict[str, Any]) -> dict[str, Any]:
    request.app.state.metrics.count_rows(request.state.model, len(result["prediction"]))
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
    predictor = _predictor(request, name)
    proba, explain = query_flag(request, "proba"), query_flag(request, "explain")
    async with admitted_body(request):
        payload = await read_payload(request, request.app.state.settings.max_body_bytes)
    request.state.input_source = InputSource(payload.kind, payload.prefix)
    result = await _answer(request, predictor, payload, proba, explain)
    return json_response(_rows_predicted(request, result))


async def predict_query(request: Request, name: str | None = None) -> Response:
    """`GET /predict?feature=value`: absent features take their defaults."""
    predictor = _predictor(request, name)
    proba, explain = query_flag(request, "proba"), query_flag(request, "explain")
    record = {
        k: (v if v != "" else None)
        for k, v in request.query_params.items()
        if k not in RESERVED_QUERY
    }
    request.state.input_source = InputSource("query")
    result = await _answer(request, predictor, Payload(records=record), proba, explain)
    return json_response(_rows_predicted(request, result))


async def preprocess(request: Request, name: str | None = None) -> Response:
    """The rows as the model will see them: defaults filled in, types coerced."""
    predictor = _predictor(request, name)
    async with admitted_body(request):
        payload = await read_payload(request, request.app.state.settings.max_body_bytes)
    request.state.input_source = InputSource(payload.kind, payload.prefix)
    X = await _validate(request.app.state.dispatch, predictor, payload)
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


async def _validate(dispatch: Dispatcher, predictor: Predictor, payload: Payload) -> Any:
    if payload.columns is not None:
        return await dispatch.validate(predictor, payload.columns, columns=True)
    return await dispatch.validate(predictor, payload.records)


async def _answer(
    request: Request, predictor: Predictor, payload: Payload, proba: bool, explain: bool
) -> dict[str, Any]:
    """Validate (inline when small), predict through the batcher, explain off the loop."""
    dispatch: Dispatcher = request.app.state.dispatch
    X = await _validate(dispatch, predictor, payload)
    if explain:  # unbatched, but its rows wait for the model like any others
        with dispatch.admission.rows(request.state.model, len(X)):
            return await run_in_threadpool(_explained, predictor, X, payload.samples, proba)
    if proba and not predictor.has_proba:
        predictor.predict_proba_array(X)  # raises the NotSupportedError that says why
    method = "predict_proba" if proba else "predict"
    return {"prediction": await dispatch.batcher(predictor, method, request.state.model)(X)}


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
