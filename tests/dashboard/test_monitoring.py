"""The Monitoring page: its charts from real drift reports, and the page in the app (AppTest)
with an uploaded table and with a prediction log in a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from modelport import Client, Predictor, load_bundle, save_bundle
from modelport.batch.drift import drift_of_log, drift_of_table
from modelport.dashboard import APP
from modelport.dashboard.monitoring import (
    PREDICTION_LABEL,
    STATUS_COLOURS,
    psi_chart,
    psi_table,
    shares,
)
from modelport.drift import Thresholds
from modelport.examples import EXAMPLES
from tests.e2e.conftest import StartServer, free_port

BANK = "bank-marketing"


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory, example_dir: Path) -> Path:
    """The bank example (named as a server names it), new rows, and the same rows older."""
    folder = tmp_path_factory.mktemp("monitoring")
    (folder / f"{BANK}.joblib").write_bytes((example_dir / f"{BANK}.joblib").read_bytes())
    rows = EXAMPLES[BANK].data().head(1500)
    rows.to_csv(folder / "new.csv", index=False)
    older = rows.assign(age=(rows["age"] + 2 * rows["age"].std()).round().astype(int))
    older.to_csv(folder / "older.csv", index=False)
    return folder


@pytest.fixture
def monitor(monkeypatch: pytest.MonkeyPatch):
    """`monitor(**settings)`: the app's Monitoring page with those MODELPORT_* settings."""

    def start(**settings: str) -> AppTest:
        for name, value in settings.items():
            monkeypatch.setenv(f"MODELPORT_{name.upper()}", value)
        app = AppTest.from_file(str(APP), default_timeout=60)
        app.query_params["page"] = "monitor"
        return app.run()

    return start


def _older_report(bank: Path) -> dict:
    predictor = Predictor(load_bundle(bank / f"{BANK}.joblib"))
    return drift_of_table(predictor, str(bank / "older.csv"), Thresholds()).report


def _spec(chart) -> dict:
    return json.loads(chart.proto.spec)


def _data(chart) -> pd.DataFrame:
    """The table a chart draws (Streamlit sends it as Arrow beside the spec)."""
    return pa.ipc.open_stream(chart.proto.data.data).read_all().to_pandas()


def _metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


# --- the page's parts, on real reports ----------------------------------------------------


def test_the_shifted_feature_leads_the_table_as_an_alert_and_the_rest_are_ok(bank: Path):
    table = psi_table(_older_report(bank))
    assert table["feature"].iloc[0] == "age"
    assert table["status"].iloc[0] == "alert"
    others = table[~table["feature"].isin(["age", PREDICTION_LABEL])]
    assert set(others["status"]) == {"ok"}
    assert len(others) == 8  # every other feature of the bank model
    assert PREDICTION_LABEL in table["feature"].tolist()
    assert table["psi"].is_monotonic_decreasing


def test_the_psi_chart_colours_each_bar_by_status_and_draws_both_thresholds(bank: Path):
    report = _older_report(bank)
    spec = psi_chart(psi_table(report), 0.1, 0.25)
    bars, labels, warn, alert = spec["layer"]
    values = {bar["feature"]: bar for bar in bars["data"]["values"]}
    assert values["age"]["status"] == "alert"
    assert values["age"]["psi"] == report["features"]["age"]["psi"]
    assert (
        bars["encoding"]["color"]["scale"]["range"][
            bars["encoding"]["color"]["scale"]["domain"].index("alert")
        ]
        == (STATUS_COLOURS["alert"])
    )
    assert labels["encoding"]["text"] == {"field": "status"}  # not by colour alone
    assert warn["data"]["values"] == [{"psi": 0.1, "threshold": "warn"}]
    assert alert["data"]["values"] == [{"psi": 0.25, "threshold": "alert"}]
    assert warn["mark"]["color"] == STATUS_COLOURS["warn"]
    assert bars["encoding"]["x"]["axis"]["values"] == [0, 0.1, 0.25, 0.5, 1, 2, 5]  # age: 4.8
    assert bars["encoding"]["x"]["scale"]["domain"] == [0, 5]
    calm = psi_chart(psi_table(report).iloc[1:], 0.1, 0.25)["layer"][0]["encoding"]["x"]
    assert calm["scale"]["domain"] == [0, 0.5]  # all small: the lines still show


