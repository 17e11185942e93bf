"""Scale-out: pole-graph on a real Oxigraph server (the `oxigraph` pip package, started here on a free
port of 127.0.0.1 with a store of its own): push, parity of every stored query with the embedded
store, crash safety of push (kill -9 mid-push), and the faults a remote server can throw at us —
down, slow, partial answers — the last ones from a tiny local HTTP server that answers each faulty
response (Oxigraph cannot be made to send a Fuseki banner or a Virtuoso 206)."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pyoxigraph as ox
import pytest

from pole_graph import GraphStore, run_stored
from pole_graph.cli import main
from pole_graph.errors import QueryError
from pole_graph.queries import QueryResult
from pole_graph.remote import (
    BUILD_GRAPH, REVISION, STAGING, Client, RemoteConflict, Endpoints, PartialAnswer, RemoteDB, RemoteError, RemoteStore, RemoteTimeout,
    RemoteUnavailable, chunks, push, remote_counts,
)
from pole_graph.settings import Settings
from pole_graph.store import open_store

OXIGRAPH = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")
pytestmark = pytest.mark.skipif(OXIGRAPH is None, reason="the oxigraph server (pip install oxigraph) is not installed")
BASE = "https://w3id.org/pole-graph/"
ID = BASE + "id/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Oxigraph:
    """`oxigraph serve --location DIR --bind 127.0.0.1:PORT`, which a test may kill and restart."""

    def __init__(self, location: Path) -> None:
        self.location, self.port = location, free_port()
        self.url = f"http://127.0.0.1:{self.port}/query"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Oxigraph":
        self.process = subprocess.Popen([OXIGRAPH, "serve", "--location", str(self.location), "--bind",
                                         f"127.0.0.1:{self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(self.url + "?query=ASK%7B%7D", timeout=2):
                    return self
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("oxigraph serve did not start") from None
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def oxigraph(location: Path) -> Iterator[Oxigraph]:
    server = Oxigraph(location).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def remote(built, tmp_path_factory) -> Iterator[str]:
    """A real Oxigraph server holding the session's built store, pushed once; yields its query URL."""
    with oxigraph(tmp_path_factory.mktemp("oxigraph") / "db") as server:
        push(built[1], Endpoints.derive(server.url))
        yield server.url


def run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def canonical_rows(result: QueryResult) -> list[tuple]:
    """Rows as comparable text, blank nodes aside (their labels are the store's own)."""
    def text(term):
        return "_:b" if isinstance(term, ox.BlankNode) else (None if term is None else str(term))
    return sorted(tuple(text(t) for t in row) for row in result.rows)


def dataset_hash(db, graphs: list[str]) -> str:
    """A hash of the named graphs, blank nodes canonicalised (RDFC): equal data, equal hash."""
    dataset = ox.Dataset()
    for g in graphs:
        for q in db.quads_for_pattern(None, None, None, ox.NamedNode(g)):
            dataset.add(q)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return hashlib.sha256("\n".join(sorted(str(q) for q in dataset)).encode()).hexdigest()


def local_graphs(store: GraphStore) -> list[str]:
    return sorted(g.value for g in store.db.named_graphs())


# ---- parity --------------------------------------------------------------------------------------

def test_every_example_of_every_stored_query_gives_the_same_rows_remote_as_embedded(remote, store, catalogue):
    remote_store = RemoteStore.open(Endpoints.derive(remote))
    checked = 0
    for name in catalogue.names():
        query = catalogue.queries[name]
        for args in query.examples or ({},):
            for lang in ("fr", "en"):
                embedded = run_stored(store, catalogue, name, args, lang)
                far = run_stored(remote_store, catalogue, name, args, lang)
                assert far.columns == embedded.columns, (name, args)
                assert canonical_rows(far) == canonical_rows(embedded), (name, args, lang)
                checked += 1
    assert checked >= 2 * len(catalogue.names())
    assert remote_store.info == store.info  # what the build wrote, read back from graph/build


