"""The `modelport` command: a thin Typer shell over the library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelport._version import __version__
from modelport.errors import ConfigurationError, ModelportError
from modelport.settings import ENV_PREFIX, Settings, warn_unknown_variables

app = typer.Typer(
    name="modelport",
    help="Turn a trained scikit-learn-compatible model into working software.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Piped output has no terminal width to honour: keep the feature table on one line per feature.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, soft_wrap=True)


def _fail(error: ModelportError) -> NoReturn:
    err.print("[bold red]error:[/]", escape(str(error)), highlight=False)
    raise typer.Exit(1) from None


def _settings(**given: Any) -> Settings:
    """Settings from flags given (None: not given) over the environment; one red line if bad."""
    try:
        return Settings(**{key: value for key, value in given.items() if value is not None})
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        name = ENV_PREFIX + field.upper() if field else "a setting"
        if given.get(field) is not None:  # a flag the user typed: name it as typed
            name = f"--{field.replace('_', '-')} ({name})"
        _fail(ConfigurationError(f"invalid {name}: {first['msg']}"))


def _version(value: bool) -> None:
    if value:
        out.print(f"modelport {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    warn_unknown_variables()


@app.command()
def example(
    name: Annotated[str | None, typer.Argument(help="Example to build; see --list.")] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Bundle file to write (.joblib or .skops)."),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="Also write rows the model can score, with an id (.csv or .parquet)."),
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the examples and exit.")] = False,
) -> None:
    """Build an example model bundle from data that ships with scikit-learn or modelport."""
    from modelport.examples import EXAMPLES, save_example, save_example_data

    if list_ or name is None:
        table = Table("name", "what it is", box=None, header_style="bold")
        for item in EXAMPLES.values():
            table.add_row(item.name, item.summary)
        out.print(table)
        return
    target = output or Path(f"{name}.joblib")
    try:
        digest = save_example(name, target)
    except ModelportError as error:
        _fail(error)
    out.print(f"wrote {target} (sha256 {digest})", highlight=False)
    if data is not None:
        n_rows = save_example_data(name, data)
        out.print(f"wrote {data} ({n_rows:,} rows to score, ids in column id)", highlight=False)


@app.command()
def inspect(
    bundle: Annotated[Path, typer.Argument(help="Bundle file (.joblib, .pkl or .skops).")],
    json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    sha256: Annotated[
        str | None, typer.Option(help="Refuse the file unless it has this sha256.")
    ] = None,
) -> None:
    """Show what a bundle holds: task, classes, features, explainability."""
    from modelport.bundle import load_bundle
    from modelport.introspection import family

    settings = _settings()
    try:
        loaded = load_bundle(bundle, sha256=sha256, trusted_types=settings.trusted_types)
    except ModelportError as error:
        _fail(error)
    summary: dict[str, Any] = {
        "file": str(bundle),
        "sha256": loaded.sha256,
        "family": family(loaded.estimator),
        "metadata": loaded.metadata.model_dump(mode="json", exclude_none=True),
        "profile": loaded.profile.model_dump(mode="json") if loaded.profile else None,
    }
    if json:
        sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    metadata = summary["metadata"]
    head = Table(box=None, show_header=False)
    head.add_column(style="bold")
    head.add_column()
    rows = {
        "file": summary["file"],
        "name": metadata.get("name", "-"),
        "version": metadata.get("version", "-"),
        "model": summary["family"],
        "task": metadata.get("task", "-"),
        "classes": ", ".join(metadata.get("class_names") or []) or "-",
        "input": metadata.get("input_kind", "-"),
        "explainable": "yes" if metadata.get("is_explainable") else "no",
        "takes NaN": "yes" if metadata.get("allows_nan") else "no",
        "examples": str(len(metadata.get("examples", []))),
        "sha256": summary["sha256"],
        "profile": _profile_line(summary["profile"]),
    }
    for key, value in rows.items():
        head.add_row(key, str(value))
    out.print(head, highlight=False)
    features = Table(
        "feature", "type", "default", "importance", "range / categories", header_style="bold"
    )
    features.add_column("description", overflow="ellipsis", no_wrap=True, max_width=48)
    for feature in metadata["features"]:
        features.add_row(
            feature["name"],
            feature["type"],
            _cell(feature.get("default")),
            f"{feature['importance']:.3f}" if "importance" in feature else "-",
            _range(feature),
            feature.get("description", ""),
        )
    out.print(features, highlight=False)


def _profile_line(profile: dict[str, Any] | None) -> str:
    """The reference profile in a line: what drift will compare with."""
    if profile is None:
        return "none (drift has no reference; add one with modelport profile)"
    parts = [f"{profile['rows']:,} rows", f"{len(profile['features'])} features"]
    prediction = profile["prediction"]
    if prediction is not None:
        count = len(prediction["shares"])
        parts.append(
            f"prediction in {count} bins"
            if prediction["kind"] == "numeric"
            else f"prediction shares of {len(prediction['categories'])} classes"
        )
    return ", ".join(parts)


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def _range(feature: dict[str, Any]) -> str:
    if feature.get("categories"):
        shown = ", ".join(map(str, feature["categories"][:6]))
        return shown + (", ..." if len(feature["categories"]) > 6 else "")
    if "min" in feature and "max" in feature:
        return f"{feature['min']:g} .. {feature['max']:g}"
    return "-"


@app.command()
def predict(
    bundle: Annotated[Path, typer.Argument(help="Bundle file.")],
    data: Annotated[
        str, typer.Argument(help="A JSON record or list of records; '-' reads standard input.")
    ] = "-",
    proba: Annotated[
        bool, typer.Option("--proba", help="Class probabilities instead of labels.")
    ] = False,
    explain: Annotated[bool, typer.Option("--explain", help="Add SHAP explanations.")] = False,
) -> None:
    """Predict JSON records with a bundle and print the answer as JSON."""
    from modelport.bundle import load_bundle
    from modelport.errors import InvalidInputError
    from modelport.predictor import Predictor

    settings = _settings()
    text = sys.stdin.read() if data == "-" else data
    try:
        records = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        _fail(InvalidInputError.single(f"the input is not valid JSON: {error}"))
    try:
        predictor = Predictor(
            load_bundle(
                bundle, sha256=settings.bundle_sha256, trusted_types=settings.trusted_types
            ),
            max_rows=settings.max_rows,
        )
        X = predictor.validate(records)
        answer: dict[str, Any] = {
            "prediction": predictor.predict_proba(X) if proba else predictor.predict(X)
        }
        if explain:
            answer["explanation"] = predictor.explain(X)
    except ModelportError as error:
        _fail(error)
    sys.stdout.write(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() + "\n")


@app.command(name="bundle")
def bundle_command(
    model: Annotated[Path, typer.Argument(help="Pickled or joblib model (a fitted estimator).")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Bundle file to write (.joblib or .skops).")
    ],
    preprocessor: Annotated[
        Path | None,
        typer.Option(help="Pickled preprocessor (encoder, vectoriser) that runs first."),
    ] = None,
    sample: Annotated[
        Path | None, typer.Option(help="CSV or Parquet sample of the training data.")
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Column of the sample to leave out (the label).")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Model name (default: the output file's stem).")
    ] = None,
) -> None:
    """Join a model (and its preprocessor) into one bundle, metadata inferred from a sample."""
    from modelport.assemble import assemble, read_sample
    from modelport.bundle import save_bundle

    try:
        frame = read_sample(sample) if sample is not None else None
        result = assemble(
            model,
            preprocessor_path=preprocessor,
            sample=frame,
            target=target,
            name=name or output.stem,
        )
        digest = save_bundle(result.estimator, output, result.metadata, result.profile)
    except ModelportError as error:
        _fail(error)
    for note in result.notes:
        err.print(f"[yellow]note:[/] {note}", highlight=False)
    out.print(
        f"wrote {output} (sha256 {digest}): {len(result.metadata.features)} features, "
        f"task {result.metadata.task}"
        + (f", reference profile of {result.profile.rows:,} rows" if result.profile else "")
        + f"; check it with: modelport inspect {output}",
        highlight=False,
    )


@app.command()
def serve(
    bundle: Annotated[
        Path | None,
        typer.Argument(
            help="Bundle file, or a folder of bundles (default: MODELPORT_BUNDLE_PATH)."
        ),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 5000).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default 1).")] = None,
    default_model: Annotated[str | None, typer.Option(help="Model the root routes answer.")] = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning or error.")] = None,
    reload_interval: Annotated[
        float | None, typer.Option(help="Seconds between checks of the bundle files (0: off).")
    ] = None,
    runtime: Annotated[
        str | None, typer.Option(help="native, onnx (a compiled copy, once it agrees) or auto.")
    ] = None,
) -> None:
    """Serve bundles over HTTP: the classic routes, docs at /docs."""
    from modelport.api.server import serve as run_server

    settings = _settings(
        bundle_path=bundle,
        host=host,
        port=port,
        workers=workers,
        default_model=default_model,
        log_level=log_level,
        reload_interval=reload_interval,
        runtime=runtime,
    )
    try:
        run_server(settings)
    except ModelportError as error:
        _fail(error)


from modelport.cli_batch import optional_resume, runs, score  # noqa: E402 - they use the above
from modelport.cli_dashboard import dashboard  # noqa: E402
from modelport.cli_drift import drift, profile  # noqa: E402

app.command()(score)
app.command()(runs)
app.command()(dashboard)
app.command()(profile)
app.command()(drift)


def main() -> None:
    """Entry point of the `modelport` script."""
    app(args=optional_resume(sys.argv[1:]))
