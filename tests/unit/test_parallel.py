"""Parts of a big call on several threads: in order, at once, never nested, never leaked."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from modelport import parallel
from modelport.parallel import free_threads, limited, run_parts


@pytest.fixture(autouse=True)
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two cores whatever the machine, so that parts do run at once."""
    monkeypatch.setattr(parallel, "CORES", 2)


def test_parts_run_at_once_on_two_threads_and_answer_in_order():
    both_running = threading.Barrier(2, timeout=30)  # broken unless both parts run together
    threads = {}

    def part(n: int) -> int:
        threads[n] = threading.get_ident()
        both_running.wait()
        return n * 10

    assert run_parts(part, [1, 2]) == [10, 20]
    assert threads[1] == threading.get_ident()  # the caller runs the first part itself
    assert threads[2] != threads[1]


def test_a_part_does_not_split_again():
    seen = []

    def inner(n: int) -> int:
        seen.append(threading.get_ident())
        return n

    def part(n: int) -> list[int]:
        assert free_threads() == 1
        caller = threading.get_ident()
        answer = run_parts(inner, [n, n + 1, n + 2])
        assert seen[-3:] == [caller] * 3
        return answer

    assert run_parts(part, [0, 10]) == [[0, 1, 2], [10, 11, 12]]
    assert free_threads() == 2  # the caller's own allowance comes back


def test_limited_to_one_thread_runs_every_part_in_the_caller():
    caller = threading.get_ident()
    with limited(1):
        assert run_parts(lambda n: (n, threading.get_ident()), [1, 2, 3]) == [
            (1, caller),
            (2, caller),
            (3, caller),
        ]
    with limited(8):
        assert free_threads() == 2  # a limit never raises the allowance


def test_a_failing_part_is_raised_after_the_others_finish():
    started, finished = threading.Event(), threading.Event()

    def part(n: int) -> int:
        if n == 0:
            started.wait(timeout=30)
            raise ValueError("part 0 failed")
        started.set()
        sum(range(200_000))  # still working when part 0 raises
        finished.set()
        return n

    with pytest.raises(ValueError, match="part 0 failed"):
        run_parts(part, [0, 1])
    assert finished.is_set()


def test_many_callers_share_one_pool_of_threads():
    def caller() -> None:
        for _ in range(20):
            assert run_parts(lambda n: n + 1, [1, 2]) == [2, 3]

    callers = [threading.Thread(target=caller) for _ in range(8)]
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join()
    pool_threads = [t for t in threading.enumerate() if t.name.startswith("modelport-part")]
    assert 1 <= len(pool_threads) <= max(1, parallel.CORES - 1)


def test_the_pool_does_not_keep_a_process_alive():
    script = (
        "from modelport import parallel\n"
        "parallel.CORES = 2\n"
        "assert parallel.run_parts(abs, [-1, -2]) == [1, 2]\n"
        "print('done')\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "done\n"


def test_processes_sharing_the_cores_use_their_share_in_every_thread():
    seen = []

    def in_another_thread() -> None:
        seen.append(free_threads())

    with parallel.shared_by(2):
        thread = threading.Thread(target=in_another_thread)
        thread.start()
        thread.join()
        caller = threading.get_ident()
        assert run_parts(lambda n: threading.get_ident(), [1, 2]) == [caller, caller]
    assert seen == [1]
    assert free_threads() == 2
    with parallel.shared_by(1):
        assert free_threads() == 2
