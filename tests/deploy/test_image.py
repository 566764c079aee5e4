"""The container image for real: built with podman, run with the models mounted read-only on
a read-only root, predictions through the published port, and `podman stop` under load."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from modelport import Predictor, load_bundle
from modelport.examples import EXAMPLES, save_example

from ..e2e.conftest import HOST, free_port
from .image import build_image, command, podman_environment, run

pytestmark = pytest.mark.timeout(2400)  # a first run builds the base image and every wheel

MODELS = ["wind-turbine", "forest-multiclass"]
"""Scikit-learn models only: LightGBM and XGBoost are extras the default image leaves out."""
TAG = "localhost/modelport:test"
"""Kept after the tests (see `build_image`): the next run's build cache."""
READY_SECONDS = 120.0
STOP_SECONDS = 40
"""podman stop's wait before SIGKILL: the image's drain (2 s) and grace (30 s), and a margin."""
WIND = "/models/wind-turbine/predict"
ROW = {"Ws1_avg": 9.0}


@dataclass
class Container:
    """A running container of the image, its port and podman's environment."""

    name: str
    port: int
    env: dict[str, str]
    models: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def podman(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [command("podman"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def logs(self) -> str:
        result = self.podman("logs", self.name)
        return result.stdout + result.stderr

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            with suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        pytest.fail(f"the container was not ready in {READY_SECONDS:.0f} s:\n{self.logs()}")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    """The image built from this checkout, its tag and podman's environment."""
    folder = tmp_path_factory.mktemp("image")
    env = podman_environment(folder)
    build_image(TAG, folder, env)
    return TAG, env


@pytest.fixture(scope="module")
def container(
    image: tuple[str, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Container]:
    """The image serving two example models, mounted read-only, on a read-only root.

    `--read-only-tmpfs=false` leaves out podman's own tmpfs, as Docker does, so the server
    can only write to the image's /tmp volume.
    """
    tag, env = image
    models = tmp_path_factory.mktemp("models")
    for name in MODELS:
        save_example(name, models / f"{name}.joblib")
    models.chmod(0o755)  # the container's user is not the owner
    for bundle in models.iterdir():
        bundle.chmod(0o644)
    found = Container(f"modelport-test-{uuid.uuid4().hex[:8]}", free_port(), env, models)
    run(
        [
            *(command("podman"), "run", "--detach", "--name", found.name, "--read-only"),
            *("--read-only-tmpfs=false", "--publish", f"{HOST}:{found.port}:8080"),
            *("--volume", f"{models}:/models:ro", tag),
        ],
        env,
        timeout=120,
    )
    try:
        found.wait_ready()
        yield found
    finally:
        found.podman("rm", "--force", "--time", "0", found.name)


def test_a_prediction_through_the_published_port(container: Container) -> None:
    expected = Predictor(load_bundle(container.models / "wind-turbine.joblib"))
    rows = EXAMPLES["wind-turbine"].data().head(5).drop(columns="id", errors="ignore")
    records = rows.to_dict(orient="records")
    answer = httpx.post(container.url + WIND, json=records, timeout=30)
    assert answer.status_code == 200, answer.text
    want = expected.predict(expected.validate(records))
    assert answer.json()["prediction"] == pytest.approx(want)
    models = httpx.get(f"{container.url}/models", timeout=10).json()
    assert sorted(model["name"] for model in models["models"]) == sorted(MODELS)


def test_runs_as_non_root_on_a_read_only_root_writing_only_to_tmp(container: Container) -> None:
    assert container.podman("exec", container.name, "id", "-u").stdout.strip() == "10001"
    refused = container.podman("exec", container.name, "touch", "/opt/modelport/x")
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    refused = container.podman("exec", container.name, "touch", "/models/x")
    assert refused.returncode != 0
    written = container.podman("exec", container.name, "touch", "/tmp/x")
    assert written.returncode == 0, written.stderr


def test_a_numeric_forest_is_walked_by_compiled_code_cached_in_tmp(container: Container) -> None:
    """The image's `fast` extra at work on a read-only root: numba keeps its code in /tmp."""
    expected = Predictor(load_bundle(container.models / "forest-multiclass.joblib"))
    records = expected.metadata.examples * 40
    answer = httpx.post(
        f"{container.url}/models/forest-multiclass/predict?proba=1", json=records, timeout=30
    )
    assert answer.status_code == 200, answer.text
    want = expected.predict_proba(expected.validate(records))
    assert answer.json()["prediction"] == want  # bit for bit, compiled or not
    cached = container.podman("exec", container.name, "find", "/tmp", "-name", "*.nbi")
    assert "compiled_forest" in cached.stdout, (cached.stdout, cached.stderr, container.logs())


def test_no_compiler_in_the_image(container: Container) -> None:
    found = container.podman(
        "exec", container.name, "sh", "-c", "command -v gcc cc c++ clang make || true"
    )
    assert found.stdout.strip() == ""


def test_the_health_check_passes(container: Container) -> None:
    """podman runs the image's HEALTHCHECK command itself (no timer needed for `run`)."""
    result = container.podman("healthcheck", "run", container.name)
    assert result.returncode == 0, result.stdout + result.stderr


@dataclass
class SteadyClient:
    """One keep-alive connection sending predictions back to back until told to stop."""

    url: str
    outcomes: list[tuple[float, int | str]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        timeout = httpx.Timeout(30.0, connect=2.0)
        with httpx.Client(base_url=self.url, timeout=timeout) as client:
            while not self.stopping.is_set():
                sent = time.monotonic()
                try:
                    outcome: int | str = client.post(WIND, json=[ROW]).status_code
                except httpx.TransportError as error:
                    outcome = type(error).__name__
                self.outcomes.append((sent, outcome))
                if isinstance(outcome, str):
                    time.sleep(0.05)  # the server is gone: no busy loop until told to stop


def test_podman_stop_under_load_fails_no_request_and_exits_0(container: Container) -> None:
    """SIGTERM reaches modelport as PID 1: /ready turns 503 while predictions are still
    answered (the drain), requests in flight finish, and the container exits 0."""
    client = SteadyClient(container.url)
    sender = threading.Thread(target=client.run)
    sender.start()
    try:
        while len(client.outcomes) < 20:
            time.sleep(0.01)
        signalled = time.monotonic()
        stop = subprocess.Popen(
            [command("podman"), "stop", "--time", str(STOP_SECONDS), container.name],
            env=container.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        saw_draining = False
        while stop.poll() is None and not saw_draining:
            with suppress(httpx.TransportError):
                saw_draining = httpx.get(f"{container.url}/ready", timeout=2).status_code == 503
            time.sleep(0.02)
        output, _ = stop.communicate(timeout=STOP_SECONDS + 30)
    finally:
        client.stopping.set()
        sender.join(timeout=60)
    assert stop.returncode == 0, output
    before = [outcome for sent, outcome in client.outcomes if sent < signalled]
    during = [outcome for sent, outcome in client.outcomes if sent >= signalled]
    assert len(before) >= 20 and set(before) == {200}
    assert saw_draining, "/ready never answered 503 after the stop"
    assert 200 in during  # the drain kept answering predictions after SIGTERM
    state = container.podman("inspect", "--format", "{{.State.ExitCode}}", container.name)
    assert state.stdout.strip() == "0", container.logs()
    assert "Finished server process" in container.logs()
