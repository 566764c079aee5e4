"""Drift: how far the rows a model is sent have moved from its reference profile.

Each feature (and the predictions) is binned as the profile bins it, and compared with the
population stability index, PSI = Σ (current - reference) · ln(current / reference) over
the bins. A bin empty on either side counts as holding `EPSILON` of the rows, so one
empty bin gives a large but finite PSI. Rule of thumb, and the default thresholds: below
0.1 the population has not moved (`ok`), below 0.25 it has moved a little (`warn`), from
0.25 it has moved (`alert`).

`DriftWindow` keeps the last `size` rows served as bin counts: O(1) per row, memory fixed
by the window, safe to feed from several threads. `Tally` counts every row it is given,
for a table read offline. Both give the same report.

Example:
    >>> window = DriftWindow(metadata, profile, size=1000)  # doctest: +SKIP
    >>> window.observe(X, predictions)  # the validated input and the model's answers
    >>> window.report()["features"]["age"]["status"]
    'ok'
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from modelport.metadata import ModelMetadata
from modelport.profile import Distribution, Profile, create_profile, feature_columns
from modelport.settings import (
    DEFAULT_DRIFT_ALERT,
    DEFAULT_DRIFT_WARN,
    DEFAULT_DRIFT_WINDOW,
    Settings,
)

if TYPE_CHECKING:
    from modelport.predictor import Predictor

EPSILON = 1e-4
"""The share an empty bin is taken to hold, so that ln(current / reference) is finite."""
PREDICTION = "prediction"
"""The predictions' name among the tracked distributions (a log's prediction column)."""

Status = Literal["ok", "warn", "alert", "no-data", "no-reference"]
Reference = Literal["profile", "first-window"]


@dataclass(frozen=True)
class Thresholds:
    """PSI from which a distribution is `warn`, and from which it is `alert`."""

    warn: float = DEFAULT_DRIFT_WARN
    alert: float = DEFAULT_DRIFT_ALERT

    def __post_init__(self) -> None:
        if not 0 <= self.warn <= self.alert:
            raise ValueError(f"drift thresholds need 0 <= warn <= alert, got {self}")

    def status(self, psi: float | None) -> Status:
        """`ok`, `warn` or `alert` for a PSI; `no-data` when there is none."""
        if psi is None:
            return "no-data"
        return "alert" if psi >= self.alert else "warn" if psi >= self.warn else "ok"


def psi(reference: Any, current: Any, *, epsilon: float = EPSILON) -> float:
    """The population stability index of `current` shares against `reference` shares."""
    expected = np.clip(np.asarray(reference, dtype=np.float64), epsilon, None)
    actual = np.clip(np.asarray(current, dtype=np.float64), epsilon, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


class Tally:
    """Rows per bin of every tracked distribution (the features, then the predictions).

    Bins come in as a matrix of one row per data row and one column per distribution;
    -1 means "not observed" (a log without that feature) and is counted nowhere.
    """

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.names = [*profile.features, *([PREDICTION] if profile.prediction else [])]
        self.distributions = [*profile.features.values()]
        if profile.prediction is not None:
            self.distributions.append(profile.prediction)
        self._width = max((d.n_bins for d in self.distributions), default=0) + 1
        self.counts = np.zeros((len(self.names), self._width), dtype=np.int64)
        self.rows = 0
        self._reference = np.zeros((len(self.names), self._width - 1))
        for j, distribution in enumerate(self.distributions):
            self._reference[j, : distribution.n_bins] = distribution.reference()

    def bins(self, columns: Mapping[str, Any], predictions: Any | None) -> np.ndarray:
        """The bin matrix of a batch: feature columns by name, and the predictions."""
        given = {**columns, **({PREDICTION: predictions} if predictions is not None else {})}
        n_rows = len(next(iter(given.values()))) if given else 0
        matrix = np.full((n_rows, len(self.names)), -1, dtype=np.int16)
        for j, (name, distribution) in enumerate(zip(self.names, self.distributions, strict=True)):
            if name in given:
                matrix[:, j] = distribution.bin_indices(given[name])
        return matrix

    def add(self, bins: np.ndarray, sign: int = 1) -> None:
        """Count (or, with sign -1, uncount) the rows of a bin matrix."""
        if not len(bins):
            return
        # -1 lands in the last column, which no distribution reaches: "not observed".
        flat = np.arange(bins.shape[1]) * self._width + (bins % self._width)
        counted = np.bincount(flat.ravel(), minlength=self.counts.size)
        self.counts += sign * counted.reshape(self.counts.shape)
        self.rows += sign * len(bins)

    def psis(self) -> list[float | None]:
        """Each distribution's PSI in `names` order (None before any row), as the report
        rounds it: from the counts alone, in one pass, for gauges refreshed at every scrape."""
        counts = self.counts[:, :-1]  # the last column counts "not observed"
        totals = counts.sum(axis=1)
        current = counts / np.maximum(totals, 1)[:, None]
        # Bins past a distribution's own are empty on both sides: each adds exactly 0.
        expected = np.clip(self._reference, EPSILON, None)
        actual = np.clip(current, EPSILON, None)
        values = np.sum((actual - expected) * np.log(actual / expected), axis=1)
        return [
            round(float(value), 6) if total else None
            for value, total in zip(values, totals, strict=True)
        ]

    def report(self, thresholds: Thresholds) -> dict[str, Any]:
        """Each distribution's PSI, status, bins and shares (reference and current)."""
        entries = {
            name: _entry(distribution, self.counts[j, : distribution.n_bins], thresholds)
            for j, (name, distribution) in enumerate(
                zip(self.names, self.distributions, strict=True)
            )
        }
        prediction = entries.pop(PREDICTION, None) if self.profile.prediction else None
        return {"features": entries, PREDICTION: prediction}


