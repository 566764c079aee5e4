"""Counting the splits a module makes of its calls over the cores, for tests of who splits."""

from __future__ import annotations

from typing import Any

import pytest


def spy_on_splits(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[int]:
    """The number of parts of every split `module` makes through its `run_parts`."""
    seen: list[int] = []
    real = module.run_parts

    def spy(function: Any, parts: Any) -> Any:
        seen.append(len(parts))
        return real(function, parts)

    monkeypatch.setattr(module, "run_parts", spy)
    return seen
