"""`modelport dashboard` starts a real Streamlit server; the file-scoring path of each mode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from modelport import Predictor, Settings
from modelport.dashboard.sources import Embedded, Remote
from tests.e2e.conftest import StartServer, free_port

KEY = "dashboard-key-never-shown"


def test_the_command_serves_the_app_headless_and_keeps_the_key_off_the_command_line(
    example_dir: Path, tmp_path: Path
):
    port = free_port()
    (tmp_path / "key").write_text(KEY + "\n")
    command = [
        sys.executable, "-m", "modelport", "dashboard", str(example_dir / "forest-multiclass.joblib"),
        "--port", str(port), "--api-key-file", str(tmp_path / "key"),
    ]  # fmt: skip
    environment = dict(os.environ, HOME=str(tmp_path))
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment,
        start_new_session=True,
    ) as process:  # fmt: skip
        try:
            deadline, health = time.monotonic() + 60, None
            while time.monotonic() < deadline and health is None:
                try:
                    health = httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                except httpx.TransportError:
                    assert process.poll() is None, "the dashboard exited early"
                    time.sleep(0.2)
            assert health is not None and health.text == "ok"
            assert "<title>" in httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    text = cmdline.read_bytes().decode(errors="replace")
                except OSError:
                    continue
                assert KEY not in text, cmdline
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
    assert f"dashboard on http://127.0.0.1:{port}" in output.decode()
    assert KEY not in output.decode()


def test_a_missing_bundle_is_one_line(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "modelport", "dashboard", str(tmp_path / "nope.joblib")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: bundle not found: {tmp_path / 'nope.joblib'} (or give --api URL)"
    ]


def test_the_prediction_log_flag_reaches_the_app_as_its_setting(
    example_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    """Streamlit's start is the boundary: the app reads MODELPORT_* from the environment."""
    import modelport.dashboard
    from modelport.cli import app
    from modelport.dashboard import dashboard_environment

    started: list[dict[str, str]] = []

    def start(settings: Settings) -> int:
        started.append(dashboard_environment(settings))
        return 0

    monkeypatch.setattr(modelport.dashboard, "run_dashboard", start)
    url = "sqlite:///log.db"
    bundle = str(example_dir / "bank-marketing.joblib")
    result = CliRunner().invoke(app, ["dashboard", bundle, "--prediction-log", url])
    assert result.exit_code == 0, result.output
    [environment] = started
    assert environment["MODELPORT_PREDICTION_LOG"] == url


def _table(predictor: Predictor) -> pd.DataFrame:
    table = pd.DataFrame(predictor.metadata.examples * 2).astype(object)
    table.loc[1, "age"] = "old"
    return table.astype(str)


def test_score_a_file_sets_bad_rows_aside_in_both_modes(
    example_dir: Path, predictors: dict[str, Predictor], serve: StartServer
):
    bank = predictors["bank-marketing"]
    table = _table(bank)
    bundle = example_dir / "bank-marketing.joblib"
    here = Embedded(Settings(bundle_path=bundle)).score("bank-marketing", table)
    server = serve(bundle, api_keys=KEY)
    there = Remote(Settings(api_url=server.url, client_api_key=KEY)).score("bank-marketing", table)

    for scored in (here, there):
        assert [(p.row, p.field) for p in scored.problems] == [(1, "age")]
        assert len(scored.predictions) == len(table) - 1
    valid = table.drop(index=1).to_dict("records")
    assert here.predictions["prediction"].tolist() == bank.predict_records(valid)
    assert there.predictions["prediction"].tolist() == bank.predict_records(valid)
    proba = bank.predict_records(valid, proba=True)
    for scored in (here, there):
        assert scored.predictions["proba_yes"].tolist() == pytest.approx([p["yes"] for p in proba])


def test_more_rows_than_allowed_says_so_in_both_modes(
    example_dir: Path, predictors: dict[str, Predictor], serve: StartServer
):
    table = _table(predictors["bank-marketing"])
    bundle = example_dir / "bank-marketing.joblib"
    here = Embedded(Settings(bundle_path=bundle, max_rows=3))
    server = serve(bundle, api_keys=KEY, max_rows=3)
    there = Remote(Settings(api_url=server.url, client_api_key=KEY))
    for source in (here, there):
        with pytest.raises(ValueError, match=r"MODELPORT_MAX_ROWS.*`modelport score`"):
            source.score("bank-marketing", table)
