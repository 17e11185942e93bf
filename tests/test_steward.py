"""Stewardship: validate records against the stored graph, add and retract them atomically, with
reports people can act on, in French or English; hostile and malformed input refused with exit 2,
nothing fetched, nothing written."""

from __future__ import annotations

import http.server
import io
import json
import shutil
import threading
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph, URIRef
from rdflib.query import Result

from pole_graph import GraphStore, run_stored
from pole_graph.cli import main
from pole_graph.namespaces import GRAPH_DATA, GRAPH_INDEX, GRAPH_INFERRED, SH
from pole_graph.rules import closure
from pole_graph.reason import is_noise
from pole_graph.steward import Steward
from pole_graph.store import DB_DIR, writer_lock

ID = "https://w3id.org/pole-graph/id/"
SOURCE = "https://example.org/annonce-partenariat"
PARTNER = f"""key,kind,name_fr,name_en,country,locality,website,source
biotech-quebec-test,foreign-cluster,Grappe biotech du Québec (essai),Quebec biotech cluster (test),CAN,Québec,WEBSITE,{SOURCE}
"""
PARTNERSHIP = f"""key,pole,partner,year,description_fr,description_en,source
lyonbiopole-biotech-quebec-test,POLE,biotech-quebec-test,2024,Partenariat d'essai.,Test partnership.,{SOURCE}
"""


@pytest.fixture()
def store_path(built, tmp_path) -> Path:
    """A private copy of the built store, which the test may change."""
    target = tmp_path / "store"
    shutil.copytree(built[1].path, target)
    return target


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def whole_dump(store_path: Path) -> bytes:
    db = ox.Store.read_only(str(store_path / DB_DIR))
    return db.dump(format=ox.RdfFormat.N_QUADS)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_stewards_typos_are_explained_then_the_fixed_records_go_in_and_come_back_out(store_path, tmp_path):
    partner = write(tmp_path, "partenaire.csv", PARTNER.replace("WEBSITE", "www.biotech-qc.example"))
    link = write(tmp_path, "partenariat.csv", PARTNERSHIP.replace("POLE", "lyonbiopol"))
    code, out, _ = run("validate", partner, link, "--store", store_path)
    assert code == 2
    assert "id:org/biotech-quebec-test" in out and "partenaire.csv, ligne 2" in out
    assert "site web (website) : « www.biotech-qc.example » n'est pas une adresse web valable" in out
    assert "correction : copier l'adresse complète" in out
    assert "id:partnership/lyonbiopole-biotech-quebec-test" in out and "partenariat.csv, ligne 2" in out
    assert "clé du pôle (pole) : aucun enregistrement pôle n'a la clé « lyonbiopol » (vouliez-vous dire lyonbiopole ?)" in out
    assert "correction : écrire « lyonbiopole »" in out
    code, out, _ = run("validate", partner, link, "--store", store_path, "--lang", "en")
    assert "website: 'www.biotech-qc.example': not a web address" in out
    assert "fix: use 'lyonbiopole'" in out

    write(tmp_path, "partenaire.csv", PARTNER.replace("WEBSITE", "https://www.biotech-qc.example/"))
    write(tmp_path, "partenariat.csv", PARTNERSHIP.replace("POLE", "lyonbiopole"))
    before = whole_dump(store_path)
    before_all = sorted(run("export", "--graph", "all", "--store", store_path)[1].splitlines())
    code, out, _ = run("validate", partner, link, "--store", store_path)
    assert code == 0, out
    code, out, err = run("add", partner, link, "--store", store_path, "--by", "Claire Martin")
    assert code == 0, out + err
    store = GraphStore.open(store_path)
    from pole_graph import Catalogue, Project
    result = run_stored(store, Catalogue.load(Project.discover()), "partnerships", {"pole": "lyonbiopole"})
    assert ID + "partnership/lyonbiopole-biotech-quebec-test" in result.values("partnership")
    del store
    code, out, _ = run("history", "--store", store_path, "--format", "json")
    entry = json.loads(out)[-1]
    assert entry["action"] == "add" and entry["by"] == "Claire Martin"
    assert entry["files"] == ["partenaire.csv", "partenariat.csv"]
    assert ID + "partnership/lyonbiopole-biotech-quebec-test" in entry["records"]

    code, _, err = run("retract", "biotech-quebec-test", "--store", store_path)
    assert code == 2 and "still referred to by 1 record(s): id:partnership/lyonbiopole-biotech-quebec-test" in err
    assert run("retract", "lyonbiopole-biotech-quebec-test", "--store", store_path)[0] == 0
    assert run("retract", "org/biotech-quebec-test", "--store", store_path)[0] == 0
    after_all = sorted(run("export", "--graph", "all", "--store", store_path)[1].splitlines())
    assert after_all == before_all
    db = ox.Store.read_only(str(store_path / DB_DIR))
    old = ox.Store()
    old.load(before, format=ox.RdfFormat.N_QUADS)
    for graph in (GRAPH_DATA, GRAPH_INFERRED, GRAPH_INDEX):
        g = ox.NamedNode(str(graph))
        assert set(db.quads_for_pattern(None, None, None, g)) == set(old.quads_for_pattern(None, None, None, g)), graph
    actions = [e["action"] for e in json.loads(run("history", "--store", store_path, "--format", "json")[1])]
    assert actions == ["add", "retract", "retract"]


