"""The server's prediction log: refused at start when unusable, counted in /metrics, and
written out when the server stops on SIGTERM."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelport import Settings
from modelport.api import create_app
from modelport.api.state import server_state
from modelport.cli import app as cli
from modelport.errors import StoreError
from tests.api.conftest import running
from tests.e2e.conftest import free_port, server_environment
from tests.unit.prediction_log_helpers import eventually, example_rows, read_log, served

IRIS = "forest-multiclass"


def test_a_bad_log_url_stops_the_app_from_being_built(example_dir: Path, tmp_path: Path) -> None:
    bundle = example_dir / f"{IRIS}.joblib"
    with pytest.raises(StoreError, match=r"the folder .* does not exist"):
        create_app(Settings(bundle_path=bundle, prediction_log=f"sqlite:///{tmp_path}/x/log.db"))


def test_modelport_serve_refuses_a_bad_log_url_before_it_listens(example_dir: Path) -> None:
    bundle = str(example_dir / f"{IRIS}.joblib")
    result = CliRunner().invoke(
        cli,
        ["serve", bundle, "--port", str(free_port()), "--workers", "2"],
        env={"MODELPORT_PREDICTION_LOG": "oracle+nodriver://user@host/db"},
    )
    assert result.exit_code == 1
    assert "cannot use the database URL oracle+nodriver://user@host/db" in result.output


def test_the_log_is_started_with_the_app_counted_in_metrics_and_closed_with_it(
    example_dir: Path, tmp_path: Path
) -> None:
    target = f"sqlite:///{tmp_path / 'log.db'}"
    settings = {
        "prediction_log": target,
        "prediction_log_flush_seconds": 0.01,
        "prediction_log_queue_rows": 4,
    }
    with running(example_dir / f"{IRIS}.joblib", **settings) as client:
        state = server_state(client.app)  # type: ignore[arg-type]
        log = state.prediction_log
        assert log is not None
        name = state.registry.names[0]
        version = state.registry.versions(name)[-1]
        predictor = state.registry.get(name, version)
        log.submit(served(predictor, example_rows(IRIS, 3), "r1", model=name, version=version))
        eventually(lambda: log.written == 3, "the rows written")
        log.submit(served(predictor, example_rows(IRIS, 5), "too-big"))  # past 4 rows: dropped
        text = client.get("/metrics").text
        assert "modelport_prediction_log_rows_total 3.0" in text
        assert 'modelport_prediction_log_dropped_total{reason="full"} 5.0' in text
        logged = read_log(target)
        assert logged["petal length (cm)"].notna().all()  # features named through the registry
    assert len(read_log(target)) == 3


SERVER = """
import os, signal, sys, threading, time
import uvicorn
from modelport import Settings
from modelport.api import create_app
from modelport.api.server import CleanExitServer, log_config
from modelport.api.state import server_state
from tests.unit.prediction_log_helpers import example_rows, served

settings = Settings(
    bundle_path=sys.argv[1], prediction_log=sys.argv[2], prediction_log_flush_seconds=3600,
    drain_seconds=0,
)
app = create_app(settings)
config = uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[3]), log_config=log_config("info"))
server = CleanExitServer(config)


def submit_then_stop():
    state = server_state(app)
    while not (server.started and state.registry.ready):
        time.sleep(0.01)
    name = state.registry.names[0]
    version = state.registry.versions(name)[-1]
    predictor = state.registry.get(name, version)
    rows = example_rows("forest-multiclass", 2)
    for i in range(25):
        record = served(predictor, rows, str(i), model=name, version=version)
        state.prediction_log.submit(record)
    assert state.prediction_log.written == 0  # an hour to wait: only the shutdown writes them
    os.kill(os.getpid(), signal.SIGTERM)


threading.Thread(target=submit_then_stop, daemon=True).start()
server.run()
"""


def test_sigterm_writes_the_rows_still_queued_before_the_server_exits(
    example_dir: Path, tmp_path: Path
) -> None:
    target = f"sqlite:///{tmp_path / 'log.db'}"
    script = tmp_path / "server.py"
    script.write_text(textwrap.dedent(SERVER))
    root = Path(__file__).resolve().parents[2]
    bundle = str(example_dir / f"{IRIS}.joblib")
    finished = subprocess.run(
        [sys.executable, str(script), bundle, target, str(free_port())],
        cwd=root,
        env=server_environment({}) | {"PYTHONPATH": f"{root / 'src'}:{root}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert "50 rows written, 0 dropped" in finished.stderr
    logged = read_log(target)
    assert len(logged) == 50
    assert sorted(logged["request_id"].astype(int).unique()) == list(range(25))
    assert logged["petal length (cm)"].notna().all()
