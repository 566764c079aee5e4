"""`modelport dashboard`: the dashboard's shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelport.cli import _fail, _settings, err
from modelport.errors import ConfigurationError


def dashboard(
    bundle: Annotated[
        Path | None,
        typer.Argument(help="Bundle file or folder of bundles (default: MODELPORT_BUNDLE_PATH)."),
    ] = None,
    predictions: Annotated[
        str | None,
        typer.Option(help="Predictions store to browse: a database URL, .csv file or folder."),
    ] = None,
    prediction_log: Annotated[
        str | None,
        typer.Option(help="Prediction log the Monitoring page reads drift from (a database URL)."),
    ] = None,
    api: Annotated[
        str | None, typer.Option(help="A running modelport server to ask instead of a bundle.")
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(help="File holding the server's key (else MODELPORT_CLIENT_API_KEY)."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8501).")] = None,
) -> None:
    """Try a model in the browser, see why it answered, browse published predictions, watch
    its drift."""
    from modelport.dashboard import run_dashboard

    key = None
    if api_key_file is not None:
        try:
            key = api_key_file.read_text().strip()
        except OSError as error:
            _fail(ConfigurationError(f"cannot read the key file {api_key_file}: {error}"))
        if not key:
            _fail(ConfigurationError(f"the key file {api_key_file} is empty"))
    settings = _settings(
        bundle_path=bundle,
        predictions=predictions,
        prediction_log=prediction_log,
        api_url=api,
        client_api_key=key,
        host=host,
        dashboard_port=port,
    )
    if settings.api_url is None and not Path(settings.bundle_path).exists():
        _fail(ConfigurationError(f"bundle not found: {settings.bundle_path} (or give --api URL)"))
    where = f"http://{settings.host}:{settings.dashboard_port}"
    err.print(f"dashboard on {where} (Ctrl-C stops it)", highlight=False)
    raise typer.Exit(run_dashboard(settings))
