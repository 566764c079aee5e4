"""`Client`: a modelport server from Python, with the core's answers and the core's errors.

A problem document from the server becomes the exception the server raised (an
`InvalidInputError` keeps its field problems, with row and field), so code written against
`Predictor` handles a remote model the same way.

Example:
    >>> from modelport import Client, InvalidInputError
    >>> with Client("http://127.0.0.1:5000", api_key="...") as client:  # doctest: +SKIP
    ...     try:
    ...         client.predict([{"petal length (cm)": "long"}])
    ...     except InvalidInputError as error:
    ...         print(error.problems[0].row, error.problems[0].field)
    0 petal length (cm)
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

import httpx

from modelport import errors
from modelport.errors import FieldProblem, InvalidInputError, ModelportError
from modelport.repository import MODEL_NAME_PATTERN

DEFAULT_TIMEOUT = 30.0
"""Seconds a request may take (connecting, sending, waiting, reading) before it fails."""
DEFAULT_RETRIES = 3
"""Further attempts after a connection error or a 503 (a server starting or stopping)."""
DEFAULT_BACKOFF = 0.25
"""Seconds before the first retry; each retry waits twice as long, with jitter."""
_MAX_WAIT = 10.0
_POINTER = re.compile(r"^#(/_data|/_samples)?(?:/(\d+))?(?:/(.+))?$")
_MORE = re.compile(r"; and (\d+) more problem\(s\)$")
_BY_TITLE: dict[str, type[ModelportError]] = {
    cls.title: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, ModelportError) and cls is not ModelportError
}
"""A problem document's title names the class the server raised."""
_BY_STATUS: dict[int, type[ModelportError]] = {
    400: errors.RequestError,
    401: errors.AuthenticationError,
    404: errors.ModelNotFoundError,
    413: errors.PayloadTooLargeError,
    415: errors.UnsupportedMediaTypeError,
    422: errors.InvalidInputError,
    503: errors.ModelNotReadyError,
}
"""Without a known title (V2's `{"error"}` bodies), the status says what failed."""


