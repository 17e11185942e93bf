"""Catalogue: the dataset's downloadable dumps and its DCAT-AP 3.0 / VoID description.

Stage *publish*, without any web framework: the server serves what these functions return.

- ``write_dumps(store, folder)`` writes the distributions (N-Triples gzip, Turtle, JSON-LD of the
  knowledge graph — asserted + inferred —, and N-Quads with its four named graphs) and a
  ``manifest.json``; ``dumps_are_current`` tells whether they still match the store, so a server
  regenerates them only when the data changes; ``read_dumps`` / ``ensure_dumps`` read them back.
- ``void_graph(store, dumps)`` is the VoID description alone (statistics, partitions, one subset per
  named graph, dumps, SPARQL endpoint) — for ``/.well-known/void``.
- ``catalogue_graph(store, dumps)`` is that VoID description plus the DCAT-AP 3.0 catalogue: the
  dcat:Catalog, the dataset (also a dcat:Dataset), one dcat:Distribution per dump and two
  dcat:DataService (the SPARQL endpoint, the stored-query API) — for ``/data/pole-graph``. It
  conforms to the official SEMIC DCAT-AP 3.0.0 shapes (shapes.ttl + range.ttl):
  ``tests/test_catalogue.py`` checks it with pySHACL.

Nothing here writes to the store or touches the network; the only files written are the dumps and
their manifest, in the folder the caller names. Every number is counted by SPARQL on the store when
the graph is made, so the description stays true after stewards add or retract records. Facts about the data itself (``void:uriSpace``, example
resources, vocabularies, graph names) use the data's own IRIs (``namespaces.BASE``); ``base`` only
moves the description's IRIs (catalogue, dataset, distributions, services, download URLs).

Two choices forced by the official 3.0.0 shapes, both documented where they are made:
``dcat:byteSize`` is typed ``xsd:decimal`` (the shapes' ``sh:datatype``; the 3.0.0 text says
``xsd:nonNegativeInteger``, SEMICeu/DCAT-AP#422, fixed in 3.0.1 — flip ``BYTE_SIZE_DATATYPE``), and
every object the range shapes check is typed with the class they expect.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import threading
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterable, NamedTuple

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, XSD

from . import __version__
from .namespaces import (
    ASSERTED_GRAPHS, BASE, DCT, FOAF, GRAPH_DATA, GRAPH_HISTORY, GRAPH_INFERRED, GRAPH_ONTOLOGY,
    GRAPH_SCHEMES, ONTOLOGY_IRI, PREFIXES, PROV, SKOS,
)
from .store import GraphStore

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
VOID = Namespace("http://rdfs.org/ns/void#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
PG_NS = PREFIXES["pg"]

EU = "http://publications.europa.eu/resource/authority/"
IANA = "https://www.iana.org/assignments/media-types/"
FORMATS = "http://www.w3.org/ns/formats/"

DUMPS_PATH = "/data/dumps/"
MANIFEST = "manifest.json"
KNOWLEDGE_GRAPHS = ASSERTED_GRAPHS + (GRAPH_INFERRED,)   # ontology, schemes, data, inferred

# The official DCAT-AP 3.0.0 shapes.ttl says ``sh:datatype xsd:decimal`` for dcat:byteSize, while the
# 3.0.0 text (after DCAT 3) says xsd:nonNegativeInteger; pySHACL matches datatypes exactly, so a
# nonNegativeInteger fails those shapes (SEMICeu/DCAT-AP issue #422, fixed in 3.0.1). We follow the
# shapes; the value is always a whole number.
BYTE_SIZE_DATATYPE = XSD.decimal

LICENCE = URIRef("https://spdx.org/licenses/etalab-2.0.html")
ACCESS_PUBLIC = URIRef(EU + "access-right/PUBLIC")
FRANCE = URIRef(EU + "country/FRA")
LANGUAGES = {"fr": URIRef(EU + "language/FRA"), "en": URIRef(EU + "language/ENG")}
THEMES = {  # EU data-theme authority table: code → (fr, en) labels
    "ECON": ("Économie et finances", "Economy and finance"),
    "GOVE": ("Gouvernement et secteur public", "Government and public sector"),
}
AVAILABILITY_STABLE = URIRef(EU + "planned-availability/STABLE")
SHA256 = SPDX.checksumAlgorithm_sha256
TEMPORAL_FALLBACK = ("2005-01-01", "2026-12-31")  # used only if the store has no dated policy phase
EXAMPLE_RESOURCES = ("pole/aerospace-valley", "org/business-france", "programme/convention-dgcis-ubifrance",
                     "partnership/cap-digital-tsb-berlin")

GRAPH_TITLES = {
    GRAPH_ONTOLOGY: ("Ontologie (OWL) : pg: et les axiomes des vocabulaires réutilisés",
                     "Ontology (OWL): pg: and the axioms of the reused vocabularies"),
    GRAPH_SCHEMES: ("Schémas de concepts SKOS (régions, thématiques, phases…)",
                    "SKOS concept schemes (regions, themes, phases…)"),
    GRAPH_DATA: ("Enregistrements affirmés, chacun avec ses sources", "Asserted records, each with its sources"),
    GRAPH_INFERRED: ("Faits déduits par raisonnement OWL 2 RL", "Facts inferred by OWL 2 RL reasoning"),
}


# ---- dumps ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dump:
    """One written distribution file.

    ``media_type`` is the file's own type, to send as HTTP Content-Type (``application/gzip`` for the
    gzipped dump); ``rdf_media_type`` is the RDF syntax inside (what dcat:mediaType says);
    ``compress_format`` is set for a compressed file. ``count`` is the number of triples (of quads for
    N-Quads: ``unit``). ``path`` is the download path, ``/data/dumps/{file}``.
    """

    file: str
    media_type: str
    byte_size: int
    sha256: str
    count: int
    unit: str
    title_fr: str
    title_en: str
    rdf_media_type: str
    compress_format: str | None
    file_type: str
    path: str

    @classmethod
    def from_dict(cls, data: dict) -> "Dump":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class _Spec:
    file: str
    fmt: ox.RdfFormat
    rdf_media_type: str
    compress_format: str | None
    file_type: str           # EU file-type authority code
    quads: bool
    title_fr: str
    title_en: str


SPECS = (
    _Spec("pole-graph.nt.gz", ox.RdfFormat.N_TRIPLES, "application/n-triples", "application/gzip", "RDF_N_TRIPLES",
          False, "Graphe complet (affirmé + déduit), N-Triples compressé (gzip)",
          "Whole graph (asserted + inferred), gzipped N-Triples"),
    _Spec("pole-graph.ttl", ox.RdfFormat.TURTLE, "text/turtle", None, "RDF_TURTLE",
          False, "Graphe complet (affirmé + déduit), Turtle", "Whole graph (asserted + inferred), Turtle"),
    _Spec("pole-graph.jsonld", ox.RdfFormat.JSON_LD, "application/ld+json", None, "JSON_LD",
          False, "Graphe complet (affirmé + déduit), JSON-LD", "Whole graph (asserted + inferred), JSON-LD"),
    _Spec("pole-graph.nq", ox.RdfFormat.N_QUADS, "application/n-quads", None, "RDF_N_QUADS",
          True, "Graphes nommés (ontologie, schémas, données, déductions), N-Quads",
          "Named graphs (ontology, schemes, data, inferred), N-Quads"),
)
FILE_TYPE_LABELS = {"RDF_N_TRIPLES": "RDF N-Triples", "RDF_TURTLE": "RDF Turtle", "JSON_LD": "JSON-LD",
                    "RDF_N_QUADS": "RDF N-Quads"}
W3C_FORMATS = {"RDF_N_TRIPLES": "N-Triples", "RDF_TURTLE": "Turtle", "JSON_LD": "JSON-LD", "RDF_N_QUADS": "N-Quads"}


def _term_key(term: object) -> str:
    return str(term)


def _triples(store: GraphStore) -> list[ox.Triple]:
    """The knowledge graph (asserted + inferred) as a set of triples, sorted (RDF merge: no duplicates)."""
    seen = set()
    for name in KNOWLEDGE_GRAPHS:
        for q in store.db.quads_for_pattern(None, None, None, ox.NamedNode(str(name))):
            seen.add(ox.Triple(q.subject, q.predicate, q.object))
    return sorted(seen, key=lambda t: (_term_key(t.subject), _term_key(t.predicate), _term_key(t.object)))


def _quads(store: GraphStore) -> list[ox.Quad]:
    out = []
    for name in KNOWLEDGE_GRAPHS:
        out.extend(store.db.quads_for_pattern(None, None, None, ox.NamedNode(str(name))))
    return out


def _sorted_lines(data: bytes) -> tuple[bytes, int]:
    lines = sorted({line for line in data.split(b"\n") if line.strip()})
    return b"".join(line + b"\n" for line in lines), len(lines)


def _render(spec: _Spec, triples: list[ox.Triple], quads: list[ox.Quad]) -> tuple[bytes, int]:
    """The file's bytes and its number of triples (quads); the same store gives the same bytes."""
    if spec.quads:
        return _sorted_lines(ox.serialize(quads, format=ox.RdfFormat.N_QUADS))
    if spec.fmt == ox.RdfFormat.N_TRIPLES:
        body, n = _sorted_lines(ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES))
        buf = io.BytesIO()
        # No file name and mtime 0 in the gzip header: same content, same bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
            gz.write(body)
        return buf.getvalue(), n
    if spec.fmt == ox.RdfFormat.JSON_LD:
        expanded = json.loads(ox.serialize(triples, format=ox.RdfFormat.JSON_LD))
        return (json.dumps(expanded, ensure_ascii=False, indent=1) + "\n").encode("utf-8"), len(triples)
    return ox.serialize(triples, format=spec.fmt, prefixes=PREFIXES), len(triples)


