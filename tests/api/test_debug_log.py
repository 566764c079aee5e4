"""MODELPORT_DEBUG logs request bodies (bounded, keys never) and model call times."""

from __future__ import annotations

import json
import logging

from modelport.api.debug import LOGGED_BODY_BYTES

KEY = "sekret-key-0123456789"
MODEL = "forest-regression"


def _debug_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "modelport.debug"]


def test_debug_logs_each_body_and_model_call_and_never_a_key(serve, example_dir, caplog):
    with caplog.at_level(logging.INFO, logger="modelport.debug"):
        with serve(example_dir / f"{MODEL}.joblib", debug=True, api_keys=[KEY]) as client:
            auth = {"Authorization": f"Bearer {KEY}", "X-Request-ID": "req-1"}
            record = {f["name"]: 1.0 for f in client.get("/features", headers=auth).json()}
            body = json.dumps(record)
            json_type = {"Content-Type": "application/json"}
            answer = client.post("/predict", content=body, headers={**auth, **json_type})
            assert answer.status_code == 200
            leaked = {"note": f"my key is {KEY}"}
            client.post("/predict", json=leaked, headers={**auth, "X-Request-ID": "req-2"})
    lines = _debug_lines(caplog)
    assert f"request id=req-1 POST /predict body ({len(body)} bytes): {body}" in lines
    assert any(line.startswith(f"model {MODEL} predict: 1 rows in ") for line in lines)
    [masked] = [line for line in lines if line.startswith("request id=req-2")]
    assert "my key is " + "*" * len(KEY) in masked
    assert KEY not in caplog.text and "Bearer" not in caplog.text


def test_a_long_body_is_cut_and_a_key_across_the_cut_is_masked_whole(serve, example_dir, caplog):
    # The key starts 5 bytes before the cut: none of it may show.
    padding = "x" * (LOGGED_BODY_BYTES - len('{"a": "') - 5)
    text = json.dumps({"a": padding + KEY + "y" * 5000})
    with caplog.at_level(logging.INFO, logger="modelport.debug"):
        with serve(example_dir / f"{MODEL}.joblib", debug=True, api_keys=[KEY]) as client:
            client.post(
                "/predict",
                content=text,
                headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
            )
    [line] = [line for line in _debug_lines(caplog) if line.startswith("request id=")]
    shown = line.split(": ", 1)[1]
    assert f"({len(text)} bytes)" in line
    assert shown.endswith("*****" + " ...")
    assert len(shown) == LOGGED_BODY_BYTES + len(" ...")
    assert "sekret" not in caplog.text


def test_without_debug_nothing_is_logged(serve, example_dir, caplog):
    with caplog.at_level(logging.DEBUG):
        with serve(example_dir / f"{MODEL}.joblib") as client:
            record = {f["name"]: 1.0 for f in client.get("/features").json()}
            assert client.post("/predict", json=record).status_code == 200
    assert _debug_lines(caplog) == []
