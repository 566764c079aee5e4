"""`make bench`: modelport against tutorial-style Flask and FastAPI servers, and the limit.

Each server serves the same model file; `wrk` drives each from 127.0.0.1; the in-process
floor is the model's own `predict_proba` on numpy with no server. The bare ASGI app with
ONNX Runtime (`bare-onnx`) is a REFERENCE, the limit of a Python server on the machine,
not a baseline to beat: modelport's targets are shares of it (bench/targets.py). modelport
runs as deployed: auth on (a keys file), metrics on, the access log at INFO to a file.
Results are written as JSON records and Markdown tables of ratios within the same run,
since absolute numbers drift on shared machines. `--limit` runs only the targets' points.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
import warnings
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import joblib
import pandas as pd
from servers import (  # bench/servers.py, beside this script
    AUTH,
    REFERENCE,
    ROOT,
    check,
    check_deployed_defaults,
    rss_mb,
    running,
    tolerance,
)
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from targets import Target, limit_targets, monitoring_settings, targets_table
from threadpoolctl import threadpool_limits

CASES = [  # (rows per request, connections)
    (1, 1),
    (1, 8),
    (1, 64),
    (1000, 8),
]
LIMIT_CASES = [(1, 1), (1, 64), (1000, 8)]
SERVERS = f"flask,fastapi,{REFERENCE},modelport,modelport-onnx,modelport-w2"
LIMIT_SERVERS = f"{REFERENCE},modelport,modelport-onnx"
COLD_STARTS = 3
"""Starts per server; the median is reported."""
ROUNDS = 2
"""Rounds of load per point: every server takes its turn in each round."""
FLOOR_ROWS = 10_000
"""Rows per call of the one-core floor: big enough that the call's overhead is noise."""
MONITORING_ROUNDS = 2
"""Alternations of the monitoring point's two servers, so both see the same noise."""


@dataclass
class Point:
    """One measured point: a server under one load."""

    model: str
    server: str
    rows: int
    connections: int
    requests_per_s: float
    rows_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    wrk_cpu: float


def build_models(folder: Path) -> tuple[dict[str, Path], pd.DataFrame]:
    """The issue's two models, fitted on make_classification as a DataFrame f0..f19."""
    X, y = make_classification(n_samples=20_000, n_features=20, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)])
    models = {
        "rf": RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0),
        "lr": make_pipeline(StandardScaler(), LogisticRegression()),
    }
    paths = {}
    for name, model in models.items():
        model.fit(frame, y)
        paths[name] = folder / f"{name}.joblib"
        joblib.dump(model, paths[name])
    return paths, frame


