"""What a model repository holds on disk: model names, versions and their bundle files.

Layouts:

    model.joblib                     one model, named by its stem, version 1
    DIR/<name>.joblib|.skops|.pkl    one model per file, version 1
    DIR/<name>/<version>/<bundle>    versioned models; the highest version is the default

Names and versions are checked against strict patterns here; requests only ever look them
up in the registry, never join them into a path.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from modelport.errors import BundleError

logger = logging.getLogger("modelport.repository")

MODEL_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
BUNDLE_SUFFIXES = frozenset({".joblib", ".pkl", ".pickle", ".skops"})
FLAT_VERSION = "1"


@dataclass(frozen=True)
class Source:
    """One model version's bundle file."""

    name: str
    version: str
    path: Path

    @property
    def key(self) -> tuple[str, str]:
        """(name, version): how the registry files it."""
        return self.name, self.version


def version_key(version: str) -> tuple[int, int, str]:
    """Order versions numerically when they are numbers (2 < 10), else by text."""
    return (1, int(version), "") if version.isdigit() else (0, 0, version)


def discover(path: Path) -> list[Source]:
    """Every model version a bundle path holds.

    Raises:
        BundleError: the path does not exist, or holds no bundle.
    """
    if path.is_file():
        name = path.stem if MODEL_NAME_PATTERN.fullmatch(path.stem) else "model"
        return [Source(name, FLAT_VERSION, path)]
    if not path.is_dir():
        raise BundleError(f"bundle file or folder not found: {path}")
    sources: list[Source] = []
    for child in sorted(path.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_file() and child.suffix in BUNDLE_SUFFIXES:
            if _valid(MODEL_NAME_PATTERN, child.stem, child):
                sources.append(Source(child.stem, FLAT_VERSION, child))
        elif child.is_dir() and _valid(MODEL_NAME_PATTERN, child.name, child):
            sources += _versions(child)
    if not sources:
        raise BundleError(f"{path} holds no bundle files ({', '.join(sorted(BUNDLE_SUFFIXES))})")
    keys = [source.key for source in sources]
    repeated = sorted({f"{n} version {v}" for n, v in keys if keys.count((n, v)) > 1})
    if repeated:
        raise BundleError(f"{path} holds more than one bundle for {', '.join(repeated)}")
    return sources


def _versions(folder: Path) -> list[Source]:
    sources = []
    for version in sorted(folder.iterdir()):
        if not version.is_dir() or not _valid(VERSION_PATTERN, version.name, version):
            continue
        bundles = sorted(
            f for f in version.iterdir() if f.is_file() and f.suffix in BUNDLE_SUFFIXES
        )
        if len(bundles) > 1:
            logger.warning(
                "%s holds %d bundles; serving %s", version, len(bundles), bundles[0].name
            )
        if bundles:
            sources.append(Source(folder.name, version.name, bundles[0]))
    return sources


def _valid(pattern: re.Pattern[str], text: str, where: Path) -> bool:
    if pattern.fullmatch(text):
        return True
    logger.warning("skipping %s: %r is not a valid model name or version", where, text)
    return False


def stamp(path: Path) -> tuple[int, int] | None:
    """What tells a file changed: its modification time and size (None if it is gone)."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size
