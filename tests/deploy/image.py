"""Build deploy/Dockerfile with podman, offline, from a cached Debian base and wheelhouse.

No image registry is reachable from the test machines, so the base image is made with
mmdebstrap from the Debian mirror apt already uses (`BASE` is a build argument for this),
and the dependencies' wheels are built on the host, as the Dockerfile expects. Both are
cached under ~/.cache/modelport-test, keyed by what they are made from, so only the first
run pays for them; podman's layer cache then keeps the installed dependencies, and an
unchanged checkout rebuilds nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from .conftest import DEPLOY, ROOT, missing

SUITE = "bookworm"  # Debian 12: python3 is 3.11, as in the python:3.11-slim default
PACKAGES = "python3,python3-venv,ca-certificates"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
"""
"""crun fails on some kernels' hybrid cgroups, and a sandbox may refuse podman's default
ulimits: runc and modest limits work in both."""
BUILD_SECONDS = 1800
"""Longest wait for one step; a first run builds the base and every wheel."""


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "modelport-test"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def podman_environment(folder: Path) -> dict[str, str]:
    """This process's environment with podman pointed at the test's containers.conf."""
    conf = folder / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def command(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        missing(f"{name} is not installed", "podman")
    return found


def run(args: list[str], env: dict[str, str], timeout: float = BUILD_SECONDS) -> str:
    """Run a command; fail with its output if it fails."""
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args[:3])} ... failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def debian_mirror() -> str:
    """The Debian mirror apt uses here (deb822 or one-line sources), else deb.debian.org."""
    sources = [*Path("/etc/apt/sources.list.d").glob("*.sources"), Path("/etc/apt/sources.list")]
    for path in sources:
        text = path.read_text() if path.is_file() else ""
        for match in re.finditer(r"^(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s+)?)(\S+)", text, re.M):
            if match.group(1).rstrip("/").endswith("/debian"):
                return match.group(1)
    return DEFAULT_MIRROR


def base_image(env: dict[str, str]) -> str:
    """A Debian image with Python, imported from a cached mmdebstrap tarball."""
    mirror = debian_mirror()
    key = _key(SUITE, PACKAGES, mirror)
    tag = f"localhost/modelport-base:{key}"
    podman = command("podman")
    if subprocess.run([podman, "image", "exists", tag], env=env).returncode == 0:
        return tag
    tarball = cache_dir() / f"base-{SUITE}-{key}.tar"
    if tarball.is_dir():  # an older run's mmdebstrap, guessing from a name, made a directory
        shutil.rmtree(tarball)
    if not tarball.exists():
        partial = tarball.with_name(f"{tarball.stem}.partial.tar")
        partial.unlink(missing_ok=True)
        run(
            [
                command("mmdebstrap"),
                "--format=tar",  # not guessed from the file's name
                "--variant=minbase",
                f"--include={PACKAGES}",
                SUITE,
                str(partial),
                mirror,
            ],
            env,
        )
        partial.rename(tarball)
    run([podman, "import", "--change", 'CMD ["/bin/bash"]', str(tarball), tag], env)
    return tag


def default_extras() -> str:
    """The extras the Dockerfile installs unless told otherwise."""
    found = re.search(r"^ARG EXTRAS=(\S+)$", (DEPLOY / "Dockerfile").read_text(), re.M)
    assert found is not None, "the Dockerfile has no default EXTRAS"
    return found.group(1)


def dependency_wheels(extras: str, env: dict[str, str]) -> Path:
    """The wheels of modelport's dependencies (with `extras`), built once per pyproject."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    key = _key(extras, repr(project["dependencies"]), repr(project["optional-dependencies"]))
    folder = cache_dir() / f"wheels-{key}"
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(folder)]
        run([*pip, f"{ROOT}[{extras}]"], env)
        for wheel in folder.glob("modelport-*.whl"):
            wheel.unlink()  # built fresh for every image, from the source under test
        (folder / ".complete").touch()
    return folder


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def build_context(folder: Path, env: dict[str, str]) -> Path:
    """What `make wheels` leaves at the repository's root, in a folder of its own."""
    context = folder / "context"
    (context / "deploy" / "models").mkdir(parents=True)
    (context / "wheelhouse").mkdir()
    shutil.copy2(DEPLOY / "Dockerfile", context / "deploy" / "Dockerfile")
    shutil.copy2(ROOT / ".dockerignore", context / ".dockerignore")
    (context / "deploy" / "models" / ".gitkeep").touch()
    for wheel in dependency_wheels(default_extras(), env).glob("*.whl"):
        _link_or_copy(wheel, context / "wheelhouse" / wheel.name)
    run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"),
            *("--wheel-dir", str(context / "dist"), str(ROOT)),
        ],
        env,
    )
    return context


def _image_id(tag: str, env: dict[str, str]) -> str | None:
    found = subprocess.run(
        [command("podman"), "image", "inspect", "--format", "{{.Id}}", tag],
        env=env,
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() if found.returncode == 0 else None


def build_image(tag: str, folder: Path, env: dict[str, str]) -> None:
    """podman build of deploy/Dockerfile on the cached base, as a user would build it.

    The image is kept under `tag` after the tests: its layers are the cache that makes the
    next build take seconds when nothing changed. The image it replaces is removed.
    """
    context = build_context(folder, env)
    replaced = _image_id(tag, env)
    run(
        [
            *(command("podman"), "build", "--format", "docker"),
            *("--build-arg", f"BASE={base_image(env)}", "--tag", tag),
            *("--file", "deploy/Dockerfile", str(context)),
        ],
        env,
    )
    if replaced is not None and replaced != _image_id(tag, env):
        subprocess.run([command("podman"), "rmi", replaced], env=env, capture_output=True)