def test_features_a_log_did_not_hold_have_no_bar_and_come_last(bank: Path, tmp_path: Path):
    """A scoring run's output holds the predictions only: its features have no PSI."""
    predictor = Predictor(load_bundle(bank / f"{BANK}.joblib"))
    rows = pd.read_csv(bank / "new.csv")
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = pd.DataFrame({"prediction": predictor.predict_records(rows.to_dict("records"))})
    with sqlite3.connect(tmp_path / "log.db") as connection:
        log.to_sql("prediction_log", connection, index=False)
    connection.close()
    report = drift_of_log(predictor, url, Thresholds(), table="prediction_log").report
    table = psi_table(report)
    assert table["feature"].iloc[0] == PREDICTION_LABEL
    assert table["psi"].iloc[1:].isna().all()
    assert set(table["status"].iloc[1:]) == {"no-data"}
    bars = psi_chart(table, 0.1, 0.25)["layer"][0]["data"]["values"]
    assert [bar["feature"] for bar in bars] == [PREDICTION_LABEL]


def test_shares_are_the_reports_bins_in_order_on_both_sides(bank: Path):
    age = _older_report(bank)["features"]["age"]
    frame = shares(age)
    reference = frame[frame["side"] == "reference"]
    current = frame[frame["side"] == "current"]
    assert reference["bin"].tolist() == age["bins"] == current["bin"].tolist()
    assert reference["share"].tolist() == age["reference"]
    assert current["share"].tolist() == age["current"]
    assert current["share"].iloc[-2] > 0.5  # the oldest bin took most of the rows


# --- the page in the app ------------------------------------------------------------------


def test_an_uploaded_table_gives_the_report_modelport_drift_gives(monitor, bank: Path):
    app = monitor(bundle_path=str(bank / f"{BANK}.joblib"))
    assert not app.exception and not app.error
    assert "upload a table" in app.info[0].value
    upload = (bank / "older.csv").read_bytes()
    app.file_uploader[0].set_value(("older.csv", upload, "text/csv")).run()
    assert not app.exception and not app.error
    metrics = _metrics(app)
    assert metrics["drift"] == "alert"
    assert metrics["rows compared"] == "1,500"
    expected = _older_report(bank)
    assert metrics["prediction PSI"] == (
        f"{expected['prediction']['psi']:.3f} ({expected['prediction']['status']})"
    )
    table = app.dataframe[0].value
    pd.testing.assert_frame_equal(table, psi_table(expected))
    [feature] = app.main.selectbox
    assert feature.value == "age"  # the feature that moved most is shown first
    psi, bins = app.get("vega_lite_chart")
    assert _spec(psi)["layer"][0]["data"]["values"][0] == {
        "feature": "age",
        "psi": expected["features"]["age"]["psi"],
        "status": "alert",
    }
    pd.testing.assert_frame_equal(_data(bins), shares(expected["features"]["age"]))
    assert _spec(bins)["encoding"]["x"]["sort"] is None  # the bins in their own order
    feature.set_value("job").run()
    [_, bins] = app.get("vega_lite_chart")
    assert {"student", "other"} <= set(_data(bins)["bin"])


def test_an_upload_like_the_training_data_is_ok(monitor, bank: Path):
    app = monitor(bundle_path=str(bank / f"{BANK}.joblib"))
    app.file_uploader[0].set_value(("new.csv", (bank / "new.csv").read_bytes(), "text/csv")).run()
    assert not app.exception and not app.error
    assert _metrics(app)["drift"] == "ok"
    assert set(app.dataframe[0].value["status"]) == {"ok"}


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [
        ("notes.csv", b"this is not\na table of clients\n", "has no column for the features"),
        ("../../etc/older.parquet", b"PAR1 not really", "cannot read older.parquet as Parquet"),
        ("clients.csv", b"age,job\n", "has no column for the features"),
    ],
)
def test_a_bad_upload_is_one_message_that_names_it(
    monitor, bank: Path, filename: str, content: bytes, expected: str
):
    app = monitor(bundle_path=str(bank / f"{BANK}.joblib"))
    app.file_uploader[0].set_value((filename, content, "text/csv")).run()
    assert not app.exception
    [error] = app.error
    assert expected in error.value
    assert "modelport-drift-" not in error.value  # the temporary copy stays out of sight


