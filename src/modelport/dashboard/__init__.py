"""The dashboard: try a model, see why it answered, browse published predictions, watch its
drift.

`modelport dashboard` starts Streamlit on `app.py` (the user never writes a script); the
settings travel to it as MODELPORT_* variables, so the key stays out of the command line,
the page and the URL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from modelport.settings import ENV_PREFIX, Settings

APP = Path(__file__).with_name("app.py")


def streamlit_command(settings: Settings) -> list[str]:
    """`python -m streamlit run app.py` on the settings' address, headless, no statistics."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless", "true",
        "--server.address", settings.host,
        "--server.port", str(settings.dashboard_port),
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip


def dashboard_environment(settings: Settings) -> dict[str, str]:
    """This environment with the dashboard's settings as MODELPORT_* variables."""
    environment = dict(os.environ)
    given = settings.model_dump(exclude_defaults=True)
    for name, value in given.items():
        if value is None or isinstance(value, list):
            continue
        text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        environment[ENV_PREFIX + name.upper()] = str(text)
    return environment


def run_dashboard(settings: Settings) -> int:
    """Run the dashboard until it is stopped; returns Streamlit's exit status."""
    process = subprocess.run(
        streamlit_command(settings), env=dashboard_environment(settings), check=False
    )
    return process.returncode
