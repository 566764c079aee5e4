"""`make bench-profile` (bench/hotspots.py): where a modelport server's CPU goes under wrk, by py-spy.

For each runtime and case, a modelport server serves the benchmark's rf forest as deployed
(auth, metrics and the access log at INFO on: bench/servers.py), wrk loads it, and
`py-spy record` samples it for `--seconds`. The collapsed stacks are kept (`<name>.txt`;
speedscope.app and flamegraph.pl read them) and the top frames by own time (the frame was
running) and by total time (the frame was on the stack) are printed and written to
`<name>.md`. Percentages are of the samples taken while a thread was busy (py-spy leaves
out idle threads, such as the event loop waiting for sockets).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from run import bodies, build_models, load  # bench/run.py and servers.py, beside this script
from servers import ROOT, check_deployed_defaults, running

PY_SPY = Path(sys.executable).parent / "py-spy"
CASES = {"1x64": (1, 64), "1000x8": (1000, 8)}
RATE = 200
"""Samples per second: enough for a frame at 1 % to show in a 10 s profile."""
_THREAD = re.compile(r"^thread \(\d+\): (?P<name>[^;]*)")
_START_UP = re.compile(
    r"\((<frozen runpy>|typer/[^)]*|modelport/__main__\.py|modelport/cli\.py|modelport/api/server\.py"
    r"|uvicorn/server\.py|uvicorn/_compat\.py|asyncio/runners\.py|threading\.py)\)$"
)
"""Frames of the start-up chain, on every stack: left out of the total table."""
_PACKAGE_ROOT = re.compile(r"^.*?(/site-packages/|/src/|/lib/python3\.\d+/)")
_LOCATION = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def record(
    path: Path,
    frame: pd.DataFrame,
    runtime: str,
    case: str,
    seconds: int,
    work: Path,
    out: Path,
    py_spy_options: list[str],
) -> tuple[Path, dict[str, Any]]:
    """Serve `path` with `runtime`, load it with `case`, and record py-spy's collapsed stacks."""
    rows, connections = CASES[case]
    body = bodies(frame, work, [(rows, connections)])[rows]
    server = "modelport" if runtime == "native" else f"modelport-{runtime}"
    stacks = out / f"profile-{runtime}-{case}.txt"
    log = work / f"profile-{runtime}-{case}.log"
    with running(server, path, log) as (url, _, process):
        load(url, body, connections, 2, work)  # warm-up
        result: dict[str, Any] = {}
        loader = threading.Thread(
            target=lambda: result.update(load(url, body, connections, seconds + 2, work))
        )
        loader.start()
        # A paused thread looks busy to py-spy, so waits would count: it samples without
        # pausing, except with --native, which must pause the process to unwind C frames.
        pausing = [] if "--native" in py_spy_options else ["--nonblocking"]
        try:
            spy = subprocess.run(
                [
                    *(str(PY_SPY), "record", "--pid", str(process.pid), "--duration", str(seconds)),
                    *("--rate", str(RATE), "--format", "raw", "--function", "--threads"),
                    *pausing,
                    *py_spy_options,
                    *("--output", str(stacks)),
                ],
                capture_output=True,
                text=True,
                timeout=seconds + 120,
            )
        finally:
            loader.join()
        if spy.returncode:
            raise RuntimeError(f"py-spy failed:\n{spy.stderr[-2000:]}")
        check_deployed_defaults(url, log)
    requests_per_s = result["requests"] / (result["duration_us"] / 1e6)
    return stacks, {"requests_per_s": requests_per_s, "rows_per_s": requests_per_s * rows}


@dataclass
class Profile:
    """Samples per frame (own: it was running; total: it was on the stack) and per thread."""

    own: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    threads: Counter[str] = field(default_factory=Counter)

    @property
    def samples(self) -> int:
        return sum(self.own.values())


def parse(stacks: Path) -> Profile:
    """py-spy's collapsed stacks (`--threads`: each starts with its thread) as a Profile."""
    profile = Profile()
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        thread = _THREAD.match(stack)
        name = thread["name"] if thread else "-"
        stack = stack[thread.end() :] if thread else stack
        frames = [_short(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        profile.threads[name] += n
        profile.own[frames[-1]] += n
        profile.total.update(dict.fromkeys(set(frames), n))
    return profile


def _short(frame: str) -> str:
    """`function (module path)`: the file from its package down, without the line (py-spy
    shortens most paths so already; those it leaves whole are cut here)."""
    match = _LOCATION.match(frame)
    if not match:
        return frame
    file = _PACKAGE_ROOT.sub("", match["file"])
    return f"{match['function']} ({file})"


def _package(frame: str) -> str:
    """The top-level package (or standard module) of a shortened frame."""
    file = frame.rpartition(" (")[2].rstrip(")")
    return file.split("/", 1)[0].removesuffix(".py")


def report(stacks: Path, title: str, top: int) -> str:
    """Markdown: the top frames by own time and by total time (start-up chain left out)."""
    profile = parse(stacks)
    samples = profile.samples
    if not samples:
        return f"## {title}\n\nno samples\n"
    threads = ", ".join(f"{name} {n / samples:.0%}" for name, n in profile.threads.most_common())
    lines = [f"## {title}\n", f"{samples} busy samples at {RATE}/s; by thread: {threads}"]
    total = Counter({f: n for f, n in profile.total.items() if not _START_UP.search(f)})
    packages: Counter[str] = Counter()
    for frame, n in profile.own.items():
        packages[_package(frame)] += n
    tables = (("own %", "frame", profile.own), ("total %", "frame", total))
    tables += (("own %", "package", packages),)
    for share, what, counts in tables:
        lines += [f"\n| {share} | {what} |", "|---:|---|"]
        for frame, n in counts.most_common(top):
            lines.append(f"| {n / samples:.1%} | `{frame}` |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runtimes", default="native,onnx", help="comma-separated")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: 1x64, 1000x8")
    parser.add_argument("--seconds", type=int, default=10, help="seconds recorded per profile")
    parser.add_argument("--top", type=int, default=25, help="frames listed per table")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "profile")
    parser.add_argument(
        "--native",
        action="store_true",
        help="py-spy --native: C frames too (the process is paused per sample, so threads "
        "waiting on a lock or a queue count as busy)",
    )
    parser.add_argument("--gil", action="store_true", help="py-spy --gil: only GIL holders")
    args = parser.parse_args()
    options = ["--native"] * args.native + ["--gil"] * args.gil
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="modelport-profile-") as folder:
        work = Path(folder)
        paths, frame = build_models(work)
        for runtime in args.runtimes.split(","):
            for case in args.cases.split(","):
                print(f"rf, {runtime}, {case} ...", flush=True)
                stacks, figures = record(
                    paths["rf"], frame, runtime, case, args.seconds, work, args.out, options
                )
                rows, connections = CASES[case]
                title = (
                    f"rf, {runtime}, {rows} row(s) x {connections} conn: "
                    f"{figures['requests_per_s']:,.0f} req/s, {figures['rows_per_s']:,.0f} rows/s "
                    "under the profiler"
                )
                markdown = report(stacks, title, args.top)
                stacks.with_suffix(".md").write_text(markdown)
                print(markdown, flush=True)


if __name__ == "__main__":
    main()
