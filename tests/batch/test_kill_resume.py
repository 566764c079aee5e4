"""A scoring process killed with SIGKILL, at several points, loses and duplicates nothing.

A real `modelport score` process is killed while it writes (after a given number of
committed chunks, or at a random moment that may fall inside a commit); `--resume` then
finishes the same run, and every input id appears exactly once in it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelport.store import open_store

N_ROWS = 30_000
CHUNK = 300
DEADLINE = 120.0


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Iris-shaped rows with a unique text id, a few invalid (they go to the rejects)."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        rng.uniform(0.1, 7.0, size=(N_ROWS, 4)),
        columns=["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"],
    ).round(3)
    frame.insert(0, "flower_id", [f"f-{i:06d}" for i in range(N_ROWS)])
    frame = frame.astype({"petal width (cm)": object})
    frame.loc[frame.index % 997 == 5, "petal width (cm)"] = "n/a"
    path = tmp_path_factory.mktemp("kill") / "flowers.csv"
    frame.to_csv(path, index=False)
    return path


def _command(bundle: Path, table: Path, output: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "modelport", "score", str(bundle), str(table),
        "--output", output, "--id-column", "flower_id", "--chunk-size", str(CHUNK),
        "--quiet", *extra,
    ]  # fmt: skip


def _committed(output: str) -> int:
    try:
        runs = open_store(output).runs()
    except Exception:  # the store may not exist yet, or be mid-write: ask again
        return 0
    return runs[-1].chunks_committed if runs else 0


def _start_and_kill(
    command: list[str], output: str, after_chunks: int | None, delay: float
) -> None:
    """Start scoring; SIGKILL it once `after_chunks` are committed (or after `delay` s)."""
    deadline = time.monotonic() + DEADLINE
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        try:
            if after_chunks is None:
                while _committed(output) < 1 and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(delay)
            else:
                while _committed(output) < after_chunks and time.monotonic() < deadline:
                    assert process.poll() is None, "the run failed"
                    time.sleep(0.002)
            assert process.poll() is None, "the run ended before it could be killed"
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)  # reaped: its pid no longer answers


def _output(kind: str, folder: Path) -> str:
    return {
        "sqlite": f"sqlite:///{folder / 'predictions.db'}",
        "parquet": str(folder / "out"),
        "csv": str(folder / "out.csv"),
    }[kind]


@pytest.mark.parametrize(
    ("kind", "after_chunks", "delay"),
    [
        ("sqlite", 1, 0.0),
        ("sqlite", 17, 0.0),
        ("sqlite", None, 0.137),
        ("parquet", 1, 0.0),
        ("parquet", 23, 0.0),
        ("parquet", None, 0.089),
        ("csv", 9, 0.0),
        ("csv", None, 0.051),
    ],
)
def test_killed_run_resumes_with_every_id_exactly_once(
    kind: str,
    after_chunks: int | None,
    delay: float,
    example_dir: Path,
    table: Path,
    tmp_path: Path,
):
    bundle = example_dir / "forest-multiclass.joblib"
    output = _output(kind, tmp_path)
    _start_and_kill(_command(bundle, table, output), output, after_chunks, delay)

    killed = open_store(output).runs()[-1]
    assert killed.status == "running"  # nobody has looked yet: it still says so
    assert 0 < killed.chunks_committed < N_ROWS // CHUNK

    resumed = subprocess.run(
        _command(bundle, table, output, "--resume"), capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr

    store = open_store(output)
    [run] = store.runs()
    assert (run.id, run.status) == (killed.id, "completed")
    predictions, rejects = store.rows(run.id), store.rejects(run.id)
    published = pd.concat([predictions["flower_id"], rejects["flower_id"]], ignore_index=True)
    expected = pd.read_csv(table, usecols=["flower_id"], dtype=str)["flower_id"]
    assert published.is_unique
    assert sorted(published) == sorted(expected)
    assert set(rejects["flower_id"]) == set(expected[expected.index % 997 == 5])
    assert (run.rows_read, run.rows_scored, run.rows_rejected) == (
        N_ROWS,
        len(predictions),
        len(set(rejects["flower_id"])),
    )


def test_a_killed_run_is_marked_interrupted_by_the_next_run(
    example_dir: Path, table: Path, tmp_path: Path
):
    bundle = example_dir / "forest-multiclass.joblib"
    output = _output("sqlite", tmp_path)
    _start_and_kill(_command(bundle, table, output), output, 3, 0.0)

    again = subprocess.run(_command(bundle, table, output), capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr

    first, second = open_store(output).runs()
    assert first.status == "interrupted" and "stopped before the end" in (first.error or "")
    assert second.status == "completed" and second.rows_read == N_ROWS
    rows = open_store(output).rows(second.id)
    assert rows["flower_id"].is_unique and rows["run_id"].eq(second.id).all()


def test_sigterm_records_the_run_as_interrupted(example_dir: Path, table: Path, tmp_path: Path):
    bundle = example_dir / "forest-multiclass.joblib"
    output = _output("parquet", tmp_path)
    process = subprocess.Popen(
        _command(bundle, table, output), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + DEADLINE
    while _committed(output) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "--resume" in stderr
    [run] = open_store(output).runs()
    assert run.status == "interrupted"
    assert 0 < run.chunks_committed < N_ROWS // CHUNK
