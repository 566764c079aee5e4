"""`modelport profile` and `modelport drift`, as a user runs them, on real files and stores."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from modelport import load_bundle
from modelport.batch.drift import parse_since
from modelport.cli import app
from modelport.errors import InputTableError
from modelport.examples import EXAMPLES

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory, example_dir: Path) -> Path:
    """A folder with the bank example, new rows, rows with older clients, and rows of students."""
    folder = tmp_path_factory.mktemp("drift")
    (folder / "bank.joblib").write_bytes((example_dir / "bank-marketing.joblib").read_bytes())
    rows = EXAMPLES["bank-marketing"].data().head(1500)
    rows.to_csv(folder / "new.csv", index=False)
    older = rows.assign(age=(rows["age"] + 2 * rows["age"].std()).round().astype(int))
    older.to_csv(folder / "older.csv", index=False)
    students = rows.copy()
    students.loc[students.index[:900], "job"] = "student"
    students.to_parquet(folder / "students.parquet", index=False)
    return folder


def _drift(*args: str) -> dict:
    result = invoke("drift", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _alerts(report: dict) -> list[str]:
    return [name for name, entry in report["features"].items() if entry["status"] == "alert"]


def test_drift_of_new_rows_from_the_same_population_is_ok(bank: Path):
    report = _drift(str(bank / "bank.joblib"), "--input", str(bank / "new.csv"))
    assert report["rows"] == 1500
    assert report["window"] is None
    assert report["status"] == "ok"
    assert {entry["status"] for entry in report["features"].values()} == {"ok"}
    assert report["prediction"]["status"] == "ok"


def test_drift_alerts_on_exactly_the_shifted_number(bank: Path):
    report = _drift(str(bank / "bank.joblib"), "--input", str(bank / "older.csv"))
    assert _alerts(report) == ["age"]
    assert report["status"] == "alert"


def test_drift_alerts_on_exactly_the_dominant_category_read_from_parquet(bank: Path):
    report = _drift(str(bank / "bank.joblib"), "--input", str(bank / "students.parquet"))
    assert _alerts(report) == ["job"]


def test_drift_prints_a_table_naming_the_bin_that_moved(bank: Path):
    result = invoke("drift", str(bank / "bank.joblib"), "--input", str(bank / "older.csv"))
    assert result.exit_code == 0, result.stderr
    assert "over 1,500 rows of" in result.stdout
    age = next(line for line in result.stdout.splitlines() if line.strip().startswith("age"))
    assert "alert" in age
    assert "≥ " in age and "→" in age  # the oldest bin grew


def test_drift_from_a_scoring_runs_output_compares_the_predictions(bank: Path, tmp_path: Path):
    output = f"sqlite:///{tmp_path / 'scored.db'}"
    scored = invoke("score", str(bank / "bank.joblib"), str(bank / "new.csv"), "-o", output, "-q")
    assert scored.exit_code == 0, scored.stderr
    result = invoke("drift", str(bank / "bank.joblib"), "--log", output, "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows"] == 1500
    assert report["prediction"]["status"] == "ok"
    assert report["prediction"]["rows"] == 1500
    assert {entry["status"] for entry in report["features"].values()} == {"no-data"}
    assert "--input" in result.stderr  # the note says where the features' drift comes from


def _prediction_log(path: Path, rows: pd.DataFrame, times: list[str]) -> str:
    """A table shaped as the prediction log: each feature, the prediction and the time."""
    log = rows.assign(prediction="no", time=times)
    with sqlite3.connect(path) as connection:
        log.to_sql("prediction_log", connection, index=False)
    connection.close()
    return f"sqlite:///{path}"


def test_drift_reads_a_prediction_log_with_features_and_filters_it_by_time(
    bank: Path, tmp_path: Path
):
    new = pd.read_csv(bank / "new.csv").head(1000)
    older = pd.read_csv(bank / "older.csv").head(1000)
    url = _prediction_log(
        tmp_path / "log.db",
        pd.concat([new, older], ignore_index=True),
        ["2026-01-01T00:00:00"] * 1000 + ["2026-02-01T00:00:00"] * 1000,
    )
    everything = _drift(str(bank / "bank.joblib"), "--log", url, "--table", "prediction_log")
    assert everything["rows"] == 2000
    assert everything["features"]["age"]["rows"] == 2000
    recent = _drift(
        str(bank / "bank.joblib"),
        "--log",
        url,
        "--table",
        "prediction_log",
        "--since",
        "2026-01-15",
    )
    assert recent["rows"] == 1000
    assert _alerts(recent) == ["age"]
    before = _drift(str(bank / "bank.joblib"), "--input", str(bank / "new.csv"))
    assert before["status"] == "ok"


def test_profile_adds_the_reference_to_a_bundle_from_a_table(bank: Path, tmp_path: Path):
    bare = tmp_path / "bare.joblib"
    source = load_bundle(bank / "bank.joblib")
    from modelport import save_bundle

    save_bundle(source.estimator, bare, source.metadata)
    assert "none (drift has no reference" in invoke("inspect", str(bare)).stdout
    refused = invoke("drift", str(bare), "--input", str(bank / "new.csv"))
    assert refused.exit_code == 1
    assert "has no reference profile" in refused.stderr
    training = tmp_path / "train.csv"
    EXAMPLES["bank-marketing"].train().to_csv(training, index=False)  # type: ignore[misc]
    profiled = tmp_path / "profiled.joblib"
    result = invoke("profile", str(bare), "--sample", str(training), "--output", str(profiled))
    assert result.exit_code == 0, result.stderr
    assert "reference profile of 3,000 rows, 9 features, and the predictions" in result.stdout
    assert load_bundle(profiled).profile == source.profile  # the example's own, from the same rows
    assert "3,000 rows, 9 features, prediction shares of 2 classes" in (
        invoke("inspect", str(profiled)).stdout
    )
    summary = json.loads(invoke("inspect", str(profiled), "--json").stdout)
    assert summary["profile"]["features"]["job"]["kind"] == "categorical"


def test_bundle_with_a_sample_writes_a_profile_of_it(tmp_path: Path):
    import joblib
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]], [0, 1, 0, 1])
    joblib.dump(model, tmp_path / "model.pkl")
    (tmp_path / "train.csv").write_text("a,b,label\n0.0,1.0,0\n1.0,0.0,1\n0.2,0.9,0\n0.9,0.1,1\n")
    output = tmp_path / "b.joblib"
    result = invoke(
        "bundle",
        str(tmp_path / "model.pkl"),
        "--sample",
        str(tmp_path / "train.csv"),
        "--target",
        "label",
        "-o",
        str(output),
    )
    assert result.exit_code == 0, result.stderr
    profile = load_bundle(output).profile
    assert profile is not None
    assert profile.rows == 4
    assert list(profile.features) == ["f0", "f1"] or list(profile.features) == ["a", "b"]
    assert profile.prediction is not None
    assert profile.prediction.shares == [0.5, 0.5, 0.0]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", "input not found:"),
        ("garbage", "has no column for the features age, job, marital"),
        ("binary", "cannot read"),
        ("columns", "no such column; the table has 'agee'"),
        ("header", "holds no rows to profile"),
        ("kind", "cannot tell the kind of"),
    ],
)
@pytest.mark.parametrize("command", ["profile", "drift"])
def test_a_bad_table_is_one_clear_error_line(
    bank: Path, tmp_path: Path, case: str, expected: str, command: str
):
    table = tmp_path / ("table.xlsx" if case == "kind" else "table.csv")
    if case == "garbage":
        table.write_text("this is not\na table of clients\n")
    elif case == "binary":
        table.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe" * 50)
    elif case == "columns":
        pd.read_csv(bank / "new.csv").rename(columns={"age": "agee"}).to_csv(table, index=False)
    elif case == "header":
        table.write_text(pd.read_csv(bank / "new.csv").head(0).to_csv(index=False))
    elif case == "kind":
        table.write_text("whatever")
    option = "--sample" if command == "profile" else "--input"
    args = [command, str(bank / "bank.joblib"), option, str(table)]
    if command == "profile":
        args += ["--output", str(tmp_path / "out.joblib")]
    result = invoke(*args)
    if command == "drift" and case == "header":
        assert result.exit_code == 0  # an empty table has no drift to report, only no data
        assert json.loads(invoke(*args, "--json").stdout)["status"] == "no-data"
        return
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert not (tmp_path / "out.joblib").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "give one of --input (a table) or --log"),
        (["--input", "a.csv", "--log", "sqlite:///x.db"], "give one of --input"),
        (["--input", "a.csv", "--since", "1h"], "--since filters a --log"),
        (["--log", "sqlite:///{tmp}/none.db"], "no predictions store at"),
        (["--log", "sqlite:///{tmp}/none.db", "--since", "yesterday"], "is not a time"),
    ],
)
def test_bad_drift_options_are_one_clear_error_line(
    bank: Path, tmp_path: Path, args: list[str], expected: str
):
    given = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    result = invoke("drift", str(bank / "bank.joblib"), *given)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert not (tmp_path / "none.db").exists()


def test_since_takes_a_time_a_date_or_an_age():
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert parse_since("2026-03-01", now) == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_since("2026-03-01T08:30+01:00", now).hour == 8
    assert parse_since("12h", now) == datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
    assert parse_since("7d", now) == datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    with pytest.raises(InputTableError, match="not a time"):
        parse_since("last tuesday", now)
