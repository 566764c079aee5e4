"""The batch scorer end to end: inputs, outputs, runs, rejects, resume, and reading back."""

from __future__ import annotations

import gzip
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin

from modelport import ModelBundle, Settings, StoreError, save_bundle
from modelport.batch import score_table
from modelport.batch.job import Job, run_job
from modelport.batch.readers import open_input
from modelport.bundle import load_bundle
from modelport.predictor import Predictor
from modelport.store import ParquetStore, open_store

BANK_COLUMNS = [
    "run_id", "customer_id", "prediction", "proba_no", "proba_yes",
    "model", "model_version", "model_sha256", "scored_at",
]  # fmt: skip


@pytest.fixture(scope="module")
def customers(example_bundles: dict[str, ModelBundle]) -> pd.DataFrame:
    """Bank customers with a text id; two invalid rows (a word for a number, an unknown job)."""
    examples = example_bundles["bank-marketing"].metadata.examples
    frame = pd.DataFrame(examples * 60).astype(object)
    frame.insert(0, "customer_id", [f"c{i:04d}" for i in range(len(frame))])
    frame.loc[3, "age"] = "old"
    frame.loc[7, "job"] = "astronaut"
    return frame


@pytest.fixture
def csv_input(customers: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    customers.to_csv(path, index=False)
    return path


def _score(bundle: Path, source: Path | str, output: str, **settings: Any) -> Any:
    settings.setdefault("quiet", True)
    return score_table(Settings(bundle_path=bundle, output=output, **settings), str(source))


def _bank(example_dir: Path) -> Path:
    return example_dir / "bank-marketing.joblib"


@pytest.mark.parametrize("kind", ["sqlite", "parquet", "csv"])
def test_every_output_kind_publishes_the_same_columns_and_rows(
    kind: str, example_dir: Path, csv_input: Path, customers: pd.DataFrame, tmp_path: Path
):
    output = {
        "sqlite": f"sqlite:///{tmp_path / 'p.db'}",
        "parquet": str(tmp_path / "out"),
        "csv": str(tmp_path / "p.csv"),
    }[kind]
    run = _score(
        _bank(example_dir), csv_input, output, proba=True, id_column="customer_id", chunk_size=97
    )

    assert (run.status, run.rows_read, run.rows_scored, run.rows_rejected) == (
        "completed", len(customers), len(customers) - 2, 2,
    )  # fmt: skip
    rows = open_store(output).rows()
    assert list(rows.columns) == BANK_COLUMNS
    assert rows["run_id"].eq(run.id).all()
    assert sorted(rows["customer_id"]) == sorted(set(customers["customer_id"]) - {"c0003", "c0007"})
    assert np.allclose(rows["proba_no"] + rows["proba_yes"], 1.0)
    assert set(rows["prediction"]) <= {"yes", "no"}
    rejects = open_store(output).rejects().sort_values("customer_id")
    assert rejects[["customer_id", "field"]].values.tolist() == [["c0003", "age"], ["c0007", "job"]]
    assert rejects["message"].iloc[0] == "expected a number, got 'old'"
    assert rejects["message"].iloc[1].startswith("unknown category 'astronaut'; expected one of")


def test_outputs_agree_with_the_predictor_row_by_row(
    example_dir: Path, csv_input: Path, customers: pd.DataFrame, tmp_path: Path
):
    _score(_bank(example_dir), csv_input, str(tmp_path / "out"), proba=True, chunk_size=50)
    rows = open_store(str(tmp_path / "out")).rows().set_index("row")
    predictor = Predictor(load_bundle(_bank(example_dir)))
    valid = customers.drop(index=[3, 7]).drop(columns="customer_id")
    X = predictor.validate(valid.to_dict("records"))
    labels, proba = predictor.predict_array(X), predictor.predict_proba_array(X)
    assert rows.loc[valid.index, "prediction"].tolist() == labels.tolist()
    # The model's own matrix product (OpenBLAS) may round the last bit of a row differently
    # with other rows beside it: chunks of 50 here, every row at once there.
    np.testing.assert_allclose(
        rows.loc[valid.index, ["proba_no", "proba_yes"]].to_numpy(), proba, rtol=0, atol=1e-15
    )


def test_every_input_kind_gives_the_same_predictions(
    example_dir: Path, customers: pd.DataFrame, tmp_path: Path
):
    valid = customers.drop(index=[3, 7]).infer_objects()
    valid["age"] = valid["age"].astype(int)
    sources: dict[str, str] = {}
    valid.to_csv(tmp_path / "t.csv", index=False)
    sources["csv"] = str(tmp_path / "t.csv")
    with gzip.open(tmp_path / "t.csv.gz", "wt") as file:
        valid.to_csv(file, index=False)
    sources["csv.gz"] = str(tmp_path / "t.csv.gz")
    valid.to_parquet(tmp_path / "t.parquet")
    sources["parquet"] = str(tmp_path / "t.parquet")
    (tmp_path / "parts").mkdir()
    for i, start in enumerate(range(0, len(valid), 100)):
        valid.iloc[start : start + 100].to_parquet(tmp_path / "parts" / f"part-{i}.parquet")
    sources["parquet folder"] = str(tmp_path / "parts")
    valid.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    sources["json lines"] = str(tmp_path / "t.jsonl")
    with sqlite3.connect(tmp_path / "in.db") as connection:
        valid.to_sql("customers", connection, index=False)

    published = {}
    for name, source in sources.items():
        output = str(tmp_path / f"out-{name.replace(' ', '-')}")
        _score(_bank(example_dir), source, output, id_column="customer_id", chunk_size=64)
        published[name] = open_store(output).rows().set_index("customer_id")["prediction"]
    for query in ("customers", "select * from customers order by customer_id"):
        output = str(tmp_path / f"out-sql-{len(query)}")
        _score(
            _bank(example_dir), f"sqlite:///{tmp_path / 'in.db'}", output,
            query=query, id_column="customer_id", chunk_size=64,
        )  # fmt: skip
        published[query] = open_store(output).rows().set_index("customer_id")["prediction"]

    first = published.pop("csv").sort_index()
    assert len(first) == len(valid)
    for name, series in published.items():
        assert series.sort_index().equals(first), name


def test_a_second_run_adds_its_rows_and_latest_reads_the_newest(
    example_dir: Path, csv_input: Path, customers: pd.DataFrame, tmp_path: Path
):
    output = f"sqlite:///{tmp_path / 'p.db'}"
    first = _score(_bank(example_dir), csv_input, output, id_column="customer_id")
    second = _score(_bank(example_dir), csv_input, output, id_column="customer_id", proba=True)

    store = open_store(output)
    assert [run.id for run in store.runs()] == [first.id, second.id]
    assert len(store.rows(first.id)) == len(store.rows(second.id)) == len(customers) - 2
    assert store.rows(first.id)["proba_yes"].isna().all()  # the table grew a column for run 2
    latest = store.latest(["c0000", "c0001", "c0003", "nobody"])
    assert sorted(latest["customer_id"]) == ["c0000", "c0001"]  # c0003 was rejected
    assert latest["run_id"].eq(second.id).all()
    assert store.rows()["run_id"].eq(second.id).all()  # the latest completed run by default


def test_explanations_add_up_to_the_output(example_dir: Path, tmp_path: Path):
    bundle = load_bundle(example_dir / "forest-multiclass.joblib")
    table = pd.DataFrame(bundle.metadata.examples * 3)
    table.to_csv(tmp_path / "iris.csv", index=False)
    _score(example_dir / "forest-multiclass.joblib", tmp_path / "iris.csv", str(tmp_path / "o"),
           proba=True, explain=True)  # fmt: skip

    rows = open_store(str(tmp_path / "o")).rows()
    contributions = rows[[f"contrib_{name}" for name in bundle.metadata.feature_names]]
    explained = contributions.sum(axis=1) + rows["base_value"]
    predicted = [row[f"proba_{row['prediction']}"] for _, row in rows.iterrows()]
    assert np.allclose(explained, predicted, atol=1e-6)


class _FailingStore(ParquetStore):
    """A Parquet store whose disk "fills up" at a given chunk."""

    fail_at = 3

    def commit(self, run: Any, chunk: Any) -> Any:
        if chunk.index == self.fail_at:
            raise StoreError("no space left on device")
        return super().commit(run, chunk)


def test_a_failed_run_resumes_after_its_last_committed_chunk(
    example_dir: Path, csv_input: Path, customers: pd.DataFrame, tmp_path: Path
):
    output = str(tmp_path / "out")
    predictor = Predictor(load_bundle(_bank(example_dir)))
    source = open_input(str(csv_input), predictor.metadata, id_column="customer_id")
    job = Job(predictor, source, _FailingStore(output), output, chunk_size=40)
    job = Job(**{**job.__dict__, "options": job.options.__class__(id_column="customer_id")})
    with pytest.raises(StoreError, match="no space left"):
        run_job(job)
    [failed] = open_store(output).runs()
    assert (failed.status, failed.chunks_committed, failed.rows_read) == ("failed", 3, 120)

    resumed = _score(_bank(example_dir), csv_input, output, id_column="customer_id",
                     resume="latest", chunk_size=999)  # fmt: skip
    assert resumed.id == failed.id and resumed.chunk_size == 40  # the run keeps its chunks
    rows = open_store(output).rows(resumed.id)
    assert rows["customer_id"].is_unique and len(rows) == len(customers) - 2


def test_resume_refuses_what_it_cannot_continue(example_dir: Path, csv_input: Path, tmp_path: Path):
    output = str(tmp_path / "out")
    done = _score(_bank(example_dir), csv_input, output)
    with pytest.raises(StoreError, match="already completed"):
        _score(_bank(example_dir), csv_input, output, resume=done.id)
    with pytest.raises(StoreError, match="holds no run 'nope'"):
        _score(_bank(example_dir), csv_input, output, resume="nope")
    fresh = _score(_bank(example_dir), csv_input, output, resume="latest")  # nothing unfinished
    assert fresh.id != done.id and fresh.status == "completed"


def test_model_refusals_are_rejects_named_by_row(tmp_path: Path):
    bundle = tmp_path / "picky.joblib"
    save_bundle(_PickyModel().fit(pd.DataFrame({"x": [1.0, 2.0]}), [2.0, 4.0]), bundle, None)
    pd.DataFrame({"x": [1.0, 2.0, -1.0, 3.0, -5.0, 4.0]}).to_csv(tmp_path / "t.csv", index=False)
    run = _score(bundle, tmp_path / "t.csv", str(tmp_path / "o"), max_invalid=0.5)

    store = open_store(str(tmp_path / "o"))
    assert (run.rows_scored, run.rows_rejected) == (4, 2)
    assert sorted(store.rows()["row"]) == [0, 1, 3, 5]
    assert store.rows().sort_values("row")["prediction"].tolist() == [2.0, 4.0, 6.0, 8.0]
    rejects = store.rejects().sort_values("row")
    assert rejects["row"].tolist() == [2, 4]
    assert rejects["message"].str.contains("negative values are not allowed").all()


class _PickyModel(RegressorMixin, BaseEstimator):
    """Doubles x; refuses (as scikit-learn does, with a ValueError) any negative x."""

    def fit(self, X: Any, y: Any = None) -> _PickyModel:
        self.n_features_in_ = 1
        self.feature_names_in_ = np.array(["x"], dtype=object)
        return self

    def predict(self, X: Any) -> np.ndarray:
        values = np.asarray(X, dtype=float)[:, 0]
        if (values < 0).any():
            raise ValueError("negative values are not allowed")
        return values * 2


@pytest.mark.parametrize("kind", ["sqlite", "parquet", "csv"])
def test_a_run_is_resumed_by_one_process_at_a_time(
    kind: str, example_dir: Path, csv_input: Path, tmp_path: Path
):
    output = {
        "sqlite": f"sqlite:///{tmp_path / 'p.db'}",
        "parquet": str(tmp_path / "out"),
        "csv": str(tmp_path / "p.csv"),
    }[kind]
    done = _score(_bank(example_dir), csv_input, output, max_invalid=0.5)
    store = open_store(output)
    halfway = replace(done, status="interrupted", ended_at=None)
    store.save(halfway)
    store.resume(replace(halfway, status="running"))  # the first process claims it
    with pytest.raises(StoreError, match="already being resumed by another process"):
        store.resume(replace(halfway, status="running"))  # a second one, at the same time
    store.close()