class Client:
    """Predictions, probabilities and explanations from a running modelport server.

    Args:
        url: the server's base URL (`http://127.0.0.1:5000`).
        api_key: the bearer key, when the server has auth on; never logged or shown.
        model: the model to ask (`/models/<model>/...`); None asks the server's default.
        timeout: seconds per request.
        retries: further attempts after a connection error or a 503.
        backoff: seconds before the first retry, doubling after each.
        transport: an httpx transport (tests, proxies); the default opens connections.

    Raises (from every call):
        ServerUnreachableError: no connection after the retries.
        ModelportError: the server's error, as the class it raised (InvalidInputError,
            ModelNotFoundError, AuthenticationError, ...).
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.model = _checked_name(model)
        self.retries = max(0, retries)
        self.backoff = max(0.0, backoff)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:  # the key stays out of reprs and logs
        return f"Client({self.url!r}, model={self.model!r})"

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def predict(self, records: Any, *, model: str | None = None) -> list[Any]:
        """Labels (or values), one per record: `Predictor.predict` over HTTP."""
        answer: list[Any] = self._post("/predict", records, model, {})["prediction"]
        return answer

    def predict_proba(self, records: Any, *, model: str | None = None) -> list[dict[str, float]]:
        """`{class name: probability}` per record."""
        answer: list[dict[str, float]] = self._post("/predict", records, model, {"proba": "1"})[
            "prediction"
        ]
        return answer

    def explain(
        self, records: Any, *, samples: Any | None = None, model: str | None = None
    ) -> list[dict[str, Any]]:
        """SHAP contributions per record, in the core's shape (`values`, `base_value`,
        `output`); `samples` are background rows, the example rows when None."""
        body = records if samples is None else {"_data": records, "_samples": samples}
        answer: list[dict[str, Any]] = self._post("/predict", body, model, {"explain": "1"})[
            "explanation"
        ]
        return answer

    def info(self, *, model: str | None = None) -> dict[str, Any]:
        """The model's metadata and what the server knows of it (`/info`)."""
        answer: dict[str, Any] = self._send("GET", self._path("/info", model)).json()
        return answer

    def features(self, *, model: str | None = None) -> list[dict[str, Any]]:
        """Each feature with its type, default, range and categories (`/features`)."""
        answer: list[dict[str, Any]] = self._send("GET", self._path("/features", model)).json()
        return answer

    def drift(self, *, model: str | None = None) -> dict[str, Any]:
        """How far the model's last served rows have moved from its reference profile
        (`/drift`): the window, the rows it holds, each feature's PSI, status and shares
        per bin, and the same for the predictions."""
        answer: dict[str, Any] = self._send("GET", self._path("/drift", model)).json()
        return answer

    def models(self) -> list[dict[str, Any]]:
        """Every model the server serves, with its state (`/models`)."""
        answer: list[dict[str, Any]] = self._send("GET", "/models").json()["models"]
        return answer

    def _path(self, route: str, model: str | None) -> str:
        name = _checked_name(model) or self.model
        return route if name is None else f"/models/{name}{route}"

    def _post(
        self, route: str, body: Any, model: str | None, params: dict[str, str]
    ) -> dict[str, Any]:
        answer: dict[str, Any] = self._send(
            "POST", self._path(route, model), json=body, params=params
        ).json()
        return answer

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, retried on connection errors and 503s, its error rebuilt."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._http.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as error:
                if last:
                    raise errors.ServerUnreachableError(
                        f"cannot reach {self.url}: {error or type(error).__name__}"
                    ) from None
                self._wait(attempt, None)
                continue
            except httpx.TimeoutException:
                raise errors.ServerUnreachableError(
                    f"{self.url} did not answer {method} {path} in time"
                ) from None
            except httpx.TransportError as error:  # the connection dropped mid-answer
                raise errors.ServerUnreachableError(
                    f"{self.url} broke off {method} {path}: {error or type(error).__name__}"
                ) from None
            if response.status_code == 503 and not last:
                self._wait(attempt, response.headers.get("Retry-After"))
                continue
            if response.is_error:
                raise rebuild_error(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * 2**attempt * (0.5 + random.random())
        if retry_after is not None and retry_after.strip().isdigit():
            delay = max(delay, float(retry_after))
        time.sleep(min(delay, _MAX_WAIT))


def rebuild_error(response: httpx.Response) -> ModelportError:
    """The exception a problem document (or V2's `{"error"}`) describes."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    detail = str(body.get("detail") or body.get("error") or response.reason_phrase)
    cls = _BY_TITLE.get(str(body.get("title")), _BY_STATUS.get(response.status_code))
    if cls is None:
        return ModelportError(f"{response.status_code} {response.reason_phrase}: {detail}")
    entries = [entry for entry in body.get("errors") or [] if isinstance(entry, dict)]
    if issubclass(cls, InvalidInputError):
        return _invalid_input(detail, entries)
    if issubclass(cls, errors.RequestError):
        named = [entry["parameter"] for entry in entries if "parameter" in entry]
        return cls(detail, named[0] if named else None)
    return cls(detail)


def _invalid_input(detail: str, entries: list[dict[str, Any]]) -> InvalidInputError:
    """The server's problems with their rows and fields, where they lay (`_samples`), and
    how many it found beyond those it listed."""
    located = [_problem(entry) for entry in entries]
    problems = [problem for problem, _ in located] or [FieldProblem(detail)]
    within = next((where for _, where in located if where), None)
    more = _MORE.search(detail)
    total = len(problems) + int(more.group(1)) if more else None
    return InvalidInputError(problems, total=total, within=within)


def _problem(entry: dict[str, Any]) -> tuple[FieldProblem, str | None]:
    """A problem and the part of the body it lay in (`_samples`, else None), from its place:
    a JSON pointer (`#/0/age`, `#/_samples/0/age`), a query parameter or a CSV cell."""
    detail = str(entry.get("detail", ""))
    if "pointer" in entry:
        match = _POINTER.match(str(entry["pointer"]))
        if match:
            prefix, row, field = match.groups()
            field = field.replace("~1", "/").replace("~0", "~") if field else None
            within = "_samples" if prefix == "/_samples" else None
            return FieldProblem(detail, int(row) if row is not None else None, field), within
    if "parameter" in entry:
        return FieldProblem(detail, field=str(entry["parameter"])), None
    row = entry.get("row")
    problem = FieldProblem(detail, int(row) if row is not None else None, entry.get("column"))
    return problem, None


def _checked_name(name: str | None) -> str | None:
    if name is not None and not MODEL_NAME_PATTERN.fullmatch(name):
        raise errors.ConfigurationError(f"invalid model name {name!r}")
    return name