class DriftWindow:
    """The last `size` rows a model served, as bin counts, compared with a reference.

    Args:
        metadata: the metadata the model input was validated by (its feature order).
        profile: the reference; None means none, unless `learn_reference` is set.
        size: rows the window holds.
        thresholds: PSI from which a feature is `warn` and `alert`.
        learn_reference: without a profile, take the first `size` rows observed as the
            reference (`MODELPORT_DRIFT_REFERENCE=first-window`), then watch the rows after.
    """

    def __init__(
        self,
        metadata: ModelMetadata,
        profile: Profile | None,
        *,
        size: int = DEFAULT_DRIFT_WINDOW,
        thresholds: Thresholds | None = None,
        learn_reference: bool = False,
    ) -> None:
        if size < 1:
            raise ValueError(f"a drift window holds at least one row, not {size}")
        self.metadata = metadata
        self.size = size
        self.thresholds = thresholds or Thresholds()
        self.reference: Reference | None = "profile" if profile is not None else None
        self._learning = profile is None and learn_reference
        self._first: list[tuple[dict[str, np.ndarray], np.ndarray | None]] = []
        self._first_rows = 0
        self._lock = threading.Lock()
        self._tally: Tally | None = None
        if profile is not None:
            self._start(profile)

    @classmethod
    def for_predictor(cls, predictor: Predictor, settings: Settings) -> DriftWindow:
        """The window a served model gets: its bundle's profile, the settings' size,
        thresholds and reference (`first-window` learns one when the bundle has none)."""
        return cls(
            predictor.input_metadata,
            predictor.bundle.profile,
            size=settings.drift_window,
            thresholds=Thresholds(settings.drift_warn, settings.drift_alert),
            learn_reference=settings.drift_reference == "first-window",
        )

    def _start(self, profile: Profile) -> None:
        self._tally = Tally(profile)
        self._ring = np.zeros((self.size, len(self._tally.names)), dtype=np.int16)
        self._next = 0

    def observe(self, X: Any, predictions: Any | None = None) -> None:
        """Count a batch of served rows: the validated model input and the model's answers."""
        columns = feature_columns(X, self.metadata)
        with self._lock:
            if self._tally is None:
                if self._learning:
                    self._learn(columns, predictions)
                return
            self._push(self._tally.bins(columns, predictions))

    def _push(self, bins: np.ndarray) -> None:
        assert self._tally is not None
        bins = bins[-self.size :]  # rows older than the window would leave it at once
        slots = (self._next + np.arange(len(bins))) % self.size
        held = slots[slots < self._tally.rows]  # slots fill in order: one below `rows` is taken
        self._tally.add(self._ring[held], sign=-1)
        self._ring[slots] = bins
        self._tally.add(bins)
        self._next = (self._next + len(bins)) % self.size

    def _learn(self, columns: dict[str, np.ndarray], predictions: Any | None) -> None:
        """Keep rows until there are `size` of them, then profile them as the reference."""
        array = None if predictions is None else np.asarray(predictions)
        self._first.append((columns, array))
        self._first_rows += len(array) if array is not None else _length(columns)
        if self._first_rows < self.size:
            return
        first = {
            name: np.concatenate([part[name] for part, _ in self._first])
            for name in self._first[0][0]
        }
        answers = [answers for _, answers in self._first if answers is not None]
        outputs = np.concatenate(answers) if len(answers) == len(self._first) else None
        cut = {name: values[: self.size] for name, values in first.items()}
        profile = create_profile(
            cut, None if outputs is None else outputs[: self.size], self.metadata
        )
        self._first, self._learning, self.reference = [], False, "first-window"
        self._start(profile)
        rest = {name: values[self.size :] for name, values in first.items()}
        if _length(rest) or (outputs is not None and len(outputs) > self.size):
            assert self._tally is not None
            rest_outputs = None if outputs is None else outputs[self.size :]
            self._push(self._tally.bins(rest, rest_outputs))

    @property
    def rows(self) -> int:
        """Rows the window holds."""
        return 0 if self._tally is None else self._tally.rows

    def counts(self) -> np.ndarray:
        """A copy of the bin counts, one row per tracked distribution (for tests and gauges)."""
        with self._lock:
            return np.zeros((0, 0), np.int64) if self._tally is None else self._tally.counts.copy()

    def psis(self) -> tuple[dict[str, float | None], float | None]:
        """Each feature's PSI, and the predictions' (None when not profiled): the report's
        numbers alone, cheaper. Without a reference, no feature and None."""
        with self._lock:
            if self._tally is None:
                return {}, None
            values = self._tally.psis()
            prediction = values.pop() if self._tally.profile.prediction is not None else None
            return dict(zip(self._tally.profile.features, values, strict=True)), prediction

    def report(self) -> dict[str, Any]:
        """What `/drift` answers: the window, its rows, and each feature's PSI and shares."""
        with self._lock:
            if self._tally is None:
                return {
                    "window": self.size,
                    "rows": 0,
                    "reference": None,
                    "status": "no-reference",
                    "features": {},
                    PREDICTION: None,
                }
            return drift_report(
                self._tally, self.thresholds, window=self.size, reference=self.reference
            )


