"""Outbound access (issue 7, item 3): nothing a client sends makes pole-graph open a connection or a
local file. SERVICE, LOAD, FROM, FROM NAMED, USING, USING NAMED, WITH and the protocol's dataset
parameters, each with a loopback ``http:`` canary and a ``file:`` canary; JSON-LD remote contexts,
RDF/XML DOCTYPEs and external entities, Turtle ``@base``, CSV web addresses; through ``/sparql``
(in-process, the worker pool, the HTML query page, the token-enabled update), the stored-query API,
the CLI (``sparql``, ``validate``, ``add``) and ``/api/validate``. Each is refused (400 / exit 2 with
a message naming what was refused) or harmless; the canaries record 0 accesses.

The canaries: an HTTP listener on 127.0.0.1 that records every connection it accepts, and a FIFO whose
writer side polls (a non-blocking ``O_WRONLY`` open succeeds only while a reader holds the FIFO open,
and a reader that opens it blocking waits until that writer comes): an atime can't be trusted, a
FIFO's opens can. ``test_the_canaries_see_what_the_engine_would_fetch`` shows both fire, and that
pyoxigraph itself does fetch SERVICE and LOAD IRIs — so every refusal here matters.

Expected failures (strict: they fail the suite once fixed, so the marker goes): ``pole-graph sparql``
does not check for SERVICE at all (queries.run_sparql), and server.py's keyword patterns miss a
SERVICE or LOAD glued to its neighbours (``SERVICE:``, ``1SERVICE<…>``, ``LOADSILENT<…>``), which
pyoxigraph's parser accepts — both reach the http canary.

Already covered elsewhere, not repeated: a real server refusing SERVICE, FROM, a prefixed FROM NAMED,
LOAD and SERVICE in an update against an http canary (test_sparql_protocol.py); an http JSON-LD
context and a nested ``@import`` through the CLI, a DOCTYPE entity bomb (test_steward.py).
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.request import urlopen

import pyoxigraph as ox
import pytest
from starlette.testclient import TestClient

from pole_graph.cli import main
from pole_graph.server import create_app
from pole_graph.settings import Settings
from pole_graph.store import DB_DIR
from tests.live import copy_store

ID = "https://w3id.org/pole-graph/id/"
TOKEN = "outbound-test-token"
NT = b"<urn:x-canary:s> <urn:x-canary:p> <urn:x-canary:o> .\n"


class Canary:
    """A loopback HTTP listener and a FIFO that record every connection and every open."""

    def __init__(self, folder: Path) -> None:
        self._events: list[str] = []
        self._lock = threading.Lock()
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/n-triples")
                self.send_header("Content-Length", str(len(NT)))
                self.end_headers()
                self.wfile.write(NT)

            do_GET = do_POST = do_HEAD = answer  # noqa: N815

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request, client_address) -> bool:  # every accepted connection
                canary._record(f"http connection from {client_address[0]}")
                return True

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.fifo = folder / "canary.nt"
        os.mkfifo(self.fifo)
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def file(self) -> str:
        return self.fifo.as_uri()

    def iri(self, kind: str, name: str) -> str:
        return f"{self.http}/{name}" if kind == "http" else self.file

    def _record(self, event: str) -> None:
        with self._lock:
            self._events.append(event)

    def _poll(self) -> None:
        while not self._stop.wait(0.002):
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no reader: nobody opened the canary
                    continue
                raise
            self._record("FIFO opened for reading")
            try:
                os.write(fd, NT)
            except OSError:
                pass
            finally:
                os.close(fd)  # the reader gets end-of-file instead of waiting forever

    def take(self) -> list[str]:
        """What happened since the last call (after a moment for a connection in flight)."""
        time.sleep(0.05)
        with self._lock:
            events, self._events = self._events, []
        return events

    def close(self) -> None:
        self._stop.set()
        self._poller.join(timeout=5)
        self._server.shutdown()
        self._server.server_close()
        self.fifo.unlink()


@pytest.fixture(scope="module")
def canary(tmp_path_factory):
    c = Canary(tmp_path_factory.mktemp("canary"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def private(built, tmp_path_factory) -> Path:
    return copy_store(built[1].path, tmp_path_factory.mktemp("outbound") / "store")


def size(path: Path) -> int:
    """Quads in the store: cheap, checked around each attack; the digest is compared at the end."""
    return len(ox.Store.read_only(str(path / DB_DIR)))


def fingerprint(path: Path) -> tuple[int, str]:
    lines = sorted(ox.Store.read_only(str(path / DB_DIR)).dump(format=ox.RdfFormat.N_QUADS).splitlines())
    return len(lines), hashlib.sha256(b"\n".join(lines)).hexdigest()


@pytest.fixture(scope="module")
def baseline(private) -> tuple[int, str]:
    """The private store's fingerprint before the first attack (the last test compares)."""
    return fingerprint(private)


