"""The speed targets: each a ratio of a modelport point to its reference, met or not.

The references are measured in the same run (the bare ASGI + ONNX Runtime app, the
model's own predict_proba on one core, modelport with monitoring off), except MLServer's
figure, a constant from an earlier run on the same 2-core machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers import REFERENCE

MLSERVER_ROWS_PER_S = 68_100
"""MLServer (adaptive batching) on rf, 1,000 rows per request at 8 connections, as measured
in an earlier run on this 2-core machine: a constant, not measured by this benchmark."""


@dataclass(frozen=True)
class Target:
    """modelport's figure against a reference: `ratio` must be at least (or at most) `goal`."""

    name: str
    measured: str
    reference: str
    ratio: float
    at_least: bool
    goal: float

    @property
    def met(self) -> bool:
        return self.ratio >= self.goal if self.at_least else self.ratio <= self.goal


def monitoring_settings(work: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The monitoring point's two servers: the prediction log (SQLite, every request) and
    live drift (against the first window served: the benchmark's model has no profile) on;
    and both off."""
    on = {
        "MODELPORT_PREDICTION_LOG": f"sqlite:///{work / 'prediction-log.db'}",
        "MODELPORT_PREDICTION_LOG_SAMPLE": "1.0",
        "MODELPORT_DRIFT": "true",
        "MODELPORT_DRIFT_REFERENCE": "first-window",
    }
    return on, {"MODELPORT_DRIFT": "false"}


def limit_targets(
    points: list[Any], floors: dict[str, dict[str, float]], monitoring: dict[str, float] | None
) -> list[Target]:
    """The targets whose points this run measured, on rf."""
    found = {(p.server, p.rows, p.connections): p for p in points if p.model == "rf"}
    targets = []
    bare = found.get((REFERENCE, 1, 64))
    for server, goal in (("modelport-onnx", 0.5), ("modelport", 0.4)):
        ours = found.get((server, 1, 64))
        if bare and ours:
            targets.append(
                Target(
                    f"1 row, 64 conn: {server} req/s ≥ {goal:.0%} of the reference's",
                    f"{ours.requests_per_s:,.0f} req/s",
                    f"{bare.requests_per_s:,.0f} req/s ({REFERENCE})",
                    ours.requests_per_s / bare.requests_per_s,
                    True,
                    goal,
                )
            )
    bare, ours = found.get((REFERENCE, 1, 1)), found.get(("modelport-onnx", 1, 1))
    if bare and ours:
        targets.append(
            Target(
                "1 row, 1 conn: modelport-onnx p50 ≤ 2x the reference's",
                f"{ours.p50_ms:.2f} ms",
                f"{bare.p50_ms:.2f} ms ({REFERENCE})",
                ours.p50_ms / bare.p50_ms,
                False,
                2.0,
            )
        )
    targets += _big_requests(found.get(("modelport", 1000, 8)), floors.get("rf"))
    if monitoring:
        targets.append(
            Target(
                "1 row, 64 conn: modelport with the prediction log (SQLite, sample 1.0) and "
                "drift on ≥ 90 % of the req/s with both off",
                f"{monitoring['on']:,.0f} req/s",
                f"{monitoring['off']:,.0f} req/s (both off)",
                monitoring["on"] / monitoring["off"],
                True,
                0.9,
            )
        )
    return targets


def _big_requests(ours: Any, floor: dict[str, float] | None) -> list[Target]:
    """1,000 rows at 8 connections, native, one worker: against one core, and MLServer."""
    if ours is None or floor is None:
        return []
    name = "1,000 rows, 8 conn: modelport (native, 1 worker) rows/s"
    measured = f"{ours.rows_per_s:,.0f} rows/s"
    one_core = floor["rows_per_s_one_core"]
    return [
        Target(
            f"{name} ≥ 1.0x in-process predict_proba on one core (10,000-row calls)",
            measured,
            f"{one_core:,.0f} rows/s (one thread)",
            ours.rows_per_s / one_core,
            True,
            1.0,
        ),
        Target(
            f"{name} ≥ MLServer's (a constant from an earlier run, not measured here)",
            measured,
            f"{MLSERVER_ROWS_PER_S:,} rows/s (MLServer)",
            ours.rows_per_s / MLSERVER_ROWS_PER_S,
            True,
            1.0,
        ),
    ]


def targets_table(targets: list[Target]) -> str:
    """Markdown: one row per target, its same-run reference, the ratio and the verdict."""
    lines = [
        "| target | modelport | reference | ratio | goal | |",
        "|---|---|---|---|---|---|",
    ]
    for t in targets:
        goal = f"{'≥' if t.at_least else '≤'} {t.goal:.2f}"
        verdict = "met" if t.met else "**not met**"
        lines.append(
            f"| {t.name} | {t.measured} | {t.reference} | {t.ratio:.2f} | {goal} | {verdict} |"
        )
    return "\n".join(lines) + "\n"