def test_the_pushed_graphs_equal_the_built_ones_blank_nodes_included(remote, store):
    graphs = local_graphs(store)
    remote_store = RemoteStore.open(Endpoints.derive(remote))
    assert remote_store.db.graphs == graphs
    assert dataset_hash(remote_store.db, graphs) == dataset_hash(store.db, graphs)
    assert remote_counts(remote_store.db.client, graphs) == {g: len(list(store.db.quads_for_pattern(
        None, None, None, ox.NamedNode(g)))) for g in graphs}


def test_the_poles_of_bretagne_read_the_same_through_the_cli(remote, store):
    code_e, embedded, _ = run("query", "poles", "region=Bretagne", "--store", store.path)
    code_r, far, err = run("query", "poles", "region=Bretagne", "--endpoint", remote)
    assert (code_e, code_r) == (0, 0), err
    assert far == embedded and "Images & Réseaux" in far
    code, far_json, _ = run("query", "poles", "region=Bretagne", "--endpoint", remote, "--format", "json")
    assert code == 0 and json.loads(far_json)["results"]["bindings"]


def test_sparql_export_and_validate_read_the_remote_store(remote, store, tmp_path):
    ask = "ASK { ?p a <https://w3id.org/pole-graph/def/core#CompetitivenessCluster> }"
    assert run("sparql", ask, "--endpoint", remote, "--format", "json")[1].strip().endswith("true}")
    construct = f"CONSTRUCT WHERE {{ <{ID}pole/valorial> ?p ?o }}"
    _, e_nt, _ = run("sparql", construct, "--store", store.path, "--format", "nt")
    _, r_nt, _ = run("sparql", construct, "--endpoint", remote, "--format", "nt")
    assert sorted(r_nt.splitlines()) == sorted(e_nt.splitlines()) and r_nt
    _, e_dump, _ = run("export", "--graph", "asserted", "--format", "nt", "--store", store.path)
    _, r_dump, _ = run("export", "--graph", "asserted", "--format", "nt", "--endpoint", remote)
    plain = lambda text: sorted(line for line in text.splitlines() if "_:" not in line)  # noqa: E731
    assert plain(r_dump) == plain(e_dump) and len(r_dump.splitlines()) == len(e_dump.splitlines())
    record = tmp_path / "partenariat.csv"
    record.write_text("key,pole,partner,year,description_fr,description_en,source\n"
                      "lyonbiopole-x,lyonbiopol,nobody-here,2024,Essai.,Test.,https://example.org/x\n", encoding="utf-8")
    e_code, e_out, _ = run("validate", record, "--store", store.path, "--format", "json")
    r_code, r_out, _ = run("validate", record, "--endpoint", remote, "--format", "json")
    assert r_code == e_code == 2
    strip = lambda text: {k: v for k, v in json.loads(text).items() if k not in ("seconds",)}  # noqa: E731
    assert strip(r_out) == strip(e_out)
    assert "lyonbiopole" in r_out  # the suggestion comes from the remote graph


def test_verbs_that_work_on_local_files_refuse_an_endpoint(remote, tmp_path):
    for argv in (("build",), ("publish", "--out", tmp_path / "site")):
        code, _, err = run(*argv, "--endpoint", remote)
        assert code == 2 and "does not work on a remote store" in err


SOURCE = "https://example.org/annonce-partenariat"
PARTNER = f"""key,kind,name_fr,name_en,country,locality,website,source
biotech-quebec-test,foreign-cluster,Grappe biotech du Québec (essai),Quebec biotech cluster (test),CAN,Québec,https://www.biotech-qc.example/,{SOURCE}
"""
PARTNERSHIP = f"""key,pole,partner,year,description_fr,description_en,source
lyonbiopole-biotech-quebec-test,lyonbiopole,biotech-quebec-test,2024,Partenariat d'essai.,Test partnership.,{SOURCE}
"""


