"""`make bench-overload`: modelport under 256 connections on the rf model, admission on and off.

wrk keeps 256 connections busy (one per wrk thread, so that a Lua state sees one connection
and can time each of its requests: wrk's own latency figures mix refused and answered
requests). wrk's clients send their next request at once, a 503 or not; with admission on,
the run is repeated with clients that wait the `Retry-After` they are told (as
`modelport.Client` does). Reported per mode: requests per second, the p50 and p99 latency
of the answered requests (200), the share of 503s, and the server's peak RSS sampled during
the load; with the 1-connection p50 and the idle RSS as references. modelport runs as
deployed (auth on, metrics on, the access log at INFO: see bench/servers.py). Results go to
bench/results/overload.json and overload.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from run import build_models  # bench/run.py and bench/servers.py, beside this script
from servers import AUTH, check, rss_mb, running

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CONNECTIONS = 256
WARM_UP_SECONDS = 2
OFF = {"MODELPORT_MAX_QUEUE_ROWS": "0", "MODELPORT_MAX_CONCURRENT_BODIES": "0"}


@dataclass(frozen=True)
class Mode:
    """A server's admission settings, and whether wrk's clients wait the Retry-After."""

    name: str
    settings: dict[str, str]
    waits: bool = False


def modes(queue_rows: list[str]) -> list[Mode]:
    """Admission off, then on with each MODELPORT_MAX_QUEUE_ROWS (`default`: unset)."""
    chosen = [Mode("off", OFF)]
    for rows in queue_rows:
        settings = {} if rows == "default" else {"MODELPORT_MAX_QUEUE_ROWS": rows}
        name = f"on, {rows} queue rows"
        chosen += [Mode(name, settings), Mode(name + ", clients wait Retry-After", settings, True)]
    return chosen


_LUA = """
-- @BODY@, @LATENCIES@ and @AUTHORIZATION@ are replaced: Lua's braces make str.format awkward
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *spec);
]]
local spec = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, spec)  -- CLOCK_MONOTONIC
  return tonumber(spec.tv_sec) * 1000000 + tonumber(spec.tv_nsec) / 1000
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "@AUTHORIZATION@"
local file = io.open("@BODY@", "rb")
wrk.body = file:read("*a")
file:close()

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  answered = {}
  statuses = {}
end

local sent_at = 0
local wait_ms = 0
@DELAY@

function request()
  sent_at = now_us()
  return wrk.format()
end

function response(status, headers, body)
  local took = now_us() - sent_at
  statuses[tostring(status)] = (statuses[tostring(status)] or 0) + 1
  if status == 200 then
    answered[#answered + 1] = took
  elseif status == 503 then
    wait_ms = 1000 * tonumber(headers["retry-after"] or headers["Retry-After"] or "1")
  end
end

function done(summary, latency, requests)
  local out = io.open("@LATENCIES@", "w")
  local counts = {}
  for _, thread in ipairs(threads) do
    for _, took in ipairs(thread:get("answered")) do
      out:write(string.format("%d\\n", took))
    end
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  out:close()
  local parts = {}
  for status, n in pairs(counts) do
    parts[#parts + 1] = string.format('"%s": %d', status, n)
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"duration_us": %d, "socket_errors": %d, "statuses": {%s}}\\n',
    summary.duration, e.connect + e.read + e.write + e.timeout, table.concat(parts, ", ")))
end
"""


_DELAY = """
function delay()  -- a client that waits the Retry-After it was told
  local ms = wait_ms
  wait_ms = 0
  return ms
