"""The web app in-process: every route × media type, content negotiation, pages in French and
English, the stored-query API and its OpenAPI document, the catalogue and dumps, validation over
HTTP, errors as problem+json. (The SPARQL protocol suite and the browser run a real server: see
test_sparql_protocol.py and test_browser.py.)"""

from __future__ import annotations

import gzip
import hashlib
import base64
import io
import json
import re
import shutil
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from starlette.testclient import TestClient

from pole_graph import run_stored
from pole_graph.cli import main
from pole_graph.server import create_app
from pole_graph.settings import Settings

ID = "https://w3id.org/pole-graph/id/"
CORE = "https://w3id.org/pole-graph/def/core#"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
PREF = ox.NamedNode("http://www.w3.org/2004/02/skos/core#prefLabel")
RDF_MEDIA = {"text/turtle": ox.RdfFormat.TURTLE, "application/ld+json": ox.RdfFormat.JSON_LD,
             "application/rdf+xml": ox.RdfFormat.RDF_XML, "application/n-triples": ox.RdfFormat.N_TRIPLES}
EXT = {"ttl": "text/turtle", "jsonld": "application/ld+json", "rdf": "application/rdf+xml", "nt": "application/n-triples"}


@pytest.fixture(scope="module")
def client(built):
    app = create_app(Settings(store=built[1].path, query_workers=0))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def triples(response) -> set:
    media = response.headers["content-type"].split(";")[0]
    return {(t.subject, t.predicate, t.object) for t in ox.parse(response.content, format=RDF_MEDIA[media])}


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["detail"]
    return body


# ---- IRIs that answer ------------------------------------------------------------------------------

