"""Namespaces and IRIs: the one place where vocabulary terms and IRI patterns are written.

``PG`` is a closed namespace: a misspelt term is an AttributeError at import time, not a silent
new IRI. tests/test_ontology.py fails when it drifts from ontology/core.ttl.
"""

from __future__ import annotations

from rdflib import Namespace, URIRef
from rdflib.namespace import DefinedNamespace

BASE = "https://w3id.org/pole-graph/"
ID = Namespace(BASE + "id/")
DEF = Namespace(BASE + "def/")
GRAPH = Namespace(BASE + "graph/")
SHAPES = Namespace(BASE + "def/shapes#")
ONTOLOGY_IRI = URIRef(BASE + "def/core")

ORG = Namespace("http://www.w3.org/ns/org#")
PROV = Namespace("http://www.w3.org/ns/prov#")
TIME = Namespace("http://www.w3.org/2006/time#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
QB = Namespace("http://purl.org/linked-data/cube#")
CV = Namespace("http://data.europa.eu/m8g/")
FOAF = Namespace("http://xmlns.com/foaf/0.1/")
DCT = Namespace("http://purl.org/dc/terms/")
SCHEMA = Namespace("http://schema.org/")
SH = Namespace("http://www.w3.org/ns/shacl#")
VANN = Namespace("http://purl.org/vocab/vann/")
RDF = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
RDFS = Namespace("http://www.w3.org/2000/01/rdf-schema#")
OWL = Namespace("http://www.w3.org/2002/07/owl#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")

PREFIXES: dict[str, str] = {
    "pg": BASE + "def/core#",
    "graph": BASE + "graph/",
    "id": BASE + "id/",
    "def": BASE + "def/",
    "org": str(ORG), "prov": str(PROV), "time": str(TIME), "skos": str(SKOS), "qb": str(QB),
    "cv": str(CV), "foaf": str(FOAF), "dct": str(DCT), "schema": str(SCHEMA), "sh": str(SH),
    "rdf": str(RDF), "rdfs": str(RDFS), "owl": str(OWL), "xsd": str(XSD),
}

# Named graphs of the store.
GRAPH_ONTOLOGY = GRAPH.ontology    # ontology/*.ttl: OWL core, alignments, restated external axioms
GRAPH_SCHEMES = GRAPH.schemes      # ontology/schemes/*.ttl: SKOS concept schemes
GRAPH_SHAPES = GRAPH.shapes        # ontology/shapes/*.ttl: SHACL shapes (not reasoned over)
GRAPH_DATA = GRAPH.data            # data/: the asserted records
GRAPH_INFERRED = GRAPH.inferred    # OWL 2 RL consequences, never mixed into the asserted graphs
GRAPH_INDEX = GRAPH["index"]       # folded names (pg:foldedName) for lookups, derived by the build
GRAPH_HISTORY = GRAPH.history      # PROV-O record of the stewards' additions and retractions
ASSERTED_GRAPHS = (GRAPH_ONTOLOGY, GRAPH_SCHEMES, GRAPH_DATA)


class PG(DefinedNamespace):
    """Terms of the pole-graph core ontology (https://w3id.org/pole-graph/def/core#)."""

    _NS = Namespace(BASE + "def/core#")
    _fail = True

    Absorption: URIRef
    Agreement: URIRef
    Cluster: URIRef
    ClusterPartnership: URIRef
    CompetitivenessCluster: URIRef
    Contribution: URIRef
    Country: URIRef
    Directorate: URIRef
    Dissolution: URIRef
    EUBody: URIRef
    EnterpriseSizeClass: URIRef
    ForeignCluster: URIRef
    Indicator: URIRef
    InterministerialBody: URIRef
    Labelling: URIRef
    LabellingDecision: URIRef
    Merger: URIRef
    Ministry: URIRef
    PoleCategory: URIRef
    Policy: URIRef
    PolicyPhase: URIRef
    Programme: URIRef
    PublicAgency: URIRef
    PublicBank: URIRef
    PublicBody: URIRef
    RecordAddition: URIRef
    RecordChange: URIRef
    RecordRetraction: URIRef
    Region: URIRef
    Renaming: URIRef
    Restructuring: URIRef
    Session: URIRef
    SourceDocument: URIRef
    StrategicAxis: URIRef
    Strategy: URIRef
    SupportScheme: URIRef
    Theme: URIRef
    Unit: URIRef
    ValueQualifier: URIRef
    Workshop: URIRef
    WorldRegion: URIRef
    acronym: URIRef
    axis: URIRef
    axisOf: URIRef
    category: URIRef
    city: URIRef
    contributionRole: URIRef
    contributor: URIRef
    country: URIRef
    decision: URIRef
    enterpriseSize: URIRef
    event: URIRef
    figuresStructure: URIRef
    fileChecksum: URIRef
    foldedName: URIRef
    formerName: URIRef
    funder: URIRef
    hadContribution: URIRef
    hasPartnership: URIRef
    hasPhase: URIRef
    indicator: URIRef
    inseeCode: URIRef
    labelDuration: URIRef
    labelName: URIRef
    labelledCluster: URIRef
    labelledFrom: URIRef
    labelledUntil: URIRef
    labelling: URIRef
    legalBasis: URIRef
    locality: URIRef
    maxBalanceSheetEUR: URIRef
    maxHeadcount: URIRef
    maxTurnoverEUR: URIRef
    mentions: URIRef
    operator: URIRef
    participant: URIRef
    partner: URIRef
    partnerOf: URIRef
    party: URIRef
    phase: URIRef
    pole: URIRef
    predecessor: URIRef
    refPeriod: URIRef
    region: URIRef
    replacedBy: URIRef
    replaces: URIRef
    steeredBy: URIRef
    subject: URIRef
    submittedFile: URIRef
    successor: URIRef
    superior: URIRef
    theme: URIRef
    themeDescription: URIRef
    unit: URIRef
    validFrom: URIRef
    validUntil: URIRef
    value: URIRef
    valueQualifier: URIRef

def thing(kind: str, key: str) -> URIRef:
    """IRI of a thing: ``id/{kind}/{key}``.

    >>> thing("pole", "aerospace-valley")
    rdflib.term.URIRef('https://w3id.org/pole-graph/id/pole/aerospace-valley')
    """
    return URIRef(f"{BASE}id/{kind}/{key}")


def concept(scheme: str, code: str) -> URIRef:
    """IRI of a concept of a SKOS scheme: ``def/{scheme}/{code}``."""
    return URIRef(f"{BASE}def/{scheme}/{code}")


def scheme(name: str) -> URIRef:
    return URIRef(f"{BASE}def/{name}")


def shorten(iri: str) -> str:
    """Compact an IRI with the project prefixes, for tables and messages.

    >>> shorten("https://w3id.org/pole-graph/id/pole/aerospace-valley")
    'id:pole/aerospace-valley'
    """
    best = ""
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and len(ns) > len(PREFIXES.get(best, "")):
            best = prefix
    return f"{best}:{iri[len(PREFIXES[best]):]}" if best else iri
