"""deploy/nginx/modelport.conf in front of a real modelport server, with Debian's nginx.

The test serves the shipped file as it is, but for what a test machine must change: its
ports, a self-signed certificate made here, and where logs go. Each change must match the
file exactly once, so a reworded configuration fails here instead of going untested.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from modelport.examples import save_example
from modelport.settings import Settings

from ..e2e.conftest import HOST, Server, free_port, running
from .conftest import DEPLOY, missing

pytestmark = pytest.mark.timeout(180)

CONFIG = DEPLOY / "nginx" / "modelport.conf"
START_SECONDS = 20.0
LOG_SECONDS = 5.0
SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def test_body_limit_equals_modelports() -> None:
    [value] = re.findall(r"^\s*client_max_body_size\s+(\d+)([kmg]?);", CONFIG.read_text(), re.M)
    assert int(value[0]) * SIZE_UNITS[value[1]] == Settings().max_body_bytes


def _command(name: str) -> str:
    """A Debian tool's path; root's PATH has /usr/sbin, a user's may not."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        missing(f"{name} is not installed", "nginx")
    return found


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, valid for a day."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *(_command("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", f"/CN={HOST}"),
            *("-addext", f"subjectAltName=IP:{HOST}"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{CONFIG.name} should hold {old!r} exactly once"
    return text.replace(old, new)


def _site(upstream: int, http: int, https: int, folder: Path) -> str:
    """The shipped configuration with this machine's ports, certificate and log."""
    cert, key = _certificate(folder)
    text = CONFIG.read_text()
    for old, new in [
        ("server 127.0.0.1:5000;", f"server {HOST}:{upstream};"),
        ("listen 80;", f"listen {HOST}:{http};"),
        ("listen 443 ssl;", f"listen {HOST}:{https} ssl;"),
        ("/etc/ssl/certs/models.example.com.pem", str(cert)),
        ("/etc/ssl/private/models.example.com.key", str(key)),
        ("/var/log/nginx/modelport.access.log", str(folder / "access.log")),
    ]:
        text = _replace_once(text, old, new)
    return text


def _main_config(folder: Path) -> str:
    """What nginx.conf around the site holds on a Debian machine, in a private folder."""
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;" if os.geteuid() == 0 else ""  # workers must reach the test's folder
    return f"""{user}
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} info;
events {{ worker_connections 64; }}
http {{
{temp}
    include {folder / "modelport.conf"};
}}
"""


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nginx exited with {process.returncode}:\n{log.read_text()}")
        with suppress(httpx.TransportError):
            httpx.get(f"http://{HOST}:{port}/", timeout=1.0)
            return
        time.sleep(0.05)
    pytest.fail(f"nginx did not listen within {START_SECONDS:.0f} s:\n{log.read_text()}")


class Proxy:
    """nginx's two ports, its log, and the modelport server behind it."""

    def __init__(self, folder: Path, http: int, https: int, server: Server) -> None:
        self.folder, self.http, self.https, self.server = folder, http, https, server

    def client(self) -> httpx.Client:
        """An HTTPS client that trusts the test's certificate, and nothing else."""
        trusted = ssl.create_default_context(cafile=self.folder / "cert.pem")
        return httpx.Client(base_url=f"https://{HOST}:{self.https}", verify=trusted)

    def access_log(self) -> str:
        return (self.folder / "access.log").read_text()


def _logged(read: Callable[[], str], pattern: str) -> bool:
    """Whether a line matching `pattern` appears in a log within a few seconds: both servers
    write a request's line once its answer is sent, so it may lag the client a little."""
    deadline = time.monotonic() + LOG_SECONDS
    while not re.search(pattern, read(), re.M):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """modelport serving wind-turbine, and nginx in front of it on two free ports."""
    nginx = _command("nginx")
    folder = tmp_path_factory.mktemp("nginx")
    save_example("wind-turbine", folder / "wind-turbine.joblib")
    with running(folder / "wind-turbine.joblib", folder / "modelport.log") as server:
        http, https = free_port(), free_port()
        (folder / "modelport.conf").write_text(_site(server.port, http, https, folder))
        (folder / "nginx.conf").write_text(_main_config(folder))
        command = [nginx, "-p", str(folder), "-e", str(folder / "error.log")]
        command += ["-c", str(folder / "nginx.conf")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        process = subprocess.Popen(
            [*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_for_port(http, process, folder / "error.log")
            yield Proxy(folder, http, https, server)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)


def test_a_prediction_through_tls_carries_the_clients_request_id(proxy: Proxy) -> None:
    with proxy.client() as client:
        answer = client.post(
            "/predict", json=[{"Ws1_avg": 9}], headers={"X-Request-ID": "order-42.7"}
        )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["prediction"]) == 1
    assert answer.headers["x-request-id"] == "order-42.7"
    assert _logged(proxy.server.log, r'"POST /predict" 200 .* id=order-42\.7$')
    assert _logged(proxy.access_log, r'"POST /predict HTTP/1\.1" 200 .* id=order-42\.7$')


def test_nginx_makes_the_request_id_when_the_client_sends_none(proxy: Proxy) -> None:
    with proxy.client() as client:
        answer = client.get("/ready")
    assert answer.status_code == 200
    request_id = answer.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)  # nginx's $request_id
    assert _logged(proxy.server.log, f'"GET /ready" 200 .* id={request_id}$')
    assert _logged(proxy.access_log, f'"GET /ready HTTP/1\\.1" 200 .* id={request_id}$')


def test_a_body_at_the_limit_passes_and_one_byte_more_is_refused_by_nginx(proxy: Proxy) -> None:
    limit = Settings().max_body_bytes
    record = b'{"Ws1_avg": 9}'
    at_limit = record + b" " * (limit - len(record))
    headers = {"Content-Type": "application/json"}
    with proxy.client() as client:
        passed = client.post("/predict", content=at_limit, headers=headers)
        refused = client.post(
            "/predict", content=at_limit + b" ", headers={**headers, "X-Request-ID": "too-big"}
        )
    assert passed.status_code == 200, passed.text
    assert refused.status_code == 413
    assert refused.headers["server"].startswith("nginx")
    assert _logged(proxy.access_log, r'"POST /predict HTTP/1\.1" 413 .* id=too-big$')
    assert "id=too-big" not in proxy.server.log()  # modelport never saw it


def test_plain_http_is_sent_to_https(proxy: Proxy) -> None:
    answer = httpx.get(f"http://{HOST}:{proxy.http}/predict", headers={"Host": "models.test"})
    assert answer.status_code == 301
    assert answer.headers["location"] == "https://models.test/predict"