def test_add_and_retract_on_the_remote_store_match_the_embedded_store(store, catalogue, tmp_path):
    local = tmp_path / "local"
    shutil.copytree(store.path, local)
    files = [tmp_path / "partenaire.csv", tmp_path / "partenariat.csv"]
    files[0].write_text(PARTNER, encoding="utf-8")
    files[1].write_text(PARTNERSHIP, encoding="utf-8")
    with oxigraph(tmp_path / "db") as server:
        push(store, Endpoints.derive(server.url))
        for where in (("--store", local), ("--endpoint", server.url)):
            code, out, err = run("add", *files, *where, "--by", "test")
            assert code == 0, out + err
        remote_store = RemoteStore.open(Endpoints.derive(server.url))
        near = run_stored(GraphStore.open(local), catalogue, "partnerships", {"pole": "lyonbiopole"})
        far = run_stored(remote_store, catalogue, "partnerships", {"pole": "lyonbiopole"})
        assert canonical_rows(far) == canonical_rows(near)
        assert "biotech-quebec-test" in str(far.rows)
        assert run("history", "--endpoint", server.url, "--format", "json")[1].count('"add"') == 1
        code, out, err = run("retract", "partnership/lyonbiopole-biotech-quebec-test", "--endpoint", server.url)
        assert code == 0, out + err
        after = run_stored(RemoteStore.open(Endpoints.derive(server.url)), catalogue, "partnerships", {"pole": "lyonbiopole"})
        assert "lyonbiopole-biotech-quebec-test" not in str(after.rows)


def test_two_stewards_checking_at_once_cannot_both_commit_on_the_remote(store, tmp_path):
    """Each checked its record against the same graph; the second commit would not have been
    checked against the first's change, so it is refused whole (class 7 of the reliability notes)."""
    from pole_graph.namespaces import PG
    from pole_graph.steward import Steward

    (tmp_path / "partenaire.csv").write_text(PARTNER, encoding="utf-8")
    other = PARTNER.replace("biotech-quebec-test", "biotech-ontario-test").replace("Québec", "Ontario")
    (tmp_path / "autre.csv").write_text(other, encoding="utf-8")
    with oxigraph(tmp_path / "db") as server:
        endpoints = Endpoints.derive(server.url)
        push(store, endpoints)
        first, second = Steward(RemoteStore.open(endpoints)), Steward(RemoteStore.open(endpoints))
        sub1, sub2 = first.read([tmp_path / "partenaire.csv"]), second.read([tmp_path / "autre.csv"])
        (report1, plan1), (report2, plan2) = first.check(sub1), second.check(sub2)
        assert report1.exit_code == report2.exit_code == 0
        first.commit(plan1, PG.RecordAddition, {}, "one")
        with pytest.raises(RemoteConflict, match="changed while this change was being checked"):
            second.commit(plan2, PG.RecordAddition, {}, "two")
        db = RemoteStore.open(endpoints).db
        assert db.quads_for_pattern(ox.NamedNode(f"{ID}org/biotech-quebec-test"), None, None, None)
        assert not db.quads_for_pattern(ox.NamedNode(f"{ID}org/biotech-ontario-test"), None, None, None)


# ---- push: idempotent, atomic, crash-safe -------------------------------------------------------

def modified(store: GraphStore, extra: int) -> GraphStore:
    """The built store plus ``extra`` new triples in graph/data, and one pôle's label changed: a "new" build."""
    db = ox.Store()
    db.extend(store.db.quads_for_pattern(None, None, None, None))
    data = ox.NamedNode("https://w3id.org/pole-graph/graph/data")
    for i in range(extra):
        db.add(ox.Quad(ox.NamedNode(f"{ID}test/{i}"), ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"),
                       ox.Literal(f"essai {i}"), data))
    return GraphStore(store.path, db, dict(store.info, written="new"))


def test_pushing_twice_leaves_the_same_state_and_no_staging_graph(store, tmp_path):
    with oxigraph(tmp_path / "db") as server:
        endpoints = Endpoints.derive(server.url)
        first = push(store, endpoints, chunk_size=1000)
        db = RemoteStore.open(endpoints).db
        graphs = db.graphs + [BUILD_GRAPH]
        before = dataset_hash(db, graphs)
        second = push(store, endpoints, chunk_size=3000)
        assert second.counts == first.counts
        assert dataset_hash(RemoteStore.open(endpoints).db, graphs) == before
        names = {g.value for g in db.named_graphs()}
        assert not {n for n in names if n.startswith(STAGING)}
        revisions = {n for n in names if n.startswith(REVISION)}
        assert len(revisions) == 1 and names - revisions == set(graphs)


