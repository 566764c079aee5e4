"""Settings: everything an operator can set, read once (flags > environment > .env > defaults)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "MODELPORT_"
DEFAULT_BUNDLE_PATH = Path("model.joblib")
DEFAULT_MAX_ROWS = 10_000
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_DRAIN_SECONDS = 2.0
DEFAULT_GRACE_SECONDS = 30.0
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_KEEP_ALIVE_SECONDS = 5
DEFAULT_MAX_CONCURRENT_BODIES = 32
DEFAULT_CHUNK_SIZE = 50_000
DEFAULT_MAX_INVALID = 0.05
DEFAULT_TABLE = "predictions"
DEFAULT_DASHBOARD_PORT = 8501
DEFAULT_DRIFT_WINDOW = 1000
DEFAULT_DRIFT_WARN = 0.1
DEFAULT_DRIFT_ALERT = 0.25
DEFAULT_LOG_QUEUE_ROWS = 100_000
DEFAULT_LOG_BATCH_ROWS = 5_000
DEFAULT_LOG_FLUSH_SECONDS = 1.0


class Settings(BaseSettings):
    """Everything an operator can set; CLI flags > environment > .env > defaults.

    Example:
        >>> Settings(max_rows=500).max_rows
        500
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        extra="ignore",
        use_attribute_docstrings=True,
        frozen=True,
    )

    bundle_path: Path = DEFAULT_BUNDLE_PATH
    """Bundle file, or a folder of bundles, to serve or score with."""

    bundle_sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    """Expected sha256 of the bundle file; a file with other bytes is refused before loading."""

    trusted_types: Annotated[list[str], NoDecode] = []
    """Extra types a .skops bundle may hold (comma-separated), beyond skops' safe defaults."""

    max_rows: int = Field(default=DEFAULT_MAX_ROWS, ge=1)
    """Most rows one request or call may hold; more is an invalid-input error."""

    runtime: Literal["native", "onnx", "auto"] = "native"
    """native: the model itself; onnx: a compiled copy, used once it agrees with the model
    (else native, logged); auto: onnx where it agrees, quietly native elsewhere."""

    batching: bool = True
    """Coalesce concurrent requests into one model call (no added wait when idle)."""

    max_batch_rows: int = Field(default=256, ge=1)
    """Rows past which no more requests join a batch; a bigger request runs alone."""

    max_batch_wait: float = Field(default=0.0, ge=0, le=1)
    """Seconds an idle model waits for company before a call; 0: a lone request never waits."""

    max_queue_rows: int | None = Field(default=None, ge=0)
    """Most rows waiting for one model (queued or being predicted); past it a request is
    refused at once with a 503 and Retry-After. Unset: twice `max_rows`, room for two of
    the largest calls, so clients sending big batches side by side are not refused while a
    flood still is (one batch's worth would refuse seven of eight clients sending 1,000 rows
    each). 0: no limit."""

    max_concurrent_bodies: int = Field(default=DEFAULT_MAX_CONCURRENT_BODIES, ge=0)
    """Request bodies read and parsed at once (per worker); past it a 503. With
    `max_body_bytes`, it bounds the memory that bodies take. 0: no limit."""

    body_timeout: float = Field(default=DEFAULT_BODY_TIMEOUT, gt=0)
    """Seconds a request's body has to arrive in full; a slower one is a 408 and the
    connection is closed, so a trickling client can't hold a slot for ever."""

    keep_alive_seconds: int = Field(default=DEFAULT_KEEP_ALIVE_SECONDS, ge=1)
    """Seconds an idle keep-alive connection stays open; behind a load balancer, set it
    above the balancer's own idle timeout."""

    max_explain_rows: int = Field(default=100, ge=1)
    """Most rows one request may ask to explain; explanations cost far more than predictions."""

    host: str = DEFAULT_HOST
    """Address the server binds; 127.0.0.1 unless told otherwise."""

    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    """Port the server listens on."""

    workers: int = Field(default=1, ge=1, le=64)
    """Server worker processes; each loads every model."""

    default_model: str | None = None
    """Model the root routes (/predict, /info, ...) answer when several are served."""

    api_keys: Annotated[list[SecretStr], NoDecode] = []
    """Bearer tokens accepted by the API, comma-separated; empty (and no file) means auth is off."""

    api_keys_file: Path | None = None
    """File of `name: sha256-of-key` lines, one per client, so each can be revoked alone."""

    admin_keys: Annotated[list[SecretStr], NoDecode] = []
    """Bearer tokens for the repository routes (/v2/repository/...); empty means they are off."""

    reload_interval: float = Field(default=0.0, ge=0)
    """Seconds between checks of the bundle files for changes; 0 turns hot reload off. While
    it is on, a model that failed to load is tried again, less often each time."""

    ready_when: Literal["all", "any"] = "all"
    """When /ready (and /v2/health/ready) answers 200: all, once every model is loaded (a
    model that fails to load keeps the server out of service); any, once one model is."""

    docs_public: bool = True
    """Serve /docs and /openapi.json without a key (they show the schema, no data)."""

    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1)
    """Largest request body accepted, chunked bodies included; more is a 413."""

    drain_seconds: float = Field(default=DEFAULT_DRAIN_SECONDS, ge=0)
    """On SIGTERM, seconds to keep serving with /ready at 503, so a load balancer notices."""

    grace_seconds: float = Field(default=DEFAULT_GRACE_SECONDS, ge=0)
    """After the drain, seconds requests in flight get to finish before the server exits."""

    debug: bool = False
    """Log request bodies (the first 2 KiB, keys masked, headers never) and each model
    call's time; never shows tracebacks to clients."""

    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    """Log level of the server: debug, info, warning or error."""

    opentelemetry: bool = False
    """FastAPI's OpenTelemetry spans, metrics and logs of each request, to the providers
    configured in the process (as `opentelemetry-instrument` configures them). Off, no
    request pays for looking the providers up (a twentieth of a one-row prediction)."""

    # --- the batch scorer (`modelport score`) ---------------------------------------------

    output: str | None = None
    """Where `score` publishes: a database URL, a .csv file, or a Parquet folder."""

    query: str | None = None
    """SELECT (or table name) that reads a database input."""

    id_column: str | None = None
    """Input column that identifies a row; without it the row's number (from 0) is the id."""

    proba: bool = False
    """Publish a proba_<class> column per class."""

    explain: bool = False
    """Publish a contrib_<feature> column per feature and base_value (SHAP; slower)."""

    chunk_size: int = Field(default=DEFAULT_CHUNK_SIZE, ge=1, le=10_000_000)
    """Rows read, scored and committed together; memory grows with it, not with the input."""

    table: str = Field(default=DEFAULT_TABLE, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    """Predictions table in a database output (rejects go to <table>_rejects)."""

    max_invalid: float = Field(default=DEFAULT_MAX_INVALID, ge=0, le=1)
    """Share of rejected rows past which a run fails (0.05: more than 5 %)."""

    resume: str | None = None
    """Run to continue: `latest` (the latest unfinished run of the same model, input and
    output) or a run id."""

    engine: Literal["local", "dask"] = "local"
    """local: threads on this machine; dask: tasks on a Dask cluster."""

    scheduler: str | None = None
    """Dask scheduler address (tcp://host:8786); none starts a local cluster."""

    quiet: bool = False
    """Print nothing but errors while scoring."""

    # --- the dashboard (`modelport dashboard`) -------------------------------------------

    api_url: str | None = None
    """A running modelport server the dashboard asks, instead of loading the bundles itself."""

    client_api_key: SecretStr | None = None
    """Bearer key the dashboard (or another client) sends to the server; never shown."""

    predictions: str | None = None
    """Predictions store the dashboard browses: a database URL, a .csv file or a folder."""

    dashboard_port: int = Field(default=DEFAULT_DASHBOARD_PORT, ge=0, le=65535)
    """Port the dashboard listens on (on `host`)."""

    # --- drift: inputs and predictions against the bundle's reference profile ---------------

    drift: bool = True
    """Watch each served model's inputs and predictions for drift (`/drift`, the gauges);
    false turns live drift off: no window, no gauges, `/drift` answers 404."""

    drift_window: int = Field(default=DEFAULT_DRIFT_WINDOW, ge=1, le=10_000_000)
    """Rows served that live drift is computed over (the last ones)."""

    drift_warn: float = Field(default=DEFAULT_DRIFT_WARN, ge=0)
    """Population stability index from which a feature's drift is `warn`."""

    drift_alert: float = Field(default=DEFAULT_DRIFT_ALERT, ge=0)
    """Population stability index from which a feature's drift is `alert`."""

    drift_reference: Literal["profile", "first-window"] = "profile"
    """What drift compares with: the bundle's profile; with `first-window`, a bundle without
    one takes the first `drift_window` rows it serves as its reference."""

    # --- the prediction log: every row served, in a store ---------------------------------

    prediction_log: str | None = None
    """Where the server logs each row it answers: a database URL (sqlite:///log.db,
    postgresql+psycopg://...) or a Parquet folder; table `prediction_log`. Unset: no log."""

    prediction_log_sample: float = Field(default=1.0, gt=0, le=1)
    """Share of requests logged (each request drawn at random, all its rows or none)."""

    prediction_log_queue_rows: int = Field(default=DEFAULT_LOG_QUEUE_ROWS, ge=1)
    """Rows the log holds in memory while its writer catches up (per worker); rows served
    while it is full are dropped and counted, never waited for."""

    prediction_log_batch_rows: int = Field(default=DEFAULT_LOG_BATCH_ROWS, ge=1)
    """Most rows the log's writer commits in one transaction (or one Parquet part file)."""

    prediction_log_flush_seconds: float = Field(default=DEFAULT_LOG_FLUSH_SECONDS, gt=0)
    """Longest time a logged row waits in memory before the writer commits it."""

    @model_validator(mode="after")
    def _check_drift_thresholds(self) -> Settings:
        if self.drift_warn > self.drift_alert:
            raise ValueError(
                f"drift_warn ({self.drift_warn}) must not be above drift_alert ({self.drift_alert})"
            )
        return self

    @field_validator("trusted_types", "api_keys", "admin_keys", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value


def warn_unknown_variables(environ: dict[str, str] | None = None) -> list[str]:
    """Warn about MODELPORT_* variables no setting reads: a typo must not go unnoticed.

    Returns:
        The unknown variable names, sorted.
    """
    environ = dict(os.environ) if environ is None else environ
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    unknown = sorted(
        name
        for name in environ
        if name.upper().startswith(ENV_PREFIX) and name.upper() not in known
    )
    for name in unknown:
        warnings.warn(f"{name} is set but modelport has no such setting", UserWarning, stacklevel=2)
    return unknown