def test_a_failed_add_leaves_the_store_byte_identical(store_path, tmp_path):
    cases = {
        "syntax.ttl": "@prefix pg: <https://w3id.org/pole-graph/def/core#> .\n<https://w3id.org/pole-graph/id/pole/x> a pg:CompetitivenessCluster",
        "partnerships.csv": PARTNERSHIP.replace("POLE", "lyonbiopole"),  # its partner does not exist
        "poles.csv": "key,name_fr,regions,source\naerospace-valley,Aerospace Valley,73,https://example.org/x\n",  # duplicate
        "labellings.csv": "pole,phase,until,source\naerospace-valley,2009-2012,2001,https://example.org/x\n",
    }
    before = whole_dump(store_path)
    for name, text in cases.items():
        code, out, _ = run("add", write(tmp_path, name, text), "--store", store_path)
        assert code in (1, 2), (name, out)
    assert whole_dump(store_path) == before


def test_a_duplicate_name_or_key_or_website_is_reported(store_path, tmp_path):
    poles = write(tmp_path, "poles.csv", "key,name_fr,regions,website,source\n"
                  "aerospace-valley,Aerospace Valley,73,,https://example.org/x\n"
                  "aerospace-valley-bis,AEROSPACE  valley,73,,https://example.org/x\n"
                  "site-twin,Un autre pôle,53,https://www.images-et-reseaux.com,https://example.org/x\n")
    code, out, _ = run("validate", poles, "--store", store_path, "--format", "json")
    report = json.loads(out)
    problems = {((r["record"] or "").rsplit("/", 1)[-1], p["kind"], p["field"]) for r in report["records"] for p in r["problems"]}
    assert ("aerospace-valley", "duplicate", "key") in problems
    assert ("aerospace-valley-bis", "duplicate", "name_fr") in problems
    assert ("site-twin", "duplicate", "website") in problems


def test_a_date_outside_its_phase_is_a_rule_violation_named_by_column(store_path, tmp_path):
    path = write(tmp_path, "labellings.csv", "pole,phase,until,source\nenfant,2013-2018,2011,https://example.org/x\n")
    code, out, _ = run("validate", path, "--store", store_path, "--format", "json", "--lang", "en")
    assert code == 1
    problems = [p for r in json.loads(out)["records"] for p in r["problems"]]
    assert any("falls outside its phase" in p["message"] for p in problems), problems