def test_a_bundle_without_a_profile_says_how_to_add_one(monitor, bank: Path, tmp_path: Path):
    source = load_bundle(bank / f"{BANK}.joblib")
    save_bundle(source.estimator, tmp_path / "bare.joblib", source.metadata)
    app = monitor(bundle_path=str(tmp_path / "bare.joblib"))
    assert not app.exception and not app.error
    [warning] = app.warning
    assert "bare has no reference profile" in warning.value
    assert "modelport profile" in warning.value
    assert not app.file_uploader  # nothing to compare an upload with


def _prediction_log(path: Path, bank: Path) -> tuple[str, int, int]:
    """A SQLite table in the prediction log's shape: time, model, each feature, prediction.
    An hour ago the bank model got older clients; ten days ago, clients as in training;
    another model's rows (all students) share the table. Returns the URL and row counts."""
    predictor = Predictor(load_bundle(bank / f"{BANK}.joblib"))
    now = datetime.now(UTC)

    def rows(table: pd.DataFrame, model: str, age: timedelta) -> pd.DataFrame:
        answers = predictor.predict_records(table.to_dict("records"))
        moment = (now - age).isoformat()
        return table.assign(model=model, time=moment, request_id="r", prediction=answers)

    recent = rows(pd.read_csv(bank / "older.csv").head(800), BANK, timedelta(hours=1))
    earlier = rows(pd.read_csv(bank / "new.csv").tail(700), BANK, timedelta(days=10))
    other = rows(pd.read_csv(bank / "new.csv").assign(job="student"), "other", timedelta(hours=1))
    log = pd.concat([recent, earlier, other], ignore_index=True)
    with sqlite3.connect(path) as connection:
        log.to_sql("prediction_log", connection, index=False)
    connection.close()
    return f"sqlite:///{path}", len(recent), len(earlier)


def test_the_prediction_log_gives_the_last_day_by_default_and_every_row_on_demand(
    monitor, bank: Path, tmp_path: Path
):
    url, recent, earlier = _prediction_log(tmp_path / "log.db", bank)
    app = monitor(bundle_path=str(bank / f"{BANK}.joblib"), prediction_log=url)
    assert not app.exception and not app.error
    assert not app.file_uploader  # the log is the source
    [since] = app.main.selectbox[:1]
    assert since.value == "the last 24 hours"
    assert _metrics(app)["rows compared"] == f"{recent:,}"  # none of the other model's
    table = app.dataframe[0].value.set_index("feature")
    assert table.loc["age", "status"] == "alert"
    assert table.loc["job", "status"] == "ok"  # the other model's students are not ours
    assert f"from the prediction log {url}" in [caption.value for caption in app.caption]
    since.set_value("every row").run()
    assert not app.exception and not app.error
    assert _metrics(app)["rows compared"] == f"{recent + earlier:,}"
    since.set_value("the last hour").run()
    assert _metrics(app)["rows compared"] == "0"
    assert "no rows to compare yet" in app.info[0].value


def test_a_prediction_log_that_is_not_there_is_one_message(monitor, bank: Path, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'nowhere.db'}"
    app = monitor(bundle_path=str(bank / f"{BANK}.joblib"), prediction_log=url)
    assert not app.exception
    [error] = app.error
    assert "no predictions store at" in error.value


def test_a_log_the_page_cannot_reach_never_shows_its_password(monitor, bank: Path):
    url = f"postgresql+psycopg://watcher:s3cret-pw@127.0.0.1:{free_port()}/log"
    app = monitor(bundle_path=str(bank / f"{BANK}.joblib"), prediction_log=url)
    assert not app.exception
    shown = [element.value for element in (*app.caption, *app.error, *app.info)]
    assert "from the prediction log postgresql+psycopg://watcher:***@127.0.0.1" in shown[0]
    assert app.error  # nothing to read there is one message
    assert not any("s3cret-pw" in str(text) for text in shown)


