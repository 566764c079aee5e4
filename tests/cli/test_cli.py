"""The `modelport` command: each subcommand, and one red line (exit 1) for every bad file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import joblib
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from modelport import __version__
from modelport.cli import app
from modelport.examples import EXAMPLES

runner = CliRunner()


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"modelport {__version__}"


def test_example_list_names_every_example():
    result = invoke("example", "--list")
    assert result.exit_code == 0
    for name in EXAMPLES:
        assert name in result.stdout


def test_example_writes_a_bundle_that_inspect_describes(tmp_path: Path):
    target = tmp_path / "iris.joblib"
    assert invoke("example", "forest-multiclass", "--output", str(target)).exit_code == 0
    result = invoke("inspect", str(target))
    assert result.exit_code == 0
    for expected in (
        "MULTICLASS_CLASSIFICATION",
        "setosa, versicolor, virginica",
        "petal width (cm)",
        "numeric",
        "explainable",
    ):
        assert expected in result.stdout


def test_inspect_json_is_machine_readable(example_dir: Path):
    result = invoke("inspect", str(example_dir / "bank-marketing.joblib"), "--json")
    summary = json.loads(result.stdout)
    metadata = summary["metadata"]
    assert metadata["task"] == "BINARY_CLASSIFICATION"
    assert metadata["class_names"] == ["no", "yes"]
    assert metadata["is_explainable"] is True
    job = next(f for f in metadata["features"] if f["name"] == "job")
    assert job["type"] == "categorical" and "student" in job["categories"]
    assert sum(f["importance"] for f in metadata["features"]) == pytest.approx(1, abs=1e-4)
    assert len(summary["sha256"]) == 64


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_inspect_shows_every_example(example_dir: Path, name: str):
    result = invoke("inspect", str(example_dir / f"{name}.joblib"))
    assert result.exit_code == 0
    assert name in result.stdout


def test_inspect_shows_a_template_bundle_written_by_hand(tmp_path: Path):
    model = LogisticRegression().fit([[0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 0]], [0, 1, 0, 1])
    features = [{"name": f"feature{i}", "type": "numeric", "default": -1} for i in (1, 2, 3)]
    joblib.dump({"model": model, "metadata": {"features": features}}, tmp_path / "model.joblib")
    result = invoke("inspect", str(tmp_path / "model.joblib"))
    assert result.exit_code == 0
    assert (
        "BINARY_CLASSIFICATION" in result.stdout
        and "feature3" in result.stdout
        and "-1" in result.stdout
    )


def test_predict_prints_json_and_reads_standard_input(example_dir: Path):
    bundle = str(example_dir / "wind-turbine.joblib")
    result = invoke("predict", bundle, '[{"Ws1_avg": 3}, {"Ws1_avg": 13}]')
    low, high = json.loads(result.stdout)["prediction"]
    assert low < high
    piped = invoke("predict", bundle, "-", input='{"Ws1_avg": 13}')
    assert json.loads(piped.stdout)["prediction"] == [high]


def test_predict_proba_and_explain(example_dir: Path):
    result = invoke(
        "predict", str(example_dir / "forest-binary.joblib"), "--proba", "--explain", "{}"
    )
    answer = json.loads(result.stdout)
    assert set(answer["prediction"][0]) == {"benign", "malignant"}
    assert answer["explanation"][0]["output"] == "probability"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inspect", "{dir}/missing.joblib"], "not found"),
        (["inspect", "{dir}"], "is a folder"),
        (["inspect", "{dir}/empty.joblib"], "is empty"),
        (["inspect", "{dir}/list.joblib"], "not a model"),
        (["inspect", "{dir}/scaler.joblib", "--sha256", "0" * 64], "expected 0000"),
        (["example", "nope"], "no example named 'nope'"),
        (["predict", "{dir}/scaler.joblib", "{not json"], "not valid JSON"),
        (["predict", "{dir}/model.joblib", '{"featur1": 2}'], "did you mean 'feature1'"),
    ],
)
def test_errors_are_one_red_line_and_exit_1(tmp_path: Path, args: list[str], message: str):
    (tmp_path / "empty.joblib").write_bytes(b"")
    joblib.dump([1, 2, 3], tmp_path / "list.joblib")
    joblib.dump(StandardScaler().fit([[1.0]]), tmp_path / "scaler.joblib")
    model = LogisticRegression().fit([[0.0, 1.0], [1.0, 0.0]], [0, 1])
    features = [{"name": "feature1"}, {"name": "feature2"}]
    joblib.dump({"model": model, "metadata": {"features": features}}, tmp_path / "model.joblib")
    result = invoke(*[arg.replace("{dir}", str(tmp_path)) for arg in args])
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.startswith("error:")
    assert "Traceback" not in result.stderr + result.stdout


def test_usage_errors_keep_exit_code_2():
    assert invoke("inspect").exit_code == 2
    assert invoke("bogus-command").exit_code == 2


def test_bundle_joins_pickles_and_prints_notes(tmp_path: Path):
    scaler = StandardScaler().fit([[1.0, 2.0], [3.0, 4.0]])
    model = LogisticRegression().fit(
        [[-1.0, -1.0], [1.0, 1.0], [-0.5, -1.0], [1.0, 0.5]], [0, 1, 0, 1]
    )
    joblib.dump(scaler, tmp_path / "scaler.pkl")
    joblib.dump(model, tmp_path / "model.pkl")
    (tmp_path / "train.csv").write_text("x,y,label\n1.0,2.0,0\n3.0,4.0,1\n2.5,1.5,0\n")
    output = tmp_path / "joined.joblib"
    result = invoke(
        "bundle",
        str(tmp_path / "model.pkl"),
        "--preprocessor",
        str(tmp_path / "scaler.pkl"),
        "--sample",
        str(tmp_path / "train.csv"),
        "--target",
        "label",
        "--output",
        str(output),
    )
    assert result.exit_code == 0, result.stderr
    assert "2 features" in result.stdout
    summary = json.loads(invoke("inspect", str(output), "--json").stdout)
    # Neither pickle knows column names (both were fitted on arrays): the sample's columns,
    # in order, name the features, so a client sends {"x": ..., "y": ...}.
    features = summary["metadata"]["features"]
    assert [(f["name"], f["default"]) for f in features] == [("x", 2.5), ("y", 2.0)]  # medians
    assert summary["family"] == "Pipeline(StandardScaler → LogisticRegression)"
    predicted = invoke("predict", str(output), '{"x": 3.0, "y": 4.0}')
    assert predicted.exit_code == 0, predicted.stderr
    assert json.loads(predicted.stdout) == {"prediction": [1]}


def test_bundle_refuses_a_missing_sample(tmp_path: Path):
    joblib.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), tmp_path / "m.pkl")
    result = invoke(
        "bundle",
        str(tmp_path / "m.pkl"),
        "--sample",
        str(tmp_path / "no.csv"),
        "-o",
        str(tmp_path / "b.joblib"),
    )
    assert result.exit_code == 1
    assert "sample file not found" in result.stderr
    assert not (tmp_path / "b.joblib").exists()


def test_a_real_process_prints_no_traceback(tmp_path: Path):
    completed = subprocess.run(
        [sys.executable, "-m", "modelport", "inspect", str(tmp_path / "nothing.joblib")],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines() == [
        f"error: bundle file not found: {tmp_path / 'nothing.joblib'}"
    ]


def test_unknown_modelport_variables_are_warned_about(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODELPORT_MAX_ROW", "5")
    with pytest.warns(
        UserWarning, match="MODELPORT_MAX_ROW is set but modelport has no such setting"
    ):
        invoke("example", "--list")


def test_rich_markup_in_an_error_is_printed_as_text(tmp_path: Path):
    result = invoke("inspect", str(tmp_path / "[bold]x[/].joblib"))
    assert result.exit_code == 1
    assert "[bold]x[/].joblib" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"), [("MODELPORT_MAX_ROWS", "abc"), ("MODELPORT_LOG_LEVEL", "loud")]
)
def test_a_bad_setting_is_one_red_line(
    monkeypatch: pytest.MonkeyPatch, example_dir: Path, name: str, value: str
):
    monkeypatch.setenv(name, value)
    command = "inspect" if name.endswith("ROWS") else "serve"
    result = invoke(command, str(example_dir / "wind-turbine.joblib"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: invalid {name}")
    assert "Traceback" not in result.stderr
