"""Drift: PSI, statuses, and the sliding window fed what a served model is fed."""

from __future__ import annotations

import math
import threading

import numpy as np
import pandas as pd
import pytest

from modelport import ModelBundle, Predictor, Settings
from modelport.drift import EPSILON, DriftWindow, Tally, Thresholds, psi
from modelport.examples import EXAMPLES
from modelport.metadata import FeatureSpec, ModelMetadata
from modelport.profile import create_profile
from modelport.screening import screen_frame


def test_psi_is_the_sum_over_bins_of_share_differences_times_their_log_ratio():
    reference = [0.25, 0.25, 0.5]
    current = [0.5, 0.3, 0.2]
    direct = (
        (0.5 - 0.25) * math.log(0.5 / 0.25)
        + (0.3 - 0.25) * math.log(0.3 / 0.25)
        + (0.2 - 0.5) * math.log(0.2 / 0.5)
    )
    assert psi(reference, current) == pytest.approx(direct)
    assert psi(reference, reference) == 0


def test_an_empty_bin_counts_as_holding_epsilon():
    direct = (EPSILON - 0.5) * math.log(EPSILON / 0.5) + (1.0 - 0.5) * math.log(1.0 / 0.5)
    assert psi([0.5, 0.5, 0.0], [0.0, 1.0, 0.0]) == pytest.approx(direct)


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (0.0, "ok"),
        (0.0999, "ok"),
        (0.1, "warn"),
        (0.2499, "warn"),
        (0.25, "alert"),
        (None, "no-data"),
    ],
)
def test_statuses_by_the_default_thresholds(value: float | None, status: str):
    assert Thresholds().status(value) == status


def test_thresholds_are_parameters_and_must_be_in_order():
    assert Thresholds(warn=0.01, alert=0.02).status(0.015) == "warn"
    with pytest.raises(ValueError, match="warn <= alert"):
        Thresholds(warn=0.3, alert=0.2)


def _window(predictor: Predictor, size: int = 1000, **options: object) -> DriftWindow:
    return DriftWindow(predictor.input_metadata, predictor.bundle.profile, size=size, **options)  # type: ignore[arg-type]


def _feed(window: DriftWindow, predictor: Predictor, rows: pd.DataFrame) -> None:
    """What serving does: validate the rows, predict, and show the window both."""
    screened = screen_frame(rows.reset_index(drop=True), predictor.input_metadata)
    assert not screened.problems
    window.observe(screened.X, predictor.predict_array(screened.X))


def _statuses(report: dict[str, object]) -> dict[str, str]:
    features = report["features"]
    assert isinstance(features, dict)
    return {name: entry["status"] for name, entry in features.items()}


@pytest.mark.parametrize("name", [n for n in EXAMPLES if n != "sentiment"])
def test_a_model_fed_its_own_training_rows_is_ok_on_every_feature(
    predictors: dict[str, Predictor], name: str
):
    example = EXAMPLES[name]
    rows = (example.train or example.data)()
    window = _window(predictors[name])
    for start in range(0, len(rows), 97):  # requests of many sizes, as traffic comes
        _feed(window, predictors[name], rows.iloc[start : start + 97])
    report = window.report()
    assert report["rows"] == min(1000, len(rows))
    assert set(_statuses(report).values()) == {"ok"}
    assert report["prediction"]["status"] == "ok"
    assert report["status"] == "ok"


def _bank_rows() -> pd.DataFrame:
    return EXAMPLES["bank-marketing"].data().head(1000)


def test_a_numeric_feature_shifted_by_two_standard_deviations_alerts_alone(
    predictors: dict[str, Predictor],
):
    predictor = predictors["bank-marketing"]
    rows = _bank_rows()
    rows["balance"] = (rows["balance"] + 2 * rows["balance"].std()).round()  # an integer
    window = _window(predictor)
    _feed(window, predictor, rows)
    statuses = _statuses(window.report())
    assert statuses.pop("balance") == "alert"
    assert set(statuses.values()) == {"ok"}


