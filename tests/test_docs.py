"""The README, run as a newcomer would: its commands and Python blocks give what it shows.

The blocks run in the README's order in one folder, so a later block uses the files an
earlier one made and the server it started. A shown JSON output is compared structurally:
the same keys in the same order, the same shapes and strings, numbers within `RELATIVE`
(library versions move the last digits); `...` in it stands for elided items. Other output
is compared line by line with numbers and sha256 digests masked; a last `...` line stands
for more lines. A shown `error:` means exit status 1. In a Python block, a comment
`# → value` after an expression is the expression's value (its `repr`, or what a `print`
writes), where `...` matches anything, as in a doctest.
"""

from __future__ import annotations

import ast
import doctest
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

README = Path(__file__).parent.parent / "README.md"
_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
_HEX = re.compile(r"\b[0-9a-f]{64}\b")
_NUMBER = re.compile(r"-?\d+(\.\d+)?(e[+-]?\d+)?")
_RULE = re.compile(r"([━─])\1+")  # a table's rules grow with its widest cell

RELATIVE = 1e-6
"""How far a shown number may be from the printed one, relatively."""
VOLATILE = {"running-since"}
"""Keys whose numbers change on every run (a start time): any number matches."""
ESTIMATED = "/explanation/"
"""Where numbers are SHAP's sampling estimates (the permutation explainer's, for a one-hot
Pipeline): today they move from one server process to the next in the third digit, so they
are compared to within `ESTIMATE_TOLERANCE`, in the explained output's units."""
ESTIMATE_TOLERANCE = 1e-3
ANY = "\u2026any"
MORE = "\u2026more"

SERVER_FOR = {
    "tritonclient": "modelport serve models/ &",
    "Client(": "modelport serve iris.joblib &",
}
"""The server a Python block that calls one talks to, as the README's text around it says."""


def _blocks() -> list[tuple[str, str]]:
    return _BLOCK.findall(README.read_text())


def _commands(block: str) -> list[tuple[str, list[str]]]:
    commands: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:].split("  #")[0].strip(), []))
        elif commands:
            commands[-1][1].append(line)
    return commands


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Session:
    """A working folder, a PATH with this venv's `modelport`, and at most one server."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = dict(
            os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", COLUMNS="200"
        )
        self.server: subprocess.Popen[bytes] | None = None
        self.command = ""
        self.port = 0
        self.log = folder / "server.log"

    def serve(self, command: str) -> None:
        """Start `command` (a `modelport serve` line) unless it is what already runs."""
        if self.server is not None and self.command == command:
            return
        self.stop()
        self.command = command
        self.port = _free_port()
        words = command.removesuffix("&").split()
        settings = dict(word.split("=", 1) for word in words if re.match(r"^[A-Z_]+=", word))
        args = words[len(settings) + 1 :]
        with self.log.open("wb") as log:
            self.server = subprocess.Popen(
                [sys.executable, "-m", "modelport", *args, "--port", str(self.port)],
                cwd=self.folder,
                env=self.env | settings,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.server.poll() is None, f"{command} exited early:\n{self.log.read_text()}"
            time.sleep(0.1)
        raise AssertionError(f"{command} never became ready:\n{self.log.read_text()}")

    def local(self, text: str) -> str:
        """The README's address replaced by this session's server's."""
        address = f"127.0.0.1:{self.port}"
        return text.replace("localhost:5000", address).replace("127.0.0.1:5000", address)

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", self.local(command)],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.server is not None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
            self.server = None


# --- shown JSON: parsed with its `...` elisions, compared structurally ----------------------


def _elided_json(text: str) -> Any:
    """The shown JSON, each `...` turned into a marker: `[...]` or `{...}` into ANY (any
    value), an item `...` into MORE (more items may follow), and a document cut short by
    `...` closed, each container left open marked as having more."""
    out: list[str] = []
    stack: list[str] = []  # the open brackets
    i, in_string = 0, False
    while i < len(text):
        char = text[i]
        if not in_string and text.startswith("...", i):
            i = _elide(text, i, out, stack)
            continue
        out.append(char)
        if in_string and char == "\\":
            out.append(text[i + 1])
            i += 1
        elif char == '"':
            in_string = not in_string
        elif not in_string and char in "[{":
            stack.append(char)
        elif not in_string and char in "]}":
            stack.pop()
        i += 1
    return json.loads("".join(out))


