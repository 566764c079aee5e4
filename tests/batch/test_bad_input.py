"""`modelport score` at its edges: each bad input is one red line, exit 1, and nothing half-written.

Every test scores through the CLI, as tests/cli/test_cli.py does, with `-q` so that the error
line is all standard error holds (a few run without it, to see chunks committed before the
failure). Then it looks at what the output physically holds: the raw tables and files, not
the store's reading API, which reads only the chunks a run's record counts and so would hide
rows a failed run left behind. Runs are read from the store, as `modelport runs` reads them.
"""

from __future__ import annotations

import re
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import Result
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from modelport.cli import app
from modelport.store import open_store

runner = CliRunner()

BANK = [
    "id",
    "age",
    "job",
    "marital",
    "education",
    "balance",
    "housing",
    "loan",
    "duration",
    "campaign",
]
JOBS = ["management", "student", "admin", "technician"]
IRIS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
DIABETES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/db"
PROGRESS = re.compile(r"^run \S+: [\d,]+ rows read")
"""A line the scorer prints (without -q) after each committed chunk."""


# --- running the command -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _restore_sigterm() -> Iterator[None]:
    """`score` installs a SIGTERM handler; give pytest its own back."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


def score(*args: str, quiet: bool = True) -> Result:
    return runner.invoke(app, ["score", *args, *(["-q"] if quiet else [])])


def error_line(result: Result, exit_code: int = 1) -> str:
    """The one line a failed quiet command printed: all of standard error, and nothing else."""
    assert result.exit_code == exit_code, (
        f"exit {result.exit_code}, stderr {result.stderr!r}, exception {result.exception!r}"
    )
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def last_error_line(result: Result) -> tuple[str, list[str]]:
    """A failed run that printed progress first: exactly one error line, the last; and the
    lines before it."""
    assert result.exit_code == 1, (
        f"exit {result.exit_code}, stderr {result.stderr!r}, exception {result.exception!r}"
    )
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.splitlines()
    assert lines, "nothing on standard error"
    assert [line for line in lines if line.startswith("error:")] == [lines[-1]], result.stderr
    assert "Traceback" not in result.stderr
    return lines[-1], lines[:-1]


def recorded_runs(output: str) -> list[dict[str, Any]]:
    """The runs the output records, as `modelport runs --json` prints them.

    Read through the store rather than the `runs` command, which leaves its database
    connection open (a ResourceWarning, an error under filterwarnings=error, on PostgreSQL).
    """
    store = open_store(output)
    try:
        return [run.to_json() for run in store.runs()]
    finally:
        store.close()


def only_run(output: str, status: str) -> dict[str, Any]:
    runs = recorded_runs(output)
    assert [run["status"] for run in runs] == [status], runs
    return runs[0]


# --- what an output physically holds ---------------------------------------------------------


def sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def stored(output: str, *, rejects: bool = False) -> pd.DataFrame:
    """Every row in the output's predictions (or rejects), committed by a run or not."""
    if "://" in output:
        if output.startswith("sqlite:") and not sqlite_file(output).exists():
            return pd.DataFrame()
        engine = sa.create_engine(output, poolclass=NullPool)
        name = "predictions_rejects" if rejects else "predictions"
        try:
            with engine.connect() as connection:
                if not sa.inspect(connection).has_table(name):
                    return pd.DataFrame()
                quoted = connection.dialect.identifier_preparer.quote(name)
                return pd.read_sql_query(sa.text(f"SELECT * FROM {quoted}"), connection)
        finally:
            engine.dispose()
    path = Path(output)
    if output.endswith(".csv"):
        file = path.with_name(f"{path.stem}_rejects.csv") if rejects else path
        if not file.exists() or not file.stat().st_size:
            return pd.DataFrame()
        return pd.read_csv(file, dtype=str, keep_default_na=False)
    folder = path / "_rejects" if rejects else path
    parts = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    return pd.concat([pd.read_parquet(part) for part in parts]) if parts else pd.DataFrame()


def rows_of(output: str, run_id: str, *, rejects: bool = False) -> pd.DataFrame:
    frame = stored(output, rejects=rejects)
    return frame if frame.empty else frame[frame["run_id"] == run_id]