def data_version(store: GraphStore) -> dict:
    """What identifies the data a dump was made from: the build (``written``, ``content_sha256``),
    the last SPARQL update (``updated``) and triples per graph, history included — a steward's
    commit adds to graph/history even when it leaves build.json alone."""
    counts = {}
    for name in KNOWLEDGE_GRAPHS + (GRAPH_HISTORY,):
        q = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}"
        counts[str(name)] = int(next(iter(store.query(q)))["n"].value)
    info = store.info or {}
    return {"written": info.get("written"), "updated": info.get("updated"),
            "content_sha256": info.get("content_sha256"), "counts": counts}


_write_lock = threading.Lock()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_dumps(store: GraphStore, folder: Path) -> list[Dump]:
    """Write the four distributions and ``manifest.json`` into ``folder`` (created if needed).

    Each file is written beside its target and renamed into place, the manifest last, so a reader
    never sees a half-written file or a manifest that does not match the files.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    version = data_version(store)
    triples, quads = _triples(store), _quads(store)
    dumps = []
    with _write_lock:
        for spec in SPECS:
            data, count = _render(spec, triples, quads)
            _write_atomic(folder / spec.file, data)
            dumps.append(Dump(
                file=spec.file, media_type=spec.compress_format or spec.rdf_media_type, byte_size=len(data),
                sha256=hashlib.sha256(data).hexdigest(), count=count, unit="quads" if spec.quads else "triples",
                title_fr=spec.title_fr, title_en=spec.title_en, rdf_media_type=spec.rdf_media_type,
                compress_format=spec.compress_format, file_type=spec.file_type, path=DUMPS_PATH + spec.file))
        manifest = {"generator": f"pole-graph {__version__}", "version": version,
                    "dumps": [asdict(d) for d in dumps]}
        _write_atomic(folder / MANIFEST, (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    return dumps


def _manifest(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_dumps(folder: Path) -> list[Dump]:
    """The dumps recorded in ``folder/manifest.json`` (empty if there is none)."""
    manifest = _manifest(folder)
    return [Dump.from_dict(d) for d in (manifest or {}).get("dumps", [])]


def dumps_are_current(store: GraphStore, folder: Path) -> bool:
    """True when ``folder`` holds every dump, made from the store's current data."""
    manifest = _manifest(folder)
    if not manifest or manifest.get("version") != data_version(store):
        return False
    files = {d.get("file"): d for d in manifest.get("dumps", [])}
    if set(files) != {s.file for s in SPECS}:
        return False
    for name, entry in files.items():
        path = Path(folder) / name
        if not path.is_file() or path.stat().st_size != entry.get("byte_size"):
            return False
    return True


