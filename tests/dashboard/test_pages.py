"""The dashboard's pages, driven headless with Streamlit's AppTest, embedded and remote."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from modelport import Predictor, Settings
from modelport.batch import score_table
from modelport.dashboard import APP
from modelport.examples import save_example_data
from tests.e2e.conftest import StartServer, free_port

KEY = "dashboard-test-key"


@pytest.fixture
def dashboard(monkeypatch: pytest.MonkeyPatch):
    """`dashboard(**settings)`: the app with those MODELPORT_* settings, run once."""

    def start(page: str | None = None, model: str | None = None, **settings: str) -> AppTest:
        for name, value in settings.items():
            monkeypatch.setenv(f"MODELPORT_{name.upper()}", value)
        app = AppTest.from_file(str(APP), default_timeout=60)
        if page:
            app.query_params["page"] = page
        if model:
            app.query_params["model"] = model
        return app.run()

    return start


def test_predict_without_touching_the_form_gives_a_class_and_its_probabilities(
    dashboard, example_dir: Path, predictors: dict[str, Predictor]
):
    app = dashboard(bundle_path=str(example_dir / "forest-multiclass.joblib"))
    assert not app.exception
    app.button[0].click().run()
    assert not app.exception and not app.error
    [label] = [metric.value for metric in app.metric]
    iris = predictors["forest-multiclass"]
    defaults = {spec.name: spec.default for spec in iris.metadata.features}
    assert label == str(iris.predict_records(defaults)[0])
    charts = app.get("vega_lite_chart")
    assert len(charts) == 2  # the probabilities, and the explanation


def test_a_changed_category_changes_the_question(
    dashboard, example_dir: Path, predictors: dict[str, Predictor]
):
    app = dashboard(bundle_path=str(example_dir / "bank-marketing.joblib"))
    job = next(box for box in app.selectbox if box.label == "job")
    job.set_value("student")
    duration = next(box for box in app.number_input if box.label == "duration")
    duration.set_value(900)
    app.button[0].click().run()
    assert not app.exception and not app.error
    bank = predictors["bank-marketing"]
    record = {spec.name: spec.default for spec in bank.metadata.features}
    record |= {"job": "student", "duration": 900}
    assert [metric.value for metric in app.metric] == [str(bank.predict_records(record)[0])]


def test_the_model_card_and_the_url_that_keeps_the_choice(dashboard, example_dir: Path):
    app = dashboard(page="card", model="wind-turbine", bundle_path=str(example_dir))
    assert not app.exception
    assert app.sidebar.selectbox[0].value == "wind-turbine"
    assert [header.value for header in app.header] == ["wind-turbine"]
    card = app.table[0].value.to_string()
    assert "REGRESSION" in card
    features = app.dataframe[0].value
    assert "Ws1_avg" in features["feature"].tolist()
    app.sidebar.radio[0].set_value("Try the model").run()
    assert [header.value for header in app.header] == ["Try wind-turbine"]


def test_published_predictions_runs_rows_and_a_look_up(
    dashboard, example_dir: Path, tmp_path: Path
):
    bundle = example_dir / "bank-marketing.joblib"
    save_example_data("bank-marketing", tmp_path / "customers.csv")
    store = f"sqlite:///{tmp_path / 'p.db'}"
    run = score_table(
        Settings(bundle_path=bundle, output=store, id_column="id", quiet=True),
        str(tmp_path / "customers.csv"),
    )
    app = dashboard(page="published", bundle_path=str(bundle), predictions=store)
    assert not app.exception and not app.error
    runs = app.dataframe[0].value
    assert runs["run"].tolist() == [run.id] and runs["status"].tolist() == ["completed"]
    rows = app.dataframe[1].value
    assert len(rows) == run.rows_scored
    app.text_input[0].set_value("17").run()
    found = app.dataframe[2].value
    assert found["id"].tolist() == ["17"] and found["run_id"].tolist() == [
        run.id
    ]  # CSV ids are text


def test_without_a_store_the_page_says_how_to_give_one(dashboard, example_dir: Path):
    app = dashboard(page="published", bundle_path=str(example_dir / "forest-multiclass.joblib"))
    assert "--predictions" in app.info[0].value


def test_a_bad_bundle_is_one_message_in_the_page(dashboard, tmp_path: Path):
    (tmp_path / "broken.joblib").write_bytes(b"not a pickle")
    app = dashboard(bundle_path=str(tmp_path / "broken.joblib"))
    assert not app.exception
    assert "broken.joblib" in app.error[0].value


def test_remote_mode_answers_as_the_server_does(
    dashboard, example_dir: Path, serve: StartServer, predictors: dict[str, Predictor]
):
    server = serve(example_dir / "forest-multiclass.joblib", api_keys=KEY)
    app = dashboard(api_url=server.url, client_api_key=KEY)
    assert not app.exception and not app.error
    app.button[0].click().run()
    iris = predictors["forest-multiclass"]
    defaults = {spec.name: spec.default for spec in iris.metadata.features}
    assert [metric.value for metric in app.metric] == [str(iris.predict_records(defaults)[0])]
    assert KEY not in str(app.sidebar.caption[0].value)


def test_remote_mode_with_a_wrong_key_or_no_server_says_so(
    dashboard, example_dir: Path, serve: StartServer
):
    server = serve(example_dir / "forest-multiclass.joblib", api_keys=KEY)
    wrong = dashboard(api_url=server.url, client_api_key="wrong")
    assert not wrong.exception
    assert wrong.error[0].value == (
        f"{server.url} refused the key given (the bearer token is not valid): "
        "set MODELPORT_CLIENT_API_KEY or pass --api-key-file"
    )
    assert "wrong" not in wrong.error[0].value  # the key itself never shows
    nowhere = dashboard(api_url=f"http://127.0.0.1:{free_port()}", client_api_key=KEY)
    assert not nowhere.exception
    assert "cannot reach" in nowhere.error[0].value


def test_remote_mode_without_a_key_says_how_to_give_one(
    dashboard, example_dir: Path, serve: StartServer
):
    server = serve(example_dir / "forest-multiclass.joblib", api_keys=KEY)
    keyless = dashboard(api_url=server.url)
    assert not keyless.exception
    assert keyless.error[0].value.startswith(f"{server.url} refused no key (")
    assert keyless.error[0].value.endswith("set MODELPORT_CLIENT_API_KEY or pass --api-key-file")
