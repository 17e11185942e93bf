"""Packaging: the wheel carries the content, and the installed package finds it without the
source tree; every setting is documented."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import fields
from pathlib import Path

import pytest

from pole_graph import Project, __all__ as public
from pole_graph.settings import SETTINGS_DOC, Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return next(out.glob("pole_graph-*.whl"))


def test_the_wheel_carries_ontology_data_and_queries(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("pole_graph/_content/ontology/core.ttl", "pole_graph/_content/ontology/shapes/shapes.ttl",
                     "pole_graph/_content/data/poles.csv", "pole_graph/_content/queries/poles.rq"):
        assert expected in names


def test_the_unpacked_package_finds_its_content_and_checks_it(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = ("import pole_graph, sys; from pole_graph import Project; p = Project.discover(); "
            "assert str(p.root).startswith(sys.argv[1]), p.root; "
            "from pole_graph.cli import main; sys.exit(main(['check']))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                          cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_setting_is_documented():
    names = {f.name for f in fields(Settings)}
    assert names == set(SETTINGS_DOC)
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for name, (env, _, _) in SETTINGS_DOC.items():
        assert env in doc, env


def test_the_public_api_is_importable():
    import pole_graph
    for name in public:
        assert hasattr(pole_graph, name), name


def test_settings_come_from_the_environment_then_flags():
    s = Settings.from_env({"POLE_GRAPH_LANG": "en", "POLE_GRAPH_STORE": "/tmp/x"}, store="/tmp/y")
    assert s.lang == "en" and str(s.store) == "/tmp/y"
    with pytest.raises(Exception, match="unknown language"):
        Settings.from_env({"POLE_GRAPH_LANG": "de"})
