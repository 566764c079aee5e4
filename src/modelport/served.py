"""What one request was served: the record the API hands to its monitors (live drift, the
prediction log) once it has answered, so that watching the traffic never touches the
request's own path beyond building this record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

RouteKind = Literal["classic", "v2", "batch"]


@dataclass(frozen=True, slots=True)
class Served:
    """One answered request's rows, as the model saw them and as it answered.

    `X` is the validated model input exactly as the predictor was given it (one row per
    row served); `predictions` holds one label (or value) per row; `probabilities` one
    `{class: probability}` per row when the request asked for them, else None.
    """

    model: str
    version: str
    sha256: str
    request_id: str
    caller: str | None
    route: RouteKind
    X: Any
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None
    time: float
    """Seconds since the epoch when the answer was ready."""
