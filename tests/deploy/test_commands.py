"""Every modelport command the deploy files run is one the CLI accepts, options and all.

The commands are parsed as `modelport` parses them (Click, after `--resume` without a run
id becomes `--resume=latest`), without running them: no server, database or model needed.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import pytest
import typer

from modelport.cli import app
from modelport.cli_batch import optional_resume

from .conftest import DEPLOY, documents

DOCKERFILE = (DEPLOY / "Dockerfile").read_text()


def _image_command() -> list[str]:
    found = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M)
    assert found is not None
    command: list[str] = json.loads(found.group(1))
    return command


def _compose_commands() -> dict[str, list[str]]:
    """Each modelport service's arguments; a `sh -c` wrapper is read as the shell would."""
    [compose] = documents(DEPLOY / "compose.yaml")
    commands = {}
    for name, service in compose["services"].items():
        if "command" not in service:
            continue
        if service.get("entrypoint") == ["/bin/sh", "-c"]:
            [script] = service["command"]
            script = script.replace("$$", "$")  # compose's escape for a literal $
            words = shlex.split(script)
            start = words.index("exec") + 1
            assert words[start] == "modelport", script
            commands[f"compose {name}"] = words[start + 1 :]
        else:
            commands[f"compose {name}"] = service["command"]
    return commands


def _kubernetes_commands() -> dict[str, list[str]]:
    commands = {}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for resource in documents(path):
            text = json.dumps(resource)
            for match in re.finditer(r'"args": (\[[^\]]*\])', text):
                commands[f"{path.name} {resource['metadata']['name']}"] = json.loads(match[1])
    return commands


def _commands() -> dict[str, Any]:
    """modelport's subcommands, as Click objects (Typer ships its own copy of Click)."""
    commands: dict[str, Any] = typer.main.get_command(app).commands
    return commands


COMMANDS = {"Dockerfile CMD": _image_command(), **_compose_commands(), **_kubernetes_commands()}


def test_every_deploy_file_with_a_command_is_read() -> None:
    assert set(COMMANDS) == {
        "Dockerfile CMD",
        "compose api",
        "compose score",
        "compose dashboard",
        "deployment.yaml modelport",
        "job.yaml modelport-score",
        "cronjob.yaml modelport-score-nightly",
        "inferenceservice.yaml wind-turbine",
    }


@pytest.mark.parametrize("where", sorted(COMMANDS))
def test_the_cli_accepts_the_command(where: str) -> None:
    name, *args = optional_resume(COMMANDS[where])
    command = _commands()[name]
    with command.make_context(name, list(args)) as context:  # a usage error raises here
        assert context.params


def test_a_wrong_option_is_caught() -> None:
    """The check above does fail on an option the command does not have."""
    with pytest.raises(Exception, match="No such option: --workers-count"):
        _commands()["serve"].make_context("serve", ["/models", "--workers-count", "2"])
