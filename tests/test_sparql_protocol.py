"""The SPARQL 1.1 Protocol, against a real ``pole-graph serve`` process over real sockets.

First the 34 W3C protocol tests, read from their manifest (``sparql11/protocol/manifest.ttl``): each
is one or more HTTP requests (``ht:Request``) and what each response must be (``mf:expectedStatus``
as a status class, ``mf:expectedFormat`` "boolean" / "tabular" / "RDF", ``mf:expectedBoolean``).
The graphs a test names (``ut:graphData``) are loaded through the endpoint itself, with a SPARQL
update, just before it runs; the update tests clear the store, so the server works on a copy.

Then what the endpoint promises beyond the protocol: nothing reaches outside the store (SERVICE,
LOAD, FROM a remote graph), updates need the token, a query past its deadline is stopped, the row
cap is announced, an update is seen by every worker, errors are ``application/problem+json``.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode, urlsplit
from urllib.request import url2pathname

import pyoxigraph as ox
import pytest
from rdflib import RDF, RDFS, Graph, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.compare import isomorphic
from rdflib.query import Result

from pole_graph.namespaces import GRAPH_ONTOLOGY, GRAPH_SHAPES
from tests.conftest import SHARED
from tests.live import copy_store, serve

PROTOCOL = SHARED / "w3c-tests" / "sparql" / "sparql11" / "protocol"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")

# what each mf:expectedFormat admits (media type → rdflib parser), as the manifest's test names list them
BOOLEAN_MEDIA = {"application/sparql-results+json": "json", "application/sparql-results+xml": "xml"}
TABULAR_MEDIA = {**BOOLEAN_MEDIA, "text/csv": "csv", "text/tab-separated-values": "tsv"}
RDF_MEDIA = {"application/rdf+xml": "xml", "text/turtle": "turtle", "application/n-triples": "nt"}
PROBLEM = "application/problem+json"


# ---- the manifest ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Expected:
    """What a response must be: its status class (2 for ``hts:StatusCode2xx``…), format, boolean."""

    classes: frozenset[int]
    format: str | None = None
    boolean: bool | None = None


@dataclass(frozen=True)
class Exchange:
    """One request of a test (its path mapped from ``/sparql/`` to ours) and its expected response."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    expected: Expected


@dataclass(frozen=True)
class ProtocolTest:
    iri: str
    name: str
    graphs: tuple[tuple[str, Path], ...]  # (graph IRI, N-Triples file) pairs to load first
    exchanges: tuple[Exchange, ...]

    @property
    def id(self) -> str:
        return self.iri.rsplit("#", 1)[-1]

    @property
    def negative(self) -> bool:
        return all(x.expected.classes == {4} for x in self.exchanges)


def read_manifest(path: Path) -> list[ProtocolTest]:
    """The manifest's entries, in its order."""
    g = Graph().parse(path, format="turtle")
    manifest = next(g.subjects(RDF.type, MF.Manifest))
    tests = []
    for entry in Collection(g, g.value(manifest, MF.entries)):
        graphs = tuple(sorted((str(g.value(d, RDFS.label)), Path(url2pathname(urlsplit(g.value(d, UT.graph)).path)))
                              for d in g.objects(entry, UT.graphData)))
        action = g.value(entry, MF.action)
        exchanges = tuple(_exchange(g, request) for request in Collection(g, g.value(action, HT.requests)))
        tests.append(ProtocolTest(str(entry), str(g.value(entry, MF.name)), graphs, exchanges))
    return tests


def _exchange(g: Graph, request) -> Exchange:
    headers = tuple((str(g.value(h, HT.fieldName)), str(g.value(h, HT.fieldValue)))
                    for h in Collection(g, g.value(request, HT.headers) or RDF.nil))
    body = None
    if (content := g.value(request, HT.body)) is not None:
        body = str(g.value(content, CNT.chars)).encode(str(g.value(content, CNT.characterEncoding) or "UTF-8"))
    response = g.value(request, HT.resp)
    classes = frozenset(int(re.fullmatch(r".*StatusCode(\d)xx", str(s)).group(1))
                        for s in g.objects(response, MF.expectedStatus))
    fmt, boolean = g.value(response, MF.expectedFormat), g.value(response, MF.expectedBoolean)
    target = re.sub(r"^/sparql/", "/sparql", str(g.value(request, HT.absolutePath)))
    return Exchange(str(g.value(request, HT.methodName)), target, headers, body,
                    Expected(classes, str(fmt) if fmt is not None else None,
                             boolean.toPython() if boolean is not None else None))


