"""Keep the cyclic garbage collector off what lives as long as the server.

The libraries and the loaded models are hundreds of thousands of objects that never
become garbage. Left in the collector's generations, every full collection that request
garbage triggers (a 1,000-row JSON body makes 1,000 dicts) walks them again: about a
fifth of the CPU of such a request, measured. Frozen, they are skipped. What a request
in flight holds at that moment is frozen too, until the next change of models: a few
objects at most, since settling happens only when models are loaded or unloaded.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from modelport.registry import Registry


def settle_heap() -> None:
    """Collect what is garbage now, then freeze the rest.

    Unfreezing first lets the cycles of a model that was replaced or unloaded be collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


async def change_models(registry: Registry, work: Callable[..., Any], *args: Any) -> None:
    """Run a registry operation in a thread; settle the heap if it changed what is loaded."""
    before = registry.changes
    try:
        await run_in_threadpool(work, *args)
    finally:
        if registry.changes != before:
            await run_in_threadpool(settle_heap)
