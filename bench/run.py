"""`make bench`: modelport against tutorial-style Flask and FastAPI servers, in one run.

Each server serves the same model file; `wrk` drives each from 127.0.0.1; the in-process
floor is the model's own `predict_proba` on numpy with no server. Results are written as
JSON records and a Markdown table of ratios to the baselines of the same run, since
absolute numbers drift on shared machines.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import joblib
import numpy as np
import pandas as pd
import psutil
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CASES = [  # (rows per request, connections)
    (1, 1),
    (1, 8),
    (1, 64),
    (1000, 8),
]
COLD_STARTS = 3
"""Starts per server; the median is reported."""


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
    """The model alone, in this process: predict_proba on numpy, one row and 1,000 rows."""
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
    return {"p50_ms": statistics.median(times) * 1000, "rows_per_s": 1000 / many_seconds}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(server: str, path: Path, port: int) -> tuple[list[str], str, dict[str, str]]:
    """The command, the predict URL path and extra environment for one server."""
    env = {"BENCH_MODEL_PATH": str(path)}
    if server == "flask":
        return (
            [
                str(BIN / "gunicorn"),
                "-w",
                "1",
                "-b",
                f"127.0.0.1:{port}",
                "bench.baselines.flask_app:app",
            ],
            "/predict",
            env,
        )
    if server == "fastapi":
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.baselines.fastapi_app:app",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        return command, "/predict", env
    # modelport, modelport-onnx, modelport-w2 (two workers), modelport-onnx-w2 ...
    options = server.split("-")[1:]
    command = [
        sys.executable,
        "-m",
        "modelport",
        "serve",
        str(path),
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    for option in options:
        command += ["--workers", option[1:]] if option.startswith("w") else ["--runtime", option]
    return command, "/predict?proba=1", env


@contextmanager
def running(
    server: str, path: Path, log: Path, settings: dict[str, str] | None = None
) -> Iterator[tuple[str, float, psutil.Process]]:
    """A started server: its predict URL, its cold start in seconds, and its process.

    `settings` are extra environment variables (`MODELPORT_*`) for the server.
    """
    port = free_port()
    command, route, env = server_command(server, path, port)
    env |= settings or {}
    started = time.perf_counter()
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=os.environ | env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}{route}"
    try:
        body = [{f"f{i}": 0.0 for i in range(20)}]
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.post(url, json=body, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{server} did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.02)
        yield url, time.perf_counter() - started, psutil.Process(process.pid)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def check(url: str, path: Path, frame: pd.DataFrame, tolerance: float) -> None:
    """The server's probabilities must be the model's own, within `tolerance`."""
    rows = frame.iloc[100:105]
    answer = httpx.post(url, json=rows.to_dict("records"), timeout=30).json()["prediction"]
    served = np.array([list(row.values()) if isinstance(row, dict) else row for row in answer])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = joblib.load(path).predict_proba(rows)
    if not np.allclose(served, expected, atol=tolerance, rtol=0):
        raise AssertionError(
            f"{url} answered {served.tolist()}, the model says {expected.tolist()}"
        )


def rss_mb(process: psutil.Process) -> float:
    """Resident memory of a server and its workers."""
    processes = [process, *process.children(recursive=True)]
    return sum(p.memory_info().rss for p in processes if p.is_running()) / 2**20


_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
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
    """wrk at `connections` for `seconds`; returns its summary and its own CPU share."""
    script = scripts / f"{body.stem}.lua"
    script.write_text(_LUA.format(body=body))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
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


def measure(
    model: str, server: str, path: Path, frame: pd.DataFrame, work: Path, seconds: float
) -> tuple[list[Point], dict[str, float]]:
    """Every case against one server, checked for correct answers before and after."""
    bodies = {}
    for rows, _ in CASES:
        bodies[rows] = work / f"body-{rows}.json"
        bodies[rows].write_text(json.dumps(frame.iloc[:rows].to_dict("records")))
    points, peak = [], 0.0
    with running(server, path, work / f"{model}-{server}.log") as (url, cold_start, process):
        check(url, path, frame, 1e-5 if server.endswith("onnx") else 1e-9)
        for rows, connections in CASES:
            load(url, bodies[rows], connections, 1, work)  # warm-up
            result = load(url, bodies[rows], connections, seconds, work)
            peak = max(peak, rss_mb(process))
            requests_per_s = result["requests"] / (result["duration_us"] / 1e6)
            points.append(
                Point(
                    model,
                    server,
                    rows,
                    connections,
                    round(requests_per_s, 1),
                    round(requests_per_s * rows, 1),
                    round(result["p50_us"] / 1000, 3),
                    round(result["p99_us"] / 1000, 3),
                    int(result["errors"] + result["non_2xx"]),
                    round(result["wrk_cpu"], 2),
                )
            )
        check(url, path, frame, 1e-5 if server.endswith("onnx") else 1e-9)
    starts = [cold_start]
    for _ in range(COLD_STARTS - 1):  # one start is too noisy a figure on a shared machine
        with running(server, path, work / f"{model}-{server}-start.log") as (_, seconds, _):
            starts.append(seconds)
    cold = statistics.median(starts)
    return points, {"cold_start_s": round(cold, 3), "peak_rss_mb": round(peak, 1)}


def table(
    points: list[Point],
    floors: dict[str, dict[str, float]],
    starts: dict[tuple[str, str], dict[str, float]],
    servers: list[str],
) -> str:
    """Markdown: per model and case, each server's figure and modelport's ratios.

    Ratios are to FastAPI for every modelport server, and to Flask for the default one,
    for whichever of those baselines ran.
    """
    lines = []
    ours = [s for s in servers if s.startswith("modelport")]
    pairs = [(s, "fastapi") for s in ours if "fastapi" in servers]
    pairs += [("modelport", "flask")] if {"modelport", "flask"} <= set(servers) else []
    for model in floors:
        lines.append(f"\n### {model}\n")
        header = ["case", "floor (in-process)", *servers, *[f"{a} / {b}" for a, b in pairs]]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for rows, connections in CASES:
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
            ratios = [f"{by_server[a].rows_per_s / by_server[b].rows_per_s:.1f}x" for a, b in pairs]
            lines.append(
                "| " + " | ".join([case, floor_cell, *[figure[s] for s in servers], *ratios]) + " |"
            )
        cold = [f"{starts[(model, s)]['cold_start_s']:.2f} s" for s in servers]
        rss = [f"{starts[(model, s)]['peak_rss_mb']:.0f} MB" for s in servers]
        blank = " |" * len(pairs)
        lines.append(
            "| cold start (process start → first answer, median of 3) | - | "
            + " | ".join(cold)
            + " |"
            + blank
        )
        lines.append("| peak RSS | - | " + " | ".join(rss) + " |" + blank)
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="seconds of load per point")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--servers",
        default="flask,fastapi,modelport,modelport-onnx,modelport-w2",
        help="comma-separated",
    )
    parser.add_argument("--models", default="rf,lr", help="comma-separated: rf, lr")
    args = parser.parse_args()
    servers = args.servers.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="modelport-bench-") as folder:
        work = Path(folder)
        paths, frame = build_models(work)
        paths = {name: path for name, path in paths.items() if name in args.models.split(",")}
        floors = {name: floor(path, frame) for name, path in paths.items()}
        points, starts = [], {}
        for model, path in paths.items():
            for server in servers:
                print(f"{model} on {server} ...", flush=True)
                measured, start = measure(model, server, path, frame, work, args.seconds)
                points += measured
                starts[(model, server)] = start
    record = {
        "floors": floors,
        "points": [asdict(p) for p in points],
        "starts": [{"model": m, "server": s, **v} for (m, s), v in starts.items()],
        "cpus": os.cpu_count(),
    }
    (args.out / "results.json").write_text(json.dumps(record, indent=2))
    markdown = table(points, floors, starts, servers)
    (args.out / "results.md").write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
