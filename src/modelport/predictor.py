"""Predictor: labels, probabilities and values from a bundle, in JSON-safe Python types.

Who is at fault when a call fails. The input has been validated against the metadata
before any model call, so a failure is not taken for the client's mistake by default:

* a fast path of modelport's own (a numpy twin, the ONNX copy) that fails is a bug of
  modelport: the model itself answers that call, and the failure is logged once per model;
* the model raising `InvalidInputError` (a wrapper that checks its input) is the input's;
* the model raising `ValueError`, `TypeError`, `KeyError` or `IndexError` (how estimators
  refuse values, such as a category they never saw) is the input's only while the model is
  known to work: it answers its example rows at that moment or, for a bundle without
  example rows, it has answered rows before (another request's, or other rows of this
  one); then the rows it refuses are named (422);
* anything else, or any error while the model is not known to work, is the model's
  failure: it is raised as it is, and the API answers 500 with a request id and logs the
  traceback.
"""

from __future__ import annotations

import logging
import threading
from itertools import repeat
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast, runtime_checkable

import numpy as np
import pandas as pd
import sklearn
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from modelport.bundle import ModelBundle
from modelport.compiled import compiled_module
from modelport.errors import FieldProblem, InvalidInputError, NotSupportedError, PredictionError
from modelport.introspection import final_estimator
from modelport.metadata import ModelMetadata, Task, to_plain
from modelport.runtime import ForestClassifierTwin, ForestRegressorTwin, numpy_twin
from modelport.validation import numbers_only, valid_matrix, validate_columns, validate_records

if TYPE_CHECKING:
    from modelport.explain import Explainer

logger = logging.getLogger("modelport.runtime")
RuntimeName = Literal["native", "onnx", "auto"]
_ARGMAX_CLASSIFIERS = (ForestClassifierTwin, RandomForestClassifier, ExtraTreesClassifier)
"""Runtimes whose `predict` is, exactly, the class of highest `predict_proba`."""
_TREE_BY_TREE = (
    ForestClassifierTwin,
    ForestRegressorTwin,
    RandomForestClassifier,
    RandomForestRegressor,
    ExtraTreesClassifier,
    ExtraTreesRegressor,
)
"""Runtimes that call their trees one by one, taking the GIL back after each."""
_LOCATE_LIMIT = 200
"""Rows tried one by one to name those a model rejects; past this the error names none."""
_REFUSALS = (ValueError, TypeError, KeyError, IndexError)
"""What an estimator raises on values it refuses (and, sometimes, on a bug of its own)."""


@runtime_checkable
class Runtime(Protocol):
    """What runs the model: a fitted estimator satisfies it by duck typing."""

    def predict(self, X: Any) -> Any: ...


_UNBUILT = object()
"""A reader not made yet."""


