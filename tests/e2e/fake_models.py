"""Tiny models that a real server unpickles: one that fails unexpectedly, one that waits.

They live in a module (not in a test) so that `modelport serve`, started with the project
root as its working directory, can import `tests.e2e.fake_models` when it loads a bundle.
"""

from __future__ import annotations

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

    `predict` touches `started` (so the test knows the request reached the model), then
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
        Path(self.started).touch()
        deadline = time.monotonic() + self.seconds
        while not Path(self.release).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return np.asarray(X, dtype=np.float64)[:, 0] * 2