def test_a_category_that_became_dominant_alerts_alone(predictors: dict[str, Predictor]):
    predictor = predictors["bank-marketing"]
    rows = _bank_rows()
    rows.loc[rows.index[:600], "job"] = "student"
    window = _window(predictor)
    _feed(window, predictor, rows)
    report = window.report()
    statuses = _statuses(report)
    assert statuses.pop("job") == "alert"
    assert set(statuses.values()) == {"ok"}
    job = report["features"]["job"]
    student = job["bins"].index("student")
    assert job["current"][student] > 0.6 > job["reference"][student]
    assert len(job["bins"]) == len(job["reference"]) == len(job["current"])


def test_a_shift_in_a_numpy_model_alerts_on_that_feature_and_the_predictions(
    predictors: dict[str, Predictor],
):
    predictor = predictors["forest-multiclass"]
    rows = EXAMPLES["forest-multiclass"].data()
    rows["petal length (cm)"] += 2 * rows["petal length (cm)"].std()
    window = _window(predictor)
    _feed(window, predictor, rows)
    report = window.report()
    statuses = _statuses(report)
    assert statuses.pop("petal length (cm)") == "alert"
    assert set(statuses.values()) == {"ok"}
    assert report["prediction"]["status"] == "alert"  # long petals: all virginica now


def _tiny_metadata() -> ModelMetadata:
    return ModelMetadata(
        features=[FeatureSpec(name="x"), FeatureSpec(name="c", type="categorical")],
        task="BINARY_CLASSIFICATION",
        input_kind="numpy",
    )


def _tiny_rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.empty((n, 2), dtype=object)
    X[:, 0] = rng.normal(size=n)
    X[:, 1] = rng.choice(["a", "b", "c"], size=n)
    return X, rng.choice([0, 1], size=n)


