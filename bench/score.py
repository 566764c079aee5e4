"""`make bench-score`: `modelport score` against the model alone and a hand-written script.

The same table (20 float features, as CSV and as Parquet) is scored three ways: by
`modelport score` in its own process; by the short pandas script a user writes instead
(read, predict_proba, write), in its own process; and, for the floor, by the model's own
`predict_proba` in this process on a DataFrame already in memory, with no reading, writing
or start-up at all. Figures are ratios to the baselines of the same run, each the median of
a few runs with modelport and the script taking turns, since absolute numbers drift on a
shared machine. Peak RSS is each child process's own, so a small and a large input compare.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
from run import build_models  # bench/run.py, beside this script: the same two models

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FEATURES = [f"f{i}" for i in range(20)]
CASES = [("csv", "parquet"), ("parquet", "parquet"), ("csv", "sqlite")]
"""(input, output) kinds scored at the large size; CSV → Parquet also at the small one."""
NAMES = {"csv": "CSV", "parquet": "Parquet", "sqlite": "SQLite"}
FLOOR_TARGET = 1.0
"""rf, CSV → Parquet: modelport's rows/s at least this times the predict_proba floor's."""
SCRIPT_TARGET = 1.7
"""rf, CSV → Parquet: modelport's rows/s at least this times the plain script's."""
FLAT_RSS = 1.2
"""Peak RSS counts as flat when the large input's is at most this times the small one's."""

PLAIN_SCRIPT = """
import sqlite3
import sys

import joblib
import pandas as pd

bundle, source, output = sys.argv[1:]
model = joblib.load(bundle)
model = model["model"] if isinstance(model, dict) else model
X = pd.read_parquet(source) if source.endswith(".parquet") else pd.read_csv(source)
proba = model.predict_proba(X)
predictions = pd.DataFrame(proba, columns=[f"proba_{label}" for label in model.classes_])
if output.endswith(".db"):
    with sqlite3.connect(output) as db:
        predictions.to_sql("predictions", db, index=False)
else:
    predictions.to_parquet(output, index=False)
"""
"""What a user writes by hand: the whole table in memory, probabilities only (modelport also
writes the run id, row number, label, model name, hash and time of each row)."""

MEASURE = """
import resource, subprocess, sys, time

started = time.perf_counter()
code = subprocess.call(sys.argv[2:])
seconds = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as figures:
    figures.write(f"{seconds} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}")