@pytest.fixture(scope="module")
def client(private, baseline):
    app = create_app(Settings(store=private, query_workers=0, update_token=TOKEN, **_no_budget()))
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def pooled(private, baseline):
    """The same, with /sparql answered by a worker process (the server's default)."""
    app = create_app(Settings(store=private, query_workers=1, **_no_budget()))
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def scratch(built, tmp_path_factory):
    """A client on a store of its own, for attacks that still get through (and would change the store)."""
    path = copy_store(built[1].path, tmp_path_factory.mktemp("scratch") / "store")
    app = create_app(Settings(store=path, query_workers=0, update_token=TOKEN, **_no_budget()))
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        yield c, path


def _no_budget() -> dict:
    # dozens of refusals from one client: the per-client error budget (429), where there is one, is
    # another test's subject
    from dataclasses import fields

    return {"budget_errors": 0} if "budget_errors" in {f.name for f in fields(Settings)} else {}


def refused_or_harmless(response, where: str) -> None:
    if response.status_code in (200, 204):
        return
    assert response.status_code == 400, f"{where}: {response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/problem+json"), where
    assert response.json()["detail"], where


# ---- the canaries work, and the engine would fetch ------------------------------------------------

def test_the_canaries_see_what_the_engine_would_fetch(canary):
    assert canary.take() == []
    urlopen(canary.http + "/probe", timeout=5).read()
    assert canary.take() == ["http connection from 127.0.0.1"]
    assert canary.fifo.read_bytes() == NT  # a blocking open waits for the writer, which records it
    assert canary.take() == ["FIFO opened for reading"]
    scratch = ox.Store()
    scratch.update(f"LOAD <{canary.http}/load>")  # pyoxigraph fetches LOAD ...
    with pytest.raises((OSError, RuntimeError)):  # the canary's answer is no SPARQL result
        list(scratch.query(f"SELECT * WHERE {{ SERVICE <{canary.http}/service> {{ ?s ?p ?o }} }}"))  # ... and SERVICE
    assert len(canary.take()) == 2
    with pytest.raises(OSError):  # it does not open file: IRIs (its HTTP client knows only http and https)
        scratch.update(f"LOAD <{canary.file}>")
    assert canary.take() == []


# ---- SPARQL queries ------------------------------------------------------------------------------

QUERIES = {
    "service": "SELECT * WHERE { SERVICE <{iri}> { ?s ?p ?o } }",
    "service-silent": "select * where { service silent <{iri}> { ?s ?p ?o } }",
    "service-variable": "SELECT * WHERE { VALUES ?e { <{iri}> } SERVICE ?e { ?s ?p ?o } }",
    "service-prefixed": "PREFIX c: <{iri}> SELECT * WHERE { SERVICE c: { ?s ?p ?o } }",
    "ask-service": "ASK { SERVICE <{iri}> { } }",
    "construct-service": "CONSTRUCT { ?s ?p ?o } WHERE { SERVICE <{iri}> { ?s ?p ?o } }",
    "from": "SELECT * FROM <{iri}> WHERE { ?s ?p ?o }",
    "from-named": "SELECT * FROM NAMED <{iri}> WHERE { GRAPH ?g { ?s ?p ?o } }",
    "from-prefixed": "PREFIX c: <{iri}> SELECT * FROM c: WHERE { ?s ?p ?o }",
    "construct-from": "CONSTRUCT { ?s ?p ?o } FROM <{iri}> WHERE { ?s ?p ?o }",
    "describe": "DESCRIBE <{iri}>",
    "graph": "SELECT * WHERE { GRAPH <{iri}> { ?s ?p ?o } }",
    "load-as-query": "LOAD <{iri}>",
    # the query lexer once read these otherwise than the SPARQL grammar, so the SERVICE went unseen:
    "service-after-a-comment-ended-by-cr": "SELECT * WHERE { { BIND(1 AS ?x) } UNION { # x\rSERVICE <{iri}> { ?s ?p ?o } } }",
    "service-after-an-escaped-hash": "PREFIX ex: <http://e/> SELECT * WHERE { { ?s ex:a\\# ?o } UNION { SERVICE <{iri}> { ?a ?b ?c } } }",
    "service-after-an-escaped-quote": "PREFIX ex: <http://e/> SELECT * WHERE { { ?s ex:a\\' ?o } UNION "
                                      "{ SERVICE <{iri}> { ?a ?b ?c } } FILTER(?o != 'x') }",
    "service-after-an-iri-with-nbsp": "SELECT * WHERE { { ?s <http://x/\u00a0#> ?o } UNION { SERVICE <{iri}> { ?a ?b ?c } } }",
    "service-between-iris-with-quotes": "SELECT * WHERE { { ?s <http://x/\u2028'> ?o } UNION { SERVICE <{iri}> { ?a ?b ?c } } "
                                        "{ ?s <http://y/'> ?o } UNION { } }",
}
REFUSED = {"service", "service-silent", "service-variable", "service-prefixed", "ask-service", "construct-service",
           "from", "from-named", "from-prefixed", "construct-from", "load-as-query"} | {q for q in QUERIES if "after" in q or "between" in q}
