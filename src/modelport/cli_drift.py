"""`modelport profile` and `modelport drift`: a bundle's reference profile, and drift offline."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from modelport.cli import _fail, _settings, err, out
from modelport.errors import ModelportError
from modelport.settings import Settings

_STYLES = {"ok": "green", "warn": "yellow", "alert": "bold red"}


def profile(
    bundle: Annotated[Path, typer.Argument(help="Bundle file.")],
    sample: Annotated[
        str,
        typer.Option(
            help="Training rows: CSV, Parquet file or folder, JSON lines, or a database URL "
            "(with --query)."
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Bundle file to write (.joblib or .skops).")
    ],
    query: Annotated[
        str | None, typer.Option(help="SELECT, or a table name, for a database sample.")
    ] = None,
    bins: Annotated[int, typer.Option(min=2, max=100, help="Quantile bins per number.")] = 10,
) -> None:
    """Add the reference profile of a training sample to a bundle, for drift."""
    from modelport.bundle import save_bundle
    from modelport.profile import profile_input

    settings = _settings(query=query)
    try:
        predictor = _predictor(bundle, settings)
        frame = _read(sample, predictor, settings)
        result = profile_input(predictor, frame, bins=bins)
        digest = save_bundle(predictor.bundle.estimator, output, predictor.bundle.metadata, result)
    except ModelportError as error:
        _fail(error)
    out.print(
        f"wrote {output} (sha256 {digest}): reference profile of {result.rows:,} rows, "
        f"{len(result.features)} features" + (", and the predictions" if result.prediction else ""),
        highlight=False,
    )


def drift(
    bundle: Annotated[Path, typer.Argument(help="Bundle file with a reference profile.")],
    input_: Annotated[
        str | None,
        typer.Option(
            "--input",
            help="A table to compare: CSV, Parquet, JSON lines, or a database URL (--query).",
        ),
    ] = None,
    log: Annotated[
        str | None,
        typer.Option(help="A predictions store (`modelport score --output`) to compare."),
    ] = None,
    query: Annotated[
        str | None, typer.Option(help="SELECT, or a table name, for a database --input.")
    ] = None,
    table: Annotated[
        str | None,
        typer.Option(
            help="Table of the --log database (default predictions, or prediction_log when "
            "only the server's log is there)."
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only --log rows from then: 2026-03-01T12:00, or 24h, 7d.")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Drift of a table (or a predictions store) from the bundle's reference profile: PSI
    per feature and for the predictions."""
    from modelport.batch.drift import drift_of_log, drift_of_table, parse_since
    from modelport.drift import Thresholds

    if (input_ is None) == (log is None):
        _fail(ModelportError("give one of --input (a table) or --log (a predictions store)"))
    if since is not None and log is None:
        _fail(ModelportError("--since filters a --log by time; a table is read whole"))
    settings = _settings(query=query, table=table)
    thresholds = Thresholds(settings.drift_warn, settings.drift_alert)
    try:
        predictor = _predictor(bundle, settings)
        if input_ is not None:
            result = drift_of_table(
                predictor, input_, thresholds, query=settings.query, chunk_size=settings.chunk_size
            )
        else:
            moment = parse_since(since) if since else None
            assert log is not None
            result = drift_of_log(predictor, log, thresholds, table=table, since=moment)
    except ModelportError as error:
        _fail(error)
    report = {"model": predictor.bundle.name, "source": input_ or log, **result.report}
    if json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print_report(report)
    for note in result.notes:
        err.print(f"[yellow]note:[/] {note}", highlight=False)


def _predictor(bundle: Path, settings: Settings) -> Any:
    from modelport.bundle import load_bundle
    from modelport.predictor import Predictor

    loaded = load_bundle(
        bundle, sha256=settings.bundle_sha256, trusted_types=settings.trusted_types
    )
    return Predictor(loaded, max_rows=settings.max_rows)


def _read(source: str, predictor: Any, settings: Settings) -> Any:
    """The first rows of any table the batch scorer reads, as one frame."""
    import pandas as pd

    from modelport.batch.readers import open_input
    from modelport.errors import InputTableError
    from modelport.profile import MAX_PROFILE_ROWS

    table = open_input(source, predictor.input_metadata, query=settings.query)
    try:
        table.columns()  # a file that is not a table says so here
        chunks, rows = [], 0
        for chunk in table.chunks(min(settings.chunk_size, MAX_PROFILE_ROWS)):
            chunks.append(chunk)
            rows += len(chunk)
            if rows >= MAX_PROFILE_ROWS:
                break
    finally:
        table.close()
    if not rows:
        raise InputTableError(f"{source} holds no rows to profile")
    return pd.concat(chunks, ignore_index=True)


def _print_report(report: dict[str, Any]) -> None:
    status = report["status"]
    out.print(
        f"drift of {escape(report['model'])} over {report['rows']:,} rows of "
        f"{escape(report['source'])}: "
        f"[{_STYLES.get(status, 'bold')}]{status}[/]",
        highlight=False,
    )
    listing = Table("", "psi", "status", "moved most", header_style="bold", box=None)
    entries = dict(report["features"])
    if not any(entry["rows"] for entry in entries.values()):
        entries = {}  # a log of predictions only: the note says where features come from
    if report["prediction"] is not None:
        entries["(prediction)"] = report["prediction"]
    for name, entry in entries.items():
        value = "-" if entry["psi"] is None else f"{entry['psi']:.3f}"
        style = _STYLES.get(entry["status"], "dim")
        listing.add_row(
            escape(name), value, f"[{style}]{entry['status']}[/]", escape(_moved(entry))
        )
    out.print(listing, highlight=False)


def _moved(entry: dict[str, Any]) -> str:
    """The bin whose share moved most: `≥ 6.9: 11% → 60%`."""
    if not entry["rows"]:
        return "-"
    shifts = [abs(c - r) for r, c in zip(entry["reference"], entry["current"], strict=True)]
    i = max(range(len(shifts)), key=shifts.__getitem__)
    return f"{entry['bins'][i]}: {entry['reference'][i]:.0%} → {entry['current'][i]:.0%}"
