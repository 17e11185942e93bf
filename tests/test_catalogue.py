"""The dataset's catalogue: dumps that parse back to what they claim, a DCAT-AP 3.0 description that
conforms to the official SEMIC shapes (and fails them when broken), VoID numbers equal to SPARQL counts."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF

from pole_graph import catalogue as cat
from pole_graph.namespaces import (
    BASE, DCT, SH, GRAPH_DATA, GRAPH_INFERRED, GRAPH_ONTOLOGY, GRAPH_SCHEMES, PG,
)
from pole_graph.store import GraphStore

DCAT_AP = Path(__file__).resolve().parent.parent.parent / "shared" / "dcat-ap-3.0.0"
DCAT, VOID, SPDX = cat.DCAT, cat.VOID, cat.SPDX
XSD_DATE = URIRef("http://www.w3.org/2001/XMLSchema#date")
XSD_DATETIME = URIRef("http://www.w3.org/2001/XMLSchema#dateTime")
XSD_NNI = URIRef("http://www.w3.org/2001/XMLSchema#nonNegativeInteger")
DATASET = URIRef(BASE + "data/pole-graph")
KNOWLEDGE = (GRAPH_ONTOLOGY, GRAPH_SCHEMES, GRAPH_DATA, GRAPH_INFERRED)


def count(store: GraphStore, sparql: str) -> int:
    return int(next(iter(store.query(sparql)))["n"].value)


@pytest.fixture(scope="module")
def dumps_folder(store, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dumps")
    cat.write_dumps(store, folder)
    return folder


@pytest.fixture(scope="module")
def dumps(dumps_folder):
    return cat.read_dumps(dumps_folder)


@pytest.fixture(scope="module")
def catalogue_graph(store, dumps) -> Graph:
    return cat.catalogue_graph(store, dumps)


def need_shapes() -> None:
    if not (DCAT_AP / "shapes.ttl").exists():
        pytest.skip(f"official DCAT-AP 3.0.0 shapes not found in {DCAT_AP}")


# ---- (a) conformance to the official DCAT-AP 3.0.0 shapes ----------------------------------------

def test_catalogue_conforms_to_dcat_ap_3_shapes(catalogue_graph):
    need_shapes()
    conforms, _, text = cat.conformance(catalogue_graph, DCAT_AP, ("shapes.ttl", "range.ttl"))
    assert conforms, text


def test_catalogue_has_the_mandatory_and_recommended_parts(catalogue_graph):
    g = catalogue_graph
    catalog = URIRef(BASE + "data/catalogue")
    assert (catalog, RDF.type, DCAT.Catalog) in g and (catalog, DCAT.dataset, DATASET) in g
    assert {(DATASET, RDF.type, DCAT.Dataset), (DATASET, RDF.type, VOID.Dataset)} <= set(g)
    for node in (catalog, DATASET):
        for prop in (DCT.title, DCT.description):
            assert {o.language for o in g.objects(node, prop)} == {"fr", "en"}, (node, prop)
    assert (DATASET, DCT.license, cat.LICENCE) in g and (cat.LICENCE, RDF.type, DCT.LicenseDocument) in g
    assert (DATASET, DCT.accessRights, cat.ACCESS_PUBLIC) in g
    assert (DATASET, DCT.spatial, cat.FRANCE) in g and (cat.FRANCE, RDF.type, DCT.Location) in g
    period = g.value(DATASET, DCT.temporal)
    assert g.value(period, DCAT.startDate) == Literal("2005-01-01", datatype=XSD_DATE)
    assert g.value(period, DCAT.endDate) == Literal("2026-12-31", datatype=XSD_DATE)
    themes = set(g.objects(DATASET, DCAT.theme))
    assert {URIRef(cat.EU + "data-theme/ECON"), URIRef(cat.EU + "data-theme/GOVE")} <= themes
    assert {o.language for o in g.objects(DATASET, DCAT.keyword)} == {"fr", "en"}
    assert g.value(DATASET, DCT.modified).datatype == XSD_DATETIME
    sparql, api = URIRef(BASE + "sparql"), URIRef(BASE + "api/queries")
    assert (sparql, RDF.type, DCAT.DataService) in g and (sparql, DCAT.servesDataset, DATASET) in g
    assert (api, DCAT.endpointDescription, URIRef(BASE + "openapi.json")) in g
    assert g.value(DATASET, VOID.uriSpace) == Literal(BASE + "id/")
    assert (DATASET, VOID.exampleResource, URIRef(BASE + "id/pole/aerospace-valley")) in g
    assert (DATASET, VOID.vocabulary, URIRef(BASE + "def/core")) in g


def _without(g: Graph, triples) -> Graph:
    out = Graph()
    for t in g:
        out.add(t)
    for t in triples:
        out.remove(t)
    return out


BREAKAGES = {  # what is broken → (how, the property the report must name)
    # shapes.ttl: a dataset must have a description
    "dataset without dct:description":
        (lambda g: _without(g, [(DATASET, DCT.description, None)]), DCT.description),
    # range.ttl: the licence must be a dct:LicenseDocument
    "licence not typed dct:LicenseDocument":
        (lambda g: _without(g, [(cat.LICENCE, RDF.type, DCT.LicenseDocument)]), DCT.license),
    # shapes.ttl: the checksum value must be xsd:hexBinary
    "checksum as a plain string": (lambda g: _retype_checksums(g), SPDX.checksumValue),
}


def _retype_checksums(g: Graph) -> Graph:
    out = _without(g, [])
    for node, value in list(out.subject_objects(SPDX.checksumValue)):
        out.remove((node, SPDX.checksumValue, value))
        out.add((node, SPDX.checksumValue, Literal(str(value))))
    return out


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_catalogue_does_not_conform(catalogue_graph, breakage):
    need_shapes()
    how, path = BREAKAGES[breakage]
    conforms, report, text = cat.conformance(how(catalogue_graph), DCAT_AP)
    assert not conforms, breakage
    assert path in set(report.objects(None, SH.resultPath)), text


def test_byte_size_datatype_follows_the_official_shapes(catalogue_graph):
    """shapes.ttl of DCAT-AP 3.0.0 requires xsd:decimal for dcat:byteSize (SEMICeu/DCAT-AP#422): an
    xsd:nonNegativeInteger, as the 3.0.0 text says, fails them — hence BYTE_SIZE_DATATYPE."""
    need_shapes()
    sizes = list(catalogue_graph.subject_objects(DCAT.byteSize))
    assert sizes and all(o.datatype == cat.BYTE_SIZE_DATATYPE for _, o in sizes)
    other = _without(catalogue_graph, [])
    for dist, size in sizes:
        other.remove((dist, DCAT.byteSize, size))
        other.add((dist, DCAT.byteSize, Literal(int(size), datatype=XSD_NNI)))
    assert not cat.conformance(other, DCAT_AP)[0]


# ---- (b) dumps -----------------------------------------------------------------------------------

def parse_dump(folder: Path, dump: cat.Dump) -> list:
    data = (folder / dump.file).read_bytes()
    if dump.compress_format == "application/gzip":
        data = gzip.decompress(data)
    fmt = {"application/n-triples": ox.RdfFormat.N_TRIPLES, "text/turtle": ox.RdfFormat.TURTLE,
           "application/ld+json": ox.RdfFormat.JSON_LD, "application/n-quads": ox.RdfFormat.N_QUADS}[dump.rdf_media_type]
    return list(ox.parse(data, format=fmt))


def test_dumps_are_the_four_distributions(dumps):
    assert [d.file for d in dumps] == ["pole-graph.nt.gz", "pole-graph.ttl", "pole-graph.jsonld", "pole-graph.nq"]
    by_file = {d.file: d for d in dumps}
    assert by_file["pole-graph.nt.gz"].media_type == "application/gzip"
    assert by_file["pole-graph.nt.gz"].rdf_media_type == "application/n-triples"
    assert by_file["pole-graph.nq"].unit == "quads"
    assert all(d.path == f"/data/dumps/{d.file}" and d.title_fr and d.title_en for d in dumps)


def test_dumps_parse_back_to_what_they_claim(store, dumps, dumps_folder):
    knowledge = count(store, "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }")
    per_graph = sum(count(store, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{g}> {{ ?s ?p ?o }} }}") for g in KNOWLEDGE)
    sets = {}
    for dump in dumps:
        parsed = parse_dump(dumps_folder, dump)
        assert len(parsed) == dump.count, dump.file
        if dump.unit == "quads":
            assert dump.count == per_graph
            assert {q.graph_name.value for q in parsed} == {str(g) for g in KNOWLEDGE}
        else:
            assert dump.count == knowledge
            sets[dump.file] = {str(t) for t in parsed}
    # the three triple formats hold the very same triples
    assert len({frozenset(s) for s in sets.values()}) == 1
    # and a second parser agrees
    nt = gzip.decompress((dumps_folder / "pole-graph.nt.gz").read_bytes())
    assert len(Graph().parse(data=nt, format="nt")) == knowledge


def test_dumps_checksums_sizes_and_gzip(dumps, dumps_folder):
    for dump in dumps:
        data = (dumps_folder / dump.file).read_bytes()
        assert len(data) == dump.byte_size
        assert hashlib.sha256(data).hexdigest() == dump.sha256
    gz = (dumps_folder / "pole-graph.nt.gz").read_bytes()
    assert gz[:2] == b"\x1f\x8b" and gz[4:8] == b"\0\0\0\0"   # gzip magic, mtime 0
    with gzip.open(dumps_folder / "pole-graph.nt.gz") as f:
        lines = f.read().decode("utf-8").splitlines()
    assert lines == sorted(lines) and len(lines) == len(set(lines))
    manifest = json.loads((dumps_folder / cat.MANIFEST).read_text(encoding="utf-8"))
    assert [cat.Dump.from_dict(d) for d in manifest["dumps"]] == dumps


def test_two_writes_give_identical_files(store, dumps, dumps_folder, tmp_path):
    again = cat.write_dumps(store, tmp_path)
    assert again == dumps
    for dump in dumps:
        assert (tmp_path / dump.file).read_bytes() == (dumps_folder / dump.file).read_bytes(), dump.file


def test_dumps_are_current_follows_the_data(store, dumps, dumps_folder, tmp_path):
    assert cat.dumps_are_current(store, dumps_folder)
    assert not cat.dumps_are_current(store, tmp_path / "none")
    for name in [d.file for d in dumps] + [cat.MANIFEST]:
        (tmp_path / name).write_bytes((dumps_folder / name).read_bytes())
    assert cat.dumps_are_current(store, tmp_path)
    (tmp_path / "pole-graph.ttl").unlink()
    assert not cat.dumps_are_current(store, tmp_path)
    assert cat.ensure_dumps(store, tmp_path) == dumps and cat.dumps_are_current(store, tmp_path)
    manifest = json.loads((tmp_path / cat.MANIFEST).read_text(encoding="utf-8"))
    manifest["version"]["written"] = "2000-01-01T00:00:00+0000"   # another build
    (tmp_path / cat.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert not cat.dumps_are_current(store, tmp_path)


def test_distributions_describe_the_dumps(catalogue_graph, dumps):
    g = catalogue_graph
    dists = set(g.objects(DATASET, DCAT.distribution))
    assert len(dists) == len(dumps) == 4
    for dump in dumps:
        url = URIRef(BASE + "data/dumps/" + dump.file)
        dist = g.value(predicate=DCAT.downloadURL, object=url)
        assert dist in dists and (dist, DCAT.accessURL, url) in g
        assert int(g.value(dist, DCAT.byteSize)) == dump.byte_size
        checksum = g.value(dist, SPDX.checksum)
        assert str(g.value(checksum, SPDX.checksumValue)) == dump.sha256
        assert g.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
        assert g.value(dist, DCT["format"]) == URIRef(cat.EU + "file-type/" + dump.file_type)
        assert g.value(dist, DCAT.mediaType) == URIRef(cat.IANA + dump.rdf_media_type)
        assert (g.value(dist, DCAT.compressFormat) is not None) == (dump.compress_format is not None)
        assert (DATASET, VOID.dataDump, url) in g


# ---- (c) VoID numbers are SPARQL counts ----------------------------------------------------------

def test_void_counts_equal_sparql_counts(store, built, catalogue_graph):
    g = catalogue_graph
    value = lambda p: int(g.value(DATASET, p))  # noqa: E731
    triples = count(store, "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }")
    report = built[0]
    assert value(VOID.triples) == triples == sum(report.graphs[str(gr)] for gr in KNOWLEDGE)
    assert value(VOID.distinctSubjects) == count(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o }")
    assert value(VOID.distinctObjects) == count(store, "SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE { ?s ?p ?o }")
    assert value(VOID.properties) == count(store, "SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE { ?s ?p ?o }")
    assert value(VOID.classes) == count(store, "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?s a ?c FILTER(isIRI(?c)) }")

    classes = {g.value(part, VOID["class"]): int(g.value(part, VOID.entities))
               for part in g.objects(DATASET, VOID.classPartition)}
    assert len(classes) == value(VOID.classes)
    assert classes[PG.CompetitivenessCluster] == 90 == report.classes["pg:CompetitivenessCluster"]
    assert classes[PG.Labelling] == count(store, f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s a <{PG.Labelling}> }}")

    props = {g.value(part, VOID.property): int(g.value(part, VOID.triples))
             for part in g.objects(DATASET, VOID.propertyPartition)}
    assert len(props) == value(VOID.properties)
    assert sum(props.values()) == triples
    assert props[RDF.type] == count(store, "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?o WHERE { ?s a ?o } }")

    subsets = {s: int(g.value(s, VOID.triples)) for s in g.objects(DATASET, VOID.subset)}
    assert subsets == {URIRef(str(gr)): report.graphs[str(gr)] for gr in KNOWLEDGE}


def test_void_graph_alone_is_the_void_part(store, dumps, catalogue_graph):
    void = cat.void_graph(store, dumps)
    assert (DATASET, RDF.type, VOID.Dataset) in void
    assert (DATASET, RDF.type, DCAT.Dataset) not in void and not list(void.subjects(RDF.type, DCAT.Distribution))
    assert set(void) <= set(catalogue_graph)   # blank nodes are labelled from what they stand for
    assert void.value(DATASET, VOID.triples) == catalogue_graph.value(DATASET, VOID.triples)


def test_description_follows_the_store(tmp_path):
    """Counted when asked: a record added to the store changes the numbers and makes dumps stale."""
    db = ox.Store()
    a, b = ox.NamedNode(BASE + "id/pole/a"), ox.NamedNode(BASE + "id/pole/b")
    typ = ox.NamedNode(str(RDF.type))
    pole = ox.NamedNode(str(PG.CompetitivenessCluster))
    data = ox.NamedNode(str(GRAPH_DATA))
    db.add(ox.Quad(a, typ, pole, data))
    store = GraphStore(tmp_path / "store", db, {"written": "2024-05-06T07:08:09+0200"})
    dumps = cat.write_dumps(store, tmp_path / "dumps")
    g = cat.catalogue_graph(store, dumps)
    assert int(g.value(DATASET, VOID.triples)) == 1 and dumps[0].count == 1
    assert g.value(DATASET, DCT.issued) == Literal("2024-05-06", datatype=XSD_DATE)
    assert cat.dumps_are_current(store, tmp_path / "dumps")

    db.add(ox.Quad(b, typ, pole, data))
    assert not cat.dumps_are_current(store, tmp_path / "dumps")
    g = cat.catalogue_graph(store, cat.ensure_dumps(store, tmp_path / "dumps"))
    assert int(g.value(DATASET, VOID.triples)) == 2
    part = next(p for p in g.objects(DATASET, VOID.classPartition) if g.value(p, VOID["class"]) == PG.CompetitivenessCluster)
    assert int(g.value(part, VOID.entities)) == 2
    assert "les 2 pôles" in str(next(o for o in g.objects(DATASET, DCT.description) if o.language == "fr"))
    assert {int(g.value(d, DCAT.byteSize)) for d in g.objects(DATASET, DCAT.distribution)} == \
        {(tmp_path / "dumps" / d.file).stat().st_size for d in cat.read_dumps(tmp_path / "dumps")}
    if (DCAT_AP / "shapes.ttl").exists():
        assert cat.conformance(g, DCAT_AP)[0]
