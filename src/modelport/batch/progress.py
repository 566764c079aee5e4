"""How a run reports its progress: a bar on a terminal, plain lines in a log, or nothing."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import (
    Progress as RichBar,
)

from modelport.store.runs import Run


class Progress(Protocol):
    """What the job tells as it goes."""

    def start(self, run: Run, total_rows: int | None) -> None: ...

    def advance(self, run: Run, fraction: float | None) -> None: ...

    def note(self, text: str) -> None: ...

    def stop(self, run: Run) -> None: ...


class Silent:
    """`--quiet`: nothing at all."""

    def start(self, run: Run, total_rows: int | None) -> None:
        """Nothing."""

    def advance(self, run: Run, fraction: float | None) -> None:
        """Nothing."""

    def note(self, text: str) -> None:
        """Nothing."""

    def stop(self, run: Run) -> None:
        """Nothing."""


class LogLines:
    """One line per committed chunk, on standard error: for logs and CI, no bar."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, soft_wrap=True, highlight=False)
        self._started = time.monotonic()
        self._first_rows = 0

    def start(self, run: Run, total_rows: int | None) -> None:
        """Say which run starts, on what."""
        self._started = time.monotonic()
        self._first_rows = run.rows_read
        self.console.print(
            f"run {run.id}: scoring {_shown(run.input)} with {run.model} → {run.output}"
        )

    def advance(self, run: Run, fraction: float | None) -> None:
        """Rows so far and the pace."""
        rate = (run.rows_read - self._first_rows) / max(1e-9, time.monotonic() - self._started)
        share = f" ({fraction:.0%} of the input)" if fraction is not None else ""
        self.console.print(
            f"run {run.id}: {run.rows_read:,} rows read, {run.rows_scored:,} scored, "
            f"{run.rows_rejected:,} rejected{share}, {rate:,.0f} rows/s"
        )

    def note(self, text: str) -> None:
        """A line of its own."""
        self.console.print(f"note: {text}")

    def stop(self, run: Run) -> None:
        """Nothing more: the command prints the summary."""


class Bar(LogLines):
    """A rich progress bar with rows/s and time left, when standard error is a terminal."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__(console)
        self._bar = RichBar(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} rows/s"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._task = self._bar.add_task("scoring", total=None, rate="-")
        self._total: int | None = None

    def start(self, run: Run, total_rows: int | None) -> None:
        """Show the bar (by rows when the total is known, else by share of the input)."""
        super().start(run, total_rows)
        self._total = total_rows
        self._bar.update(
            self._task, total=total_rows or 1000, completed=run.rows_read if total_rows else 0
        )
        self._bar.start()

    def advance(self, run: Run, fraction: float | None) -> None:
        """Move the bar."""
        rate = (run.rows_read - self._first_rows) / max(1e-9, time.monotonic() - self._started)
        done = run.rows_read if self._total else int((fraction or 0) * 1000)
        self._bar.update(self._task, completed=done, rate=f"{rate:,.0f}")

    def stop(self, run: Run) -> None:
        """Take the bar down."""
        self._bar.stop()


def _shown(source: str) -> str:
    """An input under the working folder as a relative path, as the user most likely typed it."""
    path = Path(source)
    if path.is_absolute() and path.is_relative_to(Path.cwd()):
        return str(path.relative_to(Path.cwd()))
    return source


def create_progress(quiet: bool) -> Progress:
    """Nothing with --quiet, a bar on a terminal, plain lines otherwise."""
    if quiet:
        return Silent()
    return Bar() if sys.stderr.isatty() else LogLines()
