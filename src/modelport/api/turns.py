"""Turns on the GIL: a big model call that takes the GIL back often and the event loop's
big parses take turns instead of starving each other.

A forest's trees release the GIL while they traverse a call's rows, but take it back
between one tree and the next (a hundred times a call for a hundred trees). The event
loop parsing a big body holds the GIL for a millisecond or more at a time (orjson's parse
is one C call), and validating it for most of another: a forest call running meanwhile in
a thread waits at every tree. Measured on two cores, a 1,000-row forest call on both cores
beside a thread that parses and validates 1,000-row bodies without pause finished no call
in 3 s; taking turns, the two ran 184 of each per second. So the threaded calls of such
models (`Predictor.takes_turns`) and the loop's work on big inputs (a body over
`BIG_BODY_BYTES`, a validation over `BIG_INPUT_CELLS` values) hold one lock, first come
first served. Small requests never take a turn: their work is shorter than a turn's wait.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

BIG_BODY_BYTES = 64 * 1024
"""A body from this size on is parsed in a turn (about 0.2 ms of the GIL, measured)."""
BIG_INPUT_CELLS = 2_000
"""An input of this many values or more is validated in a turn."""


class Turns:
    """The lock of one server process (the GIL is the process's), made for the running
    event loop: an app served by one loop and tested by another gets a lock for each."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()

    def __call__(self) -> asyncio.Lock:
        """The lock to hold (`async with turns():`) for one piece of big work."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._lock = loop, asyncio.Lock()
        return self._lock

    def when(self, big: bool) -> AbstractAsyncContextManager[Any]:
        """The lock to hold for work that is big, nothing for work that is not."""
        return self() if big else nullcontext()
