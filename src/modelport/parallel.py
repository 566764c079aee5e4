"""Parts of one big model call run at once on the machine's cores, never more threads.

Tree traversal and BLAS release the GIL, so a call cut into parts (rows, or a forest's
trees) runs on every core of one process. The parts run in one shared pool of threads,
one per core but the calling thread's (which runs the first part itself): a pool hop costs
tens of microseconds, a fresh thread ten times more. Each thread has a number of threads
its calls may use: every core at first, one inside a part (a forest twin called in a
chunk of the batch scorer does not split again), or what `limited` allows; a process
serving beside others uses its share of the cores (`shared_by`).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
"""The cores this process may run on."""

_local = threading.local()
_share: int | None = None  # threads of this process while processes share the cores
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def free_threads() -> int:
    """How many threads a call made in this thread may run at once."""
    limit: int | None = getattr(_local, "limit", None)
    return min(CORES, limit or CORES, _share or CORES)


@contextmanager
def limited(threads: int) -> Iterator[None]:
    """Calls made in this thread, inside the block, use at most `threads` threads."""
    outer: int | None = getattr(_local, "limit", None)
    _local.limit = max(1, threads if outer is None else min(outer, threads))
    try:
        yield
    finally:
        _local.limit = outer


@contextmanager
def shared_by(processes: int) -> Iterator[None]:
    """Inside the block, calls in any thread of this process use its share of the cores:
    each of several server workers splits its calls only where cores are left over."""
    global _share
    outer = _share
    _share = max(1, CORES // max(1, processes))
    try:
        yield
    finally:
        _share = outer


def cut(items: Any, parts: int) -> list[Any]:
    """`items` (a list, an array) in `parts` consecutive slices of nearly equal length."""
    step, extra = divmod(len(items), parts)
    bounds = [i * step + min(i, extra) for i in range(parts + 1)]
    return [items[a:b] for a, b in itertools.pairwise(bounds)]


def run_parts(function: Callable[[T], R], parts: Sequence[T]) -> list[R]:
    """`function(part)` for every part, at once where threads are free; results in order.

    The first part runs in the calling thread, the others in the shared pool; every part
    runs `limited(1)`. An exception of a part is raised once every part has finished, so
    no part still reads the caller's data.
    """
    if len(parts) <= 1 or free_threads() == 1:
        return [function(part) for part in parts]
    futures = [_shared_pool().submit(_one_core, function, part) for part in parts[1:]]
    try:
        first = _one_core(function, parts[0])
    finally:
        wait(futures)
    return [first, *(future.result() for future in futures)]


def _one_core(function: Callable[[T], R], part: T) -> R:
    with limited(1):
        return function(part)


def _shared_pool() -> ThreadPoolExecutor:
    """The process's pool, made at first use."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max(1, CORES - 1), thread_name_prefix="modelport-part")
        return _pool


def _forget_pool() -> None:
    """A forked child has none of its parent's threads: it makes its own pool."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)
