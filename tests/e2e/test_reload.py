"""Hot reload on a real server: a bundle replaced under load fails no request."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

from sklearn.dummy import DummyRegressor

from modelport import ModelMetadata, save_bundle

DEADLINE_SECONDS = 60


def _constant(path: Path, value: float) -> None:
    model = DummyRegressor(strategy="constant", constant=value).fit([[0.0]], [value])
    save_bundle(
        model, path, ModelMetadata(features=[{"name": "x", "default": 0}], examples=[{"x": 1}])
    )


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_bundle_replaced_under_load_fails_no_request(serve, tmp_path: Path):
    repository = tmp_path / "models"
    _constant(repository / "power.joblib", 1.0)
    _constant(tmp_path / "next.joblib", 2.0)
    new_bytes = (tmp_path / "next.joblib").read_bytes()
    server = serve(repository, reload_interval=0.1)
    answers: Counter[object] = Counter()
    failures: list[tuple[int, str]] = []
    stop = threading.Event()

    def send_continuously() -> None:
        with server.client() as client:
            while not stop.is_set():
                response = client.post("/models/power/predict", json={"x": 1})
                if response.status_code == 200:
                    answers[response.json()["prediction"][0]] += 1
                else:
                    failures.append((response.status_code, response.text))

    clients = [threading.Thread(target=send_continuously) for _ in range(3)]
    for thread in clients:
        thread.start()
    try:
        _wait(lambda: answers[1.0] >= 30, "answers from the first model")
        # Copy the new bundle in place the slow way, as `cp` does: the server's poller sees
        # a half-written file first, which must not replace the model that serves.
        with (repository / "power.joblib").open("wb") as file:
            file.write(new_bytes[: len(new_bytes) // 2])
            file.flush()
            _wait(
                lambda: "failed to load" in server.log(), "the poller to try the half-written file"
            )
            seen = answers[1.0]
            _wait(lambda: answers[1.0] >= seen + 30, "answers while the file is half written")
            file.write(new_bytes[len(new_bytes) // 2 :])
        _wait(lambda: answers[2.0] >= 30, "answers from the new model")
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=DEADLINE_SECONDS)
    assert failures == []
    assert set(answers) == {1.0, 2.0}