def test_a_graph_the_new_build_no_longer_has_is_dropped(store, tmp_path):
    with oxigraph(tmp_path / "db") as server:
        endpoints = Endpoints.derive(server.url)
        code, out, err = run("push", "--store", store.path, "--endpoint", server.url, "--chunk", "5000")
        assert code == 0, err
        data = sum(1 for _ in store.db.quads_for_pattern(None, None, None, ox.NamedNode(f"{BASE}graph/data")))
        assert re.search(rf"graph/data\s+{data} triples", out), out
        assert "push: graph/data 5000/" in err and "push: swapping" in err  # the counter on stderr
        smaller = ox.Store()
        history = "https://w3id.org/pole-graph/graph/shapes"
        smaller.extend(q for q in store.db.quads_for_pattern(None, None, None, None) if q.graph_name.value != history)
        report = push(GraphStore(store.path, smaller, store.info), endpoints)
        assert report.dropped == [history]
        assert history not in {g.value for g in RemoteDB(Client(endpoints), []).named_graphs()}


def test_push_through_sparql_updates_keeps_blank_nodes_whole(store, tmp_path):
    """No Graph Store endpoint (Fuseki's /ds/query layout): INSERT DATA chunks; small chunks, so
    blank-node structures (OWL restrictions, SHACL property shapes) would break if split."""
    with oxigraph(tmp_path / "db") as server:
        base = server.url.rsplit("/", 1)[0]
        endpoints = Endpoints(server.url, base + "/update", None)
        push(store, endpoints, chunk_size=200)
        graphs = local_graphs(store)
        assert dataset_hash(RemoteStore.open(endpoints).db, graphs) == dataset_hash(store.db, graphs)


def test_chunks_keep_triples_linked_by_blank_nodes_together():
    b1, b2, p = ox.BlankNode(), ox.BlankNode(), ox.NamedNode("urn:p")
    linked = [ox.Triple(ox.NamedNode("urn:a"), p, b1), ox.Triple(b1, p, b2), ox.Triple(b2, p, ox.Literal("x"))]
    plain = [ox.Triple(ox.NamedNode(f"urn:{i}"), p, ox.Literal(str(i))) for i in range(5)]
    parts = list(chunks(plain[:2] + linked[:1] + plain[2:] + linked[1:], size=2))
    holding = [part for part in parts if any(b1 in (t.subject, t.object) or b2 in (t.subject, t.object) for t in part)]
    assert len(holding) == 1 and set(linked) <= set(holding[0])
    assert sorted(map(str, (t for part in parts for t in part))) == sorted(map(str, plain + linked))


class _KillAt(io.StringIO):
    """The push's progress stream: kills the server when a line says the moment has come."""

    def __init__(self, server: Oxigraph, when, delay: float = 0.0) -> None:
        super().__init__()
        self.server, self.when, self.delay, self.done = server, when, delay, False

    def write(self, text: str) -> int:
        if not self.done and self.when(text):
            self.done = True
            if self.delay:
                threading.Timer(self.delay, self.server.kill).start()
            else:
                self.server.kill()
        return super().write(text)


def fingerprint(endpoints: Endpoints, graphs: list[str]) -> tuple:
    """Triples per graph and a hash of the triples without blank nodes: cheaper than canonicalising."""
    db = RemoteDB(Client(endpoints), graphs)
    lines = sorted(str(q) for g in graphs for q in db.quads_for_pattern(None, None, None, ox.NamedNode(g))
                   if "_:" not in str(q))
    return remote_counts(db.client, graphs), hashlib.sha256("\n".join(lines).encode()).hexdigest()


@pytest.fixture(scope="module")
def new_build(store, tmp_path_factory) -> tuple[GraphStore, tuple]:
    """A "new" build, and what the remote holds once it is pushed whole."""
    new = modified(store, 5_000)
    with oxigraph(tmp_path_factory.mktemp("new") / "db") as server:
        push(new, Endpoints.derive(server.url))
        return new, fingerprint(Endpoints.derive(server.url), local_graphs(store) + [BUILD_GRAPH])