def _elide(text: str, i: int, out: list[str], stack: list[str]) -> int:
    """Write the marker for the `...` at `i`; returns where reading goes on."""
    rest = text[i + 3 :].lstrip()
    opened = "".join(out).rstrip()
    if rest[:1] in ("]", "}") and opened.endswith(("[", "{")):  # `[...]`: any list
        while out[-1] != opened[-1]:
            out.pop()
        out[-1] = json.dumps(ANY)
        stack.pop()
        return len(text) - len(rest) + 1
    out.append(_more(stack[-1]))
    if not rest:  # the document is cut short: close what is open, each with more
        for opener in reversed(stack):
            more = "" if opener is stack[-1] else ", " + _more(opener)
            out.append(more + ("]" if opener == "[" else "}"))
        stack.clear()
    return i + 3


def _more(opener: str) -> str:
    return json.dumps(MORE) if opener == "[" else f"{json.dumps(MORE)}: {json.dumps(MORE)}"


def _same(shown: Any, printed: Any, where: str = "") -> None:
    """Assert that `printed` has what `shown` shows (see the module's docstring)."""
    if shown == ANY:
        return
    if isinstance(shown, dict):
        assert isinstance(printed, dict), (where, printed)
        keys = [key for key in shown if key != MORE]
        listed = list(printed)[: len(keys)] if MORE in shown else list(printed)
        assert listed == keys, where
        for key in keys:
            _same(shown[key], printed[key], f"{where}/{key}")
    elif isinstance(shown, list):
        assert isinstance(printed, list), (where, printed)
        items = shown[:-1] if shown and shown[-1] == MORE else shown
        assert len(printed) >= len(items) if items is not shown else len(printed) == len(items), (
            where,
            len(printed),
        )
        for n, (item, got) in enumerate(zip(items, printed, strict=False)):
            _same(item, got, f"{where}/{n}")
    elif isinstance(shown, bool) or shown is None:
        assert printed is shown, (where, printed)
    elif isinstance(shown, int | float):
        assert isinstance(printed, int | float) and not isinstance(printed, bool), (where, printed)
        absolute = ESTIMATE_TOLERANCE if where.startswith(ESTIMATED) else 1e-12
        if where.rpartition("/")[2] not in VOLATILE:
            assert math.isclose(printed, shown, rel_tol=RELATIVE, abs_tol=absolute), (
                where,
                printed,
            )
    elif _HEX.fullmatch(shown):
        assert isinstance(printed, str) and _HEX.fullmatch(printed), (where, printed)
    else:
        assert printed == shown, where


def _json_or_none(text: str) -> Any:
    if not text.startswith(("{", "[")):
        return None
    try:
        return _elided_json(text)
    except (json.JSONDecodeError, IndexError):
        return None


# --- other output: line by line, numbers and digests masked ---------------------------------


def _mask(line: str) -> str:
    masked = _RULE.sub(r"\1", _NUMBER.sub("N", _HEX.sub("HEX", line)))
    return " ".join(masked.split())


def _same_lines(shown: list[str], printed: list[str]) -> None:
    more = shown[-1].strip() == "..."
    shown = shown[:-1] if more else shown
    got = printed[: len(shown)] if more else printed
    assert [_mask(line) for line in got] == [_mask(line) for line in shown]


def _check(command: str, shown: list[str], result: subprocess.CompletedProcess[str]) -> None:
    printed = result.stdout.strip()  # stderr merged in, interleaved as a terminal shows it
    text = "\n".join(shown).strip()
    expected_error = text.startswith("error:")
    assert result.returncode == (1 if expected_error else 0), (command, printed)
    if not text:
        return
    pattern = _json_or_none(text)
    try:
        if pattern is not None:
            _same(pattern, json.loads(printed))
        else:
            _same_lines(text.splitlines(), printed.splitlines())
    except (AssertionError, json.JSONDecodeError) as error:
        raise AssertionError(f"{command}\nprinted:\n{printed}\nshown:\n{text}") from error


# --- Python blocks: run whole, each `# → value` compared ----------------------------------

_SHOW = """
import json as _json, sys as _sys
def _show(line, value, printed=False):
    text = " ".join(map(str, value)) if printed else repr(value)
    print(_json.dumps({"line": line, "value": text}), file=_sys.stderr)
"""