end
"""


def wrk(
    url: str, body: Path, connections: int, seconds: int, work: Path, waits: bool = False
) -> dict[str, Any]:
    """wrk with one connection per thread; statuses, socket errors, answered latencies (µs)."""
    latencies = work / f"latencies-{connections}.txt"
    script = work / f"timed-{connections}.lua"
    text = _LUA.replace("@BODY@", str(body)).replace("@LATENCIES@", str(latencies))
    text = text.replace("@AUTHORIZATION@", AUTH["Authorization"])
    script.write_text(text.replace("@DELAY@", _DELAY if waits else ""))
    completed = subprocess.run(
        [
            *("wrk", f"-t{connections}", f"-c{connections}", f"-d{seconds}s"),
            *("--timeout", "10s", "-s", str(script), url),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 120,
    )
    line = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["answered_us"] = np.loadtxt(latencies, ndmin=1) if latencies.stat().st_size else []
    return result


class PeakRss(threading.Thread):
    """Samples a server's resident memory (its workers included) until stopped."""

    def __init__(self, process: psutil.Process, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.process, self.every = process, every
        self.peak = 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.peak = max(self.peak, rss_mb(self.process))


def summarise(result: dict[str, Any]) -> dict[str, float]:
    """req/s, answered p50/p99 in ms, and the share of 503s among the answers."""
    statuses = {int(status): n for status, n in result["statuses"].items()}
    total = sum(statuses.values())
    answered = np.asarray(result["answered_us"], dtype=float) / 1000
    return {
        "requests_per_s": round(total / (result["duration_us"] / 1e6), 1),
        "answered_per_s": round(statuses.get(200, 0) / (result["duration_us"] / 1e6), 1),
        "p50_ms": round(float(np.percentile(answered, 50)), 2) if answered.size else float("nan"),
        "p99_ms": round(float(np.percentile(answered, 99)), 2) if answered.size else float("nan"),
        "share_503": round(statuses.get(503, 0) / total, 4) if total else 0.0,
        "other_statuses": sum(n for status, n in statuses.items() if status not in (200, 503)),
        "socket_errors": result["socket_errors"],
    }


_LOADED_MB = """
import sys, joblib, psutil, sklearn.ensemble
before = psutil.Process().memory_info().rss
model = joblib.load(sys.argv[1])
print((psutil.Process().memory_info().rss - before) / 2**20)
"""


def model_mb(path: Path) -> float:
    """Memory the model takes once loaded: a fresh process's RSS growth when it loads it
    (this process reuses the memory its own fitting freed, and would show less)."""
    completed = subprocess.run(
        [sys.executable, "-c", _LOADED_MB, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return round(float(completed.stdout), 1)


def measure(
    mode: Mode, path: Path, frame: Any, work: Path, seconds: int, reference: bool
) -> dict[str, Any]:
    """One mode: idle RSS, the 1-connection p50 if `reference`, then 256 connections."""
    body = work / "body-1.json"
    body.write_text(json.dumps(frame.iloc[:1].to_dict("records")))
    log = work / "overload.log"
    with running("modelport", path, log, mode.settings) as (url, _, process):
        check(url, path, frame, 1e-9)
        time.sleep(1)
        point: dict[str, Any] = asdict(mode) | {"idle_rss_mb": round(rss_mb(process), 1)}
        if reference:
            wrk(url, body, 1, WARM_UP_SECONDS, work)
            one = summarise(wrk(url, body, 1, min(seconds, 10), work))
            point["one_connection_p50_ms"] = one["p50_ms"]
        wrk(url, body, CONNECTIONS, WARM_UP_SECONDS, work, mode.waits)
        sampler = PeakRss(process)
        sampler.start()
        busy_before = psutil.cpu_times()
        try:
            point |= summarise(wrk(url, body, CONNECTIONS, seconds, work, mode.waits))
        finally:
            sampler.stopped.set()
            sampler.join()
        point["peak_rss_mb"] = round(max(sampler.peak, rss_mb(process)), 1)
        busy = psutil.cpu_times()
        point["machine_idle_share"] = round(
            (busy.idle - busy_before.idle) / max(sum(busy) - sum(busy_before), 1e-9),
            3,
        )
        check(url, path, frame, 1e-9)
    return point


def table(points: list[dict[str, Any]], model: float, seconds: int) -> str:
    """Markdown: one row per mode, with the targets' verdicts."""
    reference = next(p["one_connection_p50_ms"] for p in points if "one_connection_p50_ms" in p)
    lines = [
        f"rf, 1 row per request, {CONNECTIONS} connections for {seconds} s; 1-connection p50 "
        f"{reference:.2f} ms; the model takes {model:.0f} MB once loaded.\n",
        "| admission | req/s (answered) | p50 / p99 of answered, ms | p99 / 1-conn p50 "
        "| 503s | idle RSS | peak RSS | peak / (1.5 x idle without the model + model) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        budget = 1.5 * (p["idle_rss_mb"] - model) + model
        lines.append(
            f"| {p['name']} | {p['requests_per_s']:,.0f} ({p['answered_per_s']:,.0f}) "
            f"| {p['p50_ms']:.1f} / {p['p99_ms']:.1f} | {p['p99_ms'] / reference:.1f}x "
            f"| {p['share_503']:.1%} | {p['idle_rss_mb']:.0f} MB | {p['peak_rss_mb']:.0f} MB "
            f"| {p['peak_rss_mb'] / budget:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=30, help="seconds of load per mode")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--max-queue-rows",
        default="default,32",
        help="comma-separated MODELPORT_MAX_QUEUE_ROWS to try with admission on (default: unset)",
    )
    args = parser.parse_args()
    chosen = modes(args.max_queue_rows.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="modelport-overload-") as folder:
        work = Path(folder)
        paths, frame = build_models(work)
        model = model_mb(paths["rf"])
        points = []
        for mode in chosen:
            print(f"rf, admission {mode.name} ...", flush=True)
            points.append(measure(mode, paths["rf"], frame, work, args.seconds, not points))
    record = {
        "model_mb": model,
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        "points": points,
    }
    (args.out / "overload.json").write_text(json.dumps(record, indent=2))
    markdown = table(points, model, args.seconds)
    (args.out / "overload.md").write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
