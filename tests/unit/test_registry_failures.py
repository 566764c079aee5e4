"""A model that fails to load: readiness as MODELPORT_READY_WHEN says, and retries that
back off (on an injected clock)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sklearn.dummy import DummyRegressor

from modelport import ModelMetadata, Settings, save_bundle
from modelport.registry import RETRY_MAX_SECONDS, Registry
from tests.e2e.fake_models import SideFileModel

METADATA = ModelMetadata(task="REGRESSION", features=[{"name": "x"}], examples=[{"x": 1}])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def repository(tmp_path: Path) -> tuple[Path, Path]:
    """`good` loads; `side` fails until its weight file exists."""
    folder = tmp_path / "models"
    folder.mkdir()
    good = DummyRegressor(strategy="constant", constant=3.0).fit([[0.0]], [3.0])
    save_bundle(good, folder / "good.joblib", METADATA)
    weight = tmp_path / "weight.txt"
    weight.write_text("2")
    save_bundle(SideFileModel(weight), folder / "side.joblib", METADATA)
    weight.unlink()
    return folder, weight


def _registry(folder: Path, clock: Clock, attempts: list[bool], **settings) -> Registry:
    def on_load(name: str, loaded: bool) -> None:
        if name == "side":
            attempts.append(loaded)

    return Registry(Settings(bundle_path=folder, **settings), on_load=on_load, clock=clock)


def test_a_failed_load_is_retried_each_time_twice_as_late_until_it_loads(repository):
    folder, weight = repository
    clock, attempts = Clock(), []
    registry = _registry(folder, clock, attempts, reload_interval=1.0)
    registry.load_all()
    assert attempts == [False]
    # Due at +1, +2, +4 after each failure; a refresh before then tries nothing.
    for wait in (1.0, 2.0, 4.0):
        clock.now += wait - 0.01
        registry.refresh()
        assert len(attempts) == 1 + (1, 2, 4).index(wait)
        clock.now += 0.01
        registry.refresh()
        assert attempts[-1] is False
    assert len(attempts) == 4
    assert registry.entry("side").failures == 4

    weight.write_text("2")
    clock.now += 8.0
    registry.refresh()
    assert attempts[-1] is True
    entry = registry.entry("side")
    assert (entry.state, entry.error, entry.failures, entry.retry_at) == ("ready", None, 0, None)
    assert registry.get("side").predict_records({"x": 5}) == [10.0]
    clock.now += 1000.0
    registry.refresh()
    assert len(attempts) == 5  # a loaded model is not loaded again while its file is the same


def test_the_wait_between_retries_stops_growing_at_its_cap(repository):
    folder, _ = repository
    clock, attempts = Clock(), []
    registry = _registry(folder, clock, attempts, reload_interval=1.0)
    registry.load_all()
    for _ in range(12):
        retry_at = registry.entry("side").retry_at
        assert retry_at is not None
        clock.now = retry_at
        registry.refresh()
    entry = registry.entry("side")
    assert entry.failures == 13
    assert entry.retry_at == clock.now + RETRY_MAX_SECONDS


def test_without_hot_reload_a_failed_load_is_not_scheduled_again(repository):
    folder, _ = repository
    clock, attempts = Clock(), []
    registry = _registry(folder, clock, attempts)
    registry.load_all()
    assert registry.entry("side").retry_at is None


def test_ready_when_all_waits_for_every_model_and_any_for_one(repository):
    folder, weight = repository
    strict = _registry(folder, Clock(), [])
    lenient = _registry(folder, Clock(), [], ready_when="any")
    assert not strict.ready and not lenient.ready  # nothing loaded yet
    strict.load_all()
    lenient.load_all()
    assert (strict.entry("side").state, strict.entry("good").state) == ("failed", "ready")
    assert not strict.ready
    assert lenient.ready
    weight.write_text("2")
    strict.load("side")
    assert strict.ready


def test_ready_when_any_is_not_ready_while_no_model_serves(repository):
    folder, _ = repository
    (folder / "good.joblib").unlink()
    registry = _registry(folder, Clock(), [], ready_when="any")
    registry.load_all()
    assert registry.entry("side").state == "failed"
    assert not registry.ready


def test_ready_when_takes_all_or_any_only(monkeypatch):
    monkeypatch.setenv("MODELPORT_READY_WHEN", "any")
    assert Settings().ready_when == "any"
    assert Settings(bundle_path=Path("m.joblib")).ready_when == "any"
    monkeypatch.setenv("MODELPORT_READY_WHEN", "most")
    with pytest.raises(ValidationError, match="'all' or 'any'"):
        Settings()
