"""/docs in a real browser with no internet: Swagger UI's assets come from the server itself."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route, expect, sync_playwright

from .conftest import CHROMIUM_ARGS, HOST, StartServer

pytestmark = pytest.mark.timeout(120)

UI_MS = 30_000
"""Longest wait for the page to render or answer, in Playwright's unit."""


def test_docs_try_it_out_works_offline(
    chromium: Path,
    serve: StartServer,
    example_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    server = serve(example_dir / "forest-multiclass.joblib")
    # Chromium (and Playwright's driver) write under $HOME and $TMPDIR even with a fresh
    # profile. A short folder: Chromium's socket path in it must fit in 107 bytes.
    home = Path(tempfile.mkdtemp(prefix="modelport-chromium-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(home, ignore_errors=True))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(home))
    outside: list[str] = []

    def local_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == HOST:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, env=dict(os.environ)
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(UI_MS)
            page.route("**/*", local_only)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))

            page.goto(f"{server.url}/docs")
            # The root /predict of the default model (operationId "predict"), not the one
            # under /models/forest-multiclass/.
            operation = page.locator("#operations-forest-multiclass-predict")
            summary = operation.locator(".opblock-summary")
            expect(summary.locator('[data-path="/predict"]')).to_be_visible(timeout=UI_MS)
            expect(summary.locator(".opblock-summary-method")).to_have_text("POST")
            summary.locator(".opblock-summary-control").click()
            operation.get_by_role("button", name="Try it out").click()
            operation.get_by_role("button", name="Execute").click()

            live = operation.locator(".live-responses-table")
            status = live.locator("td.response-col_status:not(.col_header)")
            expect(status).to_have_text("200", timeout=UI_MS)
            body = live.locator(".response-col_description pre").first
            expect(body).to_contain_text('"prediction"')
            expect(body).to_contain_text("virginica")  # the first example row's species
            page.screenshot(path=tmp_path / "docs.png", full_page=True)
        finally:
            browser.close()

    assert outside == []  # no CDN, no font, no telemetry: every asset came from the server
    assert errors == []
    assert '"POST /predict" 200' in server.log()  # Execute really reached the server
