"""The Dockerfile passes hadolint, and keeps the promises the deploy guide makes of it."""

from __future__ import annotations

import re
import subprocess

from .conftest import DEPLOY, ROOT, tool

DOCKERFILE = DEPLOY / "Dockerfile"


def test_hadolint_finds_nothing() -> None:
    hadolint = tool("hadolint", "install")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _final_stage() -> str:
    """The instructions after the last FROM: what the image is made of."""
    return DOCKERFILE.read_text().rpartition("\nFROM ")[2]


def test_the_image_is_built_from_wheels_without_network_or_compiler() -> None:
    text = DOCKERFILE.read_text()
    assert "ARG BASE=python:3.11-slim" in text
    assert text.count("FROM ${BASE}") == 2  # a build stage and the image
    installs = re.findall(r"pip install[^\n]*(?:\\\n[^\n]*)*", text)
    assert installs and all("--no-index" in command for command in installs)
    assert not re.search(r"apt-get|gcc|build-essential", text)
    final = _final_stage()
    assert "wheelhouse" not in final  # the wheels stay in the build stage


def test_the_image_runs_modelport_as_a_non_root_user_and_stops_on_sigterm() -> None:
    final = _final_stage()
    user = re.search(r"^USER (\S+)", final, re.MULTILINE)
    assert user is not None and not user.group(1).startswith(("root", "0"))
    assert 'ENTRYPOINT ["modelport"]' in final
    assert 'CMD ["serve", "/models", "--host", "0.0.0.0"]' in final
    assert re.search(r"^STOPSIGNAL SIGTERM$", final, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n?.*/health", final, re.MULTILINE)
    assert 'VOLUME ["/tmp"]' in final  # the one writable place under a read-only root


def test_the_build_context_is_the_wheels_and_the_models_only() -> None:
    rules = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert rules[0] == "*"
    assert set(rules[1:]) == {"!wheelhouse/*.whl", "!dist/modelport-*.whl", "!deploy/models/"}