def test_turtle_records_are_checked_like_csv_ones(store_path, tmp_path):
    good = write(tmp_path, "p.ttl", """
@prefix pg: <https://w3id.org/pole-graph/def/core#> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix dct: <http://purl.org/dc/terms/> . @prefix prov: <http://www.w3.org/ns/prov#> .
<https://w3id.org/pole-graph/id/partnership/optitec-gopq-2025> a pg:ClusterPartnership ;
  pg:pole <https://w3id.org/pole-graph/id/pole/optitec> ; pg:partner <https://w3id.org/pole-graph/id/org/gopq> ;
  skos:prefLabel "Partenariat Optitec – GOPQ (2025)"@fr ; prov:wasDerivedFrom <https://example.org/y> .
""")
    assert run("validate", good, "--store", store_path)[0] == 0
    bad = write(tmp_path, "q.ttl", good.read_text().replace("pole/optitec", "pole/optitek"))
    code, out, _ = run("validate", bad, "--store", store_path, "--lang", "en")
    assert code == 2 and "id:pole/optitek names nothing in the graph (did you mean optitec?)" in out
    typed = write(tmp_path, "r.ttl", good.read_text().replace(
        'skos:prefLabel', 'pg:labelledFrom "demain"^^<http://www.w3.org/2001/XMLSchema#date> ; skos:prefLabel'))
    assert run("validate", typed, "--store", store_path)[0] == 2
    both = write(tmp_path, "s.ttl", good.read_text().replace("a pg:ClusterPartnership", "a pg:ClusterPartnership, pg:Labelling"))
    code, out, _ = run("validate", both, "--store", store_path, "--format", "json")
    assert code == 1
    assert any(p["kind"] == "consistency" for r in json.loads(out)["records"] for p in r["problems"])



def test_a_foreign_clusters_website_in_turtle_must_be_a_web_address(store_path, tmp_path):
    """The CSV reader checks the website column; a Turtle record is checked by the shapes, for every
    organisation (not only pôles)."""
    record = write(tmp_path, "org.ttl", """
@prefix pg: <https://w3id.org/pole-graph/def/core#> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix dct: <http://purl.org/dc/terms/> . @prefix foaf: <http://xmlns.com/foaf/0.1/> .
<https://w3id.org/pole-graph/id/org/grappe-x> a pg:ForeignCluster ; skos:prefLabel "Grappe X"@fr ;
  dct:source <https://example.org/a> ; foaf:homepage "www.grappe-x.example" .
""")
    code, out, _ = run("validate", record, "--store", store_path, "--lang", "en")
    assert code == 1 and "The website must be an http(s) address." in out, out
    fixed = write(tmp_path, "org2.ttl", record.read_text().replace('"www.grappe-x.example"', "<https://www.grappe-x.example/>"))
    code, out, _ = run("validate", fixed, "--store", store_path, "--lang", "en")
    assert code == 0, out

@pytest.mark.parametrize("fmt", ["json", "ttl", "csv", "html"])
def test_report_formats(store_path, tmp_path, fmt):
    path = write(tmp_path, "partnerships.csv", PARTNERSHIP.replace("POLE", "<script>alert(1)</script>"))
    code, out, _ = run("validate", path, "--store", store_path, "--format", fmt)
    assert code == 2
    if fmt == "json":
        assert json.loads(out)["exit_code"] == 2
    elif fmt == "ttl":
        g = Graph().parse(data=out, format="turtle")
        assert len(set(g.subjects(None, SH.ValidationResult))) >= 1
    elif fmt == "csv":
        import csv
        rows = list(csv.DictReader(io.StringIO(out)))
        assert rows[0]["field"] == "pole" and rows[0]["kind"] in ("reference", "datatype")
    else:
        assert "<script>" not in out and "&lt;script&gt;" in out


# ---- hostile and malformed input -----------------------------------------------------------

# The W3C negative syntax suites: tests/test_conformance.py.


class _Canary(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):  # noqa: N802
        _Canary.hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/ld+json")
        self.end_headers()
        self.wfile.write(b'{"@context": {"p": "http://e/p"}}')

    def log_message(self, *args):
        pass


