"""The servers the benchmarks start: their commands, a running one, and checks of its answers.

modelport runs as deployed by default: a client key from a keys file (auth on), metrics on,
and the access log at INFO, written to stderr and redirected to a file. Every request of
every server carries the same bearer header, so each gets the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import joblib
import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REFERENCE = "bare-onnx"
"""The reference point (the limit), not a baseline: bench/baselines/asgi_onnx_app.py."""
CALLER = "bench"
API_KEY = "bench-" + secrets.token_urlsafe(18)
AUTH = {"Authorization": f"Bearer {API_KEY}"}
ONNX_TOLERANCE = 1e-5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keys_file(folder: Path) -> Path:
    """A MODELPORT_API_KEYS_FILE with the benchmark's one client, as an operator writes it."""
    path = folder / "api-keys.txt"
    path.write_text(f"{CALLER}: {hashlib.sha256(API_KEY.encode()).hexdigest()}\n")
    return path


def _uvicorn(app: str, port: int) -> list[str]:
    return [
        *(sys.executable, "-m", "uvicorn", app, "--port", str(port)),
        *("--no-access-log", "--log-level", "warning"),
    ]


def server_command(
    server: str, path: Path, port: int, folder: Path
) -> tuple[list[str], str, dict[str, str]]:
    """The command, the predict URL path and extra environment for one server.

    modelport servers are named `modelport[-option...]`: `-onnx` for `--runtime onnx`,
    `-w2` for two workers (`modelport-onnx-w2`, ...).
    """
    env = {"BENCH_MODEL_PATH": str(path)}
    if server == "flask":
        gunicorn = [str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}"]
        return [*gunicorn, "bench.baselines.flask_app:app"], "/predict", env
    if server == "fastapi":
        return _uvicorn("bench.baselines.fastapi_app:app", port), "/predict", env
    if server == REFERENCE:
        return _uvicorn("bench.baselines.asgi_onnx_app:app", port), "/predict", env
    if not server.startswith("modelport"):
        raise ValueError(f"unknown server {server!r}")
    # The defaults, as deployed: no --log-level (INFO), metrics on, and a client key.
    command = [sys.executable, "-m", "modelport", "serve", str(path), "--port", str(port)]
    for option in server.split("-")[1:]:
        command += ["--workers", option[1:]] if option.startswith("w") else ["--runtime", option]
    env["MODELPORT_API_KEYS_FILE"] = str(keys_file(folder))
    return command, "/predict?proba=1", env


def tolerance(server: str) -> float:
    """How far a server's probabilities may be from the model's: ONNX runs in float32."""
    return ONNX_TOLERANCE if "onnx" in server else 1e-9


@contextmanager
def running(
    server: str, path: Path, log: Path, settings: dict[str, str] | None = None
) -> Iterator[tuple[str, float, psutil.Process]]:
    """A started server: its predict URL, its cold start in seconds, and its process.

    `settings` are extra environment variables (`MODELPORT_*`) for the server; its stdout
    and stderr (modelport's access log among them) go to `log`.
    """
    port = free_port()
    command, route, env = server_command(server, path, port, log.parent)
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
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.post(url, json=body, headers=AUTH, timeout=5).status_code == 200:
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
    answer = httpx.post(url, json=rows.to_dict("records"), headers=AUTH, timeout=30)
    answer.raise_for_status()
    prediction = answer.json()["prediction"]
    served = np.array([list(row.values()) if isinstance(row, dict) else row for row in prediction])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = joblib.load(path).predict_proba(rows)
    if served.shape != expected.shape or not np.allclose(served, expected, atol=tolerance, rtol=0):
        raise AssertionError(
            f"{url} answered {served.tolist()}, the model says {expected.tolist()}"
        )


_ACCESS_LINE = re.compile(rf'"POST /predict" 200 [0-9.]+ms caller={CALLER} ')


def check_deployed_defaults(url: str, log: Path) -> int:
    """A modelport server ran as deployed: its metrics counted the benchmark's caller (auth
    and metrics on) and its log holds an access line per request (INFO). Returns the lines.

    Raises:
        AssertionError: one of them is off.
    """
    base = url.split("/predict")[0]
    anonymous = httpx.post(url, json=[], timeout=10).status_code
    if anonymous != 401:
        raise AssertionError(f"{url} answered {anonymous} without a key: auth is off")
    metrics = httpx.get(f"{base}/metrics", headers=AUTH, timeout=10).text
    if f'caller="{CALLER}"' not in metrics:
        raise AssertionError(f"{base}/metrics does not count the caller {CALLER!r}")
    lines = len(_ACCESS_LINE.findall(log.read_text(errors="replace")))
    if not lines:
        raise AssertionError(f"{log} has no access line: the log is not at INFO")
    return lines


def rss_mb(process: psutil.Process) -> float:
    """Resident memory of a server and its workers."""
    processes = [process, *process.children(recursive=True)]
    return sum(p.memory_info().rss for p in processes if p.is_running()) / 2**20
