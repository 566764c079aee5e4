"""Counting the splits a module makes of its calls over the cores, for tests of who splits."""

from __future__ import annotations

from typing import Any

import pytest


def spy_on_splits(monkeypatch: pytest.MonkeyPatch, *modules: Any) -> list[int]:
    """The number of parts of every split the modules make through their `run_parts` (a
    forest's: `runtime` and `compiled_forest`, whichever walks it)."""
    seen: list[int] = []
    for module in modules:
        real = module.run_parts

        def spy(function: Any, parts: Any, real: Any = real) -> Any:
            seen.append(len(parts))
            return real(function, parts)

        monkeypatch.setattr(module, "run_parts", spy)
    return seen