sys.exit(code)
"""
"""Runs a command, then writes its wall time, CPU time and peak RSS to a file. A small, fresh
parent: a child forked from this large process would count this process's memory as its own
peak (Linux keeps the high-water mark of the memory a process had before exec)."""

Case = tuple[str, str]
Key = tuple[str, str, Case, int]
"""(model, runner, case, rows); runner is "modelport" or "script"."""


@dataclass(frozen=True)
class Timing:
    """One measured run: rows scored, wall and CPU seconds, peak RSS (None: not measured)."""

    rows: int
    seconds: float
    cpu_s: float
    rss_mb: float | None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds


def median(runs: list[Timing]) -> Timing:
    """The run of median wall time (the lower middle one of an even number)."""
    return sorted(runs, key=lambda run: run.seconds)[(len(runs) - 1) // 2]


def estimator(bundle: Path) -> Any:
    """The bundle's estimator: a `{"model": ...}` dict's, or the bare pickled one."""
    content = joblib.load(bundle)
    return content["model"] if isinstance(content, dict) else content


def write_inputs(work: Path, frame: pd.DataFrame, sizes: list[int]) -> dict[tuple[str, int], Path]:
    """The first `rows` rows of `frame` as a CSV file and a Parquet file, for each size."""
    paths = {}
    for rows in sizes:
        table = pa.Table.from_pandas(frame.iloc[:rows], preserve_index=False)
        paths["csv", rows] = work / f"input-{rows}.csv"
        pyarrow.csv.write_csv(table, paths["csv", rows])
        paths["parquet", rows] = work / f"input-{rows}.parquet"
        pq.write_table(table, paths["parquet", rows])
    return paths


def floor(bundle: Path, frame: pd.DataFrame, repeat: int) -> tuple[Timing, np.ndarray]:
    """The model alone on one core: `predict_proba` of a DataFrame in memory.

    Also returns the probabilities, which every modelport output is checked against.
    """
    model = estimator(bundle)
    runs = []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        proba = model.predict_proba(frame)
        runs.append(
            Timing(len(frame), time.perf_counter() - started, time.process_time() - cpu, None)
        )
    return median(runs), proba


def run_child(command: list[str], log: Path, rows: int) -> Timing:
    """One process, start to exit, measured by MEASURE; its output goes to `log`."""
    figures = log.with_suffix(".rusage")
    with log.open("wb") as output:
        completed = subprocess.run(
            [sys.executable, "-c", MEASURE, str(figures), *command],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    if completed.returncode:
        raise RuntimeError(
            f"{' '.join(command[:5])} ... exited with {completed.returncode}:\n"
            f"{log.read_text()[-3000:]}"
        )
    seconds, cpu, kilobytes = figures.read_text().split()
    return Timing(rows, float(seconds), float(cpu), int(kilobytes) / 1024)  # Linux: kilobytes


def modelport(bundle: Path, source: Path, output: str, log: Path, rows: int, *extra: str) -> Timing:
    """`modelport score` as a user runs it, in its own process."""
    command = [sys.executable, "-m", "modelport", "score", str(bundle), str(source)]
    return run_child([*command, "--output", output, "--proba", "-q", *extra], log, rows)


def script(bundle: Path, source: Path, output: str, log: Path, rows: int) -> Timing:
    """The hand-written pandas script, in its own process."""
    command = [sys.executable, "-c", PLAIN_SCRIPT, str(bundle), str(source), output]
    return run_child(command, log, rows)


def outputs(work: Path, name: str, kind: str) -> tuple[str, str]:
    """Fresh outputs of `kind` for modelport and for the script."""
    base = work / "out" / name
    if kind == "sqlite":
        return f"sqlite:///{base}-modelport.db", f"{base}-script.db"
    return f"{base}-modelport", f"{base}-script.parquet"


def remove(output: str) -> None:
    """An output once measured (a million rows in SQLite take a few hundred MB)."""
    path = Path(output.removeprefix("sqlite:///"))
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def check(output: str, expected: np.ndarray) -> None:
    """modelport's output must hold every row once, with the model's own probabilities."""
    if output.startswith("sqlite:///"):
        with closing(sqlite3.connect(output.removeprefix("sqlite:///"))) as db:
            got = pd.read_sql('SELECT "row", proba_1 FROM predictions', db)
    else:
        got = pd.read_parquet(output, columns=["row", "proba_1"])
    got = got.sort_values("row")
    rows_ok = np.array_equal(got["row"].to_numpy(), np.arange(len(expected)))
    if not rows_ok or not np.allclose(got["proba_1"], expected[:, 1], rtol=0, atol=1e-9):
        raise AssertionError(f"{output} does not hold the model's probabilities of each row")


def planned(sizes: list[int]) -> list[tuple[Case, int]]:
    """Every case at the large size, then CSV → Parquet at the small one too."""
    small, large = sizes
    return [*[(case, large) for case in CASES], (CASES[0], small)]


def measure_case(
    model: str, bundle: Path, source: Path, kind: str, expected: np.ndarray, work: Path, repeat: int
) -> tuple[Timing, Timing]:
    """One case, modelport then the script, `repeat` times in turn (drift hits both alike)."""
    ours, theirs = [], []
    for attempt in range(repeat):
        name = f"{model}-{source.name}-{kind}-{attempt}"
        mine, plain = outputs(work, name, kind)
        log = work / f"{name}-modelport.log"
        ours.append(modelport(bundle, source, mine, log, len(expected)))
        check(mine, expected)
        theirs.append(script(bundle, source, plain, work / f"{name}-script.log", len(expected)))
        remove(mine)
        remove(plain)
    return median(ours), median(theirs)


def measure(
    model: str,
    bundle: Path,
    inputs: dict[tuple[str, int], Path],
    sizes: list[int],
    proba: np.ndarray,
    work: Path,
    repeat: int,
) -> dict[Key, Timing]:
    """Every planned case of one model, each the median of `repeat` runs."""
    timings: dict[Key, Timing] = {}
    for case, rows in planned(sizes):
        source, kind = case
        print(f"{model}: {NAMES[source]} → {NAMES[kind]}, {rows:,} rows ...", flush=True)
        ours, theirs = measure_case(
            model, bundle, inputs[source, rows], kind, proba[:rows], work, repeat
        )
        timings[model, "modelport", case, rows] = ours
        timings[model, "script", case, rows] = theirs
    return timings


def dask_scaling(
    bundle: Path, source: Path, proba: np.ndarray, work: Path, repeat: int
) -> dict[int, Timing]:
    """modelport on a local Dask cluster of 1, then 2, single-threaded worker processes."""
    from dask.distributed import LocalCluster

    timings = {}
    for workers in (1, 2):
        print(f"rf: Dask, {workers} worker(s), {len(proba):,} rows ...", flush=True)
        runs = []
        with LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster:
            for attempt in range(repeat):
                output = str(work / "out" / f"rf-dask-{workers}-{attempt}")
                log = work / f"dask-{workers}-{attempt}.log"
                scheduler = ["--engine", "dask", "--scheduler", cluster.scheduler_address]
                runs.append(modelport(bundle, source, output, log, len(proba), *scheduler))
                check(output, proba)
                remove(output)
        timings[workers] = median(runs)
    return timings


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _line(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _ratio(value: float) -> str:
    return f"{value:.2f}x"


def main_table(
    floors: dict[str, Timing], timings: dict[Key, Timing], sizes: list[int]
) -> list[str]:
    """Per model and case: each runner's figures, and ratios to the floor and the script."""
    header = ["model", "case", "rows", "runner", "seconds", "CPU s", "rows/s", "peak RSS MB"]
    lines = [_line(*header, "÷ floor", "modelport ÷ script"), "|" + "---|" * 10]
    for model, base in floors.items():
        lines.append(
            _line(
                model,
                "predict_proba, DataFrame in memory",
                f"{base.rows:,}",
                "floor",
                f"{base.seconds:.2f}",
                f"{base.cpu_s:.2f}",
                f"{base.rows_per_s:,.0f}",
                "-",
                "1.00x",
                "-",
            )
        )
        for (source, kind), rows in planned(sizes):
            ours = timings[model, "modelport", (source, kind), rows]
            theirs = timings[model, "script", (source, kind), rows]
            for runner, timing in (("modelport", ours), ("plain script", theirs)):
                versus = _ratio(ours.rows_per_s / theirs.rows_per_s) if timing is ours else "-"
                lines.append(
                    _line(
                        model,
                        f"{NAMES[source]} → {NAMES[kind]}",
                        f"{rows:,}",
                        runner,
                        f"{timing.seconds:.2f}",
                        f"{timing.cpu_s:.2f}",
                        f"{timing.rows_per_s:,.0f}",
                        _mb(timing.rss_mb),
                        _ratio(timing.rows_per_s / base.rows_per_s),
                        versus,
                    )
                )
    return lines