@pytest.mark.parametrize("moment,delay", [("upload", 0.0), ("swap", 0.03), ("swapped", 0.0)])
def test_a_server_killed_mid_push_holds_the_old_graphs_or_the_new_never_a_mix(store, new_build, tmp_path, moment, delay):
    """kill -9 while chunks upload, while the swap runs, and once it was answered; then restart on
    the same folder: the graphs are the old ones or the new ones, whole."""
    new, new_state = new_build
    graphs = local_graphs(store) + [BUILD_GRAPH]
    with oxigraph(tmp_path / "db") as server:
        endpoints = Endpoints.derive(server.url)
        push(store, endpoints)
        old_state = fingerprint(endpoints, graphs)
        assert old_state != new_state
        uploads = iter(range(1000))
        when = {"upload": lambda line: "graph/data" in line and next(uploads) == 3,
                "swap": lambda line: "swapping" in line, "swapped": lambda line: "swapped" in line}[moment]
        with pytest.raises(RemoteError) as caught:
            push(new, endpoints, progress=_KillAt(server, when, delay), chunk_size=1000)
            raise AssertionError("the push ended before the kill")
        assert f"http://127.0.0.1:{server.port}/" in str(caught.value)
        server.kill()
        server.start()  # same folder, after a kill -9: RocksDB replays its log
        state = fingerprint(endpoints, graphs)
        assert state in (old_state, new_state)
        if moment == "swapped":
            assert state == new_state  # the swap was answered before the kill: it is durable
        elif moment == "upload":
            assert state == old_state  # killed before the swap was sent
        if moment == "upload":  # staging graphs were left: the next push drops them and succeeds
            assert [g for g in RemoteDB(Client(endpoints), []).named_graphs() if g.value.startswith(STAGING)]
            push(new, endpoints)
            assert fingerprint(endpoints, graphs) == new_state
            assert not [g for g in RemoteDB(Client(endpoints), []).named_graphs() if g.value.startswith(STAGING)]


# ---- faults -------------------------------------------------------------------------------------

def test_a_server_that_is_down_is_a_clear_error_naming_it(store):
    url = f"http://127.0.0.1:{free_port()}/query"
    # push reads the local store first (and says so if there is none): give it the built one
    for argv in (("query", "poles"), ("sparql", "ASK {}"), ("push", "--store", str(store.path))):
        code, out, err = run(*argv, "--endpoint", url)
        assert code == 2 and out == ""
        assert f"error: {url}: cannot connect" in err and "Traceback" not in err


