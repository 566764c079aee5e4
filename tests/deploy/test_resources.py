"""The memory the Kubernetes manifests give a pod holds a real worker at its peak."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ..e2e.conftest import running
from .conftest import DEPLOY, documents

pytestmark = pytest.mark.timeout(180)

UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}
ROWS = 10_000  # MODELPORT_MAX_ROWS: the largest request a worker takes


def _bytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * UNITS[unit]


def _peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    [kilobytes] = re.findall(r"^VmHWM:\s+(\d+) kB$", status, re.M)
    return int(kilobytes) * 1024


def test_one_worker_serving_every_example_fits_the_pods_memory(
    example_dir: Path, tmp_path: Path
) -> None:
    [deployment] = documents(DEPLOY / "kubernetes" / "deployment.yaml")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    limit = _bytes(container["resources"]["limits"]["memory"])
    rows = [{"Ws1_avg": i % 25} for i in range(ROWS)]
    with running(example_dir, tmp_path / "server.log") as server, server.client() as client:
        for _ in range(3):
            answer = client.post("/models/wind-turbine/predict", json=rows)
            assert answer.status_code == 200, answer.text
        answer = client.get("/models/sentiment/", params={"query": "works well"})
        assert answer.status_code == 200
        peak = _peak_rss(server.process.pid)
    assert peak < limit * 0.75, (
        f"peak RSS {peak / 2**20:.0f} MiB for a {limit / 2**20:.0f} MiB limit"
    )