IRI_KINDS = ["http", "file"]


def _query(name: str, canary: Canary, kind: str) -> str:
    return QUERIES[name].replace("{iri}", canary.iri(kind, name))


@pytest.mark.parametrize("kind", IRI_KINDS)
@pytest.mark.parametrize("name", QUERIES)
def test_a_query_reaching_outside_is_refused_or_harmless_over_http(client, pooled, canary, name, kind):
    text = _query(name, canary, kind)
    for where, c, headers in (("in-process", client, {"Accept": "application/sparql-results+json, text/turtle"}),
                              ("worker pool", pooled, {"Accept": "application/sparql-results+json, text/turtle"}),
                              ("HTML page", client, {"Accept": "text/html"})):
        r = c.get("/sparql", params={"query": text}, headers=headers)
        if where == "HTML page":  # the page shows the refusal in its form
            assert r.status_code in (200, 400), (where, r.status_code)
            if name in REFUSED:
                assert "not allowed" in r.text or "no such graph" in r.text or "syntax error" in r.text, where
            continue
        refused_or_harmless(r, f"{where} {name}")
        if name in REFUSED:
            assert r.status_code == 400, f"{where}: {name} was not refused"
            detail = r.json()["detail"]
            assert any(w in detail for w in ("SERVICE is not allowed", "LOAD is not allowed", "no such graph", "syntax error")), detail
        posted = c.post("/sparql", content=text.encode(), headers=dict(headers, **{"Content-Type": "application/sparql-query"}))
        assert posted.status_code == r.status_code, where
    assert canary.take() == []


@pytest.mark.parametrize("kind", IRI_KINDS)
def test_the_protocols_dataset_parameters_fetch_nothing(client, pooled, canary, kind):
    iri = canary.iri(kind, "dataset")
    for c in (client, pooled):
        for params in ({"default-graph-uri": iri}, {"named-graph-uri": iri}, {"default-graph-uri": iri, "named-graph-uri": iri}):
            r = c.get("/sparql", params=dict(params, query="SELECT * WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } } LIMIT 1"),
                      headers={"Accept": "application/sparql-results+json"})
            assert r.status_code == 200 and r.json()["results"]["bindings"] == [], r.text[:300]
    assert canary.take() == []


# ---- SPARQL updates (with the token) --------------------------------------------------------------

UPDATES = {
    "load": "LOAD <{iri}>",
    "load-silent-into": "LOAD SILENT <{iri}> INTO GRAPH <urn:x-canary:g>",
    "service-in-where": "INSERT { GRAPH <urn:x-canary:g> { ?s ?p ?o } } WHERE { SERVICE <{iri}> { ?s ?p ?o } }",
    "delete-service": "DELETE { ?s ?p ?o } WHERE { SERVICE SILENT <{iri}> { ?s ?p ?o } }",
    "using": "INSERT { GRAPH <urn:x-canary:g> { ?s ?p ?o } } USING <{iri}> WHERE { ?s ?p ?o }",
    "using-named": "INSERT { GRAPH <urn:x-canary:g> { ?s ?p ?o } } USING NAMED <{iri}> WHERE { GRAPH ?g { ?s ?p ?o } }",
    "with": "WITH <{iri}> INSERT { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "load-after-a-comment-ended-by-cr": "# x\rLOAD <{iri}>",
    "load-after-an-escaped-hash": "PREFIX ex: <http://e/> DELETE WHERE { ?s ex:a\\# ?o } ; LOAD <{iri}>",
    "service-after-an-escaped-hash": "PREFIX ex: <http://e/> INSERT { GRAPH <urn:x-canary:g> { ?s ?p ?o } } "
                                     "WHERE { { ?s ex:a\\# ?o } UNION { SERVICE <{iri}> { ?s ?p ?o } } }",
}
UPDATES_REFUSED = {"load", "load-silent-into", "service-in-where", "delete-service"} | {u for u in UPDATES if "after" in u}


