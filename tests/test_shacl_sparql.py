"""The SPARQL-compiled SHACL validator (pole_graph.shacl_sparql) against pySHACL, the reference.

Both engines must give the same results — focus, path, value, component, severity, source shape,
messages per language — on the real graph, on every fixture of tests/shapes/, and on a 10k
synthetic graph broken on purpose so that every constraint component of the shapes fires.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, URIRef

from pole_graph.load import cited_sources, load_content
from pole_graph.namespaces import DCT, FOAF, ORG, OWL, PG, PROV, RDF, SCHEMA, SH, SKOS, TIME, XSD, QB
from pole_graph.project import Project
from pole_graph.rules import compile_rules, reason_fast
from pole_graph.shacl_sparql import UnsupportedShapeError, compile_shapes, validate_graph, validate_store
from pole_graph.validate import validate

HERE = Path(__file__).parent / "shapes"
FIXTURES = sorted((HERE / "valid").glob("*.ttl")) + sorted((HERE / "invalid").glob("*.ttl"))


def key(v) -> tuple:
    """A result as both engines must agree on it. pySHACL drops the language of SPARQL-constraint
    messages and validate.py renders them again per language; the untagged one it keeps is either
    language at random, so only its presence is compared."""
    messages = tuple(sorted((lang, text) for lang, text in v.messages.items() if lang or len(v.messages) == 1))
    return (v.focus, v.path, v.value, v.component, v.severity, v.shape, messages, "" in v.messages)


def assert_same(expected, actual) -> None:
    want, got = Counter(map(key, expected.results)), Counter(map(key, actual.results))
    missing, extra = want - got, got - want
    assert not missing and not extra, (
        f"pySHACL only ({sum(missing.values())}): {sorted(missing, key=str)[:5]}\n"
        f"SPARQL only ({sum(extra.values())}): {sorted(extra, key=str)[:5]}")
    assert expected.conforms == actual.conforms


@pytest.fixture(scope="module")
def program(content):
    return compile_shapes(content.shapes)


def test_the_project_shapes_compile_with_no_unsupported_feature(content, program):
    components = {c.component for c in program.checks}
    assert components == {
        "ClassConstraintComponent", "DatatypeConstraintComponent", "NodeKindConstraintComponent",
        "OrConstraintComponent", "PatternConstraintComponent", "MinCountConstraintComponent",
        "MaxCountConstraintComponent", "UniqueLangConstraintComponent", "QualifiedMinCountConstraintComponent",
        "SPARQLConstraintComponent"}
    sparql = [c for c in program.checks if c.component == "SPARQLConstraintComponent"]
    assert len(sparql) == len(set(content.shapes.objects(None, SH.sparql)))


@pytest.mark.parametrize("ttl, feature", [
    ("ex:S a sh:NodeShape ; sh:targetNode ex:a .", "sh:targetNode"),
    ("ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:minLength 2 ] .", "sh:minLength"),
    ("ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path [ sh:inversePath ex:p ] ; sh:minCount 1 ] .",
     "sh:inversePath"),
    ("ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:xone ( [ sh:class ex:D ] ) .", "sh:xone"),
    ("ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:sparql [ sh:select \"SELECT $this WHERE { FILTER NOT EXISTS "
     "{ $this <http://example.org/p> ?o } }\" ] .", "does not bind it"),
    ("ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:sparql [ sh:select \"SELECT $this WHERE { "
     "$this <http://example.org/p> ?o } LIMIT 1\" ] .", "Slice"),
    ("ex:S a sh:NodeShape, rdfs:Class ; sh:property [ sh:path ex:p ; sh:minCount 1 ] .", "implicit class target"),
])
def test_an_unsupported_feature_is_refused_by_name(ttl, feature):
    shapes = Graph().parse(data="@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> ."
                                "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n" + ttl, format="turtle")
    with pytest.raises(UnsupportedShapeError, match=feature) as exc:
        compile_shapes(shapes)
    assert "ex:S" in str(exc.value) or "example.org/S" in str(exc.value)


# ---- the real graph, and the store the build writes ------------------------------------------

@pytest.fixture(scope="module")
def union(content):
    return content.asserted + reason_fast(content.asserted, content.ontology).graph


def test_the_real_graph_conforms_in_both_engines(content, union, program):
    expected, actual = validate(union, content.shapes), validate_graph(union, program)
    assert expected.conforms and actual.conforms, actual.text("en")
    assert_same(expected, actual)


def test_validate_store_reads_the_named_graphs_of_a_built_store(built, content, program):
    from pole_graph.store import KNOWLEDGE_GRAPH

    _, store = built
    report = validate_store(store.db, program, [g.value for g in KNOWLEDGE_GRAPH])
    assert report.conforms, report.text("en")
    assert (None, RDF.type, SH.ValidationReport) in report.graph


# ---- the fixtures of tests/shapes -------------------------------------------------------------

@pytest.fixture(scope="module")
def rules(content):
    return compile_rules(content.ontology)


@pytest.fixture(scope="module")
def context(content, rules):
    base = content.ontology + content.schemes
    for t in list(cited_sources(content.schemes)):
        base.add(t)
    return base + reason_fast(base, content.ontology, rules).graph


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_each_fixture_gives_the_same_results(content, context, rules, program, path):
    fixture = Graph().parse(path, format="turtle")
    for t in list(cited_sources(fixture)):
        fixture.add(t)
    union = context + fixture + reason_fast(content.ontology + fixture, content.ontology, rules).graph
    expected, actual = validate(union, content.shapes), validate_graph(union, program)
    assert expected.conforms == (path.parent.name == "valid")
    assert_same(expected, actual)


# ---- a synthetic graph broken on purpose ---------------------------------------------------------

def _instances(g: Graph, cls: URIRef, n: int, rng: random.Random) -> list[URIRef]:
    found = sorted(s for s in g.subjects(RDF.type, cls) if isinstance(s, URIRef))
    return rng.sample(found, min(n, len(found)))


def mutate(g: Graph, rng: random.Random) -> None:
    """Break every kind of constraint the shapes have, a few times each."""
    poles = _instances(g, PG.CompetitivenessCluster, 24, rng)
    for p in poles[0:3]:                                   # minCount (dct:source, pg:labelling)
        g.remove((p, DCT.source, None))
        g.remove((p, PG.labelling, None))
    for p in poles[3:6]:                                   # class, nodeKind: a region that is not one
        g.add((p, PG.region, URIRef("https://example.org/not-a-region")))
        g.add((p, DCT.source, Literal("https://example.org/a source as text")))
        g.add((p, PG.theme, Literal("Santé")))
    for p in poles[6:9]:                                   # uniqueLang: a second French name
        g.add((p, SKOS.prefLabel, Literal("Autre nom", lang="fr")))
        g.add((p, SKOS.prefLabel, Literal("Other name", lang="EN")))
        g.add((p, SKOS.prefLabel, Literal("Another name", lang="en")))
    for p in poles[9:12]:                                  # qualifiedMinCount: no French name
        for label in list(g.objects(p, SKOS.prefLabel)):
            if getattr(label, "language", None) == "fr":
                g.remove((p, SKOS.prefLabel, label))
                g.add((p, SKOS.prefLabel, Literal(str(label), lang="de")))
    for p in poles[12:14]:                                 # owl:sameAs: maxCount 0
        g.add((p, OWL.sameAs, poles[14]))
    labellings = _instances(g, PG.Labelling, 20, rng)
    for i, lab in enumerate(labellings):
        if i < 3:                                          # maxCount: a second phase
            g.add((lab, PG.phase, URIRef("https://w3id.org/pole-graph/def/policy-phase/2005-2008")))
            g.add((lab, PG.phase, URIRef("https://w3id.org/pole-graph/def/policy-phase/2019-2022")))
        elif i < 6:                                        # or: a date as text, an ill-typed date
            g.set((lab, PG.labelledFrom, Literal("2014") if i % 2 else Literal("2014-02-30", datatype=XSD.date)))
        elif i < 9:                                        # datatype: duration as text, ill-typed duration
            g.set((lab, PG.labelDuration, Literal("4 ans") if i % 2 else Literal("P4X", datatype=XSD.duration)))
        elif i < 12:                                       # SPARQL: dates outside the phase, ends before start
            g.set((lab, PG.labelledFrom, Literal("1990", datatype=XSD.gYear)))
            g.set((lab, PG.labelledUntil, Literal("1989-05", datatype=XSD.gYearMonth)))
        elif i < 14:                                       # class: a phase that is not a phase
            g.set((lab, PG.phase, URIRef("https://example.org/no-phase")))
        elif i < 16:                                       # minCount on a labelling
            g.remove((lab, PROV.wasDerivedFrom, None))
    orgs = _instances(g, PG.PublicBody, 6, rng) + _instances(g, ORG.FormalOrganization, 10, rng)
    for i, o in enumerate(orgs):
        if i < 3:                                          # pattern, nodeKind on a web address
            g.add((o, FOAF.homepage, URIRef("ftp://example.org/") if i % 2 else Literal("www.example.org")))
        elif i < 6:                                        # maxCount 0: org:identifier
            g.add((o, ORG.identifier, Literal(f"SIREN {i}")))
        elif i < 9:                                        # or + maxCount on a founding date
            g.add((o, SCHEMA.foundingDate, Literal(f"{1990 + i}", datatype=XSD.gYear)))
            g.add((o, SCHEMA.foundingDate, Literal("soon")))
        elif i < 11:                                       # a blank-node homepage: pattern and nodeKind
            g.add((o, FOAF.homepage, BNode()))
    concepts = _instances(g, SKOS.Concept, 12, rng)
    for c in concepts[:4]:                                 # qualifiedMinCount (fr, en): no English name
        for label in list(g.objects(c, SKOS.prefLabel)):
            if getattr(label, "language", None) == "en":
                g.remove((c, SKOS.prefLabel, label))
    for c in concepts[4:7]:
        g.add((c, SKOS.prefLabel, Literal("Doublon", lang="fr")))
    for r in _instances(g, PG.Region, 3, rng):             # pattern, maxCount on an INSEE code
        g.add((r, PG.inseeCode, Literal("123")))
        g.add((r, PG.validUntil, Literal("2016", datatype=XSD.gYear)))
    for c in _instances(g, PG.Country, 3, rng):
        g.set((c, SKOS.notation, Literal("fr")))
    for i, src in enumerate([URIRef("urn:isbn:123"), BNode(), URIRef("mailto:x@example.org")]):  # node-level
        g.add((src, RDF.type, PG.SourceDocument))
    for i, inst in enumerate(_instances(g, TIME.Instant, 6, rng)):
        if i < 2:                                          # datatype and the alternative-path counts
            g.add((inst, TIME.inXSDDate, Literal("2014-13-01", datatype=XSD.date)))
            g.add((inst, TIME.inXSDgYear, Literal("2014")))
        else:
            for p in (TIME.inXSDDate, TIME.inXSDgYearMonth, TIME.inXSDgYear):
                g.remove((inst, p, None))
    for i, m in enumerate(_instances(g, ORG.Membership, 6, rng)):
        if i < 2:                                          # SPARQL: a membership that ends before it starts
            interval, b, e = BNode(), BNode(), BNode()
            g.set((m, ORG.memberDuring, interval))
            g.add((interval, RDF.type, TIME.Interval))
            g.add((interval, TIME.hasBeginning, b))
            g.add((interval, TIME.hasEnd, e))
            g.add((b, TIME.inXSDgYear, Literal("2015", datatype=XSD.gYear)))
            g.add((e, TIME.inXSDDate, Literal("2012-01-01", datatype=XSD.date)))
        else:                                              # class, maxCount on a member
            g.add((m, ORG.member, URIRef("https://example.org/nobody")))
    observations = _instances(g, QB.Observation, 8, rng)
    for i, obs in enumerate(observations):
        if i < 2:                                          # SPARQL: a subject nothing describes
            g.set((obs, PG.subject, URIRef(f"https://example.org/undescribed/{i}")))
        elif i < 5:                                        # or: an ill-typed integer, a double
            wrong = Literal("douze", datatype=XSD.integer) if i % 2 else Literal("1.5e3", datatype=XSD.double)
            g.set((obs, PG.value, wrong))
        else:
            g.remove((obs, PG.unit, None))
    partnerships = _instances(g, PG.ClusterPartnership, 4, rng)
    for i, part in enumerate(partnerships[:2]):            # SPARQL: the same partnership twice
        twin = URIRef(str(part) + "-twin")
        for p, o in list(g.predicate_objects(part)):
            g.add((twin, p, o))
    for e in _instances(g, SCHEMA.Event, 3, rng):
        g.remove((e, SCHEMA.startDate, None))
    for c in _instances(g, ORG.ChangeEvent, 2, rng):
        g.add((c, PROV.wasDerivedFrom, URIRef("https://example.org/a")))
    for a in _instances(g, PG.Agreement, 2, rng):
        g.remove((a, PG.party, None))


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    from bench.generate import write_project

    root = tmp_path_factory.mktemp("syn") / "project"
    write_project(root, 40)  # ≈ 10k data triples
    content = load_content(Project.discover(root))
    union = content.asserted + reason_fast(content.asserted, content.ontology).graph
    mutate(union, random.Random(7))
    return content, union


def test_a_broken_synthetic_graph_gives_the_same_results(broken, monkeypatch):
    from pole_graph import shacl_sparql

    content, union = broken
    expected = validate(union, content.shapes)
    monkeypatch.setattr(shacl_sparql, "SMALL", -1)  # every check by its plan for many focus nodes
    assert_same(expected, validate_graph(union, content.shapes))
    monkeypatch.undo()                              # and by its plan for few (here: all of them)
    actual = validate_graph(union, content.shapes)
    assert_same(expected, actual)
    fired = Counter(v.component for v in actual.results)
    every = {c.component for c in compile_shapes(content.shapes).checks}
    assert set(fired) == every, every - set(fired)
    assert all(n >= 5 for n in fired.values()), fired
    assert not actual.conforms and len(actual.results) > 100
    graph = actual.graph  # the report graph carries every result
    assert len(set(graph.subjects(RDF.type, SH.ValidationResult))) == len(actual.results)
