"""Review of the batch scorer: each test is one confirmed bug, asserting the right behaviour.

Interruptions are simulated in-process: a progress that raises KeyboardInterrupt after a given
number of committed chunks (what Ctrl-C does between two commits), and, for a process killed
between a Parquet part's rename and the manifest's update, a `save` that raises once at that
point.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from modelport import ModelportError, Settings
from modelport.batch import score_table
from modelport.batch.progress import Silent
from modelport.cli import app
from modelport.store import open_store
from modelport.store.parquet import ParquetStore
from modelport.store.runs import Run

runner = CliRunner()
IRIS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


@pytest.fixture(autouse=True)
def _restore_sigterm() -> Iterator[None]:
    """`score` installs a SIGTERM handler; give pytest its own back."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


@pytest.fixture
def iris(example_dir: Path) -> Path:
    return example_dir / "forest-multiclass.joblib"


def iris_frame(n: int, start: int = 0) -> pd.DataFrame:
    """`n` iris-shaped rows with integer ids from `start`."""
    rng = np.random.default_rng(start)
    frame = pd.DataFrame(rng.uniform(0.1, 7.0, size=(n, 4)).round(2), columns=IRIS)
    frame.insert(0, "id", np.arange(start, start + n))
    return frame


class _StopAfter(Silent):
    """Ctrl-C once `chunks` chunks are committed."""

    def __init__(self, chunks: int) -> None:
        self.left = chunks

    def advance(self, run: Run, fraction: float | None) -> None:
        self.left -= 1
        if self.left <= 0:
            raise KeyboardInterrupt


def score(
    bundle: Path, source: Path, output: str, *, stop_after: int | None = None, **settings: Any
) -> Run:
    settings.setdefault("quiet", True)
    progress = _StopAfter(stop_after) if stop_after else None
    return score_table(
        Settings(bundle_path=bundle, output=output, **settings), str(source), progress
    )


def interrupted(bundle: Path, source: Path, output: str, chunks: int, **settings: Any) -> None:
    with pytest.raises(KeyboardInterrupt):
        score(bundle, source, output, stop_after=chunks, **settings)


# --- lost or duplicated rows ----------------------------------------------------------------