MANIFEST = read_manifest(PROTOCOL / "manifest.ttl")


def test_the_manifest_has_the_34_tests_and_14_negative_ones():
    assert len(MANIFEST) == 34
    assert sum(t.negative for t in MANIFEST) == 14


# ---- a client --------------------------------------------------------------------------------

@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    @property
    def media_type(self) -> str:
        return (self.headers.get("content-type") or "").split(";")[0].strip().lower()

    def problem(self) -> dict:
        assert self.media_type == PROBLEM, (self.status, self.headers.get("content-type"), self.body[:300])
        return json.loads(self.body)


def send(base: str, method: str, target: str, headers: dict[str, str] | None = None,
         body: bytes | None = None, timeout: float = 30) -> Reply:
    """One HTTP exchange, exactly as given: http.client adds no Content-Type of its own (urllib would)."""
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


@dataclass
class Endpoint:
    """A running server, its store folder, and the update token it was started with (if any)."""

    base: str
    store: Path
    token: str | None = None
    auth: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.auth = {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def query(self, text: str, params: dict[str, str | list[str]] | None = None, **headers: str) -> Reply:
        target = "/sparql" + ("?" + urlencode(params, doseq=True) if params else "")
        return send(self.base, "POST", target, {"Content-Type": "application/sparql-query", **headers}, text.encode())

    def ask(self, text: str, params: dict[str, str | list[str]] | None = None) -> bool:
        reply = self.query(text, params, Accept="application/sparql-results+json")
        assert reply.status == 200, reply.body[:500]
        return json.loads(reply.body)["boolean"]

    def update(self, text: str, params: dict[str, str | list[str]] | None = None,
               headers: dict[str, str] | None = None) -> Reply:
        target = "/sparql" + ("?" + urlencode(params, doseq=True) if params else "")
        return send(self.base, "POST", target, {"Content-Type": "application/sparql-update",
                                               **(self.auth if headers is None else headers)}, text.encode())

    def revision(self) -> int:
        """How many times the store was written since its build (build.json, rewritten on each write)."""
        return int(json.loads((self.store / "build.json").read_text(encoding="utf-8")).get("revision", 0))


@pytest.fixture(scope="module")
def endpoint(built, tmp_path_factory) -> Iterator[Endpoint]:
    """A server on a private copy of the store (the update tests clear it), updates on with a token."""
    store = copy_store(built[1].path, tmp_path_factory.mktemp("protocol") / "store")
    token = secrets.token_urlsafe(24)
    with serve(store, env={"POLE_GRAPH_UPDATE_TOKEN": token}) as base:
        yield Endpoint(base, store, token)


@pytest.fixture(scope="module")
def limited(built, tmp_path_factory) -> Iterator[Endpoint]:
    """A read-only server with a 2 s deadline and a 3-row cap, on its own copy (its process is found by that path)."""
    store = copy_store(built[1].path, tmp_path_factory.mktemp("limited") / "store")
    env = {"POLE_GRAPH_UPDATE_TOKEN": "", "POLE_GRAPH_QUERY_TIMEOUT": "2", "POLE_GRAPH_MAX_ROWS": "3"}
    with serve(store, env=env) as base:
        yield Endpoint(base, store)


def load(endpoint: Endpoint, graphs: tuple[tuple[str, Path], ...]) -> None:
    """Make each test graph hold exactly its file, through the endpoint: read it back (CONSTRUCT),
    and replace it with a SPARQL update only when it differs (a write restarts the workers)."""
    wanted = {iri: Graph().parse(path, format="nt") for iri, path in graphs}
    stale = []
    for iri, graph in wanted.items():
        reply = endpoint.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}",
                               Accept="application/n-triples")
        assert reply.status == 200, reply.body[:500]
        if not isomorphic(Graph().parse(data=reply.body, format="nt"), graph):
            stale.append(iri)
    if stale:
        drops = " ; ".join(f"DROP SILENT GRAPH <{iri}>" for iri in stale)
        data = " ".join(f"GRAPH <{iri}> {{ {wanted[iri].serialize(format='nt')} }}" for iri in stale)
        reply = endpoint.update(f"{drops} ; INSERT DATA {{ {data} }}")
        assert reply.status == 204, reply.body[:500]


# ---- the W3C tests ---------------------------------------------------------------------------