def assert_nothing_written(output: str) -> None:
    """A failure before the run started: no run, no table, no file."""
    if output.startswith("sqlite:"):
        if sqlite_file(output).exists():
            with sqlite3.connect(sqlite_file(output)) as connection:
                tables = connection.execute("SELECT name FROM sqlite_master").fetchall()
            assert tables == []
        return
    path = Path(output)
    assert not path.exists()
    if output.endswith(".csv"):
        assert not path.with_name(f"{path.stem}_runs.json").exists()
        assert not path.with_name(f"{path.stem}_rejects.csv").exists()


def file_contents(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def snapshot(output: str) -> Any:
    """What the output holds now: its tables' rows, or its files' bytes."""
    if "://" in output:
        return (
            stored(output).to_dict("records"),
            stored(output, rejects=True).to_dict("records"),
            recorded_runs(output),
        )
    path = Path(output)
    if output.endswith(".csv"):
        return {
            file.name: file.read_bytes()
            for file in sorted(path.parent.glob(f"{path.stem}*"))
            if not file.name.endswith(".lock")
        }
    return file_contents(path)


# --- inputs and outputs ------------------------------------------------------------------------


def bank_rows(n: int) -> list[list[str]]:
    """Valid bank-marketing rows with the text ids c0, c1, ..."""
    return [
        [
            f"c{i}",
            str(30 + i % 40),
            JOBS[i % 4],
            "single",
            "primary",
            str(100 + i),
            "no",
            "no",
            str(60 + i),
            "2",
        ]
        for i in range(n)
    ]


def write_csv(path: Path, header: list[str], rows: list[list[str]], end: str = "\n") -> Path:
    path.write_text("\n".join(",".join(row) for row in [header, *rows]) + end)
    return path


def bank_csv(path: Path, n: int = 3) -> Path:
    return write_csv(path, BANK, bank_rows(n))


def iris_csv(path: Path) -> Path:
    return write_csv(path, IRIS, [["5.1", "3.5", "1.4", "0.2"], ["6.7", "3.0", "5.2", "2.3"]])


@pytest.fixture
def bank(example_dir: Path) -> str:
    return str(example_dir / "bank-marketing.joblib")


@pytest.fixture
def iris(example_dir: Path) -> str:
    return str(example_dir / "forest-multiclass.joblib")


def make_output(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return {
        "sqlite": f"sqlite:///{tmp_path / 'out.db'}",
        "csv": str(tmp_path / "out.csv"),
        "parquet": str(tmp_path / "out"),
    }[kind]


@pytest.fixture(params=["sqlite", "csv", "parquet"])
def output(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each kind of output on this machine: a SQLite database, a CSV file, a Parquet folder."""
    return make_output(request.param, tmp_path, request)


# --- input files -------------------------------------------------------------------------------


def test_a_missing_input_file(bank: str, tmp_path: Path):
    out = str(tmp_path / "out.csv")
    line = error_line(score(bank, str(tmp_path / "nothere.csv"), "-o", out))
    assert line == f"error: input not found: {tmp_path / 'nothere.csv'}"
    assert_nothing_written(out)


def test_a_missing_sqlite_input_file_is_not_created(bank: str, tmp_path: Path):
    """A misspelt SQLite input is missing input, not a new empty database beside the real one."""
    missing = tmp_path / "typo.db"
    out = str(tmp_path / "out.csv")
    line = error_line(score(bank, f"sqlite:///{missing}", "--query", "clients", "-o", out))
    assert "typo.db" in line
    assert not missing.exists()
    assert_nothing_written(out)


def test_an_input_of_unknown_kind(bank: str, tmp_path: Path):
    (tmp_path / "clients.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    out = f"sqlite:///{tmp_path / 'out.db'}"
    line = error_line(score(bank, str(tmp_path / "clients.xlsx"), "-o", out))
    assert "cannot tell the kind of clients.xlsx" in line
    assert ".csv" in line and ".parquet" in line
    assert_nothing_written(out)


def test_an_empty_csv_file(bank: str, tmp_path: Path):
    (tmp_path / "empty.csv").write_bytes(b"")
    out = str(tmp_path / "out.csv")
    line = error_line(score(bank, str(tmp_path / "empty.csv"), "-o", out))
    assert line.startswith(f"error: cannot read {tmp_path / 'empty.csv'} as CSV")
    assert_nothing_written(out)


def test_binary_garbage_named_csv(bank: str, tmp_path: Path):
    (tmp_path / "garbage.csv").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    out = str(tmp_path / "out")
    line = error_line(score(bank, str(tmp_path / "garbage.csv"), "-o", out))
    assert line.startswith(f"error: cannot read {tmp_path / 'garbage.csv'} as CSV")
    assert_nothing_written(out)


def test_a_row_with_too_many_fields_in_a_later_chunk_leaves_nothing(
    bank: str, tmp_path: Path, output: str
):
    """Chunks of 3 rows; line 38 (row 36, in the 13th chunk) has two fields too many.

    It lies past the reader's read-ahead (a few chunks), so chunks before it are committed
    (the progress lines show it) and must be taken out again when it is reached."""
    rows = bank_rows(60)
    rows[36] = [*rows[36], "surplus", "fields"]
    source = write_csv(tmp_path / "clients.csv", BANK, rows)
    result = score(bank, str(source), "-o", output, "--chunk-size", "3", quiet=False)
    line, before = last_error_line(result)
    assert line.startswith(f"error: cannot read {source}")
    assert "line 38" in line
    assert any(PROGRESS.match(earlier) for earlier in before), "no chunk was committed first"
    run = only_run(output, "failed")
    assert "line 38" in run["error"]
    assert rows_of(output, run["id"]).empty
    assert rows_of(output, run["id"], rejects=True).empty


def test_a_truncated_csv_is_refused_before_the_run(bank: str, tmp_path: Path):
    """A copy that stopped mid-line: the last line has 2 of 10 fields and no line end."""
    rows = bank_rows(20)
    rows[-1] = rows[-1][:2]
    source = write_csv(tmp_path / "clients.csv", BANK, rows, end="")
    assert not source.read_bytes().endswith(b"\n")
    out = f"sqlite:///{tmp_path / 'out.db'}"
    line = error_line(score(bank, str(source), "-o", out, "--chunk-size", "4"))
    assert line == (
        f"error: {source} looks truncated: its last line has 2 of 10 fields and no line end"
    )
    assert_nothing_written(out)


# --- Parquet with the wrong columns ------------------------------------------------------------


def test_a_misspelled_feature_in_parquet_is_named(bank: str, tmp_path: Path):
    frame = pd.DataFrame(bank_rows(4), columns=BANK).rename(columns={"marital": "marrital"})
    frame.to_parquet(tmp_path / "clients.parquet")
    out = str(tmp_path / "out.csv")
    line = error_line(score(bank, str(tmp_path / "clients.parquet"), "-o", out))
    assert "field 'marital': no such column; the table has 'marrital'" in line
    assert_nothing_written(out)


def test_a_parquet_without_a_feature_that_has_no_default(example_dir: Path, tmp_path: Path):
    pd.DataFrame({"id": [1, 2], "comment": ["great", "awful"]}).to_parquet(tmp_path / "r.parquet")
    out = str(tmp_path / "out")
    sentiment = str(example_dir / "sentiment.joblib")
    line = error_line(score(sentiment, str(tmp_path / "r.parquet"), "-o", out))
    assert "field 'text': no such column, and no default" in line
    assert_nothing_written(out)


# --- the id column -----------------------------------------------------------------------------


def test_an_absent_id_column(bank: str, tmp_path: Path, output: str):
    source = bank_csv(tmp_path / "clients.csv")
    line = error_line(score(bank, str(source), "-o", output, "--id-column", "client"))
    assert line == "error: the input has no id column 'client'"
    assert recorded_runs(output) == []
    assert_nothing_written(output)


@pytest.mark.parametrize("kind", ["sqlite", "csv", "parquet", "postgres"])
def test_a_duplicate_id_in_a_later_chunk_leaves_nothing(
    bank: str, tmp_path: Path, request: pytest.FixtureRequest, kind: str
):
    """Chunks of 4: row 30 (in the 8th chunk) repeats the id of row 5, after chunks before it
    were committed (the progress lines show it)."""
    output = make_output(kind, tmp_path, request)
    rows = bank_rows(40)
    rows[30][0] = "c5"
    source = write_csv(tmp_path / "clients.csv", BANK, rows)
    result = score(
        bank, str(source), "-o", output, "--id-column", "id", "--chunk-size", "4", quiet=False
    )
    line, before = last_error_line(result)
    assert line == (
        "error: the id column 'id' holds 'c5' more than once (again at row 30); ids must be unique"
    )
    assert any(PROGRESS.match(earlier) for earlier in before), "no chunk was committed first"
    run = only_run(output, "failed")
    assert "more than once" in run["error"]
    assert rows_of(output, run["id"]).empty
    assert rows_of(output, run["id"], rejects=True).empty


def test_a_missing_id_in_a_later_chunk_leaves_nothing(bank: str, tmp_path: Path, output: str):
    rows = bank_rows(40)
    rows[30][0] = ""
    source = write_csv(tmp_path / "clients.csv", BANK, rows)
    result = score(
        bank, str(source), "-o", output, "--id-column", "id", "--chunk-size", "4", quiet=False
    )
    line, before = last_error_line(result)
    assert line == "error: row 30 has no value in the id column 'id'"
    assert any(PROGRESS.match(earlier) for earlier in before), "no chunk was committed first"
    run = only_run(output, "failed")
    assert run["error"] == line.removeprefix("error: ")
    assert rows_of(output, run["id"]).empty
    assert rows_of(output, run["id"], rejects=True).empty


# --- databases -----------------------------------------------------------------------------------


def test_an_unreachable_database_as_input(bank: str, tmp_path: Path):
    out = str(tmp_path / "out.csv")
    line = error_line(score(bank, UNREACHABLE, "--query", "select 1", "-o", out))
    assert line.startswith(f"error: cannot connect to {UNREACHABLE}: ")
    assert "Connection refused" in line
    assert_nothing_written(out)


def test_an_unreachable_database_as_output(bank: str, tmp_path: Path):
    source = bank_csv(tmp_path / "clients.csv")
    line = error_line(score(bank, str(source), "-o", UNREACHABLE))
    assert line.startswith(f"error: {UNREACHABLE}: ")
    assert "Connection refused" in line


def test_a_database_input_without_a_query(bank: str, tmp_path: Path):
    source = f"sqlite:///{tmp_path / 'in.db'}"
    out = str(tmp_path / "out.csv")
    line = error_line(score(bank, source, "-o", out))
    assert line == "error: a database input needs --query (a SELECT or a table name)"
    assert_nothing_written(out)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("selec * frm clients", 'near "selec": syntax error'),
        ("SELECT * FROM nowhere", "no such table: nowhere"),
        ("nowhere", "no such table: nowhere"),
    ],
)
def test_a_failing_query_on_a_sqlite_input(bank: str, tmp_path: Path, query: str, reason: str):
    database = tmp_path / "in.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE clients (id TEXT, age INTEGER, job TEXT)")
        connection.execute("INSERT INTO clients VALUES ('c1', 40, 'student')")
    out = f"sqlite:///{tmp_path / 'out.db'}"
    line = error_line(score(bank, f"sqlite:///{database}", "--query", query, "-o", out))
    assert line == f"error: sqlite:///{database}: the query failed: {reason}"
    assert_nothing_written(out)


# --- outputs that are not this run's to write ----------------------------------------------------


def test_an_output_holding_another_models_runs_is_left_alone(
    bank: str, iris: str, tmp_path: Path, output: str
):
    first = score(bank, str(bank_csv(tmp_path / "clients.csv")), "-o", output, "--id-column", "id")
    assert first.exit_code == 0, first.stderr
    before = snapshot(output)
    assert len(stored(output)) == 3
    line = error_line(score(iris, str(iris_csv(tmp_path / "flowers.csv")), "-o", output))
    assert "holds predictions of model 'bank-marketing', not 'forest-multiclass'" in line
    assert snapshot(output) == before
    assert [run["model"] for run in recorded_runs(output)] == ["bank-marketing"]


def test_a_folder_not_written_by_modelport_is_left_alone(bank: str, tmp_path: Path):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine, not modelport's\n")
    source = bank_csv(tmp_path / "clients.csv")
    line = error_line(score(bank, str(source), "-o", str(folder)))
    assert line == f"error: {folder} is not empty and was not written by modelport"
    assert file_contents(folder) == {"notes.txt": b"mine, not modelport's\n"}


@pytest.mark.parametrize("target", ["foreign.csv", "clients.csv"])
def test_a_csv_not_written_by_modelport_is_left_alone(bank: str, tmp_path: Path, target: str):
    """Someone else's CSV, or the input itself given as the output."""
    source = bank_csv(tmp_path / "clients.csv")
    (tmp_path / "foreign.csv").write_text("a,b\n1,2\n")
    before = file_contents(tmp_path)
    line = error_line(score(bank, str(source), "-o", str(tmp_path / target)))
    assert line == f"error: {tmp_path / target} exists and was not written by modelport"
    assert file_contents(tmp_path) == before


# --- flags ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--chunk-size", "0"],
            "error: invalid --chunk-size (MODELPORT_CHUNK_SIZE): Input should be greater than or equal to 1",
        ),
        (
            ["--max-invalid", "2"],
            "error: invalid --max-invalid (MODELPORT_MAX_INVALID): Input should be less than or equal to 1",
        ),
        (
            ["--table", "bad name;"],
            "error: invalid --table (MODELPORT_TABLE): String should match pattern",
        ),
        (
            ["--engine", "spark"],
            "error: invalid --engine (MODELPORT_ENGINE): Input should be 'local' or 'dask'",
        ),
    ],
)
def test_an_invalid_flag_is_one_line(bank: str, tmp_path: Path, flags: list[str], message: str):
    source = bank_csv(tmp_path / "clients.csv")
    out = f"sqlite:///{tmp_path / 'out.db'}"
    line = error_line(score(bank, str(source), "-o", out, *flags))
    assert line.startswith(message)
    assert not sqlite_file(out).exists()