def _tiny_window(size: int, **options: object) -> DriftWindow:
    X, y = _tiny_rows(500, seed=1)
    profile = create_profile({"x": X[:, 0], "c": X[:, 1]}, y, _tiny_metadata())
    return DriftWindow(_tiny_metadata(), profile, size=size, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("batch", [1, 7, 50, 130])
def test_the_window_counts_only_the_last_rows(batch: int):
    size, extra = 100, 37
    X, y = _tiny_rows(size + extra, seed=2)
    window = _tiny_window(size)
    for start in range(0, len(X), batch):
        window.observe(X[start : start + batch], y[start : start + batch])
    last = _tiny_window(size)
    last.observe(X[-size:], y[-size:])
    assert window.rows == size
    np.testing.assert_array_equal(window.counts(), last.counts())
    assert window.report() == last.report()


def test_the_window_holds_its_size_in_memory_whatever_it_was_fed():
    window = _tiny_window(50)
    X, y = _tiny_rows(5000, seed=3)
    for start in range(0, 5000, 250):
        window.observe(X[start : start + 250], y[start : start + 250])
    assert window.rows == 50
    assert window.counts()[:, :-1].sum(axis=1).tolist() == [50, 50, 50]
    assert window._ring.shape == (50, 3)  # one small integer per row and distribution


def test_threads_feeding_one_window_lose_no_row():
    window = _tiny_window(100_000)
    X, y = _tiny_rows(200, seed=4)

    def feed() -> None:
        for i in range(0, 200, 2):
            window.observe(X[i : i + 2], y[i : i + 2])

    threads = [threading.Thread(target=feed) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert window.rows == 1600
    single = _tiny_window(100_000)
    single.observe(np.concatenate([X] * 8), np.concatenate([y] * 8))
    np.testing.assert_array_equal(window.counts(), single.counts())


def test_an_empty_window_says_it_has_no_data():
    report = _tiny_window(10).report()
    assert report["rows"] == 0
    assert report["status"] == "no-data"
    assert report["features"]["x"]["psi"] is None
    assert report["features"]["x"]["status"] == "no-data"


def test_without_a_profile_the_report_says_no_reference_and_counts_nothing():
    window = DriftWindow(_tiny_metadata(), None, size=10)
    window.observe(*_tiny_rows(20, seed=5))
    assert window.report() == {
        "window": 10,
        "rows": 0,
        "reference": None,
        "status": "no-reference",
        "features": {},
        "prediction": None,
    }


def test_first_window_mode_learns_the_reference_from_the_first_rows_served():
    window = DriftWindow(_tiny_metadata(), None, size=1000, learn_reference=True)
    X, y = _tiny_rows(3000, seed=6)
    window.observe(X[:700], y[:700])
    assert window.report()["status"] == "no-reference"
    window.observe(X[700:1050], y[700:1050])  # completes the reference; 50 rows are watched
    report = window.report()
    assert report["reference"] == "first-window"
    assert report["rows"] == 50
    window.observe(X[1050:2050], y[1050:2050])
    assert window.report()["status"] == "ok"
    shifted = X[2000:].copy()
    shifted[:, 0] = shifted[:, 0] + 2.0
    window.observe(shifted, y[2000:])
    statuses = _statuses(window.report())
    assert statuses == {"x": "alert", "c": "ok"}


def test_the_window_a_served_model_gets_follows_the_settings(predictors: dict[str, Predictor]):
    settings = Settings(drift_window=64, drift_warn=0.01, drift_alert=0.02)
    window = DriftWindow.for_predictor(predictors["forest-multiclass"], settings)
    assert window.size == 64
    assert window.thresholds == Thresholds(0.01, 0.02)
    bare = ModelBundle(predictors["forest-multiclass"].bundle.estimator, _iris_metadata())
    learning = DriftWindow.for_predictor(
        Predictor(bare), Settings(drift_window=10, drift_reference="first-window")
    )
    learning.observe(np.full((10, 4), 5.0), np.array(["setosa"] * 10, dtype=object))
    assert learning.report()["reference"] == "first-window"


def _iris_metadata() -> ModelMetadata:
    return ModelMetadata(features=[FeatureSpec(name=f"f{i}") for i in range(4)])


def test_drift_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODELPORT_DRIFT_WINDOW", "250")
    monkeypatch.setenv("MODELPORT_DRIFT_WARN", "0.05")
    monkeypatch.setenv("MODELPORT_DRIFT_ALERT", "0.5")
    monkeypatch.setenv("MODELPORT_DRIFT_REFERENCE", "first-window")
    settings = Settings()
    assert (settings.drift_window, settings.drift_warn, settings.drift_alert) == (250, 0.05, 0.5)
    assert settings.drift_reference == "first-window"
    with pytest.raises(ValueError, match="drift_warn"):
        Settings(drift_warn=0.3, drift_alert=0.2)


def test_a_tally_counts_unobserved_columns_nowhere():
    tally = Tally(_tiny_window(10)._tally.profile)  # type: ignore[union-attr]
    X, _ = _tiny_rows(30, seed=7)
    tally.add(tally.bins({"x": X[:, 0]}, None))  # a log with one feature and no predictions
    report = tally.report(Thresholds())
    assert report["features"]["x"]["rows"] == 30
    assert report["features"]["c"]["rows"] == 0
    assert report["prediction"]["rows"] == 0
    assert tally.rows == 30


def test_the_psis_alone_are_the_reports_numbers(predictors: dict[str, Predictor]):
    predictor = predictors["bank-marketing"]
    window = _window(predictor, size=300)
    assert window.psis() == (dict.fromkeys(predictor.bundle.profile.features), None)  # type: ignore[union-attr]
    rows = _bank_rows()
    rows.loc[rows.index[:100], "job"] = "student"
    _feed(window, predictor, rows.head(250))
    features, prediction = window.psis()
    report = window.report()
    assert features == {name: entry["psi"] for name, entry in report["features"].items()}
    assert prediction == report["prediction"]["psi"]
    assert DriftWindow(_tiny_metadata(), None, size=10).psis() == ({}, None)
