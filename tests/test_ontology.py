"""The ontology itself: bilingual documentation, header, closed namespace, OWL 2 RL profile, and the
vocabulary pitfalls of notes/ontology.md that can be checked on the content (P2, P6, P7, P10, P13, P14)."""

from __future__ import annotations

import re

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from pole_graph.namespaces import BASE, DCT, PG, PREFIXES

CORE = URIRef(BASE + "def/core")
PGNS = BASE + "def/core#"


def terms(ontology: Graph) -> set[URIRef]:
    return {s for s in ontology.subjects() if isinstance(s, URIRef) and str(s).startswith(PGNS)}


def test_every_term_has_labels_and_definitions_in_french_and_english(content):
    missing = []
    for term in sorted(terms(content.ontology)):
        if term == PG.figuresStructure:
            continue
        for prop in (RDFS.label, SKOS.definition):
            langs = {o.language for o in content.ontology.objects(term, prop) if isinstance(o, Literal)}
            for lang in ("fr", "en"):
                if lang not in langs:
                    missing.append(f"{term} {prop} @{lang}")
        if (term, RDFS.isDefinedBy, CORE) not in content.ontology:
            missing.append(f"{term} rdfs:isDefinedBy")
    assert not missing, "\n".join(missing)


def test_ontology_header_has_version_iri_licence_and_prior_version(content):
    g = content.ontology
    version = g.value(CORE, OWL.versionInfo)
    assert g.value(CORE, OWL.versionIRI) == URIRef(f"{CORE}/{version}")
    assert g.value(CORE, OWL.priorVersion) is not None
    assert g.value(CORE, DCT.license) == URIRef("https://spdx.org/licenses/etalab-2.0.html")
    titles = {t.language for t in g.objects(CORE, DCT.title)}
    assert titles == {"fr", "en"}


def test_closed_namespace_matches_the_ontology(content):
    declared = {str(t)[len(PGNS):] for t in terms(content.ontology)}
    in_code = {name for name in PG.__annotations__}
    assert declared == in_code, f"only in ontology: {declared - in_code}; only in code: {in_code - declared}"
    with pytest.raises(AttributeError):
        PG.CompetitivenessClustr  # a typo is an error, not a new IRI


def test_every_pg_term_used_anywhere_is_defined(content):
    defined = terms(content.ontology)
    used = set()
    for graph in (content.schemes, content.data, content.shapes):
        for triple in graph:
            used.update(t for t in triple if isinstance(t, URIRef) and str(t).startswith(PGNS))
    assert used <= defined, f"undefined pg: terms: {sorted(used - defined)}"


ALLOWED_NAMESPACES = set(PREFIXES.values()) | {
    "http://purl.org/linked-data/sdmx/2009/attribute#", "http://purl.org/vocab/vann/",
    "http://www.daml.org/2002/03/agents/agent-ont#",
}


def test_p10_only_known_namespaces_are_used_as_predicates_and_classes(content):
    """Pitfall P10: namespace typos and variants (http://w3.org/ns/locn#, https://schema.org/…)."""
    bad = set()
    for graph in (content.ontology, content.schemes, content.data, content.shapes):
        for s, p, o in graph:
            candidates = [p] + ([o] if p == RDF.type else [])
            for term in candidates:
                text = str(term)
                if not any(text.startswith(ns) for ns in ALLOWED_NAMESPACES):
                    bad.add(text)
    assert not bad, sorted(bad)
    for graph in (content.ontology, content.schemes, content.data_graph):
        for term in graph.all_nodes():
            assert not str(term).startswith(("http://w3.org/", "https://schema.org/", "http://http://")), term


def test_p6_no_class_is_also_a_concept_and_no_reused_annotation_property_is_redeclared(content):
    everything = content.asserted
    classes = set(everything.subjects(RDF.type, OWL.Class))
    concepts = set(everything.subjects(RDF.type, SKOS.Concept))
    assert not classes & concepts
    for prop in (DCT.source, DCT.temporal, DCT.description, DCT.date):
        assert (prop, RDF.type, OWL.ObjectProperty) not in everything
        assert (prop, RDF.type, OWL.DatatypeProperty) not in everything


RL_FORBIDDEN_IN_SUPERCLASS = (OWL.someValuesFrom, OWL.unionOf, OWL.minCardinality, OWL.cardinality,
                              OWL.complementOf, OWL.oneOf)


def _restriction_kind(graph: Graph, node) -> set:
    return {p for p in graph.predicates(node)}