def test_a_flag_that_is_not_a_number_is_a_usage_error(bank: str, tmp_path: Path):
    """Typer's own parsing: exit 2 and its usage message, as for every command."""
    source = bank_csv(tmp_path / "clients.csv")
    out = str(tmp_path / "out.csv")
    result = score(bank, str(source), "-o", out, "--chunk-size", "many")
    assert result.exit_code == 2
    assert "Invalid value for '--chunk-size'" in result.stderr
    assert "Traceback" not in result.stderr
    assert_nothing_written(out)


def test_proba_with_a_regressor(example_dir: Path, tmp_path: Path):
    source = write_csv(tmp_path / "d.csv", DIABETES, [["0.01"] * 10, ["-0.02"] * 10])
    out = str(tmp_path / "out.csv")
    regressor = str(example_dir / "forest-regression.joblib")
    line = error_line(score(regressor, str(source), "-o", out, "--proba"))
    assert line == "error: --proba: this model does not give class probabilities"
    assert_nothing_written(out)


def test_explain_with_the_text_model(example_dir: Path, tmp_path: Path):
    source = write_csv(tmp_path / "r.csv", ["id", "text"], [["1", "great"], ["2", "awful"]])
    out = str(tmp_path / "out")
    sentiment = str(example_dir / "sentiment.joblib")
    line = error_line(score(sentiment, str(source), "-o", out, "--explain"))
    assert line == "error: --explain: explanations need tabular features; this is a text model"
    assert_nothing_written(out)


