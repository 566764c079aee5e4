"""What the prediction log stores: several models in one log, hostile names and values,
workers writing one SQLite file side by side, and `modelport drift --log` reading it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from modelport import Predictor
from modelport.cli import app
from modelport.prediction_log import PredictionLog
from modelport.prediction_log.rows import MAX_TEXT
from modelport.served import Served
from tests.unit.prediction_log_helpers import (
    example_rows,
    features_of,
    log_target,
    read_log,
    served,
)

IRIS, BANK = "forest-multiclass", "bank-marketing"
HOSTILE = 'a"; DROP TABLE prediction_log; --'
LONG_NAME = "a feature with a name far longer than the sixty-three bytes PostgreSQL keeps"


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "parquet"])
def test_models_with_other_features_share_the_log_and_leave_the_others_empty(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, predictors: dict[str, Predictor]
) -> None:
    target = log_target(kind, request, tmp_path)
    iris, bank = predictors[IRIS], predictors[BANK]
    features = features_of(iris, bank)
    first = PredictionLog(target, features=features)
    first.submit(served(iris, example_rows(IRIS, 2), "iris-1"))
    first.close(timeout=30)
    second = PredictionLog(target, features=features)  # a restart, serving one more model
    second.submit(served(bank, example_rows(BANK, 3), "bank-1", route="v2"))
    second.submit(served(iris, example_rows(IRIS, 1), "iris-2"))
    second.close(timeout=30)

    logged = read_log(target).sort_values(["request_id"], kind="stable").reset_index(drop=True)
    assert logged["request_id"].tolist() == ["bank-1"] * 3 + ["iris-1"] * 2 + ["iris-2"]
    bank_rows, iris_rows = logged.iloc[:3], logged.iloc[3:]
    assert bank_rows["job"].tolist() == [row["job"] for row in example_rows(BANK, 3)]
    assert bank_rows["route"].tolist() == ["v2"] * 3
    assert bank_rows["proba_yes"].notna().all() and bank_rows["proba_setosa"].isna().all()
    assert iris_rows["job"].isna().all() and iris_rows["age"].isna().all()
    assert bank_rows["sepal length (cm)"].isna().all()
    assert iris_rows["prediction"].tolist() == iris.predict(
        iris.validate(example_rows(IRIS, 2) + example_rows(IRIS, 1))
    )


def _hostile_record(values: list[str]) -> Served:
    X = pd.DataFrame(
        {
            HOSTILE: [1.5, 2.5, 3.5],
            "time": [10.0, 20.0, 30.0],
            LONG_NAME: values,
            "Ünï": [1, 2, 3],
            "nul\x00name": [4, 5, 6],
            "": [7, 8, 9],
        }
    )
    return Served(
        model="m'; --",
        version="1",
        sha256="0" * 64,
        request_id="x\x00y",
        caller=None,
        route="classic",
        X=X,
        predictions=["a", "b", "c"],
        probabilities=None,
        time=time.time(),
    )


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "parquet"])
def test_hostile_names_and_values_are_stored_safely(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    target = log_target(kind, request, tmp_path)
    huge = "é" * 1_000_000
    record = _hostile_record(["nul\x00inside", huge, "plain"])
    log = PredictionLog(target, features=lambda served: list(served.X.columns))
    log.submit(record)
    log.close(timeout=30)
    assert (log.written, log.dropped) == (3, 0)

    logged = read_log(target)
    assert logged[HOSTILE].tolist() == [1.5, 2.5, 3.5]  # a name, never SQL
    assert logged["feature_time"].tolist() == [10.0, 20.0, 30.0]  # the log's own `time` stays
    assert pd.api.types.is_datetime64_any_dtype(logged["time"]) or logged["time"].notna().all()
    assert logged["Ünï"].tolist() == [1.0, 2.0, 3.0]
    assert logged["nul\ufffdname"].tolist() == [4.0, 5.0, 6.0]
    assert logged["feature_"].tolist() == [7.0, 8.0, 9.0]
    assert logged["model"].tolist() == ["m'; --"] * 3
    assert logged["request_id"].tolist() == ["x\ufffdy"] * 3  # NUL: PostgreSQL refuses it
    long_column = [c for c in logged.columns if c.startswith("a feature with")]
    assert len(long_column) == 1
    if kind == "postgres":
        assert len(long_column[0].encode()) == 63  # cut where PostgreSQL cuts, not refused
    texts = logged[long_column[0]].tolist()
    assert texts[0] == "nul\ufffdinside"
    assert len(texts[1]) == MAX_TEXT and texts[1].endswith("…") and texts[1].startswith("éé")
    assert texts[2] == "plain"


def test_a_column_keeps_its_kind_and_a_value_of_another_kind_is_converted_or_null(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = f"sqlite:///{tmp_path / 'log.db'}"

    def record(x: list[object], request_id: str) -> Served:
        return Served(
            "m", "1", "0" * 64, request_id, None, "classic", pd.DataFrame({"x": x}),
            [1, 0], None, time.time(),
        )  # fmt: skip

    log = PredictionLog(target, features=lambda served: ["x"])
    log.submit(record([1.0, 2.0], "numbers"))
    log.close(timeout=30)
    later = PredictionLog(target, features=lambda served: ["x"])
    later.submit(record(["seven", "8"], "text"))
    later.close(timeout=30)
    logged = read_log(target).sort_values("request_id")
    assert logged["x"].tolist()[:2] == [1.0, 2.0]
    assert np.isnan(logged["x"].tolist()[2]) and logged["x"].tolist()[3] == 8.0
    assert "column 'x' holds numbers" in caplog.text


WORKER = """
import sys, time
from modelport.prediction_log import PredictionLog
from modelport.served import Served
import numpy as np

