"""A real `modelport serve` process on 127.0.0.1, started per test and always stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
START_SECONDS = 60.0
"""Longest wait for /ready: imports, model loading and, on a busy CI machine, some slack."""
CHROMIUM_ARGS = [
    "--no-sandbox",  # as root, Chromium's sandbox refuses to start
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
STOP_SECONDS = 20.0
"""Longest wait after SIGTERM before the server's whole process group is killed."""


def free_port() -> int:
    """A port nothing listens on now (the kernel's choice for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def server_environment(settings: dict[str, Any]) -> dict[str, str]:
    """This process's environment without modelport's own variables, plus the settings.

    The drain is off unless a test asks for it, so that stopping a server takes no
    deliberate wait.
    """
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith("MODELPORT_") and name != "PROMETHEUS_MULTIPROC_DIR"
    }
    environment["MODELPORT_DRAIN_SECONDS"] = "0"
    environment["PYTHONUNBUFFERED"] = "1"
    environment |= {f"MODELPORT_{name.upper()}": str(value) for name, value in settings.items()}
    return environment


def serve_command(bundle_path: Path, port: int, *args: str) -> list[str]:
    """`python -m modelport serve PATH --port PORT ...`, as an operator would run it."""
    return [
        sys.executable,
        "-m",
        "modelport",
        "serve",
        str(bundle_path),
        "--port",
        str(port),
        *args,
    ]


@dataclass
class Server:
    """A running `modelport serve` and where its output goes."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://{HOST}:{self.port}"

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client on this server (close it, or use it in a `with`)."""
        kwargs.setdefault("timeout", 30.0)
        return httpx.Client(base_url=self.url, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """One GET on a new connection (a pooled one could outlive the listening socket)."""
        with self.client() as client:
            return client.get(path, **kwargs)

    def log(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, seconds: float = START_SECONDS) -> None:
        """Poll /ready until it answers 200; fail with the log if the server dies or stalls."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"the server exited with {self.process.returncode} before it was ready:\n"
                    + self.log()
                )
            with suppress(httpx.TransportError):
                if self.get("/ready", timeout=2.0).status_code == 200:
                    return
            time.sleep(0.05)
        pytest.fail(f"the server was not ready within {seconds:.0f} s:\n{self.log()}")

    def stop(self, seconds: float = STOP_SECONDS) -> int:
        """SIGTERM the server (its main process only, as an orchestrator does), wait for it
        to exit, and kill its whole process group (workers included) if it does not.

        Returns:
            The exit status; -9 when it had to be killed.
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL every process of the server's group, then reap the main one."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_SECONDS)

    def group_alive(self) -> bool:
        """True while a process of the server's group (a worker, say) still runs.

        Zombies do not count: in a container whose first process reaps no orphans, an exited
        helper (multiprocessing's resource tracker) stays listed after its parent is gone.
        """
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with suppress(OSError):
                fields = stat.read_text().rpartition(")")[2].split()
                if int(fields[2]) == self.process.pid and fields[0] != "Z":
                    return True
        return False


def launch(bundle_path: Path, log_path: Path, *args: str, **settings: Any) -> Server:
    """Start `modelport serve` in its own process group; does not wait for it."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            serve_command(bundle_path, port, *args),
            cwd=ROOT,  # makes `tests.e2e.fake_models` importable for the bundles that need it
            env=server_environment(settings),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so a stuck server is killed with its workers
        )
    return Server(process, port, log_path)


@contextmanager
def running(bundle_path: Path, log_path: Path, *args: str, **settings: Any) -> Iterator[Server]:
    """A ready server, stopped (and if need be killed) on the way out."""
    server = launch(bundle_path, log_path, *args, **settings)
    try:
        server.wait_ready()
        yield server
    finally:
        status = server.stop()
        if server.group_alive():
            server.kill()
        if status == -signal.SIGKILL:
            pytest.fail(f"the server did not stop on SIGTERM:\n{server.log()}")


StartServer = Callable[..., Server]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[StartServer]:
    """`serve(path, *cli_args, ready=True, **settings)`: a real server, stopped after the test.

    Settings become MODELPORT_* variables (`max_body_bytes=2000` → MODELPORT_MAX_BODY_BYTES).
    """
    servers: list[Server] = []

    def start(bundle_path: Path, *args: str, ready: bool = True, **settings: Any) -> Server:
        server = launch(bundle_path, tmp_path / f"server-{len(servers)}.log", *args, **settings)
        servers.append(server)
        if ready:
            server.wait_ready()
        return server

    yield start
    killed = [server for server in servers if server.stop() == -signal.SIGKILL]
    for server in servers:
        if server.group_alive():  # a worker that outlived its parent
            server.kill()
    if killed:
        pytest.fail("a server did not stop on SIGTERM:\n" + killed[0].log())


@pytest.fixture(scope="module")
def examples_server(
    example_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """Every example model served from one folder, shared by a module's tests."""
    log_path = tmp_path_factory.mktemp("examples-server") / "server.log"
    with running(example_dir, log_path) as server:
        yield server