# --- rejected rows -------------------------------------------------------------------------------

BAD_ROWS = {
    "c2": ("age", "old", "expected a number, got 'old'"),
    "c5": ("job", "astronaut", "unknown category 'astronaut'; expected one of admin, blue-collar"),
    "c8": ("balance", "lots", "expected a number, got 'lots'"),
}


def thirty_percent_invalid(path: Path) -> Path:
    rows = bank_rows(10)
    for row in rows:
        if row[0] in BAD_ROWS:
            field, value, _ = BAD_ROWS[row[0]]
            row[BANK.index(field)] = value
    return write_csv(path, BANK, rows)


def test_too_many_invalid_rows_fail_the_run(bank: str, tmp_path: Path, output: str):
    """3 of 10 rows invalid, 10 % allowed: the run fails and none of its predictions stay
    published; its rejects do, since the message sends the user to them."""
    source = thirty_percent_invalid(tmp_path / "clients.csv")
    result = score(bank, str(source), "-o", output, "--id-column", "id", "--max-invalid", "0.1")
    line = error_line(result)
    run = only_run(output, "failed")
    assert line == (
        "error: 3 of 10 rows read are invalid, more than --max-invalid allows (10.0%); "
        f"see the rejects of run {run['id']}"
    )
    assert run["error"] == line.removeprefix("error: ")
    assert rows_of(output, run["id"]).empty, "a failed run's predictions were left in the output"
    # The message sends the user to the rejects: they must be there.
    assert sorted(rows_of(output, run["id"], rejects=True)["id"]) == sorted(BAD_ROWS)


