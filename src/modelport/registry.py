"""The model repository: names → loaded models, their readiness, and the default model."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from modelport.bundle import load_bundle
from modelport.errors import BundleError, ModelNotFoundError, ModelNotReadyError, ModelportError
from modelport.predictor import Predictor
from modelport.settings import Settings

logger = logging.getLogger("modelport.registry")

MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
BUNDLE_SUFFIXES = frozenset({".joblib", ".pkl", ".pickle", ".skops"})
State = Literal["loading", "ready", "failed"]


@dataclass(frozen=True)
class ModelEntry:
    """One served model: where it comes from and how far its loading got."""

    name: str
    path: Path
    state: State = "loading"
    predictor: Predictor | None = None
    error: str | None = None
    load_seconds: float | None = None


class Registry:
    """Names → models. Names are looked up here, never joined into a path from a request.

    Entries are immutable and replaced whole, so a request never sees a half-loaded model.

    Raises:
        BundleError: the bundle path does not exist, or a folder holds no bundle.
    """

    def __init__(
        self, settings: Settings, on_load: Callable[[str, bool], None] | None = None
    ) -> None:
        self.settings = settings
        self.on_load = on_load or (lambda name, loaded: None)
        self._entries = {entry.name: entry for entry in discover(settings.bundle_path)}
        if settings.default_model is not None and settings.default_model not in self._entries:
            raise ModelNotFoundError(
                f"default model {settings.default_model!r} is not served; "
                f"models: {', '.join(self._entries)}"
            )

    @property
    def names(self) -> list[str]:
        """Served model names, sorted."""
        return sorted(self._entries)

    @property
    def entries(self) -> list[ModelEntry]:
        """Every entry, sorted by name."""
        return [self._entries[name] for name in self.names]

    @property
    def ready(self) -> bool:
        """True once every model is loaded, whatever their number."""
        return all(entry.state == "ready" for entry in self._entries.values())

    @property
    def default_name(self) -> str | None:
        """The model the root routes answer: the only one, or the one settings name."""
        if self.settings.default_model is not None:
            return self.settings.default_model
        return self.names[0] if len(self._entries) == 1 else None

    def entry(self, name: str | None) -> ModelEntry:
        """The entry for `name` (the default model when None), loaded or not.

        Raises:
            ModelNotFoundError: no such model, or no default among several.
        """
        if name is None:
            name = self.default_name
            if name is None:
                raise ModelNotFoundError(
                    "several models are served and none is the default; use "
                    + ", ".join(f"/models/{n}/" for n in self.names)
                )
        entry = self._entries.get(name) if MODEL_NAME_PATTERN.match(name) else None
        if entry is None:
            raise ModelNotFoundError(
                f"no model named {name[:64]!r}; models: {', '.join(self.names)}"
            )
        return entry

    def get(self, name: str | None = None) -> Predictor:
        """The ready predictor for `name` (the default model when None).

        Raises:
            ModelNotFoundError: no such model.
            ModelNotReadyError: it is still loading, or failed to load.
        """
        entry = self.entry(name)
        if entry.predictor is None:
            why = f": {entry.error}" if entry.error else ""
            raise ModelNotReadyError(f"model {entry.name!r} is {entry.state}{why}")
        return entry.predictor

    def load_all(self) -> None:
        """Load every model that is not loaded yet; a failure is recorded, not raised."""
        for name in self.names:
            if self._entries[name].state != "ready":
                self._load(name)

    def _load(self, name: str) -> None:
        entry = self._entries[name]
        started = time.perf_counter()
        try:
            bundle = load_bundle(
                entry.path,
                sha256=self.settings.bundle_sha256,
                trusted_types=self.settings.trusted_types,
            )
            predictor = Predictor(bundle, max_rows=self.settings.max_rows)
        except ModelportError as error:
            logger.error("model %s failed to load: %s", name, error)
            self._entries[name] = replace(entry, state="failed", error=str(error))
            self.on_load(name, False)
            return
        seconds = time.perf_counter() - started
        self._entries[name] = replace(
            entry, state="ready", predictor=predictor, error=None, load_seconds=seconds
        )
        logger.info("model %s loaded from %s in %.2f s", name, entry.path, seconds)
        self.on_load(name, True)


def discover(path: Path) -> list[ModelEntry]:
    """The models a bundle path names: one file, or every bundle file in a folder.

    Raises:
        BundleError: nothing to serve there.
    """
    if path.is_file():
        return [ModelEntry(name=_name_of(path), path=path)]
    if not path.is_dir():
        raise BundleError(f"bundle file or folder not found: {path}")
    entries = []
    for file in sorted(path.iterdir()):
        if not file.is_file() or file.suffix not in BUNDLE_SUFFIXES or file.name.startswith("."):
            continue
        if not MODEL_NAME_PATTERN.match(file.stem):
            logger.warning("skipping %s: %r is not a valid model name", file, file.stem)
            continue
        entries.append(ModelEntry(name=file.stem, path=file))
    if not entries:
        suffixes = ", ".join(sorted(BUNDLE_SUFFIXES))
        raise BundleError(f"{path} holds no bundle files ({suffixes})")
    names = [entry.name for entry in entries]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BundleError(f"{path} holds several bundles named {', '.join(repeated)}")
    return entries


def _name_of(path: Path) -> str:
    """A single file's model name: its stem when valid, else `model`."""
    return path.stem if MODEL_NAME_PATTERN.match(path.stem) else "model"
