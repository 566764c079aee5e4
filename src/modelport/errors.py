"""Every error modelport raises on purpose.

The tree, with the HTTP status each maps to (the core never imports a web framework; the
status is a plain class attribute that the API reads)::

    ModelportError                  anything modelport raises deliberately (500)
     ├─ BundleError                 a bundle can't be read, is untrusted or inconsistent (500)
     ├─ ConfigurationError          a setting or a keys file is wrong (500, at start-up)
     ├─ InvalidInputError           request or table rows don't match the metadata (422)
     ├─ NotSupportedError           the model can't do what was asked (400)
     ├─ PredictionError             the model produced output that is not a valid answer (500)
     ├─ ModelNotFoundError          (404)
     ├─ ModelNotReadyError          (503)
     ├─ OverloadedError             too much work is waiting; the request was shed (503)
     ├─ DisabledError               the server was started with this turned off (404)
     ├─ AuthenticationError         missing or wrong bearer token (401)
     ├─ InputTableError             a batch input is missing, unreadable or lacks what is needed
     ├─ StoreError                  a predictions store can't be used, or holds another model
     ├─ ServerUnreachableError      the `Client` got no connection (after its retries)
     └─ RequestError                a request that can't be read at all (400)
         ├─ PayloadTooLargeError    the body is over the configured limit (413)
         ├─ BodyTimeoutError        the body did not arrive in time (408)
         └─ UnsupportedMediaTypeError  neither JSON nor CSV (415)

Example:
    >>> from modelport import load_bundle, ModelportError
    >>> try:
    ...     load_bundle("missing.joblib")
    ... except ModelportError as error:
    ...     print(error)
    bundle file not found: missing.joblib
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_PROBLEMS = 20
"""How many field problems an `InvalidInputError` keeps; the rest are counted, not listed."""


class ModelportError(Exception):
    """Base class: one `except` catches everything modelport raises deliberately."""

    status: int = 500
    title: str = "Internal error"


class BundleError(ModelportError, ValueError):
    """A bundle file is missing, unreadable, untrusted or inconsistent with its model."""

    title = "Invalid model bundle"


class ConfigurationError(ModelportError, ValueError):
    """A setting, or a file a setting names, is wrong; found at start-up, not per request."""

    title = "Invalid configuration"


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with the input: where it is (row, field) and what is wrong."""

    detail: str
    row: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.detail}" if where else self.detail


class InvalidInputError(ModelportError, ValueError):
    """The input does not match the model's metadata; lists every problem found.

    Args:
        problems: each problem with its row and field, so a caller can fix all at once.
        total: how many problems were found, when more were found than are listed.
        within: the part of the input the rows came from, when not the main rows
            (`_samples`, the background of an explanation).
    """

    status, title = 422, "Invalid input"

    def __init__(
        self, problems: list[FieldProblem], total: int | None = None, within: str | None = None
    ) -> None:
        self.problems = problems[:MAX_PROBLEMS]
        self.total = max(total or 0, len(problems))
        self.within = within
        super().__init__(self._summarise())

    @classmethod
    def single(
        cls, detail: str, row: int | None = None, field: str | None = None
    ) -> InvalidInputError:
        """One problem: the common case for errors found outside column validation."""
        return cls([FieldProblem(detail, row, field)])

    def _summarise(self) -> str:
        text = "; ".join(str(problem) for problem in self.problems)
        if self.within:
            text = f"{self.within}: {text}"
        hidden = self.total - len(self.problems)
        return f"{text}; and {hidden} more problem(s)" if hidden > 0 else text


class NotSupportedError(ModelportError, ValueError):
    """The model cannot do what was asked (probabilities of a regressor, say)."""

    status, title = 400, "Not supported by this model"


class PredictionError(ModelportError, ArithmeticError):
    """The model returned something that is not a valid answer (NaN, infinity)."""

    title = "Invalid model output"


class ModelNotFoundError(ModelportError, LookupError):
    """No model of that name (or version) is served."""

    status, title = 404, "Model not found"


class ModelNotReadyError(ModelportError):
    """The model exists but is still loading."""

    status, title = 503, "Model not ready"


class OverloadedError(ModelportError):
    """Too much work waits already: the request is refused at once, before any is done.

    Args:
        detail: what is full, for the client.
        reason: what is full, for the metrics (`queue` or `bodies`).
        retry_after: seconds after which a retry is likely to be admitted.
    """

    status, title = 503, "Overloaded"

    def __init__(self, detail: str, reason: str = "queue", retry_after: int = 1) -> None:
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(detail)


class DisabledError(ModelportError, LookupError):
    """What was asked for is turned off on this server (live drift with MODELPORT_DRIFT=false):
    not there, like an unknown path, but with a problem that says which setting."""

    status, title = 404, "Turned off"


class AuthenticationError(ModelportError):
    """The bearer token is missing or wrong."""

    status, title = 401, "Unauthorized"


class InputTableError(ModelportError, ValueError):
    """A batch job's input can't be read, or lacks what the job needs (an id column, say)."""

    title = "Unreadable input table"


class StoreError(ModelportError, OSError):
    """A predictions store can't be reached or written, or holds another model's runs."""

    title = "Predictions store error"


class ServerUnreachableError(ModelportError, ConnectionError):
    """The `Client` could not reach the server, or the server did not answer in time."""

    title = "Server unreachable"


class RequestError(ModelportError, ValueError):
    """A request that can't be read at all: malformed JSON or CSV, a bad query parameter."""

    status, title = 400, "Bad request"

    def __init__(self, detail: str, parameter: str | None = None) -> None:
        self.parameter = parameter
        super().__init__(detail)


class PayloadTooLargeError(RequestError):
    """The body is larger than the configured limit."""

    status, title = 413, "Payload too large"


class BodyTimeoutError(RequestError):
    """The body did not fully arrive in time (a slow or stalled client)."""

    status, title = 408, "Request timeout"


class UnsupportedMediaTypeError(RequestError):
    """The body is neither JSON nor CSV (and is never unpickled)."""

    status, title = 415, "Unsupported media type"