def ensure_dumps(store: GraphStore, folder: Path) -> list[Dump]:
    """The dumps in ``folder``, written first if missing or stale."""
    if dumps_are_current(store, folder):
        return read_dumps(folder)
    return write_dumps(store, folder)


# ---- statistics (SPARQL on the store) ------------------------------------------------------------

def _one(store: GraphStore, sparql: str) -> int:
    return int(next(iter(store.query(sparql)))["n"].value)


@dataclass(frozen=True)
class Statistics:
    """VoID numbers of the knowledge graph (asserted + inferred, as an RDF merge)."""

    triples: int
    entities: int
    distinct_subjects: int
    distinct_objects: int
    properties: int
    classes: int
    class_partitions: tuple[tuple[str, int], ...]                # (class IRI, entities)
    property_partitions: tuple[tuple[str, int, int, int], ...]   # (property IRI, triples, subjects, objects)
    subsets: tuple[tuple[str, int], ...]                         # (graph IRI, triples)
    vocabularies: tuple[str, ...]
    examples: tuple[str, ...]
    poles: int
    temporal: tuple[str, str]
    modified: datetime | None
    issued: date | None


DISTINCT = "{ SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }"


def statistics(store: GraphStore) -> Statistics:
    uri_space = BASE + "id/"
    triples = _one(store, f"SELECT (COUNT(*) AS ?n) WHERE {DISTINCT}")
    row = next(iter(store.query(
        "SELECT (COUNT(DISTINCT ?s) AS ?s_) (COUNT(DISTINCT ?o) AS ?o_) (COUNT(DISTINCT ?p) AS ?p_) "
        "WHERE { ?s ?p ?o }")))
    entities = _one(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o "
                           f"FILTER(isIRI(?s) && STRSTARTS(STR(?s), \"{uri_space}\")) }}")
    classes = sorted(((r["c"].value, int(r["n"].value)) for r in store.query(
        "SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?c FILTER(isIRI(?c)) } GROUP BY ?c")))
    props = sorted(((r["p"].value, int(r["n"].value), int(r["ns"].value), int(r["no"].value)) for r in store.query(
        "SELECT ?p (COUNT(*) AS ?n) (COUNT(DISTINCT ?s) AS ?ns) (COUNT(DISTINCT ?o) AS ?no) "
        f"WHERE {DISTINCT} GROUP BY ?p")))
    subsets = tuple((str(g), _one(store, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{g}> {{ ?s ?p ?o }} }}"))
                    for g in KNOWLEDGE_GRAPHS)
    vocabularies = set()
    for iri in [c for c, _ in classes] + [p for p, *_ in props]:
        match = re.match(r"^(.*[#/])[^#/]+$", iri)
        if match:
            ns = match.group(1)
            vocabularies.add(str(ONTOLOGY_IRI) if ns == PG_NS else ns)
    examples = tuple(BASE + "id/" + key for key in EXAMPLE_RESOURCES
                     if store.query(f"ASK {{ <{BASE}id/{key}> ?p ?o }}"))
    poles = _one(store, f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s a <{PG_NS}CompetitivenessCluster> }}")
    span = next(iter(store.query(
        f"SELECT (MIN(?b) AS ?start) (MAX(?e) AS ?end) WHERE {{ ?p a <{PG_NS}PolicyPhase> ; "
        f"<{PG_NS}validFrom> ?b ; <{PG_NS}validUntil> ?e }}")))
    start = span["start"].value if span["start"] is not None else TEMPORAL_FALLBACK[0]
    end = span["end"].value if span["end"] is not None else TEMPORAL_FALLBACK[1]
    issued, modified = _dates(store)
    return Statistics(
        triples=triples, entities=entities, distinct_subjects=int(row["s_"].value),
        distinct_objects=int(row["o_"].value), properties=int(row["p_"].value), classes=len(classes),
        class_partitions=tuple(classes), property_partitions=tuple(props), subsets=subsets,
        vocabularies=tuple(sorted(vocabularies)), examples=examples, poles=poles, temporal=(start, end),
        modified=modified, issued=issued)


