"""schemathesis against a real server: every operation of the served schema, V2 included,
answers what the schema says (statuses, media types, bodies), with auth on.

Two checks are left out on purpose: the server reads numbers sent as strings and booleans
as words (CSV and query strings need it), and no schema can say which CSV tables or tensors
a given model accepts, so "valid data accepted" and "invalid data rejected" are the
example-based tests' job, not the fuzzer's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from modelport.examples import save_example
from tests.e2e.conftest import StartServer

KEY = "fuzz-key"
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
    "missing_required_header",
]
MAX_EXAMPLES = 10
"""Per operation and phase: about a minute for the whole run on a busy two-core machine."""
CONFIG = """
[phases.coverage.generation]
mode = "positive"  # the coverage phase's negative cases alone take minutes; fuzzing has them
"""


def test_every_operation_answers_what_the_schema_says(serve: StartServer, tmp_path: Path):
    models = tmp_path / "models"
    save_example("linear-binary", models / "cancer.joblib")
    save_example("forest-multiclass", models / "iris.joblib")
    # One key for both roles, so one header reaches the repository routes too.
    server = serve(models, api_keys=KEY, admin_keys=KEY)
    document = server.get("/openapi.json", headers={"Authorization": f"Bearer {KEY}"}).json()
    operations = sum(len(item) for item in document["paths"].values())
    assert {"/v2/models/{name}/infer", "/v2/repository/index", "/metrics"} <= set(document["paths"])
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    run = subprocess.run(
        [
            sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()",
            "--config-file", str(config), "run", f"{server.url}/openapi.json",
            "--header", f"Authorization: Bearer {KEY}",
            "--checks", ",".join(CHECKS),
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", str(MAX_EXAMPLES),
            "--seed", "1",  # the same cases every run: a failure is reproducible
            "--workers", "1",  # hypothesis in two threads can trip a CPython 3.11 ast bug
            "--no-shrink",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # its report folder stays out of the repository
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert re.search(rf"Tested: +{operations}\b", report), report
