"""The targets' verdicts: each ratio against its goal, from the points of one run."""

from __future__ import annotations

import pytest
from run import Point
from servers import REFERENCE
from targets import MLSERVER_ROWS_PER_S, limit_targets, targets_table


def point(server: str, rows: int, connections: int, per_s: float, p50_ms: float = 1.0) -> Point:
    return Point("rf", server, rows, connections, per_s, per_s * rows, p50_ms, 2 * p50_ms, 0, 0.1)


FLOORS = {"rf": {"p50_ms": 4.0, "rows_per_s": 80_000.0, "rows_per_s_one_core": 80_000.0}}


def test_each_target_is_its_ratio_against_its_goal():
    points = [
        point(REFERENCE, 1, 64, 10_000),
        point("modelport-onnx", 1, 64, 5_000),  # exactly 50 %: met
        point("modelport", 1, 64, 3_999),  # just under 40 %: not met
        point(REFERENCE, 1, 1, 800, p50_ms=0.10),
        point("modelport-onnx", 1, 1, 500, p50_ms=0.25),  # 2.5x: not met
        point("modelport", 1000, 8, 90),  # 90,000 rows/s
    ]
    targets = limit_targets(points, FLOORS, {"on": 900.0, "off": 1000.0})
    verdicts = [(round(t.ratio, 4), t.met) for t in targets]
    assert verdicts == [
        (0.5, True),
        (0.3999, False),
        (2.5, False),
        (round(90_000 / 80_000, 4), True),
        (round(90_000 / MLSERVER_ROWS_PER_S, 4), True),
        (0.9, True),
    ]
    markdown = targets_table(targets)
    assert markdown.count("**not met**") == 2
    assert markdown.count("| met |") == 4
    assert "10,000 req/s (bare-onnx)" in markdown


@pytest.mark.parametrize(
    ("p50_ms", "met"),
    [(0.20, True), (0.21, False)],
)
def test_the_latency_target_is_at_most_twice_the_references_p50(p50_ms: float, met: bool):
    points = [point(REFERENCE, 1, 1, 1, p50_ms=0.10), point("modelport-onnx", 1, 1, 1, p50_ms)]
    [target] = limit_targets(points, {}, None)
    assert target.met is met


def test_targets_whose_points_did_not_run_are_left_out():
    points = [point("modelport", 1, 64, 3_000), point("modelport", 1, 1, 700)]
    assert limit_targets(points, {}, None) == []
    lr = [Point("lr", REFERENCE, 1, 64, 1, 1, 1, 1, 0, 0), point("modelport", 1, 64, 1)]
    assert limit_targets(lr, {}, None) == []
