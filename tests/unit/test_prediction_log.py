"""The prediction log's queue and writer: every row submitted is written (or dropped and
counted), sampling, a full queue, a store that goes away and comes back, close."""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from modelport import Predictor
from modelport.errors import ConfigurationError, StoreError
from modelport.prediction_log import PredictionLog
from modelport.store import open_store
from tests.postgres import free_port
from tests.unit.prediction_log_helpers import (
    eventually,
    example_rows,
    features_of,
    log_target,
    read_log,
    served,
)

IRIS = "forest-multiclass"
FAST_RETRY = (0.02, 0.1)


@pytest.fixture
def iris(predictors: dict[str, Predictor]) -> Predictor:
    return predictors[IRIS]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'log.db'}"


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "parquet"])
def test_the_log_holds_exactly_the_rows_submitted_by_8_threads(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, iris: Predictor
) -> None:
    target = log_target(kind, request, tmp_path)
    rows = example_rows(IRIS, 3)
    log = PredictionLog(target, features=features_of(iris), batch_rows=64, flush_seconds=0.05)
    log.start()
    sent: list[tuple[str, int]] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        for i in range(40):
            request_id = f"c{number}-{i}"
            size = 1 + (number + i) % 3
            log.submit(served(iris, rows[:size], request_id, caller=f"client{number}"))
            with lock:
                sent.append((request_id, size))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close(timeout=30)

    total = sum(size for _, size in sent)
    assert (log.written, log.dropped) == (total, 0)
    logged = read_log(target)
    assert len(logged) == total
    per_request = logged.groupby("request_id").size().to_dict()
    assert per_request == dict(sent)
    first = logged[logged["request_id"] == "c3-0"]  # 1 + 3 % 3 = 1 row: the first example row
    assert first["sepal length (cm)"].tolist() == [rows[0]["sepal length (cm)"]]
    assert first["prediction"].tolist() == iris.predict(iris.validate(rows[:1]))
    assert first["caller"].tolist() == ["client3"]
    assert set(logged["route"]) == {"classic"}
    assert set(logged["model_sha256"]) == {iris.bundle.sha256}
    probabilities = logged[["proba_setosa", "proba_versicolor", "proba_virginica"]].sum(axis=1)
    assert probabilities.round(9).eq(1).all()
    with open_store(target, "prediction_log") as store:
        (run,) = store.runs()
    assert (run.status, run.rows_scored, run.options) == (
        "completed",
        total,
        {"prediction_log": True},
    )


def test_a_sample_of_half_logs_about_half_of_the_requests(sqlite_url: str, iris: Predictor) -> None:
    record = served(iris, example_rows(IRIS, 1), "r")
    log = PredictionLog(sqlite_url, sample=0.5, seed=17, features=features_of(iris))
    for _ in range(2000):
        log.submit(record)
    log.close(timeout=30)
    # Binomial(2000, 0.5): the mean 1000, a standard deviation of 22.4; ±100 is 4.5 of them.
    assert 900 <= log.written <= 1100
    assert log.dropped == 0  # a request left out by the sample is not a drop
    assert len(read_log(sqlite_url)) == log.written


def test_a_sample_must_be_a_share(sqlite_url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"sample must be in \(0, 1\], not 1.5"):
        PredictionLog(sqlite_url, sample=1.5)


def test_a_full_queue_drops_and_counts_while_submit_returns_at_once(
    sqlite_url: str, iris: Predictor
) -> None:
    drops: list[tuple[int, str]] = []
    log = PredictionLog(
        sqlite_url,
        queue_rows=10,
        features=features_of(iris),
        on_drop=lambda rows, reason: drops.append((rows, reason)),
    )  # not started: nothing drains the queue, so it stays full
    record = served(iris, example_rows(IRIS, 3), "r")
    for _ in range(5):
        log.submit(record)  # 3 rows each: 3 fit (9 rows), 2 do not
    assert drops == [(3, "full"), (3, "full")]
    assert log.dropped == 6
    log.close(timeout=30)  # a log never started writes its queue on close
    assert (log.written, log.dropped) == (9, 6)
    assert len(read_log(sqlite_url)) == 9


def test_close_writes_what_is_queued_and_later_rows_are_dropped(
    sqlite_url: str, iris: Predictor
) -> None:
    log = PredictionLog(sqlite_url, features=features_of(iris), flush_seconds=3600)
    log.start()  # waits an hour for a batch: only close writes these
    for i in range(30):
        log.submit(served(iris, example_rows(IRIS, 1), f"r{i}"))
    log.close(timeout=30)
    assert log.written == 30
    assert len(read_log(sqlite_url)) == 30
    log.submit(served(iris, example_rows(IRIS, 2), "late"))
    assert (log.written, log.dropped) == (30, 2)


