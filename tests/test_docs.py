"""The README's commands run as a newcomer would paste them, and print what it shows.

Numbers and sha256 digests are masked (library versions move the last digits); the first
line of each command's output must match, and a shown `error:` means exit status 1.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

README = Path(__file__).parent.parent / "README.md"
_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
_HEX = re.compile(r"\b[0-9a-f]{64}\b")
_NUMBER = re.compile(r"-?\d+(\.\d+)?(e[+-]?\d+)?")


def _mask(text: str) -> str:
    return _NUMBER.sub("N", _HEX.sub("HEX", text)).strip()


def _blocks(language: str) -> list[str]:
    return [body for lang, body in _BLOCK.findall(README.read_text()) if lang == language]


def _commands(block: str) -> list[tuple[str, list[str]]]:
    commands: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:].split("  #")[0].strip(), []))
        elif commands:
            commands[-1][1].append(line)
    return commands


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Session:
    """A working folder, a PATH with this venv's `modelport`, and at most one server."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = dict(
            os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", COLUMNS="200"
        )
        self.server: subprocess.Popen[bytes] | None = None
        self.port = 0

    def serve(self, command: str) -> None:
        self.stop()
        self.port = _free_port()
        words = command.removesuffix("&").split()
        settings = dict(word.split("=", 1) for word in words if re.match(r"^[A-Z_]+=", word))
        args = words[len(settings) + 1 :]
        self.server = subprocess.Popen(
            [sys.executable, "-m", "modelport", *args, "--port", str(self.port)],
            cwd=self.folder,
            env=self.env | settings,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.server.poll() is None, f"{command} exited early"
            time.sleep(0.1)
        raise AssertionError(f"{command} never became ready")

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        command = command.replace("localhost:5000", f"127.0.0.1:{self.port}")
        return subprocess.run(
            ["bash", "-c", command],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.server is not None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
            self.server = None


def _check(command: str, shown: list[str], result: subprocess.CompletedProcess[str]) -> None:
    printed = result.stdout.strip()  # stderr merged in, interleaved as a terminal shows it
    expected_error = bool(shown) and shown[0].startswith("error:")
    assert result.returncode == (1 if expected_error else 0), (command, printed)
    if not shown or not shown[0].strip():
        return
    first_shown = _mask(shown[0])
    first_printed = _mask(printed.splitlines()[0] if printed else "")
    if "..." in first_shown:
        assert first_printed.startswith(first_shown.split("...")[0].rstrip(", ")), (
            command,
            printed[:300],
        )
    else:
        assert first_printed == first_shown, (command, printed[:300])


def test_readme_starts_with_the_two_commands():
    first_block = _blocks("console")[0]
    assert [command for command, _ in _commands(first_block)] == []
    assert "make demo" in first_block and "make test" in first_block


def test_readme_commands_print_what_the_readme_shows(tmp_path: Path):
    session = _Session(tmp_path)
    for script in _blocks("python"):
        if "load_bank_marketing" in script:
            (tmp_path / "make_pickles.py").write_text(script)
            subprocess.run(
                [sys.executable, "make_pickles.py"], cwd=tmp_path, check=True, timeout=120
            )
    ran = 0
    try:
        for block in _blocks("console"):
            commands = _commands(block)
            if sum("modelport serve" in command for command, _ in commands) > 1:
                continue  # a list of ways to start the server, not a session to replay
            for command, shown in commands:
                if re.match(r"^([A-Z_]+=\S+ )*modelport serve", command):
                    if command.endswith("&"):
                        session.serve(command)
                    continue
                if not command.startswith(("modelport", "curl", "mkdir")):
                    continue
                _check(command, shown, session.run(command))
                ran += 1
    finally:
        session.stop()
    assert ran >= 20


@pytest.mark.parametrize(
    "route",
    [
        "/health",
        "/ready",
        "/service-info",
        "/models",
        "/info",
        "/features",
        "/predict",
        "/preprocess",
        "/?query=",
        "/docs",
    ],
)
def test_readme_documents_every_route(route: str):
    assert (
        f"`GET {route}" in README.read_text()
        or f"`POST {route}" in README.read_text()
        or route in README.read_text()
    )
