"""Under CI=true nothing is skipped: a skip, of a test or of a whole module, fails the run."""

from __future__ import annotations

import pytest

SUITE = {
    "conftest": "from tests.conftest import pytest_make_collect_report, pytest_runtest_makereport\n",
    "test_skips": """
import pytest

def test_passes():
    pass

def test_skips():
    pytest.skip("no browser here")

@pytest.mark.skipif(True, reason="no runtime here")
def test_is_marked_to_skip():
    pass

@pytest.mark.xfail(strict=True)
def test_fails_as_expected():
    assert False
""",
    "test_module_skip": """
import pytest
pytest.importorskip("modelport_no_such_module")

def test_never_collected():
    pass
""",
}


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(**SUITE)
    return pytester


@pytest.mark.parametrize("ci", ["true", "1", "TRUE"])
def test_in_ci_every_skipped_test_fails_and_says_why(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str
):
    monkeypatch.setenv("CI", ci)
    result = suite.runpytest("-p", "no:cacheprovider", "test_skips.py")
    result.assert_outcomes(passed=1, failed=1, errors=1, xfailed=1)  # a mark skips in setup
    result.stdout.fnmatch_lines(
        [
            "FAILED test_skips.py::test_skips - skipped under CI=true, where nothing may be: no browser here",
            "ERROR test_skips.py::test_is_marked_to_skip - skipped under CI=true, where nothing may be: no runtime here",
        ]
    )


def test_in_ci_a_skipped_module_stops_the_run(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "ERROR test_module_skip.py - skipped under CI=true, where nothing may be: "
            "could not import 'modelport_no_such_module'*"
        ]
    )


@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_elsewhere_a_skip_stays_a_skip(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None
):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    suite.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1, skipped=3, xfailed=1)
