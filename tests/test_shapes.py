"""Data-driven shape tests: tests/shapes/valid/*.ttl must conform; each tests/shapes/invalid/*.ttl
names, on its first line (``# breaks: shapes:XShape``), the shape it must break — and must break it.
Every fixture is validated the way the build validates: with its OWL 2 RL inferences and the real
ontology and schemes around it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rdflib import BNode, Graph, URIRef

from pole_graph.load import cited_sources
from pole_graph.namespaces import SH, SHAPES
from pole_graph.reason import reason
from pole_graph.validate import validate

HERE = Path(__file__).parent / "shapes"
VALID = sorted((HERE / "valid").glob("*.ttl"))
INVALID = sorted((HERE / "invalid").glob("*.ttl"))


@pytest.fixture(scope="module")
def context(content):
    """Ontology + schemes and their own inferences, computed once for all fixtures."""
    base = content.ontology + content.schemes
    for t in list(cited_sources(content.schemes)):
        base.add(t)
    return base + reason(base).graph


def run(content, context, path: Path):
    fixture = Graph().parse(path, format="turtle")
    for t in list(cited_sources(fixture)):
        fixture.add(t)
    graph = content.ontology + fixture
    union = context + fixture + reason(graph).graph
    return validate(union, content.shapes)


def node_shape(shapes: Graph, shape) -> URIRef:
    """The node shape a result comes from (a property shape is a blank node under sh:property)."""
    if isinstance(shape, BNode):
        parent = shapes.value(predicate=SH.property, object=shape)
        return parent if parent is not None else shape
    return shape


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_fixture_conforms(content, context, path):
    report = run(content, context, path)
    assert report.conforms, report.text("en")


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_fixture_breaks_the_shape_it_names(content, context, path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    m = re.match(r"# breaks: shapes:(\w+)", first)
    assert m, f"{path.name}: the first line must name the shape it breaks"
    expected = SHAPES[m.group(1)]
    assert (expected, None, None) in content.shapes, f"{path.name}: no shape {expected}"
    report = run(content, context, path)
    assert not report.conforms
    broken = {node_shape(content.shapes, v.shape) for v in report.results}
    assert expected in broken, report.text("en")
    for v in report.results:  # every message the steward reads exists in both languages
        assert v.message("fr") != v.message("en"), v


def test_the_whole_graph_conforms(built):
    report, _ = built
    assert report.validation.conforms
    assert report.classes["pg:CompetitivenessCluster"] == 90