class Predictor:
    """Turns validated input into answers, and the model's failures into clear errors.

    Example:
        >>> predictor = Predictor(load_bundle("iris.joblib"))  # doctest: +SKIP
        >>> predictor.predict_records({"sepal length (cm)": 5.1, ...})
        [0]
    """

    def __init__(
        self,
        bundle: ModelBundle,
        *,
        max_rows: int = 10_000,
        max_explain_rows: int = 100,
        runtime: RuntimeName = "native",
    ) -> None:
        self.bundle = bundle
        compiled = self._compiled(runtime)
        twin = compiled or numpy_twin(bundle.estimator, bundle.metadata)
        self.runtime: Runtime = twin if twin is not None else bundle.estimator
        self.runtime_name = "onnx" if compiled is not None else "native"
        # What validation builds: numpy for the twin, else what the model needs.
        self._input_metadata = (
            bundle.metadata
            if twin is None
            else bundle.metadata.model_copy(update={"input_kind": "numpy"})
        )
        self.max_rows = max_rows
        self.max_explain_rows = max_explain_rows
        self._explainer: Explainer | None = None
        self._explainer_lock = threading.Lock()
        self._fast_path_failed = False
        self._has_answered = twin is not None  # the model answered the twin's check rows
        self._fast_path_lock = threading.Lock()
        self._records_reader: Any = _UNBUILT
        self._reader_lock = threading.Lock()

    def _compiled(self, runtime: RuntimeName) -> Any | None:
        """The ONNX runtime when asked for and it agrees with the model; else None, logged."""
        if runtime == "native":
            return None
        from modelport.onnx_runtime import compile_onnx

        compiled, reason = compile_onnx(self.bundle.estimator, self.bundle.metadata)
        if compiled is None:
            log = logger.warning if runtime == "onnx" else logger.info
            log("model %s runs natively: %s", self.bundle.name, reason)
        return compiled

    def read_json_matrix(self, body: bytes) -> np.ndarray | None:
        """The model input of a JSON body that is a list of records of numbers, read by
        compiled code without the GIL (`modelport.compiled_records`); None for any other body,
        or without compiled code: then it takes the ordinary way (parse, then `validate`)."""
        reader = self.records_reader()
        if reader is None:
            return None
        matrix = reader.matrix(body)
        return None if matrix is None else valid_matrix(matrix, self._input_metadata)

    def records_reader(self) -> Any | None:
        """The compiled reader of JSON records into this model's matrix, made at the first
        big body, not at load: a server that never gets one neither starts slower nor loads
        numba for it (about 100 MB). None where the input is not a matrix of numbers, or
        where there is no compiled code (see `modelport.compiled`)."""
        with self._reader_lock:
            if self._records_reader is _UNBUILT:
                self._records_reader = None
                if numbers_only(self._input_metadata):
                    module = compiled_module("compiled_records")
                    if module is not None:
                        names = self._input_metadata.feature_names
                        self._records_reader = module.RecordsReader(names, self.max_rows)
            return self._records_reader

    @property
    def metadata(self) -> ModelMetadata:
        """The bundle's completed metadata."""
        return self.bundle.metadata

    @property
    def input_metadata(self) -> ModelMetadata:
        """The metadata validation builds input by (numpy for a twin, else what the model needs)."""
        return self._input_metadata

    @property
    def has_proba(self) -> bool:
        """True when the model gives class probabilities."""
        task = self.metadata.task
        return bool(task and task.is_classification) and hasattr(self.runtime, "predict_proba")

    @property
    def takes_turns(self) -> bool:
        """True when a big call takes the GIL back often (tree by tree), so that it should
        take turns with the event loop's big parses (see `modelport.api.turns`)."""
        model = final_estimator(self.runtime)
        return isinstance(model, _TREE_BY_TREE) and getattr(model, "tree_by_tree", True)

    def validate(self, records: Any) -> Any:
        """Records (a dict or a list of dicts) → the model's input."""
        return validate_records(records, self._input_metadata, max_rows=self.max_rows)

    def validate_columns(self, columns: Any) -> Any:
        """Columns (name → list of values) → the model's input."""
        return validate_columns(columns, self._input_metadata, max_rows=self.max_rows)

    def predict(self, X: Any) -> list[Any]:
        """Labels (classifiers) or values (regressors), one per row, as plain Python."""
        return [to_plain(value) for value in self.predict_array(X).tolist()]

    def predict_array(self, X: Any) -> np.ndarray:
        """Labels or values as a 1-D array: what a table of predictions is built from."""
        output = np.asarray(self._call("predict", X))
        if output.ndim == 2 and output.shape[1] == 1:
            output = output.ravel()
        if output.dtype.kind in "fc" and not np.isfinite(output).all():
            raise PredictionError(_non_finite("predictions", output))
        return output

    def predict_with_proba(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Labels and probabilities; one model call where the labels are, by the model's
        own definition, the most probable classes (scikit-learn's forests and their twin)."""
        proba = self.predict_proba_array(X)
        if type(self.runtime) in _ARGMAX_CLASSIFIERS:  # exact: a subclass may differ
            classes = np.asarray(cast(Any, self.runtime).classes_)
            return classes.take(np.argmax(proba, axis=1), axis=0), proba
        return self.predict_array(X), proba

    def predict_proba_array(self, X: Any) -> np.ndarray:
        """Probabilities as an `[n_rows, n_classes]` array, columns in `class_names` order."""
        if not self.has_proba:
            raise NotSupportedError(_no_proba(self.metadata))
        output = np.asarray(self._call("predict_proba", X), dtype=np.float64)
        if not np.isfinite(output).all():
            raise PredictionError(_non_finite("probabilities", output))
        if output.ndim != 2 or output.shape[1] != len(self.metadata.class_names or []):
            raise PredictionError(
                f"the model returned probabilities of shape {output.shape} for "
                f"{len(self.metadata.class_names or [])} classes"
            )
        return output

    def predict_proba(self, X: Any) -> list[dict[str, float]]:
        """One `{class name: probability}` per row."""
        names = self.metadata.class_names or []
        rows = self.predict_proba_array(X).tolist()
        if len(names) == 2:  # the common case: a dict display builds in half the time
            first, second = names
            return [{first: a, second: b} for a, b in rows]
        return list(map(dict, map(zip, repeat(names), rows)))

    def predict_records(self, records: Any, *, proba: bool = False) -> list[Any]:
        """Validate and predict in one call: the common case for library users."""
        X = self.validate(records)
        return self.predict_proba(X) if proba else self.predict(X)

    def explain(self, X: Any, background: Any | None = None) -> list[dict[str, Any]]:
        """SHAP contributions per row in the documented shape (see `modelport.explain`).

        Args:
            X: validated input rows.
            background: validated background rows; the example rows when None.
        """
        from modelport.explain import MAX_BACKGROUND_ROWS

        if len(X) > self.max_explain_rows:
            raise InvalidInputError.single(
                f"explanations are limited to {self.max_explain_rows} rows per call "
                f"(MODELPORT_MAX_EXPLAIN_ROWS); this call has {len(X)}"
            )
        if background is not None:
            if len(background) > MAX_BACKGROUND_ROWS:
                raise InvalidInputError.single(
                    f"_samples holds {len(background)} rows; at most {MAX_BACKGROUND_ROWS} "
                    "background rows are used"
                )
            return self._new_explainer(background).explain(X)
        with self._explainer_lock:  # built once, even when the first requests come together
            if self._explainer is None:
                self._explainer = self._new_explainer(None)
        return self._explainer.explain(X)

    def _new_explainer(self, background: Any | None) -> Explainer:
        from modelport.explain import Explainer

        return Explainer(self.bundle.estimator, self.metadata, self.validate, background)

    def _call(self, method: str, X: Any) -> Any:
        """Run the fast path, or the model where it fails; sort the model's failures into
        input it refuses (an InvalidInputError naming the rows) and its own (raised as is)."""
        if self.runtime is not self.bundle.estimator:  # checks nothing: no config to set
            try:
                return getattr(self.runtime, method)(X)
            except Exception as error:  # modelport's own bug: the client is not to blame
                self._log_fast_path_failure(method, error)
                X = self._native_input(X)
        # Validation already refused NaN and infinity where they don't belong.
        with sklearn.config_context(assume_finite=True):
            try:
                output = getattr(self.bundle.estimator, method)(X)
            except InvalidInputError:
                raise
            except _REFUSALS as error:
                rejection = self._rejection(method, X, error)
                if not self._works(method):
                    raise  # the model fails whatever the input: its failure, not the client's
                raise rejection from error
            self._has_answered = True
            return output

    def _log_fast_path_failure(self, method: str, error: Exception) -> None:
        """Once per model: the first failure with its traceback; later ones are answered the
        same way, quietly."""
        with self._fast_path_lock:  # two calls failing at once still log one line
            if self._fast_path_failed:
                return
            self._fast_path_failed = True
        logger.error(
            "model %s: its %s runtime failed in %s (%s: %s); the model itself answers "
            "such calls (logged once)",
            self.bundle.name,
            self.runtime_name if self.runtime_name == "onnx" else "numpy",
            method,
            type(error).__name__,
            _first_line(error),
            exc_info=error,
        )

    def _native_input(self, X: Any) -> Any:
        """The fast path's numpy rows as the model itself takes them."""
        if self.bundle.metadata.input_kind == "dataframe":
            return pd.DataFrame(np.asarray(X), columns=self.metadata.feature_names)
        return X

    def _works(self, method: str) -> bool:
        """True when the model is known to work, so that what it refuses is the input: it
        answers its example rows now, or (without example rows) it has answered rows."""
        examples = self.metadata.examples
        if not examples:
            return self._has_answered
        try:
            rows = validate_records(examples, self.metadata, max_rows=len(examples))
            getattr(self.bundle.estimator, method)(rows)
        except Exception:
            return False
        return True

    def _rejection(self, method: str, X: Any, error: Exception) -> InvalidInputError:
        reason = f"the model rejected the input: {_first_line(error)}"
        n_rows = len(X)
        if n_rows == 1 or n_rows > _LOCATE_LIMIT:
            return InvalidInputError.single(reason)
        problems = []
        for i in range(n_rows):
            try:
                getattr(self.bundle.estimator, method)(_row(X, i))
            except _REFUSALS as row_error:
                problems.append(
                    FieldProblem(f"the model rejected this row: {_first_line(row_error)}", i)
                )
            else:
                self._has_answered = True
        return InvalidInputError(problems or [FieldProblem(reason)])


def _row(X: Any, i: int) -> Any:
    """Row `i` of the model input, still 2-D (a one-row frame, matrix or list)."""
    return X.iloc[i : i + 1] if isinstance(X, pd.DataFrame) else X[i : i + 1]


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def _non_finite(what: str, output: np.ndarray) -> str:
    bad = np.flatnonzero(~np.isfinite(output.reshape(len(output), -1)).all(axis=1))
    rows = ", ".join(str(i) for i in bad[:10])
    return f"the model returned NaN or infinite {what} (rows {rows}); they cannot be served"


def _no_proba(metadata: ModelMetadata) -> str:
    if metadata.task is Task.REGRESSION:
        return "this model is a regressor: it predicts values, not class probabilities"
    return "this model does not give class probabilities (it has no predict_proba)"