def check(reply: Reply, expected: Expected) -> None:
    assert reply.status // 100 in expected.classes, f"{reply.status} {reply.body[:500]!r}"
    if expected.format == "boolean":
        assert reply.media_type in BOOLEAN_MEDIA, reply.media_type
        result = Result.parse(io.BytesIO(reply.body), format=BOOLEAN_MEDIA[reply.media_type])
        assert result.type == "ASK"
        if expected.boolean is not None:
            assert result.askAnswer is expected.boolean
    elif expected.format == "tabular":
        assert reply.media_type in TABULAR_MEDIA, reply.media_type
        result = Result.parse(io.BytesIO(reply.body), format=TABULAR_MEDIA[reply.media_type])
        assert result.type == "SELECT" and result.vars
    elif expected.format == "RDF":
        assert reply.media_type in RDF_MEDIA, reply.media_type
        Graph().parse(data=reply.body, format=RDF_MEDIA[reply.media_type])
    elif expected.format is not None:
        raise AssertionError(f"unknown mf:expectedFormat {expected.format!r}")


@pytest.mark.parametrize("test", MANIFEST, ids=lambda t: t.id)
def test_w3c_protocol(endpoint, test: ProtocolTest):
    """Every request carries the token, so a negative update test fails for its own reason, not a 401."""
    if test.graphs:
        load(endpoint, test.graphs)
    revision = endpoint.revision()
    for exchange in test.exchanges:
        reply = send(endpoint.base, exchange.method, exchange.target, {**dict(exchange.headers), **endpoint.auth},
                     exchange.body)
        try:
            check(reply, exchange.expected)
        except AssertionError as exc:
            raise AssertionError(f"{test.name}: {exchange.method} {exchange.target}: {exc}") from None
        if test.negative:
            assert reply.status not in (401, 403), reply.body[:300]
    if test.negative:
        assert endpoint.revision() == revision, "a refused request wrote to the store"


# ---- nothing reaches outside the store -------------------------------------------------------

@pytest.fixture(scope="module")
def outside() -> Iterator[tuple[str, list[str]]]:
    """A web server standing for the rest of the world: it records every request it gets."""
    hits: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(f"{self.command} {self.path}")
            self.send_response(200)
            self.send_header("Content-Type", "application/n-triples")
            self.end_headers()
            self.wfile.write(b"<urn:remote:s> <urn:remote:p> <urn:remote:o> .\n")

        do_POST = do_GET

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()


REACHING_OUT = {
    "service": ("query", "SELECT * WHERE { SERVICE <{url}/sparql> { ?s ?p ?o } }"),
    "service-lowercase": ("query", "select * where { service silent <{url}/sparql> { ?s ?p ?o } }"),
    "from": ("query", "SELECT * FROM <{url}/graph.nt> WHERE { ?s ?p ?o }"),
    "from-named-prefixed": ("query", "PREFIX remote: <{url}/> SELECT * FROM NAMED remote:graph.nt WHERE { GRAPH ?g { ?s ?p ?o } }"),
    "load": ("update", "LOAD <{url}/graph.nt> INTO GRAPH <urn:pole-graph:test:loaded>"),
    "load-silent": ("update", "load silent <{url}/graph.nt>"),
    "service-in-update": ("update", "INSERT { GRAPH <urn:pole-graph:test:loaded> { ?s ?p ?o } } WHERE { SERVICE <{url}/sparql> { ?s ?p ?o } }"),
}


@pytest.mark.parametrize("name", REACHING_OUT)
def test_reaching_outside_the_store_is_refused_before_evaluation(endpoint, outside, name):
    url, hits = outside
    operation, template = REACHING_OUT[name]
    text = template.replace("{url}", url)
    revision = endpoint.revision()
    reply = endpoint.query(text) if operation == "query" else endpoint.update(text)
    assert reply.status == 400
    assert reply.problem()["status"] == 400
    assert hits == [], "the endpoint made an outgoing request"
    assert endpoint.revision() == revision
    assert not endpoint.ask("ASK { GRAPH ?g { <urn:remote:s> ?p ?o } }")


def test_keywords_in_strings_iris_and_comments_are_not_refused(endpoint):
    reply = endpoint.query('SELECT ("SERVICE <x:y> {} LOAD FROM" AS ?text) WHERE { } # SERVICE <http://x/>\n',
                           Accept="application/sparql-results+json")
    assert reply.status == 200, reply.body[:500]
    assert json.loads(reply.body)["results"]["bindings"][0]["text"]["value"] == "SERVICE <x:y> {} LOAD FROM"


# ---- updates --------------------------------------------------------------------------------