def test_p7_core_ontology_stays_in_the_owl2_rl_profile(content):
    """Pitfall P7: only RL-allowed constructs (no existential or union as a superclass, no
    exact/min cardinality, no complement, no self-referential chain)."""
    g = content.ontology
    problems = []
    for sub, sup in g.subject_objects(RDFS.subClassOf):
        if isinstance(sup, BNode):
            bad = _restriction_kind(g, sup) & set(RL_FORBIDDEN_IN_SUPERCLASS)
            if bad:
                problems.append(f"{sub} ⊑ {sorted(bad)}")
            max_card = g.value(sup, OWL.maxCardinality)
            if max_card is not None and int(max_card) > 1:
                problems.append(f"{sub} ⊑ maxCardinality {max_card}")
    for prop, chain_head in g.subject_objects(OWL.propertyChainAxiom):
        chain = list(g.items(chain_head))
        if chain and chain[-1] == prop:
            problems.append(f"self-referential chain on {prop} (non-terminating forward chaining)")
    for prop in terms(g):
        for p in (RDFS.domain, RDFS.range):
            value = g.value(prop, p)
            if isinstance(value, BNode):
                problems.append(f"{prop} {p} is a class expression")
    assert not problems, problems


def test_p13_no_class_specialises_schema_funding_types(content):
    for sup in (URIRef("http://schema.org/FundingScheme"), URIRef("http://schema.org/FundingAgency")):
        assert not list(content.asserted.subjects(RDFS.subClassOf, sup))


def test_p2_p14_no_org_identifier_and_no_dates_on_held_by(content):
    org = "http://www.w3.org/ns/org#"
    for p in (URIRef(org + "identifier"), URIRef(org + "heldBy"), URIRef(org + "holds")):
        assert not [t for t in content.data if t[1] == p], p


def test_external_axioms_restate_the_org_prov_facts_the_pitfalls_rely_on(content):
    g = content.ontology
    org = "http://www.w3.org/ns/org#"
    prov = "http://www.w3.org/ns/prov#"
    assert (URIRef(org + "ChangeEvent"), RDFS.subClassOf, URIRef(prov + "Activity")) in g
    assert (URIRef(prov + "Entity"), OWL.disjointWith, URIRef(prov + "Activity")) in g
    assert g.value(URIRef(org + "Organization"), OWL.hasKey) is not None
    assert g.value(URIRef(prov + "wasDerivedFrom"), OWL.propertyChainAxiom) is not None


def test_every_policy_phase_is_an_interval_meeting_the_next(content):
    g = content.asserted
    phases = sorted(g.subjects(RDF.type, PG.PolicyPhase))
    codes = [str(p).rsplit("/", 1)[-1] for p in phases]
    assert codes == ["2005-2008", "2009-2012", "2013-2018", "2019-2022", "2023-2026"]
    time = "http://www.w3.org/2006/time#"
    for a, b in zip(phases, phases[1:]):
        assert (a, URIRef(time + "intervalMeets"), b) in g


def test_p11_regions_before_and_after_2016_with_insee_codes_and_mapping(content):
    g = content.schemes
    regions = set(g.subjects(RDF.type, PG.Region))
    codes = {str(g.value(r, PG.inseeCode)) for r in regions}
    # the 13 metropolitan regions of 2016 and the 5 overseas ones, plus the 16 merged away
    assert {"84", "27", "53", "24", "94", "44", "32", "11", "28", "75", "76", "52", "93"} <= codes
    assert {"01", "02", "03", "04", "06"} <= codes
    merged = {r for r in regions if g.value(r, PG.replacedBy) is not None}
    assert len(merged) == 16
    for r in merged:
        assert g.value(r, PG.validUntil) is not None
        assert g.value(g.value(r, PG.replacedBy), PG.validFrom) is not None
    assert all(re.fullmatch(r"\d\d", c) for c in codes)


def test_every_class_is_covered_by_a_shape(content):
    """Shapes for every class: each pg: class, or one of its superclasses, is a shape's target."""
    from pole_graph.namespaces import SH
    targets = set(content.shapes.objects(None, SH.targetClass))
    everything = content.ontology + content.schemes
    uncovered = []
    for cls in sorted(set(everything.subjects(RDF.type, OWL.Class))):
        if not str(cls).startswith(PGNS):
            continue
        supers = set(everything.transitive_objects(cls, RDFS.subClassOf))
        if not supers & targets:
            uncovered.append(str(cls))
    assert not uncovered, uncovered