def floor(path: Path, frame: pd.DataFrame) -> dict[str, float]:
    """The model alone, in this process: predict_proba on numpy, one row and 1,000 rows,
    and rows/s on one core (one thread everywhere, 10,000-row calls, median of 5)."""
    model = joblib.load(path)
    one, many = frame.to_numpy()[:1], frame.to_numpy()[:1000]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fitted with names, called with numpy, on purpose
        for _ in range(50):
            model.predict_proba(one)
        times = []
        for _ in range(500):
            started = time.perf_counter()
            model.predict_proba(one)
            times.append(time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(5):
            model.predict_proba(many)
        many_seconds = (time.perf_counter() - started) / 5
        big = frame.to_numpy()[:FLOOR_ROWS]
        big_seconds = []
        with threadpool_limits(limits=1):
            model.predict_proba(big)
            for _ in range(5):
                started = time.perf_counter()
                model.predict_proba(big)
                big_seconds.append(time.perf_counter() - started)
    return {
        "p50_ms": statistics.median(times) * 1000,
        "rows_per_s": 1000 / many_seconds,
        "rows_per_s_one_core": FLOOR_ROWS / statistics.median(big_seconds),
    }


_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "{authorization}"
local file = io.open("{body}", "rb")
wrk.body = file:read("*a")
file:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {{"requests": %d, "duration_us": %d, "errors": %d, "non_2xx": %d, "p50_us": %d, "p99_us": %d}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


def load(url: str, body: Path, connections: int, seconds: float, scripts: Path) -> dict[str, float]:
    """wrk at `connections` for `seconds`, with the bearer header; its summary and its CPU."""
    script = scripts / f"{body.stem}.lua"
    script.write_text(_LUA.format(body=body, authorization=AUTH["Authorization"]))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        [
            *("wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s"),
            *("--timeout", "10s", "-s", str(script), url),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT "))
    result: dict[str, float] = json.loads(line.removeprefix("RESULT "))
    result["wrk_cpu"] = (
        after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    ) / seconds
    return result


def bodies(frame: pd.DataFrame, work: Path, cases: list[tuple[int, int]]) -> dict[int, Path]:
    """A JSON list of the first `rows` rows, per case's rows."""
    paths = {}
    for rows, _ in cases:
        paths[rows] = work / f"body-{rows}.json"
        paths[rows].write_text(json.dumps(frame.iloc[:rows].to_dict("records")))
    return paths


def measure(
    model: str,
    servers: list[str],
    path: Path,
    frame: pd.DataFrame,
    work: Path,
    seconds: float,
    cases: list[tuple[int, int]],
    cold_starts: int,
) -> tuple[list[Point], dict[str, dict[str, float]]]:
    """Every case against every server, the servers up at once and loaded in turn, round by
    round (`ROUNDS`), so that a point and its reference share the machine's noise; each
    server checked for correct answers before and after (and, for modelport, that auth,
    metrics and the access log were on throughout)."""
    body = bodies(frame, work, cases)
    rounds: dict[tuple[str, int, int], list[dict[str, float]]] = {}
    peaks = dict.fromkeys(servers, 0.0)
    colds: dict[str, list[float]] = {}
    with ExitStack() as stack:
        up = {}
        for server in servers:
            log = work / f"{model}-{server}.log"
            url, cold_start, process = stack.enter_context(running(server, path, log))
            check(url, path, frame, tolerance(server))
            up[server] = (url, process, log)
            colds[server] = [cold_start]
        for rows, connections in cases:
            print(f"  {model}, {rows} row(s) x {connections} conn", flush=True)
            for url, _, _ in up.values():
                load(url, body[rows], connections, 1, work)  # warm-up
            for _ in range(ROUNDS):
                for server, (url, process, _) in up.items():
                    result = load(url, body[rows], connections, seconds, work)
                    rounds.setdefault((server, rows, connections), []).append(result)
                    peaks[server] = max(peaks[server], rss_mb(process))
        for server, (url, _, log) in up.items():
            check(url, path, frame, tolerance(server))
            if server.startswith("modelport"):
                check_deployed_defaults(url, log)
    for server in servers:
        for _ in range(cold_starts - 1):  # one start is too noisy a figure on a shared machine
            with running(server, path, work / f"{model}-{server}-start.log") as (_, start, _):
                colds[server].append(start)
    points = [_point(model, *key, results) for key, results in rounds.items()]
    starts = {
        server: {
            "cold_start_s": round(statistics.median(colds[server]), 3),
            "peak_rss_mb": round(peaks[server], 1),
        }
        for server in servers
    }
    return points, starts


def _point(
    model: str, server: str, rows: int, connections: int, rounds: list[dict[str, float]]
) -> Point:
    """One point from its rounds: requests over their time, the median p50, the worst p99."""
    requests_per_s = sum(r["requests"] for r in rounds) / (
        sum(r["duration_us"] for r in rounds) / 1e6
    )
    return Point(
        model,
        server,
        rows,
        connections,
        round(requests_per_s, 1),
        round(requests_per_s * rows, 1),
        round(statistics.median(r["p50_us"] for r in rounds) / 1000, 3),
        round(max(r["p99_us"] for r in rounds) / 1000, 3),
        int(sum(r["errors"] + r["non_2xx"] for r in rounds)),
        round(statistics.mean(r["wrk_cpu"] for r in rounds), 2),
    )


def measure_monitoring(
    path: Path, frame: pd.DataFrame, work: Path, seconds: float
) -> dict[str, float]:
    """rf, 1 row, 64 connections: modelport with the prediction log and drift on, and with
    both off. Both servers run at once and take turns under load, so they share the noise."""
    body = bodies(frame, work, [(1, 64)])[1]
    on, off = monitoring_settings(work)
    totals = {"on": [0.0, 0.0], "off": [0.0, 0.0]}  # requests, seconds
    with (
        running("modelport", path, work / "monitoring-on.log", on) as (url_on, _, _),
        running("modelport", path, work / "monitoring-off.log", off) as (url_off, _, _),
    ):
        urls = {"on": url_on, "off": url_off}
        for url in urls.values():
            check(url, path, frame, tolerance("modelport"))
            load(url, body, 64, 1, work)  # warm-up
        for _ in range(MONITORING_ROUNDS):
            for variant, url in urls.items():
                result = load(url, body, 64, seconds, work)
                totals[variant][0] += result["requests"] - result["non_2xx"] - result["errors"]
                totals[variant][1] += result["duration_us"] / 1e6
        for variant, url in urls.items():
            check(url, path, frame, tolerance("modelport"))
            check_deployed_defaults(url, work / f"monitoring-{variant}.log")
    return {variant: round(n / s, 1) for variant, (n, s) in totals.items()}


def table(
    points: list[Point],
    floors: dict[str, dict[str, float]],
    starts: dict[tuple[str, str], dict[str, float]],
    servers: list[str],
    cases: list[tuple[int, int]],
    cold_starts: int = COLD_STARTS,
) -> str:
    """Markdown: per model and case, each server's figure and modelport's ratios.

    Ratios are to FastAPI for every modelport server, and to Flask for the default one,
    for whichever of those baselines ran. The reference gets a column, not a ratio: the
    targets' table compares with it.
    """
    lines = []
    ours = [s for s in servers if s.startswith("modelport")]
    pairs = [(s, "fastapi") for s in ours if "fastapi" in servers]
    pairs += [("modelport", "flask")] if {"modelport", "flask"} <= set(servers) else []
    names = [f"{s} (reference)" if s == REFERENCE else s for s in servers]
    for model in floors:
        lines.append(f"\n### {model}\n")
        header = ["case", "floor (in-process)", *names, *[f"{a} / {b}" for a, b in pairs]]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for rows, connections in cases:
            by_server = {
                p.server: p
                for p in points
                if p.model == model and p.rows == rows and p.connections == connections
            }
            if rows == 1:
                case = f"1 row, {connections} conn: req/s (p50 ms)"
                figure = {
                    s: f"{p.requests_per_s:,.0f} ({p.p50_ms:.2f})" for s, p in by_server.items()
                }
                floor_cell = f"p50 {floors[model]['p50_ms']:.3f} ms" if connections == 1 else "-"
            else:
                case = f"{rows} rows, {connections} conn: rows/s"
                figure = {s: f"{p.rows_per_s:,.0f}" for s, p in by_server.items()}
                floor_cell = f"{floors[model]['rows_per_s']:,.0f}"
            ratios = [
                f"{by_server[a].rows_per_s / by_server[b].rows_per_s:.1f}x"
                if {a, b} <= by_server.keys()
                else "-"
                for a, b in pairs
            ]
            cells = [figure.get(s, "-") for s in servers]
            lines.append("| " + " | ".join([case, floor_cell, *cells, *ratios]) + " |")
        cold = [_start(starts, model, s, "cold_start_s", "{:.2f} s") for s in servers]
        rss = [_start(starts, model, s, "peak_rss_mb", "{:.0f} MB") for s in servers]
        blank = " |" * len(pairs)
        median = f", median of {cold_starts}" if cold_starts > 1 else ""
        lines.append(
            f"| cold start (process start → first answer{median}) | - | "
            + " | ".join(cold)
            + " |"
            + blank
        )
        lines.append("| peak RSS | - | " + " | ".join(rss) + " |" + blank)
    return "\n".join(lines) + "\n"


def _start(
    starts: dict[tuple[str, str], dict[str, float]], model: str, server: str, key: str, form: str
) -> str:
    return form.format(starts[(model, server)][key]) if (model, server) in starts else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="seconds of load per point")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--servers", default=SERVERS, help="comma-separated")
    parser.add_argument("--models", default="rf,lr", help="comma-separated: rf, lr")
    parser.add_argument(
        "--limit",
        action="store_true",
        help=f"only the targets' points: rf on {LIMIT_SERVERS}, one start each, "
        "and the monitoring pair; writes limit.json and limit.md",
    )
    args = parser.parse_args()
    servers = (LIMIT_SERVERS if args.limit else args.servers).split(",")
    models = ["rf"] if args.limit else args.models.split(",")
    cases = LIMIT_CASES if args.limit else CASES
    cold_starts = 1 if args.limit else COLD_STARTS
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="modelport-bench-") as folder:
        work = Path(folder)
        paths, frame = build_models(work)
        paths = {name: path for name, path in paths.items() if name in models}
        floors = {name: floor(path, frame) for name, path in paths.items()}
        points, starts = [], {}
        for model, path in paths.items():
            print(f"{model} on {', '.join(servers)} ...", flush=True)
            measured, started = measure(
                model, servers, path, frame, work, args.seconds, cases, cold_starts
            )
            points += measured
            starts |= {(model, server): start for server, start in started.items()}
        monitoring = None
        if "rf" in paths and "modelport" in servers:
            print("rf on modelport, prediction log and drift on, and off ...", flush=True)
            monitoring = measure_monitoring(paths["rf"], frame, work, args.seconds)
    targets = limit_targets(points, floors, monitoring)
    record = {
        "floors": floors,
        "points": [asdict(p) for p in points],
        "starts": [{"model": m, "server": s, **v} for (m, s), v in starts.items()],
        "monitoring_req_per_s": monitoring,
        "targets": [asdict(t) | {"met": t.met} for t in targets],
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
    }
    stem = "limit" if args.limit else "results"
    (args.out / f"{stem}.json").write_text(json.dumps(record, indent=2))
    markdown = table(points, floors, starts, servers, cases, cold_starts) + _targets_section(
        targets
    )
    (args.out / f"{stem}.md").write_text(markdown)
    print(markdown)


def _targets_section(targets: list[Target]) -> str:
    if not targets:
        return ""
    return "\n### targets (rf), each against its reference in this run\n\n" + targets_table(targets)


if __name__ == "__main__":
    main()