def _parse_time(text: str | None) -> datetime | None:
    """A timestamp of build.json or graph/history (``%Y-%m-%dT%H:%M:%S%z``, ``Z``, ``+00:00``)."""
    if not text:
        return None
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+0000"
    text = re.sub(r"([+-]\d\d):(\d\d)$", r"\1\2", text)
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S"):
        try:
            value = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


def _dates(store: GraphStore) -> tuple[date | None, datetime | None]:
    """Issued: the day the store was built (this release of the data). Modified: the latest change —
    the build, a SPARQL update or a steward's commit (graph/history)."""
    info = store.info or {}
    written = _parse_time(info.get("written"))
    times = [t for t in (written, _parse_time(info.get("updated"))) if t]
    for r in store.query(f"SELECT ?t WHERE {{ GRAPH <{GRAPH_HISTORY}> {{ ?a <{PROV}startedAtTime> ?t }} }}"):
        t = _parse_time(r["t"].value)
        if t:
            times.append(t)
    modified = max(times) if times else None
    issued = written.date() if written else (modified.date() if modified else None)
    return issued, modified


# ---- the RDF description -------------------------------------------------------------------------

def _stable_bnode(*parts: str) -> BNode:
    """A blank node whose label depends only on what it stands for, so the description serialises
    the same way each time for the same data."""
    return BNode("n" + hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()[:16])


def _both(g: Graph, s, p, fr: str, en: str) -> None:
    g.add((s, p, Literal(fr, lang="fr")))
    g.add((s, p, Literal(en, lang="en")))


class _Iris:
    def __init__(self, base: str) -> None:
        base = base if base.endswith("/") else base + "/"
        self.base = base
        self.catalogue = URIRef(base + "data/catalogue")
        self.dataset = URIRef(base + "data/pole-graph")
        self.publisher = URIRef(base + "data/pole-graph#publisher")
        self.home = URIRef(base)
        self.sparql = URIRef(base + "sparql")
        self.api = URIRef(base + "api/queries")
        self.openapi = URIRef(base + "openapi.json")
        self.description = URIRef(base + ".well-known/void")

    def distribution(self, dump: Dump) -> URIRef:
        return URIRef(f"{self.base}data/pole-graph#dump-{dump.file.removeprefix('pole-graph.').replace('.', '-')}")

    def download(self, dump: Dump) -> URIRef:
        return URIRef(self.base + dump.path.lstrip("/"))


