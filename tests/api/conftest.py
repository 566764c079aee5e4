"""API fixtures: an app over real example bundles, driven through Starlette's TestClient."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from modelport import Settings
from modelport.api import create_app
from modelport.api.state import server_state


@contextmanager
def running(bundle_path: Path, **settings: Any) -> Iterator[TestClient]:
    """A client over a started app whose models have all loaded."""
    app = create_app(Settings(bundle_path=bundle_path, **settings))
    with TestClient(app, raise_server_exceptions=False) as client:
        deadline = time.monotonic() + 60
        state = server_state(app)
        while not state.registry.ready:
            assert time.monotonic() < deadline, state.registry.entries
            assert not state.loading.done() or state.registry.ready, state.registry.entries
            time.sleep(0.02)
        yield client


@pytest.fixture(scope="module")
def folder_client(example_dir: Path) -> Iterator[TestClient]:
    """Every example served from one folder (no default model)."""
    with running(example_dir) as client:
        yield client


@pytest.fixture
def serve() -> Callable[..., Any]:
    """`with serve(path, **settings) as client:` for tests that need their own settings."""
    return running
