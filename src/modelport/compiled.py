"""Compiled code (numba, the `fast` extra), where it is installed and turned on."""

from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType

logger = logging.getLogger("modelport.compiled")


def compiled_module(name: str) -> ModuleType | None:
    """`modelport.<name>`, a module of compiled code; or None without numba, with its
    compiler turned off (`NUMBA_DISABLE_JIT=1`: the code would run as slow Python, so numba,
    about 100 MB of a worker's memory, is not even imported), or with no place to keep
    compiled code."""
    if os.environ.get("NUMBA_DISABLE_JIT", "0").strip() not in ("", "0"):
        return None
    try:
        import numba

        if numba.config.DISABLE_JIT:  # type: ignore[attr-defined]
            return None
        return importlib.import_module(f"modelport.{name}")
    except Exception as error:  # not installed, or no place to keep compiled code
        logger.debug("no compiled %s: %s", name, error)
        return None