def test_invalid_rows_within_the_limit_are_listed_in_the_rejects(
    bank: str, tmp_path: Path, output: str
):
    """3 of 10 rows invalid, 50 % allowed: the run completes; each bad row is a reject with
    its id, its field and the core's message."""
    source = thirty_percent_invalid(tmp_path / "clients.csv")
    result = score(bank, str(source), "-o", output, "--id-column", "id", "--max-invalid", "0.5")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    run = only_run(output, "completed")
    assert (run["rows_read"], run["rows_scored"], run["rows_rejected"]) == (10, 7, 3)
    predictions = rows_of(output, run["id"])
    assert sorted(predictions["id"]) == sorted(
        f"c{i}" for i in range(10) if f"c{i}" not in BAD_ROWS
    )
    rejects = rows_of(output, run["id"], rejects=True)
    assert len(rejects) == 3
    for reject in rejects.to_dict("records"):
        field, _, message = BAD_ROWS[reject["id"]]
        assert reject["field"] == field
        assert reject["message"].startswith(message)


# --- hostile input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "start"),
    [("job", "unknown category 'xxxxxxxx"), ("age", "expected a number, got 'xxxxxxxx")],
)
def test_a_one_megabyte_cell_is_rejected_with_a_short_message(
    bank: str, tmp_path: Path, field: str, start: str
):
    """A 1 MB value is rejected like any other; its reject says what is wrong in a line, not
    in a megabyte (a numeric field's message already shows 40 characters of the value)."""
    rows = bank_rows(4)
    rows[1][BANK.index(field)] = "x" * 1_000_000
    source = write_csv(tmp_path / "clients.csv", BANK, rows)
    out = f"sqlite:///{tmp_path / 'out.db'}"
    result = score(bank, str(source), "-o", out, "--id-column", "id", "--max-invalid", "0.5")
    assert result.exit_code == 0, result.stderr
    run = only_run(out, "completed")
    assert sorted(rows_of(out, run["id"])["id"]) == ["c0", "c2", "c3"]
    [reject] = rows_of(out, run["id"], rejects=True).to_dict("records")
    assert (reject["id"], reject["field"]) == ("c1", field)
    assert reject["message"].startswith(start)
    assert len(reject["message"]) < 1000, f"a {len(reject['message']):,}-character message"


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_an_id_column_named_like_sql_is_quoted(
    bank: str, tmp_path: Path, request: pytest.FixtureRequest, kind: str
):
    """An id column named `id"; drop table x; --` is a column name like any other: created,
    written and read back quoted, and the table x beside it survives."""
    name = 'id"; drop table x; --'
    output = make_output(kind, tmp_path, request)
    engine = sa.create_engine(output, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE x (kept INTEGER)"))
            connection.execute(sa.text("INSERT INTO x VALUES (42)"))
        rows = bank_rows(4)
        rows[2][BANK.index("age")] = "old"
        source = tmp_path / "clients.csv"
        pd.DataFrame(rows, columns=[name, *BANK[1:]]).to_csv(source, index=False)
        result = score(bank, str(source), "-o", output, "--id-column", name, "--max-invalid", "0.5")
        assert result.exit_code == 0, result.stderr
        run = only_run(output, "completed")
        assert run["options"]["id_column"] == name
        assert sorted(rows_of(output, run["id"])[name]) == ["c0", "c1", "c3"]
        [reject] = rows_of(output, run["id"], rejects=True).to_dict("records")
        assert (reject[name], reject["field"]) == ("c2", "age")
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT kept FROM x")).scalars().all() == [42]
    finally:
        engine.dispose()
