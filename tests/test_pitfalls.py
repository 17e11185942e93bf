"""Regression tests for the modelling pitfalls of notes/ontology.md (P1–P5, P8, P9, P12): each one is
reproduced on a small graph run through the real reasoner and the real shapes."""

from __future__ import annotations

import re

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF

from pole_graph.errors import InconsistencyError
from pole_graph.namespaces import GRAPH_INFERRED, ORG, PG, PROV
from pole_graph.reason import reason
from pole_graph.validate import validate

PREFIXES = """
@prefix pg: <https://w3id.org/pole-graph/def/core#> . @prefix id: <https://w3id.org/pole-graph/id/> .
@prefix org: <http://www.w3.org/ns/org#> . @prefix prov: <http://www.w3.org/ns/prov#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> . @prefix dct: <http://purl.org/dc/terms/> .
@prefix time: <http://www.w3.org/2006/time#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> . @prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix def: <https://w3id.org/pole-graph/def/> .
"""
SRC = "<https://example.org/source>"


def with_ontology(content, ttl: str) -> Graph:
    graph = Graph()
    for t in content.ontology:
        graph.add(t)
    # id:{type}/{key} is written for readability; rdflib needs the slash escaped, so expand it
    ttl = re.sub(r"\bid:([a-z]+/[a-z0-9-]+(?:#[a-z]+)?)", r"<https://w3id.org/pole-graph/id/\1>", ttl)
    graph.parse(data=PREFIXES + ttl, format="turtle")
    return graph


def violated_paths(content, graph: Graph) -> set[str]:
    union = graph + reason(graph).graph
    return {str(v.path) for v in validate(union, content.shapes).results}


def test_p1_membership_reused_for_two_organisations_is_caught_by_shacl_not_merged(content):
    g = with_ontology(content, f"""
        id:org/dgcis a pg:Directorate ; skos:prefLabel "DGCIS"@fr ; dct:source {SRC} .
        id:org/dge a pg:Directorate ; skos:prefLabel "DGE"@fr ; dct:source {SRC} .
        id:person/p a foaf:Person ; foaf:name "P" ; skos:prefLabel "P" ; dct:source {SRC} .
        id:membership/m a org:Membership ; org:member id:person/p ; org:role org:Head ;
            org:organization id:org/dgcis, id:org/dge ; prov:wasDerivedFrom {SRC} .
        org:Head a org:Role .
    """)
    inferred = reason(g).graph  # no owl:sameAs: ORG does not declare org:organization functional
    assert not list(inferred.triples((None, OWL.sameAs, None)))
    assert str(ORG.organization) in violated_paths(content, g)


def test_p2_two_organisations_sharing_an_org_identifier_are_reported_as_merged(content):
    g = with_ontology(content, """
        id:org/ubifrance a org:Organization ; org:identifier "451930051" .
        id:org/business-france a org:Organization ; org:identifier "451930051" .
    """)
    with pytest.raises(InconsistencyError, match="merged"):
        reason(g)


def test_p3_an_org_property_on_a_labelling_makes_it_a_membership_and_is_inconsistent(content):
    g = with_ontology(content, """
        id:labelling/x a pg:Labelling ; org:memberDuring [ a time:Interval ] .
    """)
    with pytest.raises(InconsistencyError, match="(?i)disjoint"):
        reason(g)


def test_p4_prov_was_derived_from_on_a_change_event_is_inconsistent_and_refused_by_shacl(content):
    g = with_ontology(content, """
        id:change/c a pg:Merger ; prov:wasDerivedFrom <https://example.org/source> .
    """)
    with pytest.raises(InconsistencyError, match="(?i)disjoint"):
        reason(g)
    change_shape = [v for v in validate(g, content.shapes).results if v.path == PROV.wasDerivedFrom]
    assert change_shape and "dct:source" in change_shape[0].message("en")


def test_p5_owl_same_as_in_data_is_refused(content):
    g = with_ontology(content, """
        id:pole/a a pg:CompetitivenessCluster . id:pole/b a pg:CompetitivenessCluster .
        id:pole/a owl:sameAs id:pole/b .
    """)
    with pytest.raises(InconsistencyError, match="merged"):
        reason(g)
    assert str(OWL.sameAs) in {str(v.path) for v in validate(g, content.shapes).results}


def test_p8_an_instant_with_a_date_time_where_a_date_is_expected_is_refused(content):
    g = with_ontology(content, """
        id:membership/m#start a time:Instant ; time:inXSDDate "2013-06-17T00:00:00"^^xsd:dateTime .
    """)
    paths = {str(v.path) for v in validate(g, content.shapes).results}
    assert "http://www.w3.org/2006/time#inXSDDate" in paths


def test_p12_a_pole_cannot_also_be_a_public_body(content):
    g = with_ontology(content, """
        id:pole/x a pg:CompetitivenessCluster, pg:PublicAgency .
    """)
    with pytest.raises(InconsistencyError):
        reason(g)


def test_p9_inferred_triples_are_kept_apart_and_free_of_owlrl_bookkeeping(built, store):
    report, _ = built
    inferred = {row["s"].value: 1 for row in store.query(
        f"SELECT ?s WHERE {{ GRAPH <{GRAPH_INFERRED}> {{ ?s ?p ?o }} FILTER(isLiteral(?s)) }}")}
    assert not inferred
    assert not bool(store.query(f"ASK {{ GRAPH <{GRAPH_INFERRED}> {{ ?s <{OWL.sameAs}> ?s }} }}"))
    overlap = store.query("""ASK { GRAPH <https://w3id.org/pole-graph/graph/inferred> { ?s ?p ?o }
                                   GRAPH <https://w3id.org/pole-graph/graph/data> { ?s ?p ?o } }""")
    assert not bool(overlap)
    assert report.graphs[str(GRAPH_INFERRED)] > 1000


def test_inference_derives_what_the_queries_rely_on(built, store):
    ask = lambda q: bool(store.query("PREFIX pg: <https://w3id.org/pole-graph/def/core#> "
                                     "PREFIX org: <http://www.w3.org/ns/org#> PREFIX prov: <http://www.w3.org/ns/prov#> " + q))
    # inverse: a pôle knows its labellings
    assert ask("ASK { <https://w3id.org/pole-graph/id/pole/aerospace-valley> pg:labelling ?l }")
    # ORG's chain: Business France was derived from Ubifrance
    assert ask("ASK { <https://w3id.org/pole-graph/id/org/business-france> prov:wasDerivedFrom <https://w3id.org/pole-graph/id/org/ubifrance> }")
    # our chain: successor
    assert ask("ASK { <https://w3id.org/pole-graph/id/org/datar> pg:successor <https://w3id.org/pole-graph/id/org/cget> }")
    # symmetric partnership shortcut, both ways
    assert ask("ASK { <https://w3id.org/pole-graph/id/org/massachusetts-life-sciences-center> pg:partnerOf <https://w3id.org/pole-graph/id/pole/lyonbiopole> }")
    # session contributors take part in the workshop
    assert ask("ASK { <https://w3id.org/pole-graph/id/event/2013-06-17-atelier-internationalisation> pg:participant <https://w3id.org/pole-graph/id/org/mae> }")