@contextmanager
def fake_server(responses: list) -> Iterator[tuple[str, list]]:
    """A local HTTP server answering each request with the next canned response:
    (status, headers, body) or a callable(handler). Records the requests' paths."""
    seen: list = []
    queue = list(responses)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def handle_one(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            seen.append((self.command, self.path, self.rfile.read(length) if length else b""))
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            if callable(answer):
                answer(self)
                return
            status, headers, body = answer
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        do_GET = do_POST = handle_one

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sparql", seen
    finally:
        server.shutdown()
        server.server_close()


JSON_OK = json.dumps({"head": {"vars": ["s"]}, "results": {"bindings": [
    {"s": {"type": "uri", "value": f"{ID}pole/valorial"}}, {"s": {"type": "uri", "value": f"{ID}pole/vitagora"}}]}}).encode()
RESULTS = {"Content-Type": "application/sparql-results+json"}
BANNER = b"\n## Query cancelled due to timeout during execution ##\n## ****          Incomplete results           **** ##\n"


def _short_body(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/sparql-results+json")
    handler.send_header("Content-Length", str(len(JSON_OK)))
    handler.end_headers()
    handler.wfile.write(JSON_OK[:40])  # then the connection closes: fewer bytes than announced
    handler.close_connection = True


@pytest.mark.parametrize("answer,error,words", [
    ((206, {**RESULTS, "X-SQL-State": "S1TAT"}, JSON_OK), PartialAnswer, "partial answer (HTTP 206, X-SQL-State S1TAT)"),
    ((200, RESULTS, JSON_OK[:-25]), PartialAnswer, "not whole SPARQL JSON results"),
    (_short_body, PartialAnswer, "cut short"),
    ((200, RESULTS, JSON_OK + BANNER), PartialAnswer, "Incomplete results"),
    ((503, {"Content-Type": "text/plain"}, b"Query timed out"), RemoteUnavailable, "HTTP 503): Query timed out"),
    ((500, {"Content-Type": "text/html"}, b"<html><body><h1>Error 500</h1><p>Virtuoso 42000 Error SR325</p></body></html>"),
     RemoteError, "HTTP 500): Error 500 Virtuoso 42000 Error SR325"),
    ((400, {"Content-Type": "text/plain"}, b"Parse error: line 1"), QueryError, "refused the request (HTTP 400): Parse error"),
    ((200, {"Content-Type": "text/html"}, b"<html>a login page</html>"), PartialAnswer, "expected SPARQL JSON results, got text/html"),
    ((429, {"Retry-After": "3600"}, b""), RemoteUnavailable, "too many requests (HTTP 429, retry after 3600 s)"),
])
def test_an_answer_that_is_not_whole_is_an_error_naming_the_endpoint(answer, error, words):
    with fake_server([answer]) as (url, seen):
        client = Client(Endpoints.derive(url, read_timeout=5))
        with pytest.raises(error) as caught:
            RemoteDB(client, []).query("SELECT ?s WHERE { ?s ?p ?o }")
        assert words in str(caught.value)
        assert url in str(caught.value)
        assert len(seen) == 1  # 429 with a long Retry-After is not waited for


def test_429_is_retried_a_bounded_number_of_times_for_reads_only():
    with fake_server([(429, {"Retry-After": "0"}, b""), (429, {"Retry-After": "0"}, b""), (200, RESULTS, JSON_OK)]) as (url, seen):
        rows = list(RemoteDB(Client(Endpoints.derive(url)), []).query("SELECT ?s WHERE { ?s ?p ?o }"))
        assert [r["s"].value for r in rows] == [f"{ID}pole/valorial", f"{ID}pole/vitagora"] and len(seen) == 3
    with fake_server([(429, {"Retry-After": "0"}, b"")]) as (url, seen):
        with pytest.raises(RemoteUnavailable, match="HTTP 429"):
            RemoteDB(Client(Endpoints.derive(url)), []).query("SELECT ?s WHERE { ?s ?p ?o }")
        assert len(seen) == 4  # the first try and three retries
    with fake_server([(429, {"Retry-After": "0"}, b"")]) as (url, seen):
        with pytest.raises(RemoteUnavailable):
            Client(Endpoints.derive(url)).update("INSERT DATA { <urn:a> <urn:b> <urn:c> }")
        assert len(seen) == 1  # an update is never repeated


def test_a_partial_answer_stops_the_cli_with_exit_2_and_the_endpoint_named():
    build = json.dumps({"head": {"vars": ["d", "g"]}, "results": {"bindings": [
        {"d": {"type": "literal", "value": "{}"}}]}}).encode()
    with fake_server([(200, RESULTS, build), (206, {**RESULTS, "X-SQL-State": "S1TAT"}, JSON_OK)]) as (url, seen):
        code, out, err = run("sparql", "SELECT ?s WHERE { ?s ?p ?o }", "--endpoint", url)
        assert code == 2 and out == ""
        assert err.startswith(f"error: {url}: a partial answer (HTTP 206")


def _sleeper(handler) -> None:
    time.sleep(3)


def _dripper(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/sparql-results+json")
    handler.send_header("Content-Length", str(len(JSON_OK)))
    handler.end_headers()
    for byte in JSON_OK[:12]:  # one byte every 0.2 s: each read is quick, the whole is too slow
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(0.2)
    handler.close_connection = True


@pytest.mark.parametrize("behaviour", [_sleeper, _dripper])
def test_a_slow_server_is_given_up_at_the_deadline(behaviour):
    with fake_server([behaviour]) as (url, _):
        client = Client(Endpoints.derive(url, read_timeout=1.0))
        started = time.monotonic()
        with pytest.raises(RemoteTimeout, match="1 s") as caught:
            RemoteDB(client, []).query("SELECT ?s WHERE { ?s ?p ?o }")
        assert time.monotonic() - started < 1.8
        assert url in str(caught.value)


def test_the_query_timeout_setting_reaches_the_remote_client(monkeypatch):
    with fake_server([_sleeper]) as (url, _):
        monkeypatch.setenv("POLE_GRAPH_QUERY_TIMEOUT", "0.5")
        started = time.monotonic()
        code, _, err = run("sparql", "ASK {}", "--endpoint", url)
        assert code == 2 and f"error: {url}: no answer within 0.5 s" in err
        assert time.monotonic() - started < 1.5


def test_long_queries_go_by_post_and_short_ones_by_get():
    with fake_server([(200, RESULTS, JSON_OK)]) as (url, seen):
        db = RemoteDB(Client(Endpoints.derive(url)), [])
        db.query("SELECT ?s WHERE { ?s ?p ?o }")
        db.query("SELECT ?s WHERE { ?s ?p ?o } # " + "x" * 3000)
        assert [m for m, _, _ in seen] == ["GET", "POST"]
        assert b"query=SELECT" in seen[1][2]


def test_credentials_are_sent_and_never_shown(monkeypatch):
    with fake_server([(401, {}, b"")]) as (url, seen):
        monkeypatch.setenv("POLE_GRAPH_ENDPOINT_AUTH", "bearer:s3cret-token")
        code, out, err = run("sparql", "ASK {}", "--endpoint", url)
        assert code == 2 and "not allowed (HTTP 401)" in err and "s3cret" not in err + out
        settings = Settings.from_env(endpoint=url)
        assert "s3cret" not in repr(settings)


# ---- the site on a remote store -----------------------------------------------------------------

def test_the_site_is_served_from_the_remote_store(remote, store, tmp_path):
    from starlette.testclient import TestClient

    from pole_graph.server import create_app

    settings = Settings(store=tmp_path / "nothing-here", endpoint=remote, query_workers=0)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        page = client.get("/doc/pole/valorial", headers={"accept": "text/html"})
        assert page.status_code == 200 and "Valorial" in page.text
        answer = client.get("/sparql", params={"query": f"ASK {{ <{ID}pole/valorial> ?p ?o }}"},
                            headers={"accept": "application/sparql-results+json"})
        assert answer.status_code == 200 and answer.json()["boolean"] is True
        refused = client.get("/sparql", params={"query": "SELECT * WHERE { SERVICE <http://example.org/> { ?s ?p ?o } }"},
                             headers={"accept": "application/sparql-results+json"})
        assert refused.status_code == 400 and "SERVICE" in refused.text
        far = client.get("/api/queries/poles", params={"region": "Bretagne"}, headers={"accept": "application/json"})
    local = Settings(store=store.path, query_workers=0)
    with TestClient(create_app(local), base_url="http://127.0.0.1") as client:
        near = client.get("/api/queries/poles", params={"region": "Bretagne"}, headers={"accept": "application/json"})
    assert far.status_code == near.status_code == 200
    assert far.json() == near.json()


def test_serve_get_reads_the_remote_store(remote, tmp_path):
    code, out, _ = run("serve", "--endpoint", remote, "--store", tmp_path / "none", "--get", "/doc/pole/valorial")
    assert code == 0 and out.startswith("HTTP 200") and "Valorial" in out


def test_open_store_chooses_the_backend(remote, store):
    assert isinstance(open_store(Settings(store=store.path)), GraphStore)
    assert isinstance(open_store(Settings(store=store.path, endpoint=remote)), RemoteStore)


def test_a_server_without_our_data_says_push_first():
    empty = json.dumps({"head": {"vars": ["d", "g"]}, "results": {"bindings": []}}).encode()
    with fake_server([(200, RESULTS, empty)]) as (url, _):
        code, out, err = run("query", "poles", "--endpoint", url)
        assert code == 2 and f"error: {url}: no pole-graph data in this SPARQL store" in err
        assert f"pole-graph push --endpoint {url}" in err