def _new_graph() -> Graph:
    g = Graph()
    for prefix, ns in (("dcat", DCAT), ("dct", DCT), ("void", VOID), ("foaf", FOAF), ("skos", SKOS),
                       ("spdx", SPDX), ("dcatap", DCATAP), ("xsd", XSD), ("prov", PROV), ("adms", ADMS)):
        g.bind(prefix, ns, override=True)
    g.bind("pg", Namespace(PG_NS))
    g.bind("graph", Namespace(BASE + "graph/"))
    return g


def _describe_shared(g: Graph, iris: _Iris) -> None:
    """The objects the DCAT-AP range shapes check, typed with the class they expect."""
    g.add((iris.publisher, RDF.type, FOAF.Agent))
    g.add((iris.publisher, FOAF.name, Literal("pole-graph")))
    g.add((iris.publisher, FOAF.homepage, iris.home))
    g.add((iris.home, RDF.type, FOAF.Document))

    g.add((LICENCE, RDF.type, DCT.LicenseDocument))
    g.add((LICENCE, DCT.title, Literal("Licence Ouverte / Etalab 2.0", lang="fr")))
    g.add((LICENCE, DCT.title, Literal("Open Licence / Etalab 2.0", lang="en")))
    g.add((LICENCE, DCT.identifier, Literal("etalab-2.0")))
    attribution = URIRef("http://purl.org/adms/licencetype/Attribution")
    g.add((LICENCE, DCT.type, attribution))
    _concept(g, attribution, "http://purl.org/adms/licencetype/1.0", "Attribution", "Attribution")


def _concept(g: Graph, iri: URIRef, scheme: str, fr: str, en: str, *types: URIRef) -> None:
    g.add((iri, RDF.type, SKOS.Concept))
    for t in types:
        g.add((iri, RDF.type, t))
    g.add((iri, SKOS.inScheme, URIRef(scheme)))
    _both(g, iri, SKOS.prefLabel, fr, en)


def void_graph(store: GraphStore, dumps: Iterable[Dump], base: str = BASE, *,
               stats: Statistics | None = None) -> Graph:
    """The VoID description of the dataset, alone: what ``/.well-known/void`` serves.

    ``{base}data/pole-graph`` is a void:Dataset with its statistics (void:triples … counted by SPARQL
    on the store), one class partition per class and one property partition per property (blank
    nodes), one void:subset per named graph of the knowledge graph (the graph's own IRI, with its
    triples), its dumps (void:dataDump), SPARQL endpoint, URI space, vocabularies and example
    resources. ``{base}.well-known/void`` is the void:DatasetDescription document.
    """
    stats = stats or statistics(store)
    iris = _Iris(base)
    g = _new_graph()
    ds = iris.dataset
    _describe_shared(g, iris)

    g.add((iris.description, RDF.type, VOID.DatasetDescription))
    _both(g, iris.description, DCT.title, "Description VoID du graphe pole-graph", "VoID description of the pole-graph dataset")
    g.add((iris.description, FOAF.primaryTopic, ds))

    g.add((ds, RDF.type, VOID.Dataset))
    _both(g, ds, DCT.title, "Pôles de compétitivité — graphe de connaissances",
          "French competitiveness clusters (pôles de compétitivité) — knowledge graph")
    _both(g, ds, DCT.description, *_dataset_description(stats))
    g.add((ds, DCT.publisher, iris.publisher))
    g.add((ds, DCT.license, LICENCE))
    if stats.issued:
        g.add((ds, DCT.issued, Literal(stats.issued, datatype=XSD.date)))
    if stats.modified:
        g.add((ds, DCT.modified, Literal(stats.modified, datatype=XSD.dateTime)))
    g.add((ds, VOID.sparqlEndpoint, iris.sparql))
    g.add((ds, VOID.uriSpace, Literal(BASE + "id/")))
    for vocabulary in stats.vocabularies:
        g.add((ds, VOID.vocabulary, URIRef(vocabulary)))
    for example in stats.examples:
        g.add((ds, VOID.exampleResource, URIRef(example)))
    for dump in dumps:
        g.add((ds, VOID.dataDump, iris.download(dump)))
        g.add((ds, VOID.feature, URIRef(FORMATS + W3C_FORMATS.get(dump.file_type, dump.file_type))))

    g.add((ds, VOID.triples, Literal(stats.triples)))
    g.add((ds, VOID.entities, Literal(stats.entities)))
    g.add((ds, VOID.distinctSubjects, Literal(stats.distinct_subjects)))
    g.add((ds, VOID.distinctObjects, Literal(stats.distinct_objects)))
    g.add((ds, VOID.properties, Literal(stats.properties)))
    g.add((ds, VOID.classes, Literal(stats.classes)))
    for cls, n in stats.class_partitions:
        part = _stable_bnode("class", cls)
        g.add((ds, VOID.classPartition, part))
        g.add((part, VOID["class"], URIRef(cls)))
        g.add((part, VOID.entities, Literal(n)))
    for prop, n, subjects, objects in stats.property_partitions:
        part = _stable_bnode("property", prop)
        g.add((ds, VOID.propertyPartition, part))
        g.add((part, VOID.property, URIRef(prop)))
        g.add((part, VOID.triples, Literal(n)))
        g.add((part, VOID.distinctSubjects, Literal(subjects)))
        g.add((part, VOID.distinctObjects, Literal(objects)))
    for graph_iri, n in stats.subsets:
        subset = URIRef(graph_iri)
        g.add((ds, VOID.subset, subset))
        g.add((subset, RDF.type, VOID.Dataset))
        fr, en = GRAPH_TITLES.get(URIRef(graph_iri), (graph_iri, graph_iri))
        _both(g, subset, DCT.title, fr, en)
        g.add((subset, VOID.triples, Literal(n)))
        g.add((subset, VOID.sparqlEndpoint, iris.sparql))
    return g