@pytest.mark.parametrize("authorization", [None, "Bearer not-the-token", "{token}", "Basic {token}", "Bearer "],
                         ids=["none", "wrong-token", "no-scheme", "basic", "empty"])
def test_an_update_without_the_token_is_refused_and_changes_nothing(endpoint, authorization):
    headers = {"Authorization": authorization.replace("{token}", endpoint.token)} if authorization else {}
    revision = endpoint.revision()
    reply = endpoint.update("INSERT DATA { GRAPH <urn:pole-graph:test:intruder> { <urn:a> <urn:b> <urn:c> } }",
                            headers=headers)
    assert reply.status == 401
    assert "token" in reply.problem()["detail"]
    assert endpoint.revision() == revision
    assert not endpoint.ask("ASK { GRAPH <urn:pole-graph:test:intruder> { ?s ?p ?o } }")


def test_an_update_is_refused_when_the_server_has_no_token(limited):
    revision = limited.revision()
    reply = limited.update("CLEAR ALL", headers={"Authorization": "Bearer anything"})
    assert reply.status == 403
    assert reply.problem()["detail"] == "updates are off"
    assert limited.revision() == revision
    assert limited.ask("ASK { ?s ?p ?o }")


def test_an_update_is_seen_by_every_worker(endpoint):
    """After a write the server reopens the store: stale read-only handles would miss the change."""
    probe = "ASK { GRAPH <urn:pole-graph:test:seen> { <urn:s> <urn:p> 1 } }"
    for write, seen in (("INSERT DATA { GRAPH <urn:pole-graph:test:seen> { <urn:s> <urn:p> 1 } }", True),
                        ("DELETE DATA { GRAPH <urn:pole-graph:test:seen> { <urn:s> <urn:p> 1 } }", False)):
        assert endpoint.update(write).status == 204
        with ThreadPoolExecutor(4) as pool:  # at once, so that both workers answer
            assert list(pool.map(endpoint.ask, [probe] * 4)) == [seen] * 4
        assert endpoint.ask(probe) is seen


def test_queries_during_an_update_are_answered(endpoint):
    """The server answers from its snapshot of the store while an update writes the store, then
    from the new one; a worker whose snapshot was retired under it hands the query on."""
    done = threading.Event()
    statuses: list[int | str] = []

    def keep_asking() -> None:
        while not done.is_set():
            try:
                statuses.append(endpoint.query("ASK { ?s ?p ?o }").status)
            except OSError as exc:  # a timeout: the server hung
                statuses.append(repr(exc))
                return

    askers = [threading.Thread(target=keep_asking) for _ in range(3)]
    for asker in askers:
        asker.start()
    try:
        for n in range(3):
            time.sleep(0.2)
            reply = endpoint.update(f"""INSERT {{ GRAPH <urn:pole-graph:test:copy-{n}> {{ ?s ?p ?o }} }}
                                        WHERE {{ GRAPH <{GRAPH_ONTOLOGY}> {{ ?s ?p ?o }} }}""")
            assert reply.status == 204, reply.body[:500]
    finally:
        done.set()
        for asker in askers:
            asker.join()
    assert statuses and set(statuses) == {200}, sorted(set(map(str, statuses)))


def test_using_named_graph_uri_applies_to_delete_where(endpoint):
    """``DELETE WHERE`` cannot carry USING: the protocol's dataset must still restrict what it matches."""
    assert endpoint.update("""INSERT DATA { GRAPH <urn:pole-graph:test:g1> { <urn:s> <urn:p> 1 }
                                            GRAPH <urn:pole-graph:test:g2> { <urn:s> <urn:p> 2 } }""").status == 204
    reply = endpoint.update("DELETE WHERE { GRAPH ?g { <urn:s> <urn:p> ?o } }",
                            {"using-named-graph-uri": "urn:pole-graph:test:g1"})
    assert reply.status == 204, reply.body[:500]
    assert not endpoint.ask("ASK { GRAPH <urn:pole-graph:test:g1> { ?s ?p ?o } }")
    assert endpoint.ask("ASK { GRAPH <urn:pole-graph:test:g2> { <urn:s> <urn:p> 2 } }")


def test_a_failed_update_writes_nothing(endpoint):
    revision = endpoint.revision()
    reply = endpoint.update("DROP GRAPH <urn:pole-graph:test:never-created>")
    assert reply.status == 400
    assert "does not exist" in reply.problem()["detail"]
    assert endpoint.revision() == revision


