"""py-spy's collapsed stacks read into own and total time per frame, thread and package."""

from __future__ import annotations

from pathlib import Path

from hotspots import parse, report

STACKS = """\
thread (11): MainThread;_run_module_as_main (<frozen runpy>:173);Runner.run (/usr/lib/python3.11/asyncio/runners.py:118);handle (/x/site-packages/uvicorn/protocols/http/httptools_impl.py:400);predict (/w/src/modelport/api/routes/classic.py:80) 6
thread (11): MainThread;_run_module_as_main (<frozen runpy>:173);Runner.run (/usr/lib/python3.11/asyncio/runners.py:118);handle (/x/site-packages/uvicorn/protocols/http/httptools_impl.py:400) 3
thread (12): uvloop_0;_bootstrap (threading.py:995);predict_proba (sklearn/tree/_classes.py:1050) 1
not a stack line
"""


def test_own_and_total_time_per_frame(tmp_path: Path):
    stacks = tmp_path / "stacks.txt"
    stacks.write_text(STACKS)
    profile = parse(stacks)
    handle = "handle (uvicorn/protocols/http/httptools_impl.py)"
    predict = "predict (modelport/api/routes/classic.py)"
    assert profile.samples == 10
    assert profile.own[predict] == 6 and profile.own[handle] == 3
    assert profile.total[handle] == 9 and profile.total[predict] == 6
    assert profile.threads == {"MainThread": 9, "uvloop_0": 1}


def test_the_report_leaves_the_start_up_chain_out_of_total_time(tmp_path: Path):
    stacks = tmp_path / "stacks.txt"
    stacks.write_text(STACKS)
    markdown = report(stacks, "rf", top=10)
    total = markdown.split("| total % |")[1].split("| own % |")[0]
    assert "| 90.0% | `handle (uvicorn/protocols/http/httptools_impl.py)` |" in total
    assert "runpy" not in total and "asyncio/runners" not in total and "threading" not in total
    assert "| 60.0% | `modelport` |" in markdown
    assert "MainThread 90%, uvloop_0 10%" in markdown
