"""The README stays true: each query example is re-run and must print exactly what the README shows,
and the set-up and test commands are the ones .ci/run runs."""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest

from pole_graph.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```console\n\$ pole-graph (query [^\n]+)\n(.*?)```", README, re.S)


def test_the_readme_has_an_example_of_every_stored_query(catalogue):
    shown = {shlex.split(command)[1] for command, _ in EXAMPLES}
    assert shown == set(catalogue.names())


@pytest.mark.parametrize("command,expected", EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_readme_example_output_is_current(store, command, expected, request):
    out, err = io.StringIO(), io.StringIO()
    code = main(shlex.split(command) + ["--store", str(store.path)], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    if request.config.getoption("--update-goldens"):
        path = ROOT / "README.md"
        text = path.read_text(encoding="utf-8")
        old = f"```console\n$ pole-graph {command}\n{expected}```"
        path.write_text(text.replace(old, f"```console\n$ pole-graph {command}\n{out.getvalue()}```"), encoding="utf-8")
        pytest.skip("README example rewritten")
    assert out.getvalue() == expected


def test_ci_runs_the_readme_setup_and_test_commands():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 -m venv .venv" in README and "python3 -m venv .venv" in ci
    assert ".venv/bin/pip install -e '.[test]'" in README and "pip install --quiet -e '.[test]'" in ci
    assert "apt-get install -y chromium nginx-light apache2" in README
    assert "apt-get install -y -qq chromium nginx-light apache2" in ci
    assert ".venv/bin/pole-graph build && .venv/bin/pole-graph serve" in README
    assert ".venv/bin/python -m pytest" in README and ci.rstrip().endswith(".venv/bin/python -m pytest")
