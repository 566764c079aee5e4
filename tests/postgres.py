"""A real, throwaway PostgreSQL cluster for tests that write to a database.

Registered from tests/conftest.py. The batch scorer writes through SQLAlchemy, and only a real
server shows what PostgreSQL accepts, so the session starts its own cluster from Debian's
binaries (`make postgres` installs them) and every test gets a fresh database on it.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

POSTGRES_ROOT = Path("/usr/lib/postgresql")
"""Where Debian installs each major version's server binaries, as `<version>/bin`."""
HOST = "127.0.0.1"
SUPERUSER = "postgres"
"""The cluster's superuser and, when tests run as root, the system user that runs it."""
COMMAND_SECONDS = 120.0
"""Longest wait for initdb, a start or a stop; generous for a busy CI machine."""
LOG_TAIL_LINES = 20


class PostgresUnavailable(Exception):
    """No cluster can be started here; the message says why."""


def free_port() -> int:
    """A port nothing listens on now (the kernel's choice for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def version_key(bin_dir: Path) -> tuple[int, ...]:
    """`.../15/bin` as (15,), `.../9.6/bin` as (9, 6): numeric, so that 10 sorts after 9.6."""
    return tuple(int(part) for part in bin_dir.parent.name.split("."))


def find_bin_dir() -> Path | None:
    """The newest installed version's bin directory holding initdb and pg_ctl, if any."""
    candidates = [
        path
        for path in POSTGRES_ROOT.glob("*/bin")
        if re.fullmatch(r"\d+(\.\d+)*", path.parent.name)
        and (path / "initdb").is_file()
        and (path / "pg_ctl").is_file()
    ]
    return max(candidates, key=version_key, default=None)


def unavailable(reason: str) -> NoReturn:
    """Skip, saying how to fix it; under CI=true the skip is a failure (tests/conftest.py)."""
    pytest.skip(f"{reason}; `make postgres` installs Debian's PostgreSQL")


def as_root() -> bool:
    """initdb and pg_ctl refuse to run as root, so root runs them as the postgres user."""
    return os.geteuid() == 0


def cluster_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bool]:
    """A directory for the cluster, and whether teardown must remove it.

    As root the postgres user must reach the directory, but pytest's own temporary
    directories are private to root (mode 700), so root gets a traversable one of its own.
    """
    if not as_root():
        return tmp_path_factory.mktemp("postgres"), False
    folder = Path(tempfile.mkdtemp(prefix="modelport-pg-"))
    folder.chmod(0o755)
    return folder, True


def hand_to_postgres_user(folder: Path, data: Path) -> None:
    """Give the cluster's files to the postgres user, with the data directory private to it."""
    try:
        user = pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise PostgresUnavailable(f"tests run as root but there is no {SUPERUSER!r} user") from None
    for path in (folder, data):
        os.chown(path, user.pw_uid, user.pw_gid)
    data.chmod(0o700)


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run one server command, as the postgres user when tests run as root."""
    if as_root():
        command = ["runuser", "-u", SUPERUSER, "--", *command]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=COMMAND_SECONDS, check=False
    )


def log_tail(log: Path) -> str:
    """The end of the server's log, where the reason a start failed is written."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no server log)"
    return "\n".join(lines[-LOG_TAIL_LINES:]) or "(empty server log)"


def start_cluster(bin_dir: Path, folder: Path, port: int) -> None:
    """initdb a new cluster in `folder/data` and start it on 127.0.0.1:port."""
    data, log = folder / "data", folder / "pg.log"
    data.mkdir(mode=0o700)
    if as_root():
        hand_to_postgres_user(folder, data)
    initdb_options = ["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync"]
    initdb = run([str(bin_dir / "initdb"), "-D", str(data), *initdb_options])
    if initdb.returncode != 0:
        raise PostgresUnavailable(f"initdb failed:\n{initdb.stdout}{initdb.stderr}")
    options = f"-p {port} -k {shlex.quote(str(folder))} -c listen_addresses={HOST} -c fsync=off"
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o", options]
    started = run([*pg_ctl, "start"])
    if started.returncode != 0:
        raise PostgresUnavailable(
            f"the cluster did not start:\n{started.stdout}{started.stderr}\n"
            f"pg.log ends with:\n{log_tail(log)}"
        )


def stop_cluster(bin_dir: Path, folder: Path) -> None:
    """Stop the server if one is running, including one whose start timed out."""
    data = folder / "data"
    if (data / "postmaster.pid").exists():
        run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a PostgreSQL cluster started for this session, always stopped after.

    Yields `postgresql+psycopg://postgres@127.0.0.1:PORT/postgres`. Without PostgreSQL's
    binaries, or when the cluster cannot start, the tests that need it fail in CI and are
    skipped elsewhere.
    """
    bin_dir = find_bin_dir()
    if bin_dir is None:
        unavailable(f"PostgreSQL is not installed (no {POSTGRES_ROOT}/*/bin/initdb)")
    folder, remove = cluster_dir(tmp_path_factory)
    port = free_port()
    try:
        try:
            start_cluster(bin_dir, folder, port)
        except (PostgresUnavailable, subprocess.TimeoutExpired) as error:
            unavailable(str(error))
        yield f"postgresql+psycopg://{SUPERUSER}@{HOST}:{port}/postgres"
    finally:
        try:
            stop_cluster(bin_dir, folder)
        finally:
            if remove:
                shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """The URL of a database created for this test alone and dropped after it.

    A database per test keeps tests independent without any cleanup of their own; dropping
    it `WITH (FORCE)` ends connections a test left open.
    """
    name = f"test_{uuid.uuid4().hex}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
