"""The fast OWL 2 RL engine against owlrl, the reference semantics: the same inferred triples on the
whole graph, the same contradictions on the pitfall cases, and a refusal of what it cannot compile."""

from __future__ import annotations

import pytest
from rdflib import Graph, URIRef

from pole_graph.errors import InconsistencyError
from pole_graph.reason import reason
from pole_graph.rules import compile_rules, reason_fast

from .test_pitfalls import with_ontology


@pytest.fixture(scope="module")
def rules(content):
    return compile_rules(content.ontology)


def test_the_fast_engine_derives_exactly_owlrls_triples_on_the_whole_graph(content, rules):
    asserted = content.asserted
    reference = set(reason(asserted).graph)
    fast = set(reason_fast(asserted, content.ontology, rules).graph)
    assert len(reference) > 5000
    assert fast == reference, (sorted(reference - fast)[:10], sorted(fast - reference)[:10])


CONTRADICTIONS = {
    "key": """id:org/a a org:Organization ; org:identifier "1" . id:org/b a org:Organization ; org:identifier "1" .""",
    "domain-leak": """id:labelling/x a pg:Labelling ; org:memberDuring [ a time:Interval ] .""",
    "activity-entity": """id:change/c a pg:Merger ; prov:wasDerivedFrom <https://example.org/s> .""",
    "same-as": """id:pole/a a pg:CompetitivenessCluster . id:pole/b a pg:CompetitivenessCluster . id:pole/a owl:sameAs id:pole/b .""",
    "disjoint-classes": """id:pole/x a pg:CompetitivenessCluster, pg:PublicAgency .""",
    "person-organisation": """id:person/x a foaf:Person, org:Organization .""",
}


@pytest.mark.parametrize("case", sorted(CONTRADICTIONS))
def test_both_engines_find_the_same_contradictions(content, rules, case):
    graph = with_ontology(content, CONTRADICTIONS[case])
    with pytest.raises(InconsistencyError) as reference:
        reason(graph)
    with pytest.raises(InconsistencyError) as fast:
        reason_fast(graph, content.ontology, rules)
    assert conflicts(fast.value.messages) == conflicts(reference.value.messages)


def conflicts(messages):
    """What is in conflict (the IRIs each message names), whatever the wording."""
    import re
    return {frozenset(re.findall(r"https?://[^\s>,')]+", m)) - {"http://www.w3.org/ns/org#identifier"} for m in messages}


def test_a_consistent_small_graph_gives_the_same_triples(content, rules):
    graph = with_ontology(content, """
        id:pole/p a pg:CompetitivenessCluster ; pg:acronym "P" .
        id:partnership/x a pg:ClusterPartnership ; pg:pole id:pole/p ; pg:partner id:org/f .
        id:change/c a pg:Merger ; org:originalOrganization id:pole/p ; org:resultingOrganization id:pole/q .
    """)
    assert set(reason_fast(graph, content.ontology, rules).graph) == set(reason(graph).graph)


def test_constructs_the_fast_engine_cannot_compile_are_refused():
    ontology = Graph().parse(data="""
        @prefix owl: <http://www.w3.org/2002/07/owl#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
        <http://e/A> rdfs:subClassOf [ a owl:Restriction ; owl:onProperty <http://e/p> ; owl:allValuesFrom <http://e/B> ] .
    """, format="turtle")
    with pytest.raises(ValueError, match="allValuesFrom"):
        compile_rules(ontology)


def test_noise_is_dropped_whatever_the_subjects_type_and_drop_noise_agrees_with_is_noise(content, rules):
    """owlrl's bookkeeping about the built-in vocabularies (datatype and annotation-property
    declarations) is noise. rdflib's ``URIRef.startswith`` takes no tuple of prefixes, so a check
    written with it never matched: 127 such triples reached graph/inferred of the real graph."""
    from pole_graph.reason import drop_noise, is_noise

    owl, rdf, rdfs, xsd = (URIRef(ns) for ns in ("http://www.w3.org/2002/07/owl#", "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
                                                "http://www.w3.org/2000/01/rdf-schema#", "http://www.w3.org/2001/XMLSchema#"))
    declared = (URIRef(xsd + "string"), URIRef(rdf + "type"), URIRef(rdfs + "Datatype"))
    annotation = (URIRef(rdfs + "label"), URIRef(rdf + "type"), URIRef(owl + "AnnotationProperty"))
    assert is_noise(*declared) and is_noise(*annotation)
    closure = reason_fast(content.asserted, content.ontology, rules)
    assert not [t for t in closure.triples if str(t[0]).startswith((str(owl), str(rdf), str(rdfs), str(xsd)))]
    candidates = set(closure.triples) | {declared, annotation} | set(content.ontology)
    assert drop_noise(candidates) == {t for t in candidates if not is_noise(*t)}