def _dataset_description(stats: Statistics) -> tuple[str, str]:
    fr = (f"Graphe de connaissances en données liées des pôles de compétitivité français : les {stats.poles} pôles "
          "labellisés depuis 2005 et leurs labellisations par phase de la politique, les clusters étrangers avec "
          "lesquels ils coopèrent, les administrations, agences et banques publiques qui les pilotent et les "
          "financent (DGCIS puis DGE, Ubifrance puis Business France, Bpifrance, Commission européenne…), les "
          "programmes et dispositifs, les événements, les personnes dans leurs fonctions et les chiffres publiés. "
          "Chaque fait renvoie à la page web où il a été lu. Les faits déduits par raisonnement OWL 2 RL sont "
          "publiés à part, dans le graphe nommé graph/inferred.")
    en = (f"Linked-data knowledge graph of the French competitiveness clusters (pôles de compétitivité): the "
          f"{stats.poles} pôles labelled since 2005 and their labellings per policy phase, the foreign clusters "
          "they partner with, the ministries, directorates, agencies and public banks that steer and fund them "
          "(DGCIS then DGE, Ubifrance then Business France, Bpifrance, the European Commission…), programmes and "
          "schemes, events, people in their roles and published figures. Every fact points to the web page it "
          "was read in. Facts inferred by OWL 2 RL reasoning are published apart, in the named graph "
          "graph/inferred.")
    return fr, en


KEYWORDS = (
    ("pôles de compétitivité", "competitiveness clusters"),
    ("clusters", "clusters"),
    ("politique industrielle", "industrial policy"),
    ("internationalisation", "internationalisation"),
    ("innovation", "innovation"),
    ("graphe de connaissances", "knowledge graph"),
    ("données ouvertes liées", "linked open data"),
)