def drift_report(
    tally: Tally,
    thresholds: Thresholds,
    *,
    window: int | None,
    reference: Reference | None = "profile",
) -> dict[str, Any]:
    """The drift report of counted rows: the same shape live (a window) and offline (None)."""
    body = tally.report(thresholds)
    entries = [*body["features"].values(), *([body[PREDICTION]] if body[PREDICTION] else [])]
    return {
        "window": window,
        "rows": tally.rows,
        "reference": reference,
        "status": _worst([entry["status"] for entry in entries]),
        "thresholds": {"warn": thresholds.warn, "alert": thresholds.alert},
        **body,
    }


def _entry(
    distribution: Distribution, counts: np.ndarray, thresholds: Thresholds
) -> dict[str, Any]:
    total = int(counts.sum())
    reference = distribution.reference()
    current = counts / total if total else np.zeros_like(reference)
    value = round(psi(reference, current), 6) if total else None
    return {
        "psi": value,
        "status": thresholds.status(value),
        "rows": total,
        "bins": distribution.labels,
        "reference": [round(float(share), 6) for share in reference],
        "current": [round(float(share), 6) for share in current],
    }


_ORDER: list[Status] = ["no-reference", "no-data", "ok", "warn", "alert"]


def _worst(statuses: list[Status]) -> Status:
    """The most severe status among the distributions; `no-data` when none was observed."""
    return max(statuses, key=_ORDER.index, default="no-data")


def _length(columns: Mapping[str, Any]) -> int:
    return len(next(iter(columns.values()))) if columns else 0
