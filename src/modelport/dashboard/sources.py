"""Where the dashboard's answers come from: models loaded here, or a modelport server."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from modelport.batch.drift import Drift, drift_of_log, drift_of_table
from modelport.bundle import load_bundle
from modelport.client import Client
from modelport.drift import Thresholds
from modelport.errors import (
    AuthenticationError,
    BundleError,
    FieldProblem,
    InputTableError,
    InvalidInputError,
)
from modelport.metadata import ModelMetadata
from modelport.predictor import Predictor
from modelport.repository import discover, version_key
from modelport.screening import check_columns, screen_frame
from modelport.settings import Settings
from modelport.store.log import LOG_TABLE


@dataclass(frozen=True)
class Scored:
    """A table's predictions (one row per valid input row) and the problems of the rest."""

    predictions: pd.DataFrame
    problems: list[FieldProblem]


class ModelSource(Protocol):
    """The models a dashboard shows, and their answers."""

    where: str

    def names(self) -> list[str]: ...

    def metadata(self, name: str) -> ModelMetadata: ...

    def facts(self, name: str) -> dict[str, Any]: ...

    def predict(self, name: str, record: dict[str, Any]) -> tuple[Any, dict[str, float] | None]: ...

    def explain(self, name: str, record: dict[str, Any]) -> dict[str, Any]: ...

    def score(self, name: str, table: pd.DataFrame) -> Scored: ...


class Embedded:
    """Bundles loaded in this process (a file, or a folder as `modelport serve` reads it)."""

    def __init__(self, settings: Settings) -> None:
        self.where = str(settings.bundle_path)
        latest: dict[str, Any] = {}
        for source in discover(Path(settings.bundle_path)):
            known = latest.get(source.name)
            if known is None or version_key(source.version) > version_key(known.version):
                latest[source.name] = source
        if not latest:
            raise BundleError(f"no bundle found at {settings.bundle_path}")
        self._predictors = {
            name: Predictor(
                load_bundle(
                    source.path,
                    sha256=settings.bundle_sha256 if len(latest) == 1 else None,
                    trusted_types=settings.trusted_types,
                ),
                max_rows=settings.max_rows,
                max_explain_rows=settings.max_explain_rows,
            )
            for name, source in sorted(latest.items())
        }
        self._thresholds = Thresholds(settings.drift_warn, settings.drift_alert)
        self._chunk_size = settings.chunk_size

    def names(self) -> list[str]:
        return list(self._predictors)

    def metadata(self, name: str) -> ModelMetadata:
        return self._predictors[name].metadata

    def facts(self, name: str) -> dict[str, Any]:
        predictor = self._predictors[name]
        return {
            "version": predictor.metadata.version,
            "sha256": predictor.bundle.sha256,
            "runtime": predictor.runtime_name,
            "file": str(predictor.bundle.path),
        }

    def predict(self, name: str, record: dict[str, Any]) -> tuple[Any, dict[str, float] | None]:
        predictor = self._predictors[name]
        X = predictor.validate(record)
        [label] = predictor.predict(X)
        return label, predictor.predict_proba(X)[0] if predictor.has_proba else None

    def explain(self, name: str, record: dict[str, Any]) -> dict[str, Any]:
        predictor = self._predictors[name]
        [explanation] = predictor.explain(predictor.validate(record))
        return explanation

    def score(self, name: str, table: pd.DataFrame) -> Scored:
        predictor = self._predictors[name]
        check_columns(table.columns, predictor.metadata)
        if len(table) > predictor.max_rows:
            raise InvalidInputError.single(
                f"{len(table)} rows is more than the {predictor.max_rows} allowed "
                "(MODELPORT_MAX_ROWS); score bigger tables with `modelport score`"
            )
        screened = screen_frame(table, predictor.input_metadata)
        frame = table.iloc[screened.valid].reset_index(drop=True)
        if len(screened.valid):
            frame.insert(0, "prediction", predictor.predict(screened.X))
            if predictor.has_proba:
                proba = predictor.predict_proba_array(screened.X)
                for k, label in enumerate(predictor.metadata.class_names or []):
                    frame.insert(1 + k, f"proba_{label}", proba[:, k])
        return Scored(frame, screened.problems)

    def has_profile(self, name: str) -> bool:
        """Whether the bundle carries the reference profile that drift compares with."""
        return self._predictors[name].bundle.profile is not None

    def drift_of_log(self, name: str, url: str, since: datetime | None) -> Drift:
        """Drift of the rows a prediction log holds (since a time), as `modelport drift
        --log` reads them: a log of several models is read for this one."""
        return drift_of_log(
            self._predictors[name], url, self._thresholds, table=LOG_TABLE, since=since
        )

    def drift_of_upload(self, name: str, filename: str, data: bytes) -> Drift:
        """Drift of an uploaded table, read as `modelport drift --input` reads that file
        (so CSV, Parquet and JSON lines are read the same way): from a temporary copy."""
        with tempfile.TemporaryDirectory(prefix="modelport-drift-") as folder:
            path = Path(folder) / _safe_name(filename)
            path.write_bytes(data)
            try:
                return drift_of_table(
                    self._predictors[name], str(path), self._thresholds, chunk_size=self._chunk_size
                )
            except InputTableError as error:  # name the upload, not the temporary copy
                raise InputTableError(str(error).replace(str(path), path.name)) from None