def rss_growth(timings: dict[Key, Timing], model: str, runner: str, sizes: list[int]) -> float:
    """Peak RSS of CSV → Parquet at the large size over that at the small size."""
    small, large = (timings[model, runner, CASES[0], rows].rss_mb or 0.0 for rows in sizes)
    return large / small


def rss_table(models: list[str], timings: dict[Key, Timing], sizes: list[int]) -> list[str]:
    """CSV → Parquet peak RSS at both sizes: flat for a chunked reader, growing for pandas."""
    small, large = sizes
    lines = [
        _line("model", "runner", f"RSS MB, {small:,} rows", f"RSS MB, {large:,} rows", "ratio"),
        "|---|---|---|---|---|",
    ]
    for model in models:
        for runner in ("modelport", "script"):
            sized = [_mb(timings[model, runner, CASES[0], rows].rss_mb) for rows in sizes]
            growth = _ratio(rss_growth(timings, model, runner, sizes))
            name = "plain script" if runner == "script" else runner
            lines.append(_line(model, name, *sized, growth))
    return lines


def dask_table(dask: dict[int, Timing], local: Timing) -> list[str]:
    """Dask engine rows/s with 1 and 2 workers, to each other and to the local engine."""
    lines = [
        _line(
            "workers", "seconds", "client CPU s", "rows/s", "client RSS MB", "÷ 1 worker", "÷ local"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for workers, timing in dask.items():
        lines.append(
            _line(
                str(workers),
                f"{timing.seconds:.2f}",
                f"{timing.cpu_s:.2f}",
                f"{timing.rows_per_s:,.0f}",
                _mb(timing.rss_mb),
                _ratio(timing.rows_per_s / dask[1].rows_per_s),
                _ratio(timing.rows_per_s / local.rows_per_s),
            )
        )
    return lines


def targets(
    floors: dict[str, Timing], timings: dict[Key, Timing], sizes: list[int]
) -> list[tuple[str, float, bool]]:
    """(target, measured, met): rf's CSV → Parquet speed, and every model's flat RSS."""
    found = []
    if "rf" in floors:
        ours = timings["rf", "modelport", CASES[0], sizes[1]].rows_per_s
        theirs = timings["rf", "script", CASES[0], sizes[1]].rows_per_s
        to_floor, to_script = ours / floors["rf"].rows_per_s, ours / theirs
        found += [
            (f"rf CSV → Parquet ≥ {FLOOR_TARGET}x the floor", to_floor, to_floor >= FLOOR_TARGET),
            (
                f"rf CSV → Parquet ≥ {SCRIPT_TARGET}x the script",
                to_script,
                to_script >= SCRIPT_TARGET,
            ),
        ]
    for model in floors:
        growth = rss_growth(timings, model, "modelport", sizes)
        target = f"{model} peak RSS flat, {sizes[0]:,} → {sizes[1]:,} rows (≤ {FLAT_RSS}x)"
        found.append((target, growth, growth <= FLAT_RSS))
    return found


def report(
    floors: dict[str, Timing],
    timings: dict[Key, Timing],
    sizes: list[int],
    dask: dict[int, Timing],
    context: str,
) -> str:
    """The whole Markdown report; `context` says how it was measured."""
    lines = [
        "# modelport score",
        "",
        context,
        "",
        *main_table(floors, timings, sizes),
        "",
        "## Peak RSS, CSV → Parquet",
        "",
        *rss_table(list(floors), timings, sizes),
    ]
    if dask:
        local = timings["rf", "modelport", CASES[0], sizes[1]]
        lines += ["", f"## Dask engine, rf, CSV → Parquet, {sizes[1]:,} rows", ""]
        lines += dask_table(dask, local)
    lines += ["", "## Targets", ""]
    for target, measured, met in targets(floors, timings, sizes):
        lines.append(f"- {target}: {_ratio(measured)}, {'met' if met else 'NOT met'}")
    return "\n".join(lines) + "\n"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the large input")
    parser.add_argument("--models", default="rf,lr", help="comma-separated: rf, lr")
    parser.add_argument("--quick", action="store_true", help="at most 100,000 rows")
    parser.add_argument("--skip-dask", action="store_true", help="no Dask engine runs")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median counts")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    large = min(args.rows, 100_000) if args.quick else args.rows
    sizes = [large // 10, large]  # the small size shows whether memory grows with the input
    load = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="modelport-bench-score-") as folder:
        work = Path(folder)
        (work / "out").mkdir()
        os.environ["DASK_TEMPORARY_DIRECTORY"] = str(work / "dask")  # for the workers' spill
        bundles, _ = build_models(work)
        bundles = {name: path for name, path in bundles.items() if name in args.models.split(",")}
        values = np.random.default_rng(0).standard_normal((large, len(FEATURES)))
        frame = pd.DataFrame(values, columns=FEATURES)
        print(f"writing inputs of {sizes[0]:,} and {large:,} rows ...", flush=True)
        inputs = write_inputs(work, frame, sizes)
        floors, timings, probas = {}, {}, {}
        for model, bundle in bundles.items():
            print(f"{model}: predict_proba floor ...", flush=True)
            floors[model], probas[model] = floor(bundle, frame, args.repeat)
            timings |= measure(model, bundle, inputs, sizes, probas[model], work, args.repeat)
        dask = {}
        if "rf" in bundles and not args.skip_dask:
            source = inputs["csv", large]
            dask = dask_scaling(bundles["rf"], source, probas["rf"], work, args.repeat)
    context = (
        f"{os.cpu_count()} CPUs; load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end; median of {args.repeat} runs each; "
        "20 float features; `--proba`; every modelport output checked against the floor's "
        "probabilities."
    )
    markdown = report(floors, timings, sizes, dask, context)
    (RESULTS / "score.md").write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
