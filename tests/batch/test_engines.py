"""Real parts: a PostgreSQL server in and out, a Dask cluster of two worker processes, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from modelport import ModelBundle
from modelport.store import open_store


@pytest.fixture(scope="module")
def customers(example_bundles: dict[str, ModelBundle]) -> pd.DataFrame:
    examples = example_bundles["bank-marketing"].metadata.examples
    frame = pd.DataFrame(examples * 80)
    frame.insert(0, "customer_id", range(1000, 1000 + len(frame)))
    return frame


def _modelport(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelport", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def test_postgresql_in_and_out_matches_sqlite(
    postgres_url: str, example_dir: Path, customers: pd.DataFrame, tmp_path: Path
):
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        customers.to_sql("customers", connection, index=False)
    engine.dispose()
    bundle = str(example_dir / "bank-marketing.joblib")
    query = "select * from customers order by customer_id"
    common = ["--query", query, "--id-column", "customer_id", "--proba", "--chunk-size", "77"]

    to_postgres = _modelport("score", bundle, postgres_url, "--output", postgres_url, *common)
    assert to_postgres.returncode == 0, to_postgres.stderr
    sqlite = f"sqlite:///{tmp_path / 'p.db'}"
    to_sqlite = _modelport("score", bundle, postgres_url, "--output", sqlite, *common, "-q")
    assert to_sqlite.returncode == 0, to_sqlite.stderr

    with open_store(postgres_url) as store, open_store(sqlite) as other:
        in_postgres = store.rows().sort_values("customer_id")
        in_sqlite = other.rows().sort_values("customer_id")
    assert len(in_postgres) == len(customers)
    assert in_postgres["customer_id"].tolist() == customers["customer_id"].tolist()
    for column in ("prediction", "proba_no", "proba_yes"):
        assert in_postgres[column].tolist() == in_sqlite[column].tolist(), column
    assert in_postgres["scored_at"].dt.tz is not None

    listed = _modelport("runs", postgres_url, "--json")
    assert listed.returncode == 0, listed.stderr
    [run] = json.loads(listed.stdout)
    assert (run["status"], run["rows_scored"], run["chunks_committed"]) == (
        "completed", len(customers), -(-len(customers) // 77),
    )  # fmt: skip


def test_dask_cluster_of_two_workers_publishes_what_the_local_engine_does(
    example_dir: Path, customers: pd.DataFrame, tmp_path: Path
):
    customers.to_csv(tmp_path / "c.csv", index=False)
    bundle = str(example_dir / "bank-marketing.joblib")
    common = ["--id-column", "customer_id", "--proba", "--chunk-size", "50", "-q"]
    env = dict(os.environ, DASK_TEMPORARY_DIRECTORY=str(tmp_path / "dask"))

    local = _modelport("score", bundle, str(tmp_path / "c.csv"), "-o", str(tmp_path / "a"), *common)
    assert local.returncode == 0, local.stderr
    on_dask = _modelport(
        "score", bundle, str(tmp_path / "c.csv"), "-o", str(tmp_path / "b"), *common,
        "--engine", "dask", env=env,
    )  # fmt: skip
    assert on_dask.returncode == 0, on_dask.stderr

    columns = ["customer_id", "prediction", "proba_no", "proba_yes"]
    a = open_store(str(tmp_path / "a")).rows()[columns].sort_values("customer_id")
    b = open_store(str(tmp_path / "b")).rows()[columns].sort_values("customer_id")
    assert len(b) == len(customers)
    assert a.reset_index(drop=True).equals(b.reset_index(drop=True))
    [run] = open_store(str(tmp_path / "b")).runs()
    assert run.chunks_committed == -(-len(customers) // 50)


def test_progress_lines_without_a_terminal_and_nothing_when_quiet(
    example_dir: Path, customers: pd.DataFrame, tmp_path: Path
):
    customers.to_csv(tmp_path / "c.csv", index=False)
    bundle = str(example_dir / "bank-marketing.joblib")

    loud = _modelport("score", bundle, str(tmp_path / "c.csv"), "-o", str(tmp_path / "a"),
                      "--chunk-size", "200")  # fmt: skip
    assert loud.returncode == 0, loud.stderr
    lines = loud.stderr.splitlines()
    assert lines[0].startswith("run ") and "scoring" in lines[0]
    assert [line.split(": ")[1].split(" rows read")[0] for line in lines[1:]] == [
        str(min(n, len(customers))) for n in range(200, len(customers) + 200, 200)
    ]
    assert loud.stdout.startswith("run ") and f"{len(customers)} rows read" in loud.stdout

    quiet = _modelport("score", bundle, str(tmp_path / "c.csv"), "-o", str(tmp_path / "b"), "-q")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""


def test_every_flag_has_its_environment_twin(
    example_dir: Path, customers: pd.DataFrame, tmp_path: Path
):
    customers.to_csv(tmp_path / "c.csv", index=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    env |= {
        "MODELPORT_OUTPUT": f"sqlite:///{tmp_path / 'p.db'}",
        "MODELPORT_ID_COLUMN": "customer_id",
        "MODELPORT_PROBA": "1",
        "MODELPORT_CHUNK_SIZE": "100",
        "MODELPORT_TABLE": "scores",
        "MODELPORT_QUIET": "true",
    }
    done = _modelport("score", str(example_dir / "bank-marketing.joblib"), str(tmp_path / "c.csv"),
                      env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    store = open_store(env["MODELPORT_OUTPUT"], "scores")
    [run] = store.runs()
    assert (run.chunk_size, run.options["id_column"], run.options["proba"]) == (
        100, "customer_id", True,
    )  # fmt: skip
    assert "proba_yes" in store.rows().columns
