"""One chunk of a table → its predictions and its rejects, in the published columns."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from modelport.errors import FieldProblem, InputTableError, InvalidInputError
from modelport.metadata import Task
from modelport.parallel import limited, run_parts
from modelport.predictor import Predictor
from modelport.screening import screen_frame
from modelport.store.chunk import Column, ColumnKind, ScoredChunk

ROW_ID = "row"
"""The id column when none is given: the row's number in the input, from 0."""
_PARALLEL_ROWS = 4096
"""Chunks smaller than this are predicted in one call: threads would cost more than they save."""


@dataclass(frozen=True)
class ScoreOptions:
    """What a run publishes besides the prediction.

    Attributes:
        proba: a `proba_<class>` column per class.
        explain: a `contrib_<feature>` column per feature, and `base_value`.
        id_column: the input column that identifies a row; None numbers the rows.
    """

    proba: bool = False
    explain: bool = False
    id_column: str | None = None

    @property
    def id_name(self) -> str:
        """The id column's name in the output."""
        return self.id_column or ROW_ID


@dataclass(frozen=True)
class ModelIdentity:
    """What each published row says about the model that scored it."""

    name: str
    version: str | None
    sha256: str | None


def id_kind(values: pd.Series) -> ColumnKind:
    """The kind an id column is published as: its own when a number, else text."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return "text"
    if pd.api.types.is_integer_dtype(values.dtype):
        return "integer"
    return "text"


class ChunkScorer:
    """Scores chunks for one run: the same columns, in the same order, for every chunk.

    Args:
        predictor: the model, as the API serves it (same validation, same numbers).
        options: what to publish.
        run_id: written on every row, so runs never overwrite one another.
        identity: the model's name, version and bundle hash.
        ids: the kind of the id column.
        threads: model calls run at once on parts of a chunk (trees and BLAS release the GIL).
    """

    def __init__(
        self,
        predictor: Predictor,
        options: ScoreOptions,
        *,
        run_id: str,
        identity: ModelIdentity,
        ids: ColumnKind,
        threads: int = 1,
    ) -> None:
        self.predictor = predictor
        self.options = options
        self.run_id = run_id
        self.identity = identity
        self.threads = max(1, threads)
        self.columns = output_columns(predictor, options, ids)
        self.reject_columns = [
            Column("run_id", "text"),
            Column(options.id_name, ids),
            Column("field", "text"),
            Column("message", "text"),
        ]
        self.ids = ids

    def score(self, index: int, frame: pd.DataFrame, first_row: int, at: datetime) -> ScoredChunk:
        """Validate, predict and shape one chunk; `first_row` numbers its rows."""
        ids = self._ids(frame, first_row)
        screened = screen_frame(frame, self.predictor.input_metadata)
        problems = list(screened.problems)
        outputs: dict[str, Any] = {}
        kept = screened.valid
        if len(kept):
            outputs, refused = self._outputs(screened.X)
            if refused:
                problems += [
                    FieldProblem(p.detail, int(kept[p.row or 0]), p.field) for p in refused
                ]
                kept = np.delete(kept, [p.row or 0 for p in refused])
        predictions = self._frame(ids[kept], outputs, at)
        rejects = self._rejects(ids, problems)
        return ScoredChunk(
            index=index,
            rows_read=len(frame),
            rows_rejected=len(frame) - len(kept),
            predictions=predictions,
            rejects=rejects,
        )

    def _ids(self, frame: pd.DataFrame, first_row: int) -> np.ndarray:
        name = self.options.id_column
        if name is None:
            return np.arange(first_row, first_row + len(frame), dtype=np.int64)
        values = frame[name]
        missing = np.flatnonzero(values.isna().to_numpy())
        if len(missing):
            raise InputTableError(
                f"row {first_row + int(missing[0])} has no value in the id column {name!r}"
            )
        if self.ids == "integer":
            if not pd.api.types.is_integer_dtype(values.dtype):
                raise InputTableError(
                    f"the id column {name!r} holds a value that is not a whole number "
                    f"between rows {first_row} and {first_row + len(frame) - 1}, "
                    "unlike the ids before it"
                )
            return values.to_numpy(dtype=np.int64)
        return values.astype(str).to_numpy(dtype=object)

    def _outputs(self, X: Any) -> tuple[dict[str, Any], list[FieldProblem]]:
        """The model's answers for `X` in parts run at once; rows the model refuses, apart."""
        n_rows = len(X)
        parts = min(self.threads, max(1, n_rows // _PARALLEL_ROWS))
        bounds = np.linspace(0, n_rows, parts + 1).astype(int)
        slices = [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
        # At most `threads` threads in all: a model that splits its own big calls (a forest
        # twin) splits a lone part, never one of several.
        with limited(self.threads):
            results = run_parts(lambda s: self._answer(X, *s), slices)
        refused = [problem for _, problems in results for problem in problems]
        return _joined([answer for answer, _ in results]), refused

    def _answer(self, X: Any, start: int, stop: int) -> tuple[dict[str, Any], list[FieldProblem]]:
        """Rows start..stop of X; halves are tried apart until the rows the model refuses
        stand alone (their positions count from the start of X)."""
        part = _rows(X, start, stop)
        try:
            return self._call(part), []
        except InvalidInputError as error:
            if stop - start == 1:
                detail = error.problems[0].detail if error.problems else str(error)
                return {}, [FieldProblem(detail, start)]
        middle = (start + stop) // 2
        first, first_refused = self._answer(X, start, middle)
        second, second_refused = self._answer(X, middle, stop)
        return _joined([first, second]), first_refused + second_refused

    def _call(self, X: Any) -> dict[str, Any]:
        predictor = self.predictor
        answer: dict[str, Any] = {}
        if self.options.proba:
            answer["prediction"], answer["proba"] = predictor.predict_with_proba(X)
        else:
            answer["prediction"] = predictor.predict_array(X)
        if self.options.explain:
            answer["contrib"], answer["base_value"] = _explain(predictor, X, answer["prediction"])
        return answer

    def _frame(self, ids: np.ndarray, outputs: dict[str, Any], at: datetime) -> pd.DataFrame:
        n_rows = len(ids)
        data: dict[str, Any] = {"run_id": None}  # first column; filled below
        data[self.options.id_name] = ids
        data["prediction"] = outputs.get("prediction", np.empty(0))
        names = self.predictor.metadata.class_names or []
        proba = outputs.get("proba", np.empty((0, len(names))))
        if self.options.proba:
            for k, name in enumerate(names):
                data[f"proba_{name}"] = proba[:, k]
        if self.options.explain:
            contrib = outputs.get("contrib", np.empty((0, len(self.predictor.metadata.features))))
            for j, feature in enumerate(self.predictor.metadata.feature_names):
                data[f"contrib_{feature}"] = contrib[:, j]
            data["base_value"] = outputs.get("base_value", np.empty(0))
        identity = self.identity
        for name, value in (
            ("model", identity.name),
            ("model_version", identity.version),
            ("model_sha256", identity.sha256),
        ):
            data[name] = _constant(value, n_rows)
        data["scored_at"] = pd.DatetimeIndex(
            np.full(n_rows, np.datetime64(at.replace(tzinfo=None), "us")), tz="UTC"
        )
        data["run_id"] = _constant(self.run_id, n_rows)
        frame = pd.DataFrame(data)
        return frame.astype({c.name: _DTYPES[c.kind] for c in self.columns if c.kind in _CAST})

    def _rejects(self, ids: np.ndarray, problems: list[FieldProblem]) -> pd.DataFrame:
        rows = [p.row or 0 for p in problems]
        frame = pd.DataFrame(
            {
                "run_id": np.full(len(problems), self.run_id, dtype=object),
                self.options.id_name: ids[rows] if problems else ids[:0],
                "field": np.array([p.field for p in problems], dtype=object),
                "message": np.array([p.detail for p in problems], dtype=object),
            }
        )
        return frame.astype({c.name: _DTYPES[c.kind] for c in self.reject_columns})


_CAST = frozenset({"integer", "float", "boolean"})
"""Kinds whose columns are cast to one dtype; text stays as built (repeated values as
categories), times are built in their dtype."""
_DTYPES: dict[ColumnKind, Any] = {
    "text": object,
    "repeated": "category",
    "integer": np.int64,
    "float": np.float64,
    "boolean": bool,
    "time": "datetime64[us, UTC]",
}


def output_columns(predictor: Predictor, options: ScoreOptions, ids: ColumnKind) -> list[Column]:
    """The published columns, in order: the same in every kind of output."""
    metadata = predictor.metadata
    columns = [Column("run_id", "repeated"), Column(options.id_name, ids)]
    columns.append(Column("prediction", _prediction_kind(predictor)))
    if options.proba:
        columns += [Column(f"proba_{name}", "float") for name in metadata.class_names or []]
    if options.explain:
        columns += [Column(f"contrib_{name}", "float") for name in metadata.feature_names]
        columns.append(Column("base_value", "float"))
    columns += [
        Column("model", "repeated"),
        Column("model_version", "repeated"),
        Column("model_sha256", "repeated"),
        Column("scored_at", "time"),
    ]
    names = [column.name for column in columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputTableError(
            f"the id column {options.id_name!r} has the name of a published column; "
            f"rename it in the input ({', '.join(repeated)})"
        )
    return columns


def _prediction_kind(predictor: Predictor) -> ColumnKind:
    task = predictor.metadata.task
    if task is None or task is Task.REGRESSION:
        return "float"
    classes = np.asarray(getattr(predictor.bundle.estimator, "classes_", []))
    if classes.dtype.kind == "b":
        return "boolean"
    if classes.dtype.kind in "iu":
        return "integer"
    return "float" if classes.dtype.kind == "f" else "text"


def _explain(predictor: Predictor, X: Any, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contributions (rows x features) and base values, for the predicted class of a
    multiclass model, in slices the predictor's explanation limit allows."""
    names = predictor.metadata.feature_names
    rows: list[dict[str, Any]] = []
    step = predictor.max_explain_rows
    for start in range(0, len(X), step):
        rows += predictor.explain(_rows(X, start, min(start + step, len(X))))
    contrib = np.empty((len(rows), len(names)))
    base = np.empty(len(rows))
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        values, base_value = row["values"], row["base_value"]
        if isinstance(base_value, dict):  # multiclass: the predicted class's explanation
            values, base_value = values[str(label)], base_value[str(label)]
        contrib[i] = [values[name] for name in names]
        base[i] = base_value
    return contrib, base


def _constant(value: str | None, n_rows: int) -> pd.Categorical:
    """A column of one repeated value, stored once (each chunk repeats run, model, hash)."""
    if value is None:
        return pd.Categorical([None] * n_rows)
    kind = pd.CategoricalDtype([value])
    return pd.Categorical.from_codes(np.zeros(n_rows, dtype=np.int8), dtype=kind)


def _rows(X: Any, start: int, stop: int) -> Any:
    return X.iloc[start:stop] if isinstance(X, pd.DataFrame) else X[start:stop]


def _joined(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """Answers of consecutive parts as one; a part whose rows were all refused has none."""
    present = [answer for answer in answers if answer]
    if len(present) == 1:
        return present[0]
    return {key: np.concatenate([a[key] for a in present]) for key in present[0]} if present else {}
