"""The model registry: (name, version) → loaded predictors, their states, and hot reload.

Entries are immutable and replaced whole, so a request never sees a half-loaded model: a
new version is loaded beside the old one, smoke-tested on its example rows (or a row made
from its metadata), then swapped in. While hot reload is on, a load that failed is tried
again, each time after twice the wait (from the reload interval up to `RETRY_MAX_SECONDS`):
what it lacked (a file beside it, a mount, a package) may come, and the model then serves
without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from modelport.bundle import load_bundle
from modelport.errors import (
    ConfigurationError,
    ModelNotFoundError,
    ModelNotReadyError,
    ModelportError,
)
from modelport.metadata import smoke_rows
from modelport.predictor import Predictor
from modelport.repository import MODEL_NAME_PATTERN, discover, stamp, version_key
from modelport.settings import Settings

logger = logging.getLogger("modelport.registry")

State = Literal["loading", "ready", "failed", "unloaded"]
RETRY_MAX_SECONDS = 300.0
"""The longest wait between two tries of a load that keeps failing."""


@dataclass(frozen=True)
class ModelEntry:
    """One served model version: its file, how far loading got, and why it failed if it did."""

    name: str
    version: str
    path: Path
    state: State = "loading"
    predictor: Predictor | None = None
    error: str | None = None
    load_seconds: float | None = None
    stamp: tuple[int, int] | None = None
    failures: int = 0
    """Loads of this file that failed in a row; 0 once one succeeds."""
    retry_at: float | None = None
    """When (on the registry's clock) a failed load is due to be tried again."""


class Registry:
    """Names (and versions) → models, looked up here and never joined into a path.

    Raises:
        BundleError: the bundle path holds nothing to serve.
        ModelNotFoundError: the default model named in settings is not served.
    """

    def __init__(
        self,
        settings: Settings,
        on_load: Callable[[str, bool], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.on_load = on_load or (lambda name, loaded: None)
        self.clock = clock
        sources = discover(settings.bundle_path)
        if settings.bundle_sha256 is not None and settings.bundle_path.is_dir():
            raise ConfigurationError(
                "MODELPORT_BUNDLE_SHA256 pins one bundle file, but the bundle path is a folder"
            )
        self._entries = {s.key: ModelEntry(s.name, s.version, s.path) for s in sources}
        self._unloaded: set[str] = set()
        self.changes = 0
        """Counts every change to the entries, so callers can tell whether an operation did any."""
        self._lock = threading.Lock()  # one load or refresh at a time; readers never wait
        if settings.default_model is not None and settings.default_model not in self.names:
            raise ConfigurationError(
                f"default model {settings.default_model!r} is not served; "
                f"models: {', '.join(self.names)}"
            )

    @property
    def names(self) -> list[str]:
        """Served model names, sorted."""
        return sorted({name for name, _ in self._entries})

    @property
    def entries(self) -> list[ModelEntry]:
        """Every entry, by name then version."""
        entries = self._entries  # one snapshot: writers replace the dict, never mutate it
        return [entries[key] for key in sorted(entries, key=lambda k: (k[0], version_key(k[1])))]

    def versions(self, name: str) -> list[str]:
        """A model's versions, oldest first."""
        return sorted((v for n, v in self._entries if n == name), key=version_key)

    @property
    def ready(self) -> bool:
        """True when the models serve as `ready_when` asks: every one that should serve
        (`all`, Triton's strict readiness) or at least one (`any`)."""
        serving = [e.state == "ready" for e in self._entries.values() if e.state != "unloaded"]
        return any(serving) if self.settings.ready_when == "any" else all(serving)

    @property
    def default_name(self) -> str | None:
        """The model the root routes answer: the only one, or the one settings name."""
        if self.settings.default_model is not None:
            return self.settings.default_model
        names = self.names
        return names[0] if len(names) == 1 else None

    def entry(self, name: str | None, version: str | None = None) -> ModelEntry:
        """The entry for `name` (the default model when None) at `version` (the highest).

        Raises:
            ModelNotFoundError: no such model or version, or no default among several.
        """
        if name is None:
            name = self.default_name
            if name is None:
                raise ModelNotFoundError(
                    "several models are served and none is the default; use "
                    + ", ".join(f"/models/{n}/" for n in self.names)
                )
        versions = self.versions(name) if MODEL_NAME_PATTERN.fullmatch(name) else []
        if not versions:
            raise ModelNotFoundError(
                f"no model named {name[:64]!r}; models: {', '.join(self.names)}"
            )
        chosen = versions[-1] if version is None else version
        entry = self._entries.get((name, chosen))
        if entry is None:
            raise ModelNotFoundError(
                f"model {name!r} has no version {chosen[:32]!r}; versions: {', '.join(versions)}"
            )
        if entry.state == "unloaded":
            raise ModelNotFoundError(
                f"model {name!r} is unloaded; load it through the repository API"
            )
        return entry

    def get(self, name: str | None = None, version: str | None = None) -> Predictor:
        """The ready predictor for `name` and `version` (defaults as in `entry`).

        Raises:
            ModelNotFoundError: no such model or version.
            ModelNotReadyError: it is still loading, or failed to load.
        """
        return ready_predictor(self.entry(name, version))

    def load_all(self) -> None:
        """Load every model version not loaded yet; a failure is recorded, not raised."""
        with self._lock:
            for key, entry in list(self._entries.items()):
                if entry.state in ("loading", "failed"):
                    self._load(key)

    def refresh(self) -> None:
        """Follow the repository on disk: load new or changed bundles, drop removed ones.

        A changed bundle that fails to load or to predict its smoke-test rows leaves the old
        version serving, with the reason in its entry and in the log.
        """
        with self._lock:
            try:
                sources = {s.key: s for s in discover(self.settings.bundle_path)}
            except ModelportError as error:
                logger.error("cannot read the repository: %s", error)
                return
            for key in list(self._entries):
                if key not in sources and self._entries[key].state != "unloaded":
                    logger.info("model %s version %s: its bundle is gone; no longer served", *key)
                    self._drop(key)
            for key, source in sources.items():
                if source.name in self._unloaded:
                    continue
                entry = self._entries.get(key)
                if entry is None:
                    self._put(key, ModelEntry(source.name, source.version, source.path))
                    self._load(key)
                elif entry.stamp != stamp(source.path) and entry.state != "loading":
                    self._load(key)
                elif entry.retry_at is not None and self.clock() >= entry.retry_at:
                    logger.info("model %s version %s: trying its load again", *key)
                    self._load(key)

    def load(self, name: str) -> None:
        """Load (again) every version of `name` from disk, and serve it if it was unloaded.

        Raises:
            ModelNotFoundError: the repository has no such model.
            ModelNotReadyError: no version could be loaded (the reason is in the message).
        """
        with self._lock:
            sources = {s.key: s for s in discover(self.settings.bundle_path) if s.name == name}
            if not sources:
                raise ModelNotFoundError(f"the repository has no model named {name[:64]!r}")
            self._unloaded.discard(name)
            for key in [key for key in self._entries if key[0] == name and key not in sources]:
                self._drop(key)
            for key, source in sources.items():
                if key not in self._entries:
                    self._put(key, ModelEntry(source.name, source.version, source.path))
                self._load(key)  # each version once, from what is on disk now
            failed = [self._entries[k] for k in sources if self._entries[k].state != "ready"]
        if failed:
            raise ModelNotReadyError(f"model {name!r} failed to load: {failed[0].error}")

    def unload(self, name: str) -> None:
        """Stop serving every version of `name` until it is loaded again.

        Raises:
            ModelNotFoundError: no such model.
        """
        with self._lock:
            keys = [key for key in self._entries if key[0] == name]
            if not keys:
                raise ModelNotFoundError(f"no model named {name[:64]!r}")
            self._unloaded.add(name)
            for key in keys:
                self._put(key, replace(self._entries[key], state="unloaded", predictor=None))
        logger.info("model %s unloaded", name)

    def _put(self, key: tuple[str, str], entry: ModelEntry) -> None:
        """Copy-on-write, so readers on other threads always see one whole dict."""
        self._entries = {**self._entries, key: entry}
        self.changes += 1

    def _drop(self, key: tuple[str, str]) -> None:
        self._entries = {k: v for k, v in self._entries.items() if k != key}
        self.changes += 1

    def _load(self, key: tuple[str, str]) -> None:
        """Load one version beside what serves now; swap it in only once it predicts."""
        old = self._entries[key]
        seen = stamp(old.path)
        started = time.perf_counter()
        try:
            bundle = load_bundle(
                old.path,
                sha256=self.settings.bundle_sha256,
                trusted_types=self.settings.trusted_types,
            )
            predictor = Predictor(
                bundle,
                max_rows=self.settings.max_rows,
                max_explain_rows=self.settings.max_explain_rows,
                runtime=self.settings.runtime,
            )
            _smoke_test(predictor)
        except Exception as error:  # whatever a bundle does, it must not stall the other models
            failures = old.failures + 1 if seen == old.stamp else 1
            if not isinstance(error, ModelportError) and failures == 1:  # not at every retry
                logger.exception("model %s version %s failed to load", *key)
            wait = self._retry_wait(failures)
            again = f"; trying again in {wait:g} s" if wait else ""
            logger.error("model %s version %s failed to load: %s%s", *key, error, again)
            state: State = "ready" if old.predictor is not None else "failed"
            retry_at = self.clock() + wait if wait else None
            self._put(
                key,
                replace(
                    old,
                    state=state,
                    error=str(error),
                    stamp=seen,
                    failures=failures,
                    retry_at=retry_at,
                ),
            )
            self.on_load(key[0], False)
            return
        seconds = time.perf_counter() - started
        self._put(
            key,
            replace(
                old,
                state="ready",
                predictor=predictor,
                error=None,
                load_seconds=seconds,
                stamp=seen,
                failures=0,
                retry_at=None,
            ),
        )
        logger.info("model %s version %s loaded from %s in %.2f s", *key, old.path, seconds)
        self.on_load(key[0], True)

    def _retry_wait(self, failures: int) -> float:
        """Seconds before a load that failed `failures` times in a row is tried again; 0
        when hot reload is off (nothing would try it)."""
        interval = self.settings.reload_interval
        if interval <= 0:
            return 0.0
        doubled = interval * 2.0 ** min(failures - 1, 32)  # bounded: no float overflow
        return min(doubled, max(interval, RETRY_MAX_SECONDS))


def ready_predictor(entry: ModelEntry) -> Predictor:
    """The entry's predictor, once loaded.

    Raises:
        ModelNotReadyError: it is still loading, or failed to load.
    """
    if entry.predictor is None:
        why = f": {entry.error}" if entry.error else ""
        raise ModelNotReadyError(f"model {entry.name!r} is {entry.state}{why}")
    return entry.predictor


def _smoke_test(predictor: Predictor) -> None:
    """The example rows, else a row made from the metadata, must predict before a model
    serves: a bundle that cannot answer never replaces one that can. No more rows than
    one call may carry, so a small MODELPORT_MAX_ROWS still serves."""
    rows = predictor.metadata.examples or smoke_rows(predictor.metadata)
    if not rows:
        logger.info("model %s: no row to try it on before serving it", predictor.metadata.name)
        return
    predictor.predict(predictor.validate(rows[: predictor.max_rows]))