# ---- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("operation,text", [("query", "SELECT ?s WHERE { ?s ?p }"), ("update", "INSERT DATA { <urn:s> }")])
def test_errors_are_problem_json_carrying_the_engine_message(endpoint, operation, text):
    with pytest.raises(SyntaxError) as engine:
        ox.Store().query(text) if operation == "query" else ox.Store().update(text)
    reply = endpoint.query(text) if operation == "query" else endpoint.update(text)
    assert reply.status == 400
    problem = reply.problem()
    assert problem["status"] == 400 and problem["title"] == "Bad Request"
    assert str(engine.value) in problem["detail"]


# ---- the dataset -----------------------------------------------------------------------------

def test_without_a_dataset_the_default_graph_is_the_knowledge_graph(limited):
    owl_class = "ASK { ?c a <http://www.w3.org/2002/07/owl#Class> }"
    shape = "ASK { ?s a <http://www.w3.org/ns/shacl#NodeShape> }"
    assert limited.ask(owl_class)
    assert not limited.ask(shape)  # the shapes are a named graph, outside the knowledge graph
    assert limited.ask(f"ASK {{ GRAPH <{GRAPH_SHAPES}> {{ ?s a <http://www.w3.org/ns/shacl#NodeShape> }} }}")
    # a dataset in the request is exactly what it names: no default graph when it names only named graphs
    assert not limited.ask(owl_class, {"named-graph-uri": str(GRAPH_ONTOLOGY)})
    assert limited.ask(owl_class, {"default-graph-uri": str(GRAPH_ONTOLOGY)})
    assert not limited.ask(f"ASK {{ GRAPH <{GRAPH_SHAPES}> {{ ?s ?p ?o }} }}", {"default-graph-uri": str(GRAPH_ONTOLOGY)})
    assert limited.ask(owl_class.replace("ASK", f"ASK FROM <{GRAPH_ONTOLOGY}>"))
    assert not limited.ask(owl_class.replace("ASK", f"ASK FROM NAMED <{GRAPH_ONTOLOGY}>"))


def test_a_dataset_that_is_not_an_iri_is_refused(limited):
    reply = limited.query("ASK {}", {"default-graph-uri": "not an iri"})
    assert reply.status == 400
    assert "default-graph-uri" in reply.problem()["detail"]


def test_the_service_description_says_whether_updates_are_on(endpoint, limited):
    sd = Namespace("http://www.w3.org/ns/sparql-service-description#")
    for server, updates in ((endpoint, True), (limited, False)):
        reply = send(server.base, "GET", "/sparql", {"Accept": "text/turtle"})
        assert reply.status == 200 and reply.media_type == "text/turtle"
        description = Graph().parse(data=reply.body, format="turtle")
        service = URIRef(server.base + "/sparql")
        assert (service, sd.endpoint, service) in description
        assert ((service, sd.supportedLanguage, sd.SPARQL11Update) in description) is updates


# ---- limits ---------------------------------------------------------------------------------

def _server_pid(store: Path) -> int:
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and str(store).encode() in argv:
            return int(entry.name)
    raise LookupError(f"no server process for {store}")


def _children(pid: int) -> set[int]:
    children = set()
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.add(int(entry.name))
    return children


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table in /proc")
def test_a_query_past_its_deadline_is_stopped_and_the_server_answers_the_next(limited):
    server = _server_pid(limited.store)
    workers = _children(server)
    started = time.monotonic()
    reply = limited.query("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }")
    took = time.monotonic() - started
    assert reply.status == 503
    assert "deadline of 2 s" in reply.problem()["detail"]
    assert 2 <= took < 10
    assert workers - _children(server), "the worker running the query is still alive"
    assert limited.ask("ASK { ?s ?p ?o }")


def test_the_row_cap_is_announced(limited):
    reply = limited.query("SELECT ?s WHERE { ?s ?p ?o } LIMIT 10", Accept="application/sparql-results+json")
    assert reply.status == 200 and reply.headers["X-Result-Truncated"] == "3"
    assert len(json.loads(reply.body)["results"]["bindings"]) == 3
    reply = limited.query("CONSTRUCT WHERE { ?s ?p ?o } LIMIT 10", Accept="application/n-triples")
    assert reply.status == 200 and reply.headers["X-Result-Truncated"] == "3"
    assert len(Graph().parse(data=reply.body, format="nt")) == 3
    reply = limited.query("SELECT ?s WHERE { ?s ?p ?o } LIMIT 3", Accept="application/sparql-results+json")
    assert reply.status == 200 and "X-Result-Truncated" not in reply.headers