def catalogue_graph(store: GraphStore, dumps: list[Dump], base: str = BASE) -> Graph:
    """The DCAT-AP 3.0 catalogue (with the VoID description of ``void_graph``): what
    ``/data/pole-graph`` serves. Conforms to the SEMIC DCAT-AP 3.0.0 shapes.ttl and range.ttl."""
    dumps = list(dumps)
    stats = statistics(store)
    g = void_graph(store, dumps, base, stats=stats)
    iris = _Iris(base)
    ds, cat = iris.dataset, iris.catalogue

    # Controlled vocabularies (EU authority tables, IANA), typed as the range shapes expect.
    _concept(g, ACCESS_PUBLIC, EU + "access-right", "public", "public", DCT.RightsStatement)
    _concept(g, FRANCE, EU + "country", "France", "France", DCT.Location)
    _concept(g, LANGUAGES["fr"], EU + "language", "français", "French", DCT.LinguisticSystem)
    _concept(g, LANGUAGES["en"], EU + "language", "anglais", "English", DCT.LinguisticSystem)
    _concept(g, AVAILABILITY_STABLE, EU + "planned-availability", "stable", "stable")
    theme_scheme = URIRef(EU + "data-theme")
    g.add((theme_scheme, RDF.type, SKOS.ConceptScheme))
    _both(g, theme_scheme, DCT.title, "Thèmes des données (table d'autorité de l'UE)", "Data theme (EU authority table)")
    for code, (fr, en) in THEMES.items():
        _concept(g, URIRef(EU + "data-theme/" + code), EU + "data-theme", fr, en)
    ontology = URIRef(str(ONTOLOGY_IRI))
    g.add((ontology, RDF.type, DCT.Standard))
    _both(g, ontology, DCT.title, "Ontologie pole-graph (pg:)", "pole-graph ontology (pg:)")
    sparql_protocol = URIRef("https://www.w3.org/TR/sparql11-protocol/")
    g.add((sparql_protocol, RDF.type, DCT.Standard))
    g.add((sparql_protocol, DCT.title, Literal("SPARQL 1.1 Protocol", lang="en")))

    # The catalogue.
    g.add((cat, RDF.type, DCAT.Catalog))
    _both(g, cat, DCT.title, "Catalogue de données pole-graph", "pole-graph data catalogue")
    _both(g, cat, DCT.description,
          "Les données publiées par pole-graph : le graphe de connaissances des pôles de compétitivité, ses "
          "téléchargements, son point d'accès SPARQL et son API de requêtes enregistrées.",
          "The data published by pole-graph: the knowledge graph of the French competitiveness clusters, its "
          "downloads, its SPARQL endpoint and its stored-query API.")
    g.add((cat, DCT.publisher, iris.publisher))
    g.add((cat, DCT.license, LICENCE))
    g.add((cat, FOAF.homepage, iris.home))
    g.add((cat, DCT.spatial, FRANCE))
    g.add((cat, DCAT.themeTaxonomy, theme_scheme))
    for lang in LANGUAGES.values():
        g.add((cat, DCT.language, lang))
    g.add((cat, DCAT.dataset, ds))
    g.add((cat, DCAT.service, iris.sparql))
    g.add((cat, DCAT.service, iris.api))
    if stats.issued:
        g.add((cat, DCT.issued, Literal(stats.issued, datatype=XSD.date)))
    if stats.modified:
        g.add((cat, DCT.modified, Literal(stats.modified, datatype=XSD.dateTime)))

    # The dataset (already the void:Dataset, with title, description, publisher, licence, dates).
    g.add((ds, RDF.type, DCAT.Dataset))
    g.add((ds, DCT.identifier, Literal(str(ds))))
    g.add((ds, DCT.accessRights, ACCESS_PUBLIC))
    g.add((ds, DCT.conformsTo, ontology))
    g.add((ds, DCT.spatial, FRANCE))
    for lang in LANGUAGES.values():
        g.add((ds, DCT.language, lang))
    period = _stable_bnode("temporal", *stats.temporal)
    g.add((ds, DCT.temporal, period))
    g.add((period, RDF.type, DCT.PeriodOfTime))
    g.add((period, DCAT.startDate, Literal(stats.temporal[0], datatype=XSD.date)))
    g.add((period, DCAT.endDate, Literal(stats.temporal[1], datatype=XSD.date)))
    for fr, en in KEYWORDS:
        _both(g, ds, DCAT.keyword, fr, en)
    for code in THEMES:
        g.add((ds, DCAT.theme, URIRef(EU + "data-theme/" + code)))
    g.add((ds, DCAT.landingPage, iris.home))
    provenance = _stable_bnode("provenance")
    g.add((ds, DCT.provenance, provenance))
    g.add((provenance, RDF.type, DCT.ProvenanceStatement))
    _both(g, provenance, DCT.description,
          "Chaque enregistrement cite les pages web où ses faits ont été lus (prov:wasDerivedFrom, dct:source). "
          "Les faits déduits (OWL 2 RL) sont dans graph/inferred, jamais mêlés aux faits affirmés. Les ajouts et "
          "retraits des gestionnaires sont consignés en PROV-O.",
          "Each record cites the web pages its facts were read in (prov:wasDerivedFrom, dct:source). Inferred "
          "facts (OWL 2 RL) are in graph/inferred, never mixed with asserted ones. Stewards' additions and "
          "retractions are recorded in PROV-O.")

    # One distribution per dump.
    for dump in dumps:
        dist, url = iris.distribution(dump), iris.download(dump)
        g.add((ds, DCAT.distribution, dist))
        g.add((dist, RDF.type, DCAT.Distribution))
        _both(g, dist, DCT.title, dump.title_fr, dump.title_en)
        unit_fr = "quadruplets" if dump.unit == "quads" else "triplets"
        _both(g, dist, DCT.description,
              f"{dump.count} {unit_fr}, triés ; régénéré à chaque changement des données.",
              f"{dump.count} {dump.unit}, sorted; regenerated whenever the data changes.")
        g.add((dist, DCAT.accessURL, url))
        g.add((dist, DCAT.downloadURL, url))
        file_type = URIRef(EU + "file-type/" + dump.file_type)
        g.add((dist, DCT["format"], file_type))
        label = FILE_TYPE_LABELS.get(dump.file_type, dump.file_type)
        _concept(g, file_type, EU + "file-type", label, label, DCT.MediaTypeOrExtent)
        media = URIRef(IANA + dump.rdf_media_type)
        g.add((dist, DCAT.mediaType, media))
        g.add((media, RDF.type, DCT.MediaType))
        if dump.compress_format:
            compress = URIRef(IANA + dump.compress_format)
            g.add((dist, DCAT.compressFormat, compress))
            g.add((compress, RDF.type, DCT.MediaType))
        g.add((dist, DCAT.byteSize, Literal(str(dump.byte_size), datatype=BYTE_SIZE_DATATYPE)))
        checksum = _stable_bnode("checksum", dump.file, dump.sha256)
        g.add((dist, SPDX.checksum, checksum))
        g.add((checksum, RDF.type, SPDX.Checksum))
        g.add((checksum, SPDX.algorithm, SHA256))
        g.add((checksum, SPDX.checksumValue, Literal(dump.sha256, datatype=XSD.hexBinary)))
        g.add((dist, DCT.license, LICENCE))
        g.add((dist, DCATAP.availability, AVAILABILITY_STABLE))
        g.add((dist, DCT.conformsTo, ontology))
        if stats.modified:
            g.add((dist, DCT.modified, Literal(stats.modified, datatype=XSD.dateTime)))
    g.add((SHA256, RDF.type, SPDX.ChecksumAlgorithm))

    # The data services.
    for service, fr, en, dfr, den, endpoint, description in (
        (iris.sparql, "Point d'accès SPARQL du graphe pole-graph", "pole-graph SPARQL endpoint",
         "SPARQL 1.1 (protocole W3C) en lecture sur le graphe de connaissances (affirmé + déduit) ; les graphes "
         "nommés restent accessibles avec GRAPH. Sans requête, le point d'accès décrit son service (SPARQL 1.1 "
         "Service Description).",
         "Read-only SPARQL 1.1 (W3C protocol) over the knowledge graph (asserted + inferred); the named graphs "
         "stay reachable with GRAPH. Without a query, the endpoint returns its SPARQL 1.1 Service Description.",
         iris.sparql, iris.sparql),
        (iris.api, "API des requêtes enregistrées de pole-graph", "pole-graph stored-query API",
         "Requêtes SPARQL enregistrées et paramétrées (pôles, partenariats, acteurs, chiffres, fonctions, "
         "événements, filiations, sources), résultats en JSON, CSV, TSV ou XML ; décrite en OpenAPI.",
         "Stored, parameterised SPARQL queries (clusters, partnerships, actors, figures, roles, events, lineage, "
         "sources), results in JSON, CSV, TSV or XML; described in OpenAPI.",
         iris.api, iris.openapi),
    ):
        g.add((service, RDF.type, DCAT.DataService))
        _both(g, service, DCT.title, fr, en)
        _both(g, service, DCT.description, dfr, den)
        g.add((service, DCAT.endpointURL, endpoint))
        g.add((service, DCAT.endpointDescription, description))
        g.add((service, DCAT.servesDataset, ds))
        g.add((service, DCT.publisher, iris.publisher))
        g.add((service, DCT.license, LICENCE))
        g.add((service, DCT.accessRights, ACCESS_PUBLIC))
        for code in THEMES:
            g.add((service, DCAT.theme, URIRef(EU + "data-theme/" + code)))
        _both(g, service, DCAT.keyword, "pôles de compétitivité", "competitiveness clusters")
    g.add((iris.sparql, DCT.conformsTo, sparql_protocol))
    _both(g, iris.sparql, DCAT.keyword, "SPARQL", "SPARQL")
    _both(g, iris.api, DCAT.keyword, "requêtes enregistrées", "stored queries")
    return g