def test_a_store_that_refuses_connections_drops_and_counts_and_close_gives_up_in_time(
    iris: Predictor, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    drops: dict[str, int] = {}
    log = PredictionLog(
        url,
        queue_rows=20,
        batch_rows=5,
        flush_seconds=0.01,
        backoff=FAST_RETRY,
        features=features_of(iris),
        on_drop=lambda rows, reason: drops.update({reason: drops.get(reason, 0) + rows}),
    )
    log.start()
    record = served(iris, example_rows(IRIS, 1), "r")
    with caplog.at_level(logging.WARNING, "modelport.prediction_log"):
        log.submit(record)
        eventually(lambda: "is unavailable" in caplog.text, "the writer sees the store down")
        for _ in range(100):
            log.submit(record)  # the writer holds its batch: 20 more fit, 80 are dropped
        assert drops == {"full": 80}
        log.close(timeout=0.3)
    assert log.written == 0
    assert drops == {"full": 80, "stopped": 21}
    assert log.dropped == 101
    assert caplog.text.count("is unavailable") == 1


def _move_away(folder: Path) -> Path:
    """Make the folder unusable as root can't be refused by permissions: a file takes its
    place (SQLite and Parquet then fail to open or write anything under it)."""
    away = folder.with_name(folder.name + ".away")
    folder.rename(away)
    folder.write_text("not a folder")
    return away


@pytest.mark.parametrize("kind", ["sqlite", "parquet"])
def test_a_folder_that_goes_away_is_waited_for_and_logged_once_per_outage(
    kind: str, tmp_path: Path, iris: Predictor, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    target = f"sqlite:///{folder / 'log.db'}" if kind == "sqlite" else str(folder / "log")
    log = PredictionLog(
        target,
        queue_rows=20,
        batch_rows=5,
        flush_seconds=0.01,
        backoff=FAST_RETRY,
        features=features_of(iris),
    )
    log.start()
    record = served(iris, example_rows(IRIS, 1), "r")
    with caplog.at_level(logging.WARNING, "modelport.prediction_log"):
        for outage in range(2):
            log.submit(record)
            eventually(lambda n=outage: log.written == 1 + n * 22, "rows before the outage")
            away = _move_away(folder)
            log.submit(record)
            eventually(lambda n=outage: caplog.text.count("is unavailable") == n + 1, "down")
            for _ in range(30):
                log.submit(record)  # 20 wait in the queue, 10 are dropped
            assert log.dropped == 10 * (outage + 1)
            folder.unlink()
            away.rename(folder)
            eventually(lambda n=outage: log.written == 22 + n * 22, "written once it is back")
        log.close(timeout=30)
    assert caplog.text.count("is unavailable") == 2
    assert caplog.text.count("is available again") == 2
    assert (log.written, log.dropped) == (44, 20)
    assert len(read_log(target)) == 44


def test_a_postgresql_database_dropped_and_made_again_gets_its_table_back(
    postgres_server: str, iris: Predictor, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"log_{uuid.uuid4().hex}"
    url = sa.make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def execute(statement: str) -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(statement))

    execute(f'CREATE DATABASE "{name}"')
    log = PredictionLog(
        url, batch_rows=5, flush_seconds=0.01, backoff=FAST_RETRY, features=features_of(iris)
    )
    log.start()
    record = served(iris, example_rows(IRIS, 2), "r")
    try:
        with caplog.at_level(logging.WARNING, "modelport.prediction_log"):
            log.submit(record)
            eventually(lambda: log.written == 2, "the first rows")
            execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            log.submit(record)
            eventually(lambda: "is unavailable" in caplog.text, "the writer sees it gone")
            execute(f'CREATE DATABASE "{name}"')
            eventually(lambda: log.written == 4, "the rows held through the outage")
            log.close(timeout=30)
        assert caplog.text.count("is unavailable") == 1
        assert caplog.text.count("is available again") == 1
        logged = read_log(url)  # the new database: the table and the run made again
        assert len(logged) == 2
        assert logged["petal width (cm)"].notna().all()
    finally:
        log.close(timeout=1)
        execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nosuchdialect://host/db", "cannot use the database URL"),
        ("sqlite:///{tmp}/no/such/folder/log.db", "does not exist"),
        ("{tmp}/log.csv", "can't be a CSV file"),
        ("{tmp}/a-file", "is a file"),
    ],
)
def test_a_target_that_cannot_hold_a_log_is_refused_with_a_clear_error(
    target: str, message: str, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(StoreError, match=message):
        PredictionLog(target.format(tmp=tmp_path))