def _safe_name(filename: str) -> str:
    """The upload's own name (its suffix says how to read it), without any path or oddity."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename).name).lstrip(".")
    return name or "upload"


class Remote:
    """A running modelport server, through `modelport.Client` (a connection per page run:
    a dashboard asks a few questions, and a cached open connection would outlive its page)."""

    def __init__(self, settings: Settings) -> None:
        assert settings.api_url is not None
        self.where = settings.api_url
        self._key = settings.client_api_key
        with self._client() as client:
            try:
                self._listing = {item["name"]: item for item in client.models()}
            except AuthenticationError as error:
                given = "the key given" if self._key else "no key"
                raise AuthenticationError(
                    f"{self.where} refused {given} ({error}): set MODELPORT_CLIENT_API_KEY "
                    "or pass --api-key-file"
                ) from None
        self._info: dict[str, dict[str, Any]] = {}

    def _client(self) -> Client:
        key = self._key.get_secret_value() if self._key else None
        return Client(self.where, api_key=key, retries=1)

    def names(self) -> list[str]:
        return sorted(name for name, item in self._listing.items() if item["state"] == "ready")

    def metadata(self, name: str) -> ModelMetadata:
        return ModelMetadata.model_validate(self._described(name)["metadata"])

    def _described(self, name: str) -> dict[str, Any]:
        if name not in self._info:
            with self._client() as client:
                self._info[name] = client.info(model=name)
        return self._info[name]

    def facts(self, name: str) -> dict[str, Any]:
        item = self._listing[name]
        return {
            "version": item.get("version"),
            "sha256": item.get("sha256"),
            "runtime": self._described(name)["model"].get("runtime"),
            "server": self.where,
        }

    def predict(self, name: str, record: dict[str, Any]) -> tuple[Any, dict[str, float] | None]:
        task = self.metadata(name).task
        with self._client() as client:
            [label] = client.predict([record], model=name)
            if task is None or not task.is_classification:
                return label, None
            return label, client.predict_proba([record], model=name)[0]

    def explain(self, name: str, record: dict[str, Any]) -> dict[str, Any]:
        with self._client() as client:
            [explanation] = client.explain([record], model=name)
        return explanation

    def drift(self, name: str) -> dict[str, Any]:
        """The server's live drift report of the model (`/drift`)."""
        with self._client() as client:
            return client.drift(model=name)

    def score(self, name: str, table: pd.DataFrame) -> Scored:
        records = table.astype(object).where(table.notna(), None).to_dict("records")
        problems: list[FieldProblem] = []
        with self._client() as client:
            try:
                labels = client.predict(records, model=name)
            except InvalidInputError as error:  # set the named rows aside, score the rest
                problems = [p for p in error.problems if p.row is not None]
                if not problems or error.total > len(error.problems):
                    raise _with_hint(error) from None
                bad = {p.row for p in problems if p.row is not None}
                table = table.drop(index=[table.index[i] for i in bad])
                records = [r for i, r in enumerate(records) if i not in bad]
                labels = client.predict(records, model=name) if records else []
            frame = table.reset_index(drop=True)
            frame.insert(0, "prediction", labels)
            task = self.metadata(name).task
            if records and task is not None and task.is_classification:
                rows = client.predict_proba(records, model=name)
                for k, label in enumerate(self.metadata(name).class_names or []):
                    frame.insert(1 + k, f"proba_{label}", [row[str(label)] for row in rows])
        return Scored(frame, problems)


def _with_hint(error: InvalidInputError) -> InvalidInputError:
    """The server's row limit, with the way round it (the same words as the embedded check)."""
    if any("allowed in one call" in p.detail for p in error.problems):
        return InvalidInputError.single(
            f"{error.problems[0].detail} (the server's MODELPORT_MAX_ROWS); "
            "score bigger tables with `modelport score`"
        )
    return error


def open_source(settings: Settings) -> ModelSource:
    """The server at `api_url` when set, else the bundles at `bundle_path`."""
    return Remote(settings) if settings.api_url else Embedded(settings)
