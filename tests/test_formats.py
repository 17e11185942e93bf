"""SPARQL results serialisers: tricky literals survive a round trip through rdflib's own parsers."""

from __future__ import annotations

import io

import pyoxigraph as ox
import pytest
from rdflib import Literal, URIRef
from rdflib.query import Result

from pole_graph.formats import serialize_result
from pole_graph.queries import QueryResult

XSD = "http://www.w3.org/2001/XMLSchema#"
TERMS = [
    ox.NamedNode("https://w3id.org/pole-graph/id/pole/a"),
    ox.Literal('quote " comma , tab \t and\nnewline'),
    ox.Literal("Pôle Mer Méditerranée", language="fr"),
    ox.Literal("2013-06-17", datatype=ox.NamedNode(XSD + "date")),
    None,
]
EXPECTED = [URIRef("https://w3id.org/pole-graph/id/pole/a"), Literal('quote " comma , tab \t and\nnewline'),
            Literal("Pôle Mer Méditerranée", lang="fr"), Literal("2013-06-17", datatype=URIRef(XSD + "date")), None]


@pytest.mark.parametrize("fmt", ["json", "xml", "tsv"])
def test_typed_formats_round_trip_exactly(fmt):
    text = serialize_result(QueryResult(["a", "b", "c", "d", "e"], [list(TERMS)]), fmt)
    parsed = Result.parse(io.BytesIO(text.encode("utf-8")), format=fmt)
    row = parsed.bindings[0]
    got = [row.get(v) for v in parsed.vars]
    assert got == EXPECTED


def test_csv_keeps_values_and_uses_crlf():
    text = serialize_result(QueryResult(["a", "b"], [[TERMS[0], TERMS[1]]]), "csv")
    assert text.startswith("a,b\r\n")
    parsed = Result.parse(io.BytesIO(text.encode("utf-8")), format="csv")
    assert str(parsed.bindings[0][parsed.vars[1]]) == 'quote " comma , tab \t and\nnewline'


def test_boolean_results():
    assert '"boolean": true' in serialize_result(QueryResult([], [], boolean=True), "json")
    assert "<boolean>false</boolean>" in serialize_result(QueryResult([], [], boolean=False), "xml")