log = PredictionLog(sys.argv[1], batch_rows=50, flush_seconds=0.001, features=lambda s: ["x"])
log.start()
for i in range(2000):
    log.submit(Served("m", "1", "0" * 64, f"{sys.argv[2]}-{i}", None, "classic",
                      np.array([[float(i)]]), [i % 2], None, time.time()))
    if i % 100 == 0:
        time.sleep(0.01)
log.close(timeout=120)
print(log.written, log.dropped)
"""


def test_two_worker_processes_write_one_sqlite_file_side_by_side(tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'log.db'}"
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), target, name], stdout=subprocess.PIPE, text=True
        )
        for name in ("a", "b")
    ]
    outputs = [worker.communicate(timeout=300)[0].split() for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    assert outputs == [["2000", "0"], ["2000", "0"]]
    logged = read_log(target)
    assert len(logged) == 4000
    assert logged["run_id"].nunique() == 2  # a run per worker
    assert logged["request_id"].nunique() == 4000


@pytest.mark.parametrize("kind", ["sqlite", "parquet"])
def test_modelport_drift_reads_the_log_of_one_model_among_several(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    example_dir: Path,
    predictors: dict[str, Predictor],
) -> None:
    target = log_target(kind, request, tmp_path)
    iris, bank = predictors[IRIS], predictors[BANK]
    log = PredictionLog(target, features=features_of(iris, bank))
    rows = example_rows(BANK, 400)
    for start in range(0, 400, 50):
        log.submit(served(bank, rows[start : start + 50], f"bank-{start}"))
    log.submit(served(iris, example_rows(IRIS, 30), "iris"))
    log.close(timeout=30)

    bundle = str(example_dir / f"{BANK}.joblib")
    result = CliRunner().invoke(app, ["drift", bundle, "--log", target, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows"] == 400  # the iris rows are another model's
    assert all(entry["rows"] == 400 for entry in report["features"].values())
    assert report["features"]["age"]["status"] == "ok"
    assert report["prediction"]["rows"] == 400

    since = CliRunner().invoke(
        app, ["drift", bundle, "--log", target, "--since", "2000-01-01", "--json"]
    )
    assert json.loads(since.stdout)["rows"] == 400
    future = CliRunner().invoke(
        app, ["drift", bundle, "--log", target, "--since", "2999-01-01", "--json"]
    )
    assert json.loads(future.stdout)["rows"] == 0