def test_parquet_resume_counts_an_unrecorded_part_that_has_rejects(
    iris: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Killed after chunk 2's part file was renamed into place, before `_runs.json` counted
    it; that chunk has rejects. `reconciled` calls `.length()` on a pyarrow Array (it has no
    such method): AttributeError, and the run can never be resumed."""
    frame = iris_frame(500).astype({"petal width (cm)": object})
    frame.loc[[250, 260], "petal width (cm)"] = "n/a"  # two rejects in chunk 2 (rows 200-299)
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    output = str(tmp_path / "out")

    save = ParquetStore.save
    fired: list[bool] = []

    def killed_before_recording_chunk_2(self: ParquetStore, run: Run) -> None:
        if run.status == "running" and run.chunks_committed == 3 and not fired:
            fired.append(True)
            raise KeyboardInterrupt  # the part file is in place, the manifest not updated
        save(self, run)

    monkeypatch.setattr(ParquetStore, "save", killed_before_recording_chunk_2)
    with pytest.raises(KeyboardInterrupt):
        score(iris, source, output, chunk_size=100, id_column="id")
    monkeypatch.setattr(ParquetStore, "save", save)

    run = score(iris, source, output, chunk_size=100, id_column="id", resume="latest")
    assert (run.status, run.rows_read, run.rows_scored, run.rows_rejected) == (
        "completed",
        500,
        498,
        2,
    )
    with open_store(output) as store:
        assert sorted(store.rows()["id"].astype(int)) == sorted(set(range(500)) - {250, 260})


def test_resume_on_an_input_that_changed_does_not_mix_two_inputs(iris: Path, tmp_path: Path):
    """Interrupted after 2 chunks; then 50 rows are added at the top of the file (the nightly
    export was refreshed) and the cron line runs with --resume. The run records only the
    input's path, so it resumes at row 200 of the new file: rows 150-199 of the old file are
    published twice and the 50 new rows never. It must refuse (or start over), not publish
    a mix of both files as one completed run."""
    source = tmp_path / "in.csv"
    old = iris_frame(1000).drop(columns="id")
    old.to_csv(source, index=False)
    output = str(tmp_path / "out")
    interrupted(iris, source, output, 2, chunk_size=100, proba=True)

    new = pd.concat([iris_frame(50, start=5000).drop(columns="id"), old], ignore_index=True)
    new.to_csv(source, index=False)
    try:
        run = score(iris, source, output, chunk_size=100, proba=True, resume="latest")
    except ModelportError:
        return  # refused: the right answer
    fresh = score(iris, source, str(tmp_path / "fresh"), chunk_size=100, proba=True)
    with open_store(output) as store:
        published = store.rows(run.id).sort_values("row").reset_index(drop=True)
    with open_store(str(tmp_path / "fresh")) as store:
        expected = store.rows(fresh.id).sort_values("row").reset_index(drop=True)
    columns = ["row", "prediction", "proba_setosa", "proba_versicolor", "proba_virginica"]
    pd.testing.assert_frame_equal(published[columns], expected[columns])


# --- wrong data -----------------------------------------------------------------------------


def test_a_failed_run_on_a_csv_output_leaves_other_runs_ids_as_written(iris: Path, tmp_path: Path):
    """A failed run's rows are removed by rewriting the CSV file from `pd.read_csv` with
    inferred types: another (completed) run's text ids "00000".."00005" become 0..5."""
    first = iris_frame(6)
    first["id"] = [f"{i:05d}" for i in range(6)]
    first.to_csv(tmp_path / "a.csv", index=False)
    output = str(tmp_path / "out.csv")
    done = score(iris, tmp_path / "a.csv", output, id_column="id")

    second = iris_frame(6, start=10)
    second["id"] = ["10", "11", "12", "13", "14", "10"]  # a duplicate in the 2nd chunk
    second.to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(ModelportError, match="more than once"):
        score(iris, tmp_path / "b.csv", output, id_column="id", chunk_size=3)

    written = pd.read_csv(output, dtype=str)
    assert written[written["run_id"] == done.id]["id"].tolist() == [f"{i:05d}" for i in range(6)]


def test_a_csv_output_reads_text_ids_back_as_written(iris: Path, tmp_path: Path):
    """CSV input ids are text ("00123" stays "00123", says readers.py); the CSV store reads
    them back with inferred types: "007" and "7" both become 7, and latest(["007"]) is empty."""
    frame = iris_frame(3)
    frame["id"] = ["007", "7", "8"]
    frame.to_csv(tmp_path / "in.csv", index=False)
    output = str(tmp_path / "out.csv")
    score(iris, tmp_path / "in.csv", output, id_column="id")
    with open_store(output) as store:
        assert store.rows()["id"].tolist() == ["007", "7", "8"]
        assert store.latest(["007"])["id"].tolist() == ["007"]


def test_latest_finds_integer_ids_of_a_csv_input_in_a_parquet_store(iris: Path, tmp_path: Path):
    """README: `store.latest([17, 42])` after scoring customers.csv (ids 1..3000). CSV ids are
    published as text; the Parquet store compares them to ints with `isin`: nothing found.
    (The SQLite and CSV stores find both, whichever type the ids are given in.)"""
    iris_frame(50).to_csv(tmp_path / "in.csv", index=False)
    output = str(tmp_path / "out")
    score(iris, tmp_path / "in.csv", output, id_column="id")
    with open_store(output) as store:
        assert len(store.latest([17, 42])) == 2
        assert len(store.latest(["17", "42"])) == 2


def test_a_fractional_json_id_in_a_later_chunk_is_not_truncated(iris: Path, tmp_path: Path):
    """The id's kind is fixed by the first chunk (integers); a later chunk's 4.5 is cast with
    `to_numpy(dtype=int64)`, published as 4 beside the real id 4: two rows with id 4."""
    rows = [dict(zip(IRIS, [5.1, 3.5, 1.4, 0.2], strict=True), id=i) for i in range(6)]
    rows[5]["id"] = 4.5
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    output = str(tmp_path / "out")
    try:
        score(iris, source, output, id_column="id", chunk_size=2)
    except ModelportError:
        return  # refusing an id of another kind is fine
    with open_store(output) as store:
        ids = store.rows()["id"].tolist()
    assert len(ids) == len(set(ids)) == 6
    assert 4.5 in ids or "4.5" in ids


def test_a_parquet_output_reads_as_one_table_after_runs_with_other_columns(
    iris: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """README: a folder output reads as one table in pandas, pyarrow, DuckDB and Spark. A run
    with --proba after one without writes parts with more columns; pyarrow's dataset takes the
    first file's schema and drops them silently (the SQL store widens its table, the CSV store
    refuses the run). Either refuse the second run or keep the columns readable. (Run ids are
    fixed so that the runs' part files sort in the order the runs started, as they do a
    second apart; within one second the random suffix decides.)"""
    from modelport.batch import job

    ids = iter(["20260101T000000Z-000001", "20260101T000001Z-000002"])
    monkeypatch.setattr(job, "new_run_id", lambda started: next(ids))
    iris_frame(6).to_csv(tmp_path / "in.csv", index=False)
    output = str(tmp_path / "out")
    score(iris, tmp_path / "in.csv", output, id_column="id")
    try:
        score(iris, tmp_path / "in.csv", output, id_column="id", proba=True)
    except ModelportError:
        return
    table = pd.read_parquet(output)
    assert {"proba_setosa", "proba_versicolor", "proba_virginica"} <= set(table.columns)


# --- error paths ----------------------------------------------------------------------------


def test_a_text_json_id_in_a_later_chunk_fails_the_run_in_one_line(iris: Path, tmp_path: Path):
    """First chunk's ids are integers, a later one holds "a4": `int('a4')` raises ValueError,
    which escapes as a traceback, and the run is recorded `interrupted` (resumable, though
    the input is wrong) instead of `failed`."""
    rows = [dict(zip(IRIS, [5.1, 3.5, 1.4, 0.2], strict=True), id=i) for i in range(6)]
    rows[4]["id"] = "a4"
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    output = str(tmp_path / "out")
    command = ["score", str(iris), str(source), "-o", output, "--id-column", "id"]
    result = runner.invoke(app, [*command, "--chunk-size", "2", "-q"])
    assert result.exit_code == 1, result.exception
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    with open_store(output) as store:
        assert [run.status for run in store.runs()] == ["failed"]


@pytest.mark.parametrize("name", ["out", "out.csv"])
def test_an_output_that_cannot_be_written_is_one_error_line(iris: Path, tmp_path: Path, name: str):
    """A file output under a path that is a file: NotADirectoryError / FileExistsError escape
    `begin` as tracebacks (only StoreError is caught)."""
    iris_frame(6).to_csv(tmp_path / "in.csv", index=False)
    (tmp_path / "afile").write_text("")
    result = runner.invoke(
        app,
        ["score", str(iris), str(tmp_path / "in.csv"), "-o", str(tmp_path / "afile" / name), "-q"],
    )
    assert result.exit_code == 1, repr(result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1


def test_a_full_disk_mid_run_is_recorded_as_failed_in_one_line(
    iris: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """An OSError while committing chunk 2 (ENOSPC) escapes as a traceback, and the run is
    recorded `interrupted` with "stopped before the end (interrupted)" instead of the reason."""
    from modelport.store import csvfile as files

    iris_frame(500).to_csv(tmp_path / "in.csv", index=False)
    output = str(tmp_path / "out.csv")
    append = files._append_csv
    calls: list[int] = []

    def full_disk(path: Path, frame: pd.DataFrame, *, header: bool) -> int:
        calls.append(1)
        if len(calls) > 3:
            raise OSError(28, "No space left on device")
        return append(path, frame, header=header)

    monkeypatch.setattr(files, "_append_csv", full_disk)
    result = runner.invoke(
        app,
        ["score", str(iris), str(tmp_path / "in.csv"), "-o", output, "--chunk-size", "100", "-q"],
    )
    assert result.exit_code == 1, repr(result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert "No space left" in result.stderr
    with open_store(output) as store:
        [run] = store.runs()
    assert run.status == "failed"
    assert "No space left" in (run.error or "")


def test_a_duplicate_id_within_one_chunk_names_the_row_that_repeats_it(iris: Path, tmp_path: Path):
    """ids a, b, a in one chunk: the message says "again at row 0" (the first occurrence)."""
    frame = iris_frame(3)
    frame["id"] = ["a", "b", "a"]
    frame.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(ModelportError) as caught:
        score(iris, tmp_path / "in.csv", str(tmp_path / "out"), id_column="id")
    assert str(caught.value) == (
        "the id column 'id' holds 'a' more than once (again at row 2); ids must be unique"
    )