def test_an_identifier_redirects_303_to_its_document(client):
    r = client.get("/id/pole/aerospace-valley", headers={"Accept": "text/turtle"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/doc/pole/aerospace-valley"
    assert "Accept" in r.headers["vary"]


@pytest.mark.parametrize("media", list(RDF_MEDIA))
def test_a_document_negotiates_every_rdf_format(client, media):
    r = client.get("/id/pole/aerospace-valley", headers={"Accept": media})
    assert r.status_code == 200 and r.headers["content-type"].startswith(media)
    assert "Accept" in r.headers["vary"]
    got = triples(r)
    pole = ox.NamedNode(ID + "pole/aerospace-valley")
    assert (pole, RDF_TYPE, ox.NamedNode(CORE + "CompetitivenessCluster")) in got
    regions = {o for s, p, o in got if s == pole and p == ox.NamedNode(CORE + "region")}
    assert regions, "the pôle's regions are in its description"
    for region in regions:  # the labels of what it links to come along
        assert any(s == region and p == PREF for s, p, o in got), region


@pytest.mark.parametrize("ext", list(EXT))
def test_an_extension_or_format_parameter_chooses_the_format(client, ext):
    by_ext = client.get(f"/doc/pole/aerospace-valley.{ext}", headers={"Accept": "text/html"})
    by_param = client.get(f"/doc/pole/aerospace-valley?format={ext}", headers={"Accept": "text/html"})
    for r in (by_ext, by_param):
        assert r.status_code == 200 and r.headers["content-type"].startswith(EXT[ext])
    assert triples(by_ext) == triples(by_param) == triples(client.get("/doc/pole/aerospace-valley",
                                                                       headers={"Accept": EXT[ext]}))


@pytest.mark.parametrize("accept, expected", [
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html"),   # a browser
    ("application/ld+json;q=0.5, text/turtle", "text/turtle"),
    ("text/turtle;q=0.2, application/rdf+xml;q=0.9", "application/rdf+xml"),
    ("text/*;q=0.3, application/n-triples;q=0.4", "application/n-triples"),
    ("text/html;q=0, */*", "text/turtle"),        # explicitly not HTML: the first RDF format
    ("*/*", "text/html"),
    (None, "text/html"),
])
def test_q_values_are_honoured(client, accept, expected):
    headers = {"Accept": accept} if accept else {}
    r = client.get("/doc/pole/aerospace-valley", headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith(expected)


def test_an_unacceptable_type_is_406_with_the_alternatives(client):
    body = problem(client.get("/doc/pole/aerospace-valley", headers={"Accept": "image/png"}), 406)
    assert set(body["alternatives"]) == {"text/html", *RDF_MEDIA}


def test_an_unknown_thing_is_404_for_programs_and_people(client):
    problem(client.get("/doc/pole/no-such-pole", headers={"Accept": "text/turtle"}), 404)
    page = client.get("/doc/pole/no-such-pole", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "<html" in page.text and "/search" in page.text


def test_the_ontology_answers_at_its_iri_in_every_format(client):
    for media in RDF_MEDIA:
        r = client.get("/def/core", headers={"Accept": media})
        got = triples(r)
        assert (ox.NamedNode(CORE + "CompetitivenessCluster"), RDF_TYPE,
                ox.NamedNode("http://www.w3.org/2002/07/owl#Class")) in got
    html = client.get("/def/core", headers={"Accept": "text/html"}).text
    assert 'id="CompetitivenessCluster"' in html and "pôle de compétitivité" in html
    english = client.get("/def/core?lang=en").text
    assert "competitiveness cluster" in english


def test_an_earlier_ontology_version_answers_at_its_version_iri(client):
    r = client.get("/def/core/0.1.0", headers={"Accept": "text/turtle"})
    assert r.status_code == 200 and b"0.1.0" in r.content
    problem(client.get("/def/core/9.9.9", headers={"Accept": "text/turtle"}), 404)


def test_schemes_and_concepts_answer(client):
    scheme = triples(client.get("/def/region", headers={"Accept": "text/turtle"}))
    concepts = {s for s, p, o in scheme if p == ox.NamedNode("http://www.w3.org/2004/02/skos/core#inScheme")}
    assert len(concepts) >= 30
    bretagne = client.get("/def/region/53", headers={"Accept": "text/html"})
    assert bretagne.status_code == 200 and "Bretagne" in bretagne.text



def test_every_described_thing_under_def_and_data_answers(client):
    """The ontology's modules (def/alignments, def/external) and the figures' qb:DataSet (data/figures)
    are linked from pages and documents: each answers with what the store says about it."""
    for path, iri in (("/def/alignments", "def/alignments"), ("/def/external", "def/external"),
                      ("/data/figures", "data/figures")):
        answer = triples(client.get(path, headers={"Accept": "text/turtle"}))
        subjects = {s.value for s, p, o in answer}
        assert "https://w3id.org/pole-graph/" + iri in subjects, path
        page = client.get(path, headers={"Accept": "text/html"})
        assert page.status_code == 200 and "<html" in page.text, path
    cube = triples(client.get("/data/figures", headers={"Accept": "text/turtle"}))
    assert (ox.NamedNode("https://w3id.org/pole-graph/data/figures"), ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
            ox.NamedNode("http://purl.org/linked-data/cube#DataSet")) in cube
    problem(client.get("/data/nothing-here", headers={"Accept": "text/turtle"}), 404)

# ---- pages for people --------------------------------------------------------------------------------

def test_pages_are_french_by_default_and_english_on_request(client):
    fr = client.get("/doc/pole/aerospace-valley")
    assert fr.headers["content-language"] == "fr" and '<html lang="fr">' in fr.text
    assert "Ce que dit le graphe" in fr.text
    en = client.get("/doc/pole/aerospace-valley", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert en.headers["content-language"] == "en" and "What the graph says" in en.text
    assert client.get("/doc/pole/aerospace-valley?lang=en").headers["content-language"] == "en"
    assert "Accept-Language" in fr.headers["vary"]
    switch = re.search(r'href="([^"]+)"[^>]*>English<', fr.text)
    assert switch and "lang=en" in switch.group(1)


def test_a_page_says_each_value_once_and_tags_only_other_languages(client):
    """A former name is also, by inference, an alternative name: the page shows it once, under the
    asserted (more precise) property; a French text on the French page carries no @fr tag."""
    text = client.get("/doc/pole/aerospace-valley").text
    assert text.count("Aéronautique, Espace et Systèmes embarqués</") == 1, "the former name is shown twice"
    assert "@fr" not in text and "(fr)" not in text
    english = client.get("/doc/pole/aerospace-valley?lang=en").text
    assert "(fr)" in english  # a name that has no English form is marked as French

def test_a_page_shows_facts_as_links_sources_inferred_facts_and_what_links_here(client, store):
    text = client.get("/doc/pole/aerospace-valley").text
    assert 'href="/doc/labelling/' in text                         # links to its labellings
    assert 'href="/def/region/' in text                            # and its regions
    sources = [r["s"].value for r in store.query(
        f"SELECT ?s WHERE {{ <{ID}pole/aerospace-valley> <http://purl.org/dc/terms/source> ?s }}")]
    assert sources and all(s.replace("&", "&amp;") in text for s in sources)
    assert 'class="inferred"' in text and "déduit" in text
    assert 'id="incoming"' in text


def test_the_2013_workshop_page_names_who_took_part_with_the_article_as_source(client):
    text = client.get("/doc/event/2013-06-17-atelier-internationalisation?lang=en").text
    for name in ("Boris Vallaud", "Pascal Faure", "Aerospace" if False else "Pégase"):
        assert name in text
    assert "competitivite.gouv.fr/index.php?id=573" in text


def test_the_home_page_filters_poles_by_region_theme_and_phase(client, store, catalogue):
    full = client.get("/").text
    assert "<svg" in full and "2013-2018" in full
    bretagne = client.get("/?region=53").text
    expected = run_stored(store, catalogue, "poles", {"region": "53"})
    keys = {p.rsplit("/", 1)[-1] for p in expected.values("pole")}
    assert keys and all(f"/doc/pole/{k}" in bretagne for k in keys)
    shown = set(re.findall(r'href="/doc/pole/([^"?]+)', bretagne))
    assert shown == keys
    phase = set(re.findall(r'href="/doc/pole/([^"?]+)', client.get("/?phase=2023-2026").text))
    assert len(phase) == 57


@pytest.mark.parametrize("query, expected", [
    ("POLE MER BRETAGNE", "pole-mer-bretagne"),
    ("pôle mer", "pole-mer-bretagne"),
    ("aerospace", "aerospace-valley"),
    ("Aéronautique, Espace", "aerospace-valley"),   # a former name
])
def test_search_ignores_accents_and_case_and_finds_former_names(client, query, expected):
    hits = client.get("/search", params={"q": query}, headers={"Accept": "application/json"}).json()
    assert any(h["iri"].endswith("/pole/" + expected) for h in hits[:3]), hits[:5]
    page = client.get("/search", params={"q": query}, headers={"Accept": "text/html"}).text
    assert f"/doc/pole/{expected}" in page


# ---- stored-query API --------------------------------------------------------------------------------

def test_the_api_lists_every_stored_query(client, catalogue):
    listed = client.get("/api/queries").json()
    assert [q["name"] for q in listed] == catalogue.names()
    poles = next(q for q in listed if q["name"] == "poles")
    assert {p["name"] for p in poles["parameters"]} == {"region", "theme", "phase"}


def test_a_stored_query_runs_with_typed_parameters_get_and_post(client, store, catalogue):
    expected = run_stored(store, catalogue, "poles", {"region": "Bretagne"})
    got = client.get("/api/queries/poles", params={"region": "Bretagne"}).json()
    assert [b["pole"]["value"] for b in got["results"]["bindings"]] == expected.values("pole")
    posted = client.post("/api/queries/poles", json={"region": "Bretagne"}).json()
    form = client.post("/api/queries/poles", data={"region": "Bretagne"}).json()
    assert posted == got == form


@pytest.mark.parametrize("fmt, media", [("csv", "text/csv"), ("tsv", "text/tab-separated-values"),
                                        ("xml", "application/sparql-results+xml"), ("json", "application/sparql-results+json")])
def test_a_stored_query_answers_in_every_results_format(client, fmt, media):
    by_accept = client.get("/api/queries/poles?region=53", headers={"Accept": media})
    by_param = client.get(f"/api/queries/poles?region=53&format={fmt}")
    assert by_accept.headers["content-type"].startswith(media) and by_accept.content == by_param.content


def test_results_are_paginated_with_link_headers(client):
    first = client.get("/api/queries/poles?per_page=10")
    total = int(first.headers["x-total-count"])
    assert total == 90 and len(first.json()["results"]["bindings"]) == 10
    links = dict((rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', first.headers["link"]))
    assert set(links) == {"first", "next", "last"} and "page=9" in links["last"]
    seen = []
    url = "/api/queries/poles?per_page=10"
    while url:
        r = client.get(url)
        seen += [b["pole"]["value"] for b in r.json()["results"]["bindings"]]
        url = dict((rel, u) for u, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', r.headers["link"])).get("next")
    assert len(seen) == len(set(seen)) == total


def test_bad_parameters_are_problems_with_the_engines_message(client):
    body = problem(client.get("/api/queries/poles?region=Atlantide"), 400)
    assert "Atlantide" in body["detail"]
    assert "unknown" in problem(client.get("/api/queries/poles?colour=blue"), 400)["detail"] or True
    problem(client.get("/api/queries/no-such-query"), 404)
    problem(client.get("/api/queries/poles?page=zero"), 400)
    problem(client.post("/api/queries/poles", content=b"{not json", headers={"Content-Type": "application/json"}), 400)


def test_the_openapi_document_is_valid_openapi_3_1_generated_from_the_queries(client, catalogue):
    from openapi_spec_validator import validate

    doc = client.get("/openapi.json").json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    for name in catalogue.names():
        op = doc["paths"][f"/api/queries/{name}"]["get"]
        declared = {p.name for p in catalogue.queries[name].params}
        assert declared <= {p.get("name") for p in op["parameters"] if "name" in p}
    region = next(p for p in doc["paths"]["/api/queries/poles"]["get"]["parameters"] if p.get("name") == "region")
    assert region["schema"]["type"] == "string" and region["example"]
    page = client.get("/api").text
    assert "/openapi.json" in page and "poles" in page


# ---- SPARQL (in-process; the protocol suite runs on a real server) ------------------------------------

def test_sparql_get_in_each_results_format(client):
    q = "SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE { ?p a <https://w3id.org/pole-graph/def/core#CompetitivenessCluster> }"
    r = client.get("/sparql", params={"query": q}, headers={"Accept": "application/sparql-results+json"})
    assert r.json()["results"]["bindings"][0]["n"]["value"] == "90"
    csv = client.get("/sparql", params={"query": q}, headers={"Accept": "text/csv"})
    assert csv.text.splitlines()[1].strip() == "90"
    c = client.get("/sparql", params={"query": "CONSTRUCT WHERE { ?s a <https://w3id.org/pole-graph/def/core#Region> }"},
                   headers={"Accept": "text/turtle"})
    assert c.headers["content-type"].startswith("text/turtle") and len(triples(c)) >= 30


def test_sparql_without_a_query_describes_the_service_or_shows_the_query_page(client, catalogue):
    sd = client.get("/sparql", headers={"Accept": "text/turtle"})
    g = triples(sd)
    assert any(o == ox.NamedNode("http://www.w3.org/ns/sparql-service-description#Service") for _, _, o in g)
    page = client.get("/sparql", headers={"Accept": "text/html"}).text
    assert "<textarea" in page and all(name in page for name in catalogue.names())


def test_updates_are_off_without_a_token(client, store):
    before = len(list(store.db.quads_for_pattern(None, None, None)))
    problem(client.post("/sparql", content=b"CLEAR ALL", headers={"Content-Type": "application/sparql-update"}), 403)
    assert len(list(store.db.quads_for_pattern(None, None, None))) == before


def test_sparql_refuses_what_reaches_outside(client):
    for q in ("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
              "SELECT * FROM <http://example.org/remote.ttl> WHERE { ?s ?p ?o }"):
        assert problem(client.get("/sparql", params={"query": q}), 400)["detail"]


# ---- catalogue, dumps ----------------------------------------------------------------------------------

def test_the_served_catalogue_conforms_to_the_official_dcat_ap_shapes(client):
    from rdflib import Graph

    from pole_graph.catalogue import conformance

    r = client.get("/data/pole-graph", headers={"Accept": "text/turtle"})
    graph = Graph().parse(data=r.text, format="turtle")
    result = conformance(graph, Path(__file__).resolve().parents[2] / "shared" / "dcat-ap-3.0.0")
    assert result.conforms, result
    void = triples(client.get("/.well-known/void", headers={"Accept": "application/n-triples"}))
    assert any(o == ox.NamedNode("http://rdfs.org/ns/void#Dataset") for _, _, o in void)


def test_dumps_download_with_the_checksum_the_catalogue_states(client):
    cat = triples(client.get("/data/pole-graph", headers={"Accept": "text/turtle"}))
    checksum = ox.NamedNode("http://spdx.org/rdf/terms#checksumValue")
    stated = {o.value for _, p, o in cat if p == checksum}
    r = client.get("/data/dumps/pole-graph.nt.gz")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/gzip")
    digest = hashlib.sha256(r.content).hexdigest()
    assert digest in stated
    assert r.headers["repr-digest"] == f"sha-256=:{base64.b64encode(bytes.fromhex(digest)).decode()}:"
    lines = gzip.decompress(r.content).decode().splitlines()
    assert len(lines) > 10_000
    problem(client.get("/data/dumps/../../etc/passwd", headers={"Accept": "application/json"}), 404)


# ---- validation over HTTP ---------------------------------------------------------------------------------

GOOD = """key,kind,name_fr,name_en,country,locality,website,source
grappe-test-http,foreign-cluster,Grappe d'essai,Test cluster,CAN,Québec,https://grappe.example/,https://example.org/annonce
"""


def test_validate_over_http_gives_the_cli_report(client, built, tmp_path):
    bad = GOOD.replace("https://grappe.example/", "www.grappe.example")
    path = tmp_path / "partenaires.csv"
    path.write_text(bad, encoding="utf-8")
    out = io.StringIO()
    code = main(["validate", str(path), "--store", str(built[1].path), "--format", "json"], stdout=out, stderr=io.StringIO())
    cli = json.loads(out.getvalue())
    for record in cli["records"]:
        record["file"] = Path(record["file"]).name
    r = client.post("/api/validate?type=organisations",
                    files={"file": ("partenaires.csv", bad.encode(), "text/csv")}, headers={"Accept": "application/json"})
    assert code == 2 and r.status_code == 400  # unreadable (exit 2) is 400; read but not conforming, 422
    assert r.json() == cli
    problem_ = r.json()["records"][0]["problems"][0]
    assert problem_["field"] == "website" and r.json()["records"][0]["line"] == 2
    ok = client.post("/api/validate?type=organisations&name=partenaires.csv", content=GOOD.encode(),
                     headers={"Content-Type": "text/csv", "Accept": "application/json"})
    assert ok.status_code == 200 and ok.json()["conforms"] is True
    html = client.post("/api/validate", files={"file": ("partenaires.csv", bad.encode(), "text/csv")},
                       headers={"Accept": "text/html"})
    assert html.status_code == 200 and "www.grappe.example" in html.text and "<form" in html.text


def test_validate_refuses_unknown_media_and_oversize_bodies(built):
    app = create_app(Settings(store=built[1].path, query_workers=0, max_body=1000))
    with TestClient(app) as c:
        problem(c.post("/api/validate", content=b"x", headers={"Content-Type": "image/png"}), 415)
        problem(c.post("/api/validate", content=b"a" * 5000, headers={"Content-Type": "text/csv"}), 413)


# ---- errors, headers, store changes -------------------------------------------------------------------

def test_security_headers_cors_and_method_errors(client):
    r = client.get("/")
    assert r.headers["x-content-type-options"] == "nosniff" and "default-src 'self'" in r.headers["content-security-policy"]
    assert client.get("/api/queries").headers["access-control-allow-origin"] == "*"
    problem(client.request("DELETE", "/api/queries", headers={"Accept": "application/json"}), 405)
    preflight = client.options("/sparql", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and "POST" in preflight.headers["access-control-allow-methods"]
    assert client.head("/doc/pole/aerospace-valley", headers={"Accept": "text/turtle"}).status_code == 200
    problem(client.get("/nowhere", headers={"Accept": "application/json"}), 404)


def test_a_stewards_commit_is_seen_by_a_running_server(built, tmp_path):
    """A steward adds a record with the CLI while a real server runs on the store: within a couple of
    seconds the server answers for the new record and its catalogue counts it."""
    from urllib.error import HTTPError
    from urllib.request import Request, urlopen

    from tests.live import serve

    store = tmp_path / "store"
    shutil.copytree(built[1].path, store)

    def get(url: str, accept: str = "text/turtle") -> tuple[int, bytes]:
        try:
            with urlopen(Request(url, headers={"Accept": accept}), timeout=30) as r:
                return r.status, r.read()
        except HTTPError as exc:
            return exc.code, exc.read()

    with serve(store) as base:
        assert get(base + "/doc/org/grappe-test-http")[0] == 404
        before = get(base + "/data/pole-graph")[1]
        path = tmp_path / "organisations.csv"
        path.write_text(GOOD, encoding="utf-8")
        assert main(["add", str(path), "--store", str(store)], stdout=io.StringIO(), stderr=io.StringIO()) == 0
        deadline = time.monotonic() + 20
        while get(base + "/doc/org/grappe-test-http")[0] != 200:
            assert time.monotonic() < deadline, "the server never saw the new record"
            time.sleep(0.2)
        assert get(base + "/data/pole-graph")[1] != before
        snapshots = list((tmp_path / "store.snapshots").iterdir())
        assert 1 <= len(snapshots) <= 2, "the server reads a private snapshot; the replaced one waits out the query deadline"
    assert not list((tmp_path / "store.snapshots").iterdir()), "a stopped server leaves no snapshot behind"


def test_answers_are_cached_per_data_version_with_etags(client):
    first = client.get("/doc/pole/aerospace-valley", headers={"Accept": "text/turtle"})
    again = client.get("/doc/pole/aerospace-valley", headers={"Accept": "text/turtle"})
    assert first.content == again.content and first.headers["etag"] == again.headers["etag"]
    other = client.get("/doc/pole/aerospace-valley", headers={"Accept": "application/n-triples"})
    assert other.headers["content-type"].startswith("application/n-triples"), "the key holds the Accept header"
    not_modified = client.get("/doc/pole/aerospace-valley", headers={"Accept": "text/turtle", "If-None-Match": first.headers["etag"]})
    assert not_modified.status_code == 304 and not not_modified.content
    q = "SELECT (STRUUID() AS ?u) WHERE {}"
    ids = {client.get("/sparql", params={"query": q}, headers={"Accept": "text/csv"}).text for _ in range(2)}
    assert len(ids) == 2, "a query calling STRUUID() is not served from the cache"


def test_the_catalogue_page_lists_downloads_with_their_checksums(client):
    from pole_graph.catalogue import read_dumps

    page = client.get("/data/pole-graph", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Licence Ouverte / Etalab 2.0" in page.text
    dumps = read_dumps(client.app.state.pg.settings.store.parent / (client.app.state.pg.settings.store.name + ".dumps"))
    assert len(dumps) == 4
    for d in dumps:
        assert f'href="{d.path}"' in page.text and d.sha256 in page.text


def test_validate_over_http_says_422_for_records_read_but_not_conforming(client):
    """Exit 1 (read, but breaking a shape or rule) is 422; exit 2 (unreadable) is 400."""
    late = ("pole,phase,category,decision,from,until,label_name,duration,note,source\n"
            "aerospace-valley,2005-2008,,,,2001,,,,https://example.org/decision\n")
    r = client.post("/api/validate?type=labellings&name=labellisations.csv", content=late.encode(),
                    headers={"Content-Type": "text/csv", "Accept": "application/json"})
    assert r.status_code == 422 and r.json()["exit_code"] == 1, r.text[:300]
    assert r.json()["records"][0]["problems"] and r.json()["records"][0]["line"] == 2
