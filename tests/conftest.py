"""Shared fixtures: the project, its content, and one real build of the store per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pole_graph import Catalogue, GraphStore, Project, build
from pole_graph.load import load_content

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true",
                     help="rewrite tests/golden/*.json from the current results (review the diff before committing)")


@pytest.fixture(scope="session")
def project() -> Project:
    return Project.discover(ROOT)


@pytest.fixture(scope="session")
def content(project):
    return load_content(project)


@pytest.fixture(scope="session")
def built(tmp_path_factory, project):
    """One real build (load → reason → validate → store) shared by the tests that read the store."""
    store_path = tmp_path_factory.mktemp("store") / "store"
    report = build(project, store_path)
    return report, GraphStore.open(store_path)


@pytest.fixture(scope="session")
def store(built) -> GraphStore:
    return built[1]


@pytest.fixture(scope="session")
def catalogue(project) -> Catalogue:
    return Catalogue.load(project)


@pytest.fixture()
def project_copy(tmp_path) -> Path:
    """A writable copy of the project's content, for tests that break it on purpose."""
    for name in ("ontology", "data", "queries"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


@pytest.fixture(scope="session")
def live_url(built):
    """A real server (subprocess, uvicorn, free port on 127.0.0.1) on the session's store; read-only."""
    from tests.live import serve

    with serve(built[1].path) as url:
        yield url
