"""`modelport score` and `modelport runs`: the batch scorer's shell."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from modelport.cli import _fail, _settings, err, out
from modelport.errors import ModelportError, StoreError
from modelport.settings import Settings


def score(
    bundle: Annotated[Path, typer.Argument(help="Bundle file.")],
    source: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="CSV, Parquet file or folder, JSON lines, or a database URL (with --query).",
        ),
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Database URL, .csv file, or Parquet folder (required)."
        ),
    ] = None,
    query: Annotated[
        str | None, typer.Option(help="SELECT, or a table name, for a database input.")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option(help="Input column identifying a row (default: row number).")
    ] = None,
    proba: Annotated[
        bool, typer.Option("--proba", help="A proba_<class> column per class.")
    ] = False,
    explain: Annotated[
        bool, typer.Option("--explain", help="contrib_<feature> columns and base_value (SHAP).")
    ] = False,
    chunk_size: Annotated[int | None, typer.Option(help="Rows per chunk (default 50,000).")] = None,
    table: Annotated[
        str | None, typer.Option(help="Predictions table in a database (default predictions).")
    ] = None,
    max_invalid: Annotated[
        float | None, typer.Option(help="Share of rejected rows that fails the run (0.05).")
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            metavar="[RUN_ID]",
            help="Continue the latest unfinished run of this model, input and output, or RUN_ID.",
        ),
    ] = None,
    engine: Annotated[str | None, typer.Option(help="local (default) or dask.")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler (tcp://host:8786); default: a local one.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
) -> None:
    """Score a table and publish the predictions (SQLite, PostgreSQL, Parquet or CSV)."""
    settings = _settings(
        bundle_path=bundle,
        output=output,
        query=query,
        id_column=id_column,
        proba=proba or None,
        explain=explain or None,
        chunk_size=chunk_size,
        table=table,
        max_invalid=max_invalid,
        resume=resume,
        engine=engine,
        scheduler=scheduler,
        quiet=quiet or None,
    )
    if not settings.output:
        _fail(ModelportError("--output is required (a database URL, a .csv file or a folder)"))
    signal.signal(signal.SIGTERM, _interrupt)  # a stopped run is recorded as interrupted
    try:
        run = _score(settings, source)
    except ModelportError as error:
        _fail(error)
    except KeyboardInterrupt:
        err.print("[bold red]stopped:[/] the run is recorded as interrupted; --resume continues it")
        raise typer.Exit(130) from None
    if not settings.quiet:
        out.print(
            f"run {run.id} completed: {run.rows_read:,} rows read, {run.rows_scored:,} scored, "
            f"{run.rows_rejected:,} rejected → {run.output}",
            highlight=False,
        )


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _score(settings: Settings, source: str) -> Any:
    from modelport.batch import score_table

    return score_table(settings, source)


def runs(
    output: Annotated[str, typer.Argument(help="Database URL, .csv file or Parquet folder.")],
    table: Annotated[
        str | None, typer.Option(help="Predictions table in a database (default predictions).")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """List the runs recorded in a predictions store, oldest first."""
    from modelport.store import open_store

    settings = _settings(table=table)
    try:
        with open_store(output, settings.table) as store:
            _check_exists(store)
            recorded = store.runs()
    except ModelportError as error:
        _fail(error)
    if json:
        sys.stdout.write(
            orjson.dumps([run.to_json() for run in recorded], option=orjson.OPT_INDENT_2).decode()
            + "\n"
        )
        return
    if not recorded:
        out.print(f"no runs in {store.location}", highlight=False)
        return
    listing = Table(
        "run",
        "status",
        "model",
        "version",
        "read",
        "scored",
        "rejected",
        "started",
        "took",
        header_style="bold",
        box=None,
    )
    for run in recorded:
        took = f"{(run.ended_at - run.started_at).total_seconds():.1f} s" if run.ended_at else "-"
        listing.add_row(
            run.id,
            run.status,
            run.model,
            run.model_version or "-",
            f"{run.rows_read:,}",
            f"{run.rows_scored:,}",
            f"{run.rows_rejected:,}",
            f"{run.started_at:%Y-%m-%d %H:%M:%S}",
            took,
        )
    out.print(listing, highlight=False)


def _check_exists(store: Any) -> None:
    """Listing the runs of a store that is not there is a typo: say so, create nothing."""
    from modelport.store import store_exists

    if not store_exists(store):
        raise StoreError(f"no predictions store at {store.location}")


def optional_resume(argv: list[str]) -> list[str]:
    """`--resume` with no run id after it means the latest unfinished run."""
    fixed = []
    for i, word in enumerate(argv):
        following = argv[i + 1] if i + 1 < len(argv) else None
        if word == "--resume" and (following is None or following.startswith("-")):
            fixed.append("--resume=latest")
        else:
            fixed.append(word)
    return fixed