class _Shown(ast.NodeTransformer):
    """Each expression with a `# → value` comment reports its value (or what it prints)."""

    def __init__(self, wanted: dict[int, str]) -> None:
        self.wanted = wanted

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        if node.end_lineno not in self.wanted:
            return node
        value = node.value
        printed = isinstance(value, ast.Call) and getattr(value.func, "id", "") == "print"
        arguments = ast.List(elts=value.args, ctx=ast.Load()) if printed else value
        call = ast.Call(
            func=ast.Name(id="_show", ctx=ast.Load()),
            args=[ast.Constant(node.end_lineno), arguments, ast.Constant(printed)],
            keywords=[],
        )
        return ast.copy_location(ast.Expr(value=call), node)


def _wanted(script: str) -> dict[int, str]:
    """Line of an expression's end → the value shown for it (`# → value`, maybe continued
    on the comment lines below)."""
    wanted: dict[int, str] = {}
    lines = script.splitlines()
    for number, line in enumerate(lines, start=1):
        code, arrow, shown = line.partition("# → ")
        if not arrow:
            continue
        owner = number if code.strip() else number - 1
        following = []
        for below in lines[number:]:
            if not below.startswith("#  "):
                break
            following.append(below[1:])
        wanted[owner] = "\n".join([shown, *following])
    return wanted


def _run_python(session: _Session, script: str) -> int:
    """Run a README Python block in the session's folder; returns how many values it checked."""
    script = session.local(script)
    wanted = _wanted(script)
    tree = _Shown(wanted).visit(ast.parse(script))
    runner = session.folder / "readme_block.py"
    runner.write_text(_SHOW + ast.unparse(ast.fix_missing_locations(tree)) + "\n")
    result = subprocess.run(
        [sys.executable, runner.name],
        cwd=session.folder,
        env=session.env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
    reports = [line for line in result.stderr.splitlines() if line.startswith('{"line"')]
    got = {report["line"]: report["value"] for report in map(json.loads, reports)}
    assert set(got) == set(wanted), (script, result.stderr)
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    for line, shown in wanted.items():
        assert checker.check_output(shown + "\n", got[line] + "\n", flags), (
            f"line {line} of\n{script}\nshows {shown}\ngives {got[line]}"
        )
    return len(wanted)


def test_readme_starts_with_the_two_commands():
    first_block = next(body for lang, body in _blocks() if lang == "console")
    assert [command for command, _ in _commands(first_block)] == []
    assert "make demo" in first_block and "make test" in first_block


def _replay(session: _Session, block: str, wrong: list[str]) -> int:
    """Run a console block's commands (starting its servers); returns how many ran."""
    commands = _commands(block)
    if sum("modelport serve" in command for command, _ in commands) > 1:
        return 0  # a list of ways to start the server, not a session to replay
    ran = 0
    for command, shown in commands:
        if re.match(r"^([A-Z_]+=\S+ )*modelport serve", command):
            if command.endswith("&"):
                session.serve(command)
        elif command.startswith(("modelport", "curl", "mkdir")):
            try:
                _check(command, shown, session.run(command))
            except AssertionError as error:
                wrong.append(str(error))
            ran += 1
    return ran


def test_readme_commands_and_python_blocks_give_what_the_readme_shows(tmp_path: Path):
    session = _Session(tmp_path)
    commands = blocks = values = 0
    wrong: list[str] = []  # every difference, so that one run shows them all
    try:
        for language, block in _blocks():
            if language == "console":
                commands += _replay(session, block, wrong)
            elif language == "python":
                for marker, serve in SERVER_FOR.items():
                    if marker in block:
                        session.serve(serve)
                try:
                    values += _run_python(session, block)
                except AssertionError as error:
                    wrong.append(str(error))
                blocks += 1
    finally:
        session.stop()
    assert not wrong, "\n\n".join(wrong)
    python_blocks = sum(language == "python" for language, _ in _blocks())
    assert (commands >= 30, blocks, values) == (True, python_blocks, 7)


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("GET", "/health"),
        ("GET", "/ready"),
        ("GET", "/service-info"),
        ("GET", "/models"),
        ("GET", "/info"),
        ("GET", "/features"),
        ("POST", "/predict"),
        ("GET", "/predict?"),
        ("POST", "/preprocess"),
        ("GET", "/?query="),
        ("GET", "/docs"),
    ],
)
def test_readme_s_route_table_has_every_route(method: str, route: str):
    rows = [line for line in README.read_text().splitlines() if line.startswith("| `")]
    assert any(row.startswith(f"| `{method} {route}") for row in rows)
