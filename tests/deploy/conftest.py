"""What the deploy tests share: where the files are, and how a missing tool is reported."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEMAS = Path(__file__).parent / "schemas"


def missing(reason: str, make_target: str) -> NoReturn:
    """Fail in CI, where a missing tool must not pass unnoticed; skip elsewhere."""
    if os.environ.get("CI", "").lower() in {"true", "1"}:
        pytest.fail(f"{reason} (in CI)", pytrace=False)
    pytest.skip(f"{reason}; `make {make_target}` installs it")


def tool(name: str, make_target: str) -> str:
    """A command's path: the virtual environment's own first (dev tools), then PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        missing(f"{name} is not installed", make_target)
    return found


def documents(path: Path) -> list[dict[str, Any]]:
    """Every YAML document of a file, empty ones left out."""
    with path.open() as stream:
        return [document for document in yaml.safe_load_all(stream) if document]