# ---- conformance ---------------------------------------------------------------------------------

DCAT_AP_SHAPES = ("shapes.ttl", "range.ttl")


class Conformance(NamedTuple):
    """pySHACL's answer, named: ``conforms``, the report ``graph`` and its ``text``."""

    conforms: bool
    graph: Graph
    text: str


def conformance(graph: Graph, shapes_folder: Path, files: Iterable[str] = DCAT_AP_SHAPES) -> Conformance:
    """Validate ``graph`` with pySHACL against shape files of ``shapes_folder``.

    Args:
        graph: a description, e.g. ``catalogue_graph(store, dumps)``.
        shapes_folder: the folder of the official SEMIC DCAT-AP 3.0.0 files.
        files: which of them; shapes.ttl (cardinalities, datatypes) and range.ttl (classes of the
            objects) by default. shapes_recommended.ttl gives warnings only.
    Returns:
        a ``Conformance``; warnings do not make it fail, violations do.

    No inference (``inference="none"``): every object the range shapes check must carry its class,
    which ``catalogue_graph`` writes.
    """
    from pyshacl import validate

    shapes = Graph()
    for name in files:
        shapes.parse(Path(shapes_folder) / name, format="turtle")
    conforms, report, text = validate(graph, shacl_graph=shapes, inference="none", advanced=True,
                                      abort_on_first=False, allow_warnings=True)
    return Conformance(bool(conforms), report, text)
