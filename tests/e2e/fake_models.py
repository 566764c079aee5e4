"""Tiny models that a real server unpickles, each failing or waiting in its own way.

They live in a module (not in a test) so that `modelport serve`, started with the project
root as its working directory, can import `tests.e2e.fake_models` when it loads a bundle.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np


class FailingModel:
    """Raises an exception modelport does not expect, with text no client may ever see.

    Rows of zeros (the row modelport tries a bundle without examples on before serving
    it) are answered, so the model loads and fails only on the requests of a test.
    """

    def predict(self, X: Any) -> Any:
        rows = np.asarray(X, dtype=np.float64)
        if rows.any():
            raise RuntimeError("secret internals")
        return rows[:, 0]


class GatedModel:
    """Doubles its one feature, once a test lets it: a request that stays in flight on cue.

    `predict` writes its process id to `started` (so the test knows the request reached the
    model, and which worker holds it), then
    waits until the file `release` exists, `seconds` at most so a failing test never leaves
    a server stuck. Rows of zeros (the row modelport tries the bundle on before serving it)
    are answered at once.
    """

    def __init__(self, started: Path, release: Path, seconds: float = 30.0) -> None:
        self.started = str(started)
        self.release = str(release)
        self.seconds = seconds

    def predict(self, X: Any) -> Any:
        rows = np.asarray(X, dtype=np.float64)
        if not rows.any():
            return rows[:, 0]
        Path(self.started).write_text(str(os.getpid()))
        deadline = time.monotonic() + self.seconds
        while not Path(self.release).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return np.asarray(X, dtype=np.float64)[:, 0] * 2


class SideFileModel:
    """Multiplies its one feature by a weight kept in a file beside the bundle, read when
    the bundle is unpickled: without the file the model fails to load, and once the file
    is there it loads, though the bundle itself never changed."""

    def __init__(self, weight_file: Path) -> None:
        self.weight_file = str(weight_file)
        self.weight = float(weight_file.read_text())

    def __getstate__(self) -> dict[str, Any]:
        return {"weight_file": self.weight_file}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.weight_file = state["weight_file"]
        self.weight = float(Path(self.weight_file).read_text())

    def predict(self, X: Any) -> Any:
        return np.asarray(X, dtype=np.float64)[:, 0] * self.weight


class BreaksAfterLoadModel:
    """Answers its first call (the smoke test of its example rows at load), then fails every
    call with a `ValueError` about its own internals, whatever the rows: a bug, not a row the
    model refuses."""

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, X: Any) -> Any:
        self.calls += 1
        if self.calls > 1:
            raise ValueError("secret internals: cache index out of sync")
        return np.ones(len(X))