# --- remote: a real `modelport serve` and its live /drift ---------------------------------

KEY = "monitoring-test-key"


def test_remote_mode_shows_the_servers_live_window(
    monitor, bank: Path, serve: StartServer, predictors: dict[str, Predictor], tmp_path: Path
):
    server = serve(bank / f"{BANK}.joblib", api_keys=KEY)
    older = pd.read_csv(bank / "older.csv").head(1000)
    with Client(server.url, api_key=KEY) as client:
        client.predict(older.to_dict("records"))
        live = client.drift()
    assert live["rows"] == 1000 and live["window"] == 1000
    app = monitor(api_url=server.url, client_api_key=KEY)
    assert not app.exception and not app.error
    metrics = _metrics(app)
    assert metrics["drift"] == "alert"
    assert metrics["rows held"] == "1,000 of 1,000"
    table = app.dataframe[0].value.set_index("feature")
    assert table.loc["age", "status"] == "alert"
    assert set(table.drop(index="age")["status"]) == {"ok"}  # the rest as in training
    assert f"live: the last 1,000 rows {server.url} served" in [c.value for c in app.caption]
    older.to_csv(tmp_path / "sent.csv", index=False)
    offline = drift_of_table(predictors[BANK], str(tmp_path / "sent.csv"), Thresholds()).report
    assert live["features"] == offline["features"]  # the same rows: the same report
    assert live["prediction"] == offline["prediction"]
    assert KEY not in " ".join(str(element.value) for element in app.caption)


def test_remote_mode_with_drift_off_or_no_profile_says_so(
    monitor, bank: Path, serve: StartServer, tmp_path: Path
):
    off = serve(bank / f"{BANK}.joblib", api_keys=KEY, drift="false")
    app = monitor(api_url=off.url, client_api_key=KEY)
    assert not app.exception
    [error] = app.error
    assert error.value == (
        f"{off.url} gives no drift for {BANK}: "
        "live drift is off on this server (MODELPORT_DRIFT=false)"
    )
    source = load_bundle(bank / f"{BANK}.joblib")
    save_bundle(source.estimator, tmp_path / "bare.joblib", source.metadata)
    bare = serve(tmp_path / "bare.joblib", api_keys=KEY)
    app = monitor(api_url=bare.url, client_api_key=KEY)
    assert not app.exception and not app.error
    [warning] = app.warning
    assert "no reference profile in the server" in warning.value
    assert "MODELPORT_DRIFT_REFERENCE=first-window" in warning.value


# --- the whole way: a server's prediction log, read by the page ---------------------------


def test_traffic_a_server_logged_shows_in_the_page_for_each_model(
    monitor, bank: Path, serve: StartServer, tmp_path: Path, predictors: dict[str, Predictor]
):
    """`modelport serve` with MODELPORT_PREDICTION_LOG, traffic to two models, the server
    stopped (SIGTERM writes what is queued), then the dashboard on the same bundles."""
    models = tmp_path / "models"
    models.mkdir()
    (models / f"{BANK}.joblib").write_bytes((bank / f"{BANK}.joblib").read_bytes())
    iris = predictors["forest-multiclass"]
    (models / "forest-multiclass.joblib").write_bytes(iris.bundle.path.read_bytes())
    url = f"sqlite:///{tmp_path / 'log.db'}"
    server = serve(models, prediction_log=url)
    older = pd.read_csv(bank / "older.csv").head(1000)
    with Client(server.url) as client:
        client.predict(older.to_dict("records"), model=BANK)
        client.predict(iris.metadata.examples * 10, model="forest-multiclass")
    assert server.stop() == 0
    app = monitor(bundle_path=str(models), prediction_log=url)
    assert not app.exception and not app.error
    assert app.sidebar.selectbox[0].value == BANK
    assert _metrics(app)["rows compared"] == "1,000"
    table = app.dataframe[0].value.set_index("feature")
    assert table.loc["age", "status"] == "alert"
    assert set(table.drop(index="age")["status"]) == {"ok"}
    app.sidebar.selectbox[0].set_value("forest-multiclass").run()
    assert not app.exception and not app.error
    assert _metrics(app)["rows compared"] == f"{len(iris.metadata.examples) * 10:,}"
