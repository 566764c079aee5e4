"""The dashboard in a real headless Chromium: press Predict, see the answer and its charts.

The screenshots in the README come from here: with SCREENSHOTS_DIR set, each page is saved
there as a PNG (`SCREENSHOTS_DIR=docs/images pytest tests/dashboard/test_browser.py`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from modelport import Predictor, Settings
from modelport.batch import score_table
from modelport.examples import save_example_data
from tests.e2e.conftest import CHROMIUM_ARGS, free_port

pytestmark = pytest.mark.timeout(240)

UI_MS = 60_000


@contextmanager
def _dashboard(bundle: Path, home: Path, *args: str) -> Iterator[str]:
    """`modelport dashboard BUNDLE --port P` until the block ends; yields its URL."""
    port = free_port()
    command = [sys.executable, "-m", "modelport", "dashboard", str(bundle), "--port", str(port)]
    environment = dict(os.environ, HOME=str(home))
    with subprocess.Popen(
        [*command, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=environment, start_new_session=True,
    ) as process:  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                        break
                except httpx.TransportError:
                    assert process.poll() is None, "the dashboard exited early"
                    time.sleep(0.2)
            yield url
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


@pytest.fixture
def browse(chromium: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[str], Page]]:
    """`browse(url)`: a page of a fresh headless Chromium, at `url`."""
    home = Path(tempfile.mkdtemp(prefix="modelport-chromium-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(home, ignore_errors=True))
    environment = dict(os.environ, HOME=str(home), TMPDIR=str(home))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, env=environment
        )

        def open_page(url: str) -> Page:
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            page.set_default_timeout(UI_MS)
            page.goto(url)
            return page

        try:
            yield open_page
        finally:
            browser.close()


def _screenshot(page: Page, name: str) -> None:
    folder = os.environ.get("SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"dashboard-{name}.png"), full_page=True)


def _predict(page: Page) -> str:
    page.get_by_role("button", name="Predict").click()
    value = page.get_by_test_id("stMetricValue")
    expect(value).to_be_visible()
    return value.inner_text().strip()


def test_predict_without_touching_the_form(
    browse: Callable[[str], Page],
    example_dir: Path,
    predictors: dict[str, Predictor],
    tmp_path: Path,
):
    iris = predictors["forest-multiclass"]
    bundle = example_dir / "forest-multiclass.joblib"
    save_example_data("forest-multiclass", tmp_path / "flowers.csv")
    store = f"sqlite:///{tmp_path / 'predictions.db'}"
    settings = Settings(bundle_path=bundle, output=store, id_column="id", proba=True, quiet=True)
    score_table(settings, str(tmp_path / "flowers.csv"))
    with _dashboard(bundle, tmp_path, "--predictions", store) as url:
        page = browse(f"{url}/?page=try")
        label = _predict(page)
        assert label in (iris.metadata.class_names or [])
        defaults = {spec.name: spec.default for spec in iris.metadata.features}
        assert label == iris.predict_records(defaults)[0]
        expect(page.get_by_text("Class probabilities")).to_be_visible()
        expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(2)  # probabilities, why
        page.wait_for_timeout(1500)  # the charts' drawing, for the screenshot
        _screenshot(page, "try")
        page.goto(f"{url}/?page=card")
        expect(page.get_by_text("Feature importances")).to_be_visible()
        _screenshot(page, "card")
        page.goto(f"{url}/?page=published")
        expect(page.get_by_text("Look up the latest prediction")).to_be_visible()
        expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
        _screenshot(page, "published")
        page.goto(f"{url}/?page=score")
        page.locator('input[type="file"]').set_input_files(str(tmp_path / "flowers.csv"))
        expect(page.get_by_text("150 rows scored, 0 rejected")).to_be_visible()
        _screenshot(page, "score")


def test_a_changed_category_in_the_bank_model(
    browse: Callable[[str], Page],
    example_dir: Path,
    predictors: dict[str, Predictor],
    tmp_path: Path,
):
    bank = predictors["bank-marketing"]
    with _dashboard(example_dir / "bank-marketing.joblib", tmp_path) as url:
        page = browse(f"{url}/?page=try")
        job = page.get_by_role("combobox", name="job")
        job.click()
        page.get_by_role("option", name="student", exact=True).click()
        expect(job).to_have_value("student")
        label = _predict(page)
        record = {spec.name: spec.default for spec in bank.metadata.features} | {"job": "student"}
        assert label == bank.predict_records(record)[0]


def test_monitoring_an_uploaded_table_with_an_older_population(
    browse: Callable[[str], Page], example_dir: Path, tmp_path: Path
):
    from modelport.examples import load_bank_marketing

    clients = load_bank_marketing().drop(columns="subscribed").tail(1000)
    clients["age"] += 10  # the README's clients, ten years on
    clients.to_csv(tmp_path / "clients-2036.csv", index=False)
    with _dashboard(example_dir / "bank-marketing.joblib", tmp_path) as url:
        page = browse(f"{url}/?page=monitor")
        page.locator('input[type="file"]').set_input_files(str(tmp_path / "clients-2036.csv"))
        expect(page.get_by_test_id("stMetricValue").first).to_have_text("alert", timeout=UI_MS)
        expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(2)  # PSI, and the bins
        expect(page.get_by_role("combobox", name="Feature")).to_have_value("age")
        page.set_viewport_size({"width": 1280, "height": 1900})  # down to the bins' chart
        page.wait_for_timeout(1500)  # the charts' drawing, for the screenshot
        _screenshot(page, "monitor")