@pytest.mark.parametrize("kind", IRI_KINDS)
@pytest.mark.parametrize("name", UPDATES)
def test_an_update_reaching_outside_is_refused_or_harmless(client, canary, private, name, kind):
    before = size(private)
    text = UPDATES[name].replace("{iri}", canary.iri(kind, name))
    r = client.post("/sparql", data={"update": text}, headers={"Authorization": f"Bearer {TOKEN}"})
    refused_or_harmless(r, name)
    if name in UPDATES_REFUSED:
        assert r.status_code == 400 and "LOAD and SERVICE are not allowed" in r.json()["detail"], r.text[:300]
    assert canary.take() == []
    assert size(private) == before  # the harmless ones match nothing in a graph the store lacks


@pytest.mark.parametrize("kind", IRI_KINDS)
def test_the_update_protocols_dataset_parameters_fetch_nothing(client, canary, private, kind):
    before = size(private)
    iri = canary.iri(kind, "using")
    for params in ({"using-graph-uri": iri}, {"using-named-graph-uri": iri}):
        r = client.post("/sparql", data=dict(params, update="INSERT { GRAPH <urn:x-canary:g> { ?s ?p ?o } } WHERE { ?s ?p ?o }"),
                        headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 204, r.text[:300]
    assert canary.take() == []
    assert size(private) == before


# ---- keywords glued to their neighbours --------------------------------------------------------------

GLUED = {  # pyoxigraph's parser takes a keyword with no space around it; each of these fetches in pyoxigraph
    "service-colon": ("query", "PREFIX : <{iri}> SELECT * WHERE { SERVICE: { ?s ?p ?o } }"),
    "service-glued-to-a-prefixed-name": ("query", "PREFIX c: <{iri}/> SELECT * WHERE { SERVICEc:x { ?s ?p ?o } }"),
    "service-glued-to-silent": ("query", "SELECT * WHERE { SERVICESILENT<{iri}> { ?s ?p ?o } }"),
    "service-glued-after-a-number": ("query", "SELECT * WHERE { ?s <http://x/p>? 1SERVICE<{iri}>{ ?a ?b ?c } }"),
    "service-glued-after-true": ("query", "SELECT * WHERE { ?s <http://x/p>? trueSERVICE<{iri}>{ ?a ?b ?c } }"),
    "load-colon": ("update", "PREFIX : <{iri}> LOAD:"),
    "load-glued-to-a-prefixed-name": ("update", "PREFIX c: <{iri}/> LOADc:x"),
    "load-glued-to-silent": ("update", "LOADSILENT<{iri}>"),
}
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # pyoxigraph's, on the 500 path
@pytest.mark.parametrize("name", GLUED)
def test_a_keyword_glued_to_its_neighbours_is_still_refused(scratch, canary, name):
    client, private = scratch
    before = size(private)
    operation, template = GLUED[name]
    text = template.replace("{iri}", canary.iri("http", name))
    if operation == "query":
        r = client.get("/sparql", params={"query": text}, headers={"Accept": "application/sparql-results+json"})
    else:
        r = client.post("/sparql", data={"update": text}, headers={"Authorization": f"Bearer {TOKEN}"})
    events = canary.take()  # first: a failed assertion must not leave them to the next test
    assert events == [], f"{name}: the endpoint reached the canary ({r.status_code})"
    assert size(private) == before  # a LOAD that got through also wrote the canary's triple
    assert r.status_code == 400, r.text[:300]


# ---- the stored-query API and search: an IRI given as a value is looked up, never dereferenced ------

@pytest.mark.parametrize("kind", IRI_KINDS)
def test_an_iri_given_as_a_parameter_or_a_search_is_not_dereferenced(client, canary, kind):
    iri = canary.iri(kind, "parameter")
    for path, params in (("/api/queries/pole", {"pole": iri}), ("/api/queries/sources", {"resource": iri}),
                         ("/api/queries/partnerships", {"country": iri}), ("/search", {"q": iri})):
        r = client.get(path, params=params, headers={"Accept": "application/json"})
        assert r.status_code in (200, 400), (path, r.status_code, r.text[:300])
    assert canary.take() == []


# ---- the CLI ----------------------------------------------------------------------------------------

def _cli_cases():
    for name in QUERIES:
        for kind in IRI_KINDS:
            yield pytest.param(name, kind, id=f"{name}-{kind}")


@pytest.mark.parametrize("name, kind", list(_cli_cases()))
def test_a_query_reaching_outside_is_refused_or_harmless_in_the_cli(private, baseline, canary, name, kind):
    out, err = io.StringIO(), io.StringIO()
    code = main(["sparql", _query(name, canary, kind), "--store", str(private), "--format", "json"], stdout=out, stderr=err)
    assert code in (0, 2), err.getvalue()
    if code == 2:
        assert err.getvalue().startswith("error: "), err.getvalue()
    assert canary.take() == []


def test_a_query_argument_naming_the_fifo_is_not_opened(private, baseline, canary):
    """``pole-graph sparql FILE`` reads a regular file; the FIFO canary is taken as (bad) query text."""
    code = main(["sparql", str(canary.fifo), "--store", str(private)], stdout=io.StringIO(), stderr=io.StringIO())
    assert code == 2
    assert canary.take() == []


# ---- records: JSON-LD contexts, RDF/XML DOCTYPEs and entities, Turtle @base, CSV web addresses ----------

def _records(canary: Canary, kind: str) -> dict[str, tuple[str, str, bool]]:
    """name -> (file name, content, refused?): refused ones must be exit 2 / 4xx naming the reason."""
    iri = canary.iri(kind, "record")
    pole = ID + "pole/x-canary"
    rdf = '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:s="http://www.w3.org/2004/02/skos/core#">'
    description = f'<rdf:Description rdf:about="{pole}"><s:prefLabel>&x;</s:prefLabel></rdf:Description></rdf:RDF>'
    return {
        "jsonld-context": ("r.jsonld", json.dumps({"@context": iri, "@id": pole, "p": "y"}, indent=1), True),
        "jsonld-import": ("r.jsonld", json.dumps({"@context": [{"@import": iri}], "@id": pole}, indent=1), True),
        "jsonld-scoped-context": ("r.jsonld", json.dumps({"@context": {"p": {"@id": "http://e/p", "@context": iri}},
                                                          "@id": pole, "p": {"q": "y"}}, indent=1), True),
        "jsonld-escaped-key": ("r.jsonld", '{\n "@cont\\u0065xt": "%s",\n "@id": "%s"\n}' % (iri, pole), True),
        "jsonld-in-graph": ("r.jsonld", json.dumps({"@graph": [{"@context": iri, "@id": pole}]}, indent=1), True),
        "jsonld-base-and-vocab": ("r.jsonld", json.dumps({"@context": {"@base": iri, "@vocab": iri + "#"},
                                                          "@id": pole, "p": "y"}, indent=1), False),
        "rdfxml-system-entity": ("r.rdf", f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [<!ENTITY x SYSTEM "{iri}">]>\n{rdf}{description}', True),
        "rdfxml-parameter-entity": ("r.rdf", f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [<!ENTITY % p SYSTEM "{iri}"> %p;]>\n'
                                             f'{rdf}{description}', True),
        "rdfxml-external-dtd": ("r.rdf", f'<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF SYSTEM "{iri}">\n{rdf}{description}', True),
        "rdfxml-lowercase-doctype-after-bom": ("r.rdf", f'\ufeff<?xml version="1.0"?>\n<!-- c -->\n<!doctype rdf:RDF '
                                                        f'PUBLIC "-//x//y" "{iri}">\n{rdf}{description}', True),
        "rdfxml-base-stylesheet-xinclude": ("r.rdf", f'<?xml version="1.0"?>\n<?xml-stylesheet href="{iri}"?>\n'
                                                     f'{rdf[:-1]} xml:base="{iri}" xmlns:xi="http://www.w3.org/2001/XInclude">'
                                                     f'<rdf:Description rdf:about="{pole}"><s:seeAlso rdf:resource="{iri}"/>'
                                                     f'<xi:include href="{iri}"/></rdf:Description></rdf:RDF>', False),
        "turtle-base-and-prefix": ("r.ttl", f"@base <{iri}> .\n@prefix c: <{iri}#> .\n<{pole}> c:p <x> ; <http://www.w3.org/2000/01/rdf-schema#seeAlso> <{iri}> .\n", False),
        "ntriples-file-iris": ("r.nt", f"<{pole}> <http://www.w3.org/2000/01/rdf-schema#seeAlso> <{iri}> .\n", False),
        "csv-website-and-source": ("organisations.csv", "key,kind,name_fr,name_en,country,locality,website,source\n"
                                   f"grappe-canary,foreign-cluster,Grappe canari,Canary cluster,CAN,Québec,{iri},{iri}\n", False),
    }


RECORD_NAMES = [
    "jsonld-context", "jsonld-import", "jsonld-scoped-context", "jsonld-escaped-key", "jsonld-in-graph", "jsonld-base-and-vocab",
    "rdfxml-system-entity", "rdfxml-parameter-entity", "rdfxml-external-dtd", "rdfxml-lowercase-doctype-after-bom",
    "rdfxml-base-stylesheet-xinclude", "turtle-base-and-prefix", "ntriples-file-iris", "csv-website-and-source"]


MEDIA = {"jsonld": "application/ld+json", "rdf": "application/rdf+xml", "ttl": "text/turtle",
         "nt": "application/n-triples", "csv": "text/csv"}


@pytest.mark.parametrize("kind", IRI_KINDS)
@pytest.mark.parametrize("name", RECORD_NAMES)
def test_a_record_reaching_outside_is_refused_or_harmless_over_http(client, private, canary, name, kind):
    filename, content, refused = _records(canary, kind)[name]
    before = size(private)
    r = client.post(f"/api/validate?name={filename}", content=content.encode(),
                    headers={"Content-Type": MEDIA[filename.rsplit(".", 1)[1]], "Accept": "application/json"})
    assert r.status_code in (200, 400, 422), (r.status_code, r.text[:300])
    if refused:
        assert r.status_code == 400, r.text[:300]
        problems = [p for record in r.json()["records"] for p in record["problems"]]
        assert any("remote JSON-LD context" in p["message"] or "DOCTYPE" in p["message"] for p in problems), problems
    assert canary.take() == []
    assert size(private) == before


def test_records_reaching_outside_are_refused_or_harmless_in_the_cli(private, baseline, canary, tmp_path):
    """Every record file of both kinds through `validate` (refused ones, then harmless ones: one steward
    each) and the refused ones through `add`, which writes nothing."""
    before = size(private)
    files: dict[bool, list[Path]] = {True: [], False: []}
    for kind in IRI_KINDS:
        for name, (filename, content, refused) in _records(canary, kind).items():
            path = tmp_path / f"{name}-{kind}" / filename
            path.parent.mkdir()
            path.write_text(content, encoding="utf-8")
            files[refused].append(path)
    out = io.StringIO()
    assert main(["validate", *map(str, files[True]), "--store", str(private), "--lang", "en", "--format", "json"],
                stdout=out, stderr=io.StringIO()) == 2
    said: dict[str, list[str]] = {}
    for record in json.loads(out.getvalue())["records"]:
        said.setdefault(record["file"], []).extend(p["message"] for p in record["problems"] if p["kind"] == "security")
    for path in files[True]:
        assert any("remote JSON-LD context" in m or "DOCTYPE" in m for m in said.get(str(path), [])), (path, said)
    err = io.StringIO()
    assert main(["add", *map(str, files[True]), "--store", str(private), "--lang", "en"], stdout=io.StringIO(), stderr=err) == 2
    assert "nothing was written" in err.getvalue()
    code = main(["validate", *map(str, files[False]), "--store", str(private), "--lang", "en"], stdout=io.StringIO(), stderr=io.StringIO())
    assert code in (0, 1, 2)
    assert canary.take() == []
    assert size(private) == before


def test_the_store_never_changed(private, baseline):
    """Last: every attack above (but the glued keywords, on a store of their own) ran on this copy; it
    holds exactly the quads it held before."""
    assert fingerprint(private) == baseline