def test_a_remote_json_ld_context_is_refused_and_never_fetched(store_path, tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Canary)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/context.jsonld"
        doc = write(tmp_path, "record.jsonld", json.dumps(
            {"@context": url, "@id": ID + "pole/x", "p": "y"}, indent=1))
        code, out, _ = run("add", doc, "--store", store_path, "--lang", "en")
        nested = write(tmp_path, "nested.jsonld", json.dumps(
            {"@graph": [{"@context": [{"@import": url}], "@id": ID + "pole/x"}]}))
        code2, out2, _ = run("validate", nested, "--store", store_path, "--lang", "en")
    finally:
        server.shutdown()
    assert code == 2 and "remote JSON-LD context" in out and "line 2" in out
    assert code2 == 2 and "remote JSON-LD context" in out2
    assert _Canary.hits == 0


def test_an_rdf_xml_doctype_is_refused_before_parsing(store_path, tmp_path):
    bomb = write(tmp_path, "bomb.rdf", """<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:s="http://www.w3.org/2004/02/skos/core#">
 <rdf:Description rdf:about="https://w3id.org/pole-graph/id/pole/x"><s:prefLabel>&c;</s:prefLabel></rdf:Description>
</rdf:RDF>""")
    code, out, _ = run("validate", bomb, "--store", store_path, "--lang", "en")
    assert code == 2 and "DOCTYPE" in out and "line 2" in out


def test_an_oversize_file_and_an_invalid_iri_are_refused(store_path, tmp_path):
    big = tmp_path / "big.nt"
    big.write_bytes(b"# " + b"x" * 5_000_100 + b"\n")
    code, out, _ = run("validate", big, "--store", store_path, "--lang", "en")
    assert code == 2 and "too large" in out
    iri = write(tmp_path, "iri.nt", "<https://w3id.org/pole-graph/id/pole/a b> <http://e/p> <http://e/o> .\n")
    code, out, _ = run("validate", iri, "--store", store_path, "--lang", "en")
    assert code == 2 and "iri.nt, line 1" in out and "Invalid IRI code point" in out


def test_a_second_writer_is_told_the_store_is_locked(store_path, tmp_path):
    path = write(tmp_path, "partnerships.csv", PARTNERSHIP.replace("POLE", "lyonbiopole"))
    with writer_lock(store_path):
        code, _, err = run("add", path, "--store", store_path)
    assert code == 2 and "another process is writing" in err


# ---- inference stays exact -------------------------------------------------------------------

def test_incremental_inference_equals_a_full_recomputation(store_path, tmp_path):
    org = write(tmp_path, "organisations.csv", PARTNER.replace("WEBSITE", ""))
    link = write(tmp_path, "partnerships.csv", PARTNERSHIP.replace("POLE", "lyonbiopole"))
    change = write(tmp_path, "changes.csv", "key,kind,original,resulting,date,source\n"
                   "2026-business-france-test,renaming,org/business-france,org/biotech-quebec-test,2026,https://example.org/z\n")
    contribution = write(tmp_path, "contributions.csv", "key,event,contributors,role,source\n"
                         "2013-06-17-bpifrance-test,2013-06-17-atelier-internationalisation-animateurs-ecosystemes,org/bpifrance,intervenant-table-ronde,https://example.org/z\n")
    for batch in ((org, link), (change, contribution)):
        code, out, err = run("add", *batch, "--store", store_path)
        assert code == 0, out + err
    steward = Steward(GraphStore.open(store_path))
    asserted = set()
    for name in ("ontology", "schemes", "data"):
        asserted |= set(steward._graph(URIRef(f"https://w3id.org/pole-graph/graph/{name}")))
    everything, problems = closure(steward.rules, asserted)
    expected = {t for t in everything - asserted if not is_noise(*t) and not isinstance(t[0], __import__("rdflib").Literal)}
    stored = set(steward._graph(GRAPH_INFERRED))
    assert not problems
    assert stored == expected, (sorted(expected - stored)[:5], sorted(stored - expected)[:5])
    assert (URIRef(ID + "event/2013-06-17-atelier-internationalisation"),
            URIRef("https://w3id.org/pole-graph/def/core#participant"), URIRef(ID + "org/bpifrance")) in stored
