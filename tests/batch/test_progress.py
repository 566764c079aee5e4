"""Progress: a bar on a terminal, plain lines in a log, nothing when quiet."""

from __future__ import annotations

import io

from rich.console import Console

from modelport.batch.progress import Bar, LogLines, Silent, create_progress
from modelport.store.runs import Run


def _run(**counts: int) -> Run:
    return Run(
        id="20261201T000000Z-000001", model="iris", model_version="1", model_sha256=None,
        input="flowers.csv", output="out", table="out", chunk_size=10, **counts,
    )  # fmt: skip


def test_the_bar_shows_rows_their_rate_and_the_time_left():
    buffer = io.StringIO()
    bar = Bar(Console(file=buffer, force_terminal=True, width=120))
    bar.start(_run(), total_rows=1000)
    bar.advance(_run(rows_read=500, rows_scored=490, rows_rejected=10), None)
    bar._bar.refresh()
    shown = buffer.getvalue()
    bar.stop(_run())
    assert "500/1000" in shown and "rows/s" in shown and "50%" in shown


def test_log_lines_say_how_far_the_run_has_got():
    buffer = io.StringIO()
    lines = LogLines(Console(file=buffer, width=200))
    lines.start(_run(), total_rows=None)
    lines.advance(_run(rows_read=1500, rows_scored=1490, rows_rejected=10), 0.25)
    lines.note("resuming")
    first, second, third = buffer.getvalue().splitlines()
    assert first == "run 20261201T000000Z-000001: scoring flowers.csv with iris → out"
    assert second.startswith(
        "run 20261201T000000Z-000001: 1,500 rows read, 1,490 scored, 10 rejected (25% of the input)"
    )
    assert third == "note: resuming"


def test_quiet_is_silent_and_a_pipe_gets_lines():
    assert isinstance(create_progress(quiet=True), Silent)
    assert type(create_progress(quiet=False)) is LogLines  # pytest captures stderr: no terminal
