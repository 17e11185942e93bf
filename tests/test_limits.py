"""Limits (issue 7, item 5): the size caps of one request (414, 431, 413) and the per-client budget
of query time and errors (429 + Retry-After).

The caps are checked twice: against a real server over raw sockets (TestClient hands the app a
parsed request, so it cannot show what the HTTP parser lets through — and httptools alone lets a
header of any size through), and in-process, where the app's own middleware answers for any ASGI
server. Budgets run against a real server with small values; each test speaks from its own
loopback address (Linux routes all of 127/8 to lo), so one test's spending never counts against
another's.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections import deque
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from pole_graph.limits import Account, ClientBudget
from pole_graph.server import create_app
from pole_graph.settings import Settings
from tests.live import serve

CARTESIAN = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def address(base: str) -> tuple[str, int]:
    host, port = base.split("//")[1].split(":")
    return host, int(port)


def raw(base: str, request: bytes, source: str = "127.0.0.9", timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; return the status, headers and body of the answer (the server may
    close the connection before all was sent: what it answered is still read)."""
    with socket.create_connection(address(base), timeout=timeout, source_address=(source, 0)) as s:
        try:
            s.sendall(request)
        except OSError:  # refused and closed before the rest was read: the answer is waiting
            pass
        return read_answer(s)


def read_answer(s: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data) < _expected(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _expected(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(head) + 4 + int(line.split(b":")[1])
    return 0


def get(base: str, path: str, source: str, headers: dict[str, str] | None = None,
        timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """One GET from a given loopback address."""
    conn = http.client.HTTPConnection(*address(base), timeout=timeout, source_address=(source, 0))
    try:
        conn.request("GET", path, headers=headers or {"Accept": "application/json"})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> dict:
    assert status == expected, body[:300]
    assert headers["content-type"].startswith("application/problem+json"), headers
    data = json.loads(body)
    assert data["status"] == expected and data["detail"]
    return data


# ---- caps, on a real server ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def caps_url(built):
    with serve(built[1].path) as url:  # the default caps
        yield url


def test_a_request_target_over_8_kb_gets_414_from_the_real_server(caps_url):
    status, headers, body = raw(caps_url, b"GET /sparql?query=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    data = problem(status, headers, body, 414)
    assert "8192" in data["detail"] and "POST" in data["hint"]
    assert headers["connection"] == "close"


def test_a_request_target_just_under_the_cap_is_served(caps_url):
    path = "/api/queries/poles?region=Bretagne&pad=" + "a" * (8000 - 40)
    status, _, body = raw(caps_url, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert status == 400 and b"pad" in body  # reached the app, which names the unknown parameter


def test_one_header_line_over_8_kb_gets_431(caps_url):
    status, headers, body = raw(caps_url, b"GET / HTTP/1.1\r\nHost: x\r\nCookie: " + b"a" * 9000 + b"\r\n\r\n")
    data = problem(status, headers, body, 431)
    assert "'cookie'" in data["detail"].lower() and "8192" in data["detail"]


def test_headers_over_32_kb_in_all_get_431(caps_url):
    many = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 4000) for i in range(9))  # each line under 8 kB
    status, headers, body = raw(caps_url, b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    data = problem(status, headers, body, 431)
    assert "32768" in data["detail"]


def test_headers_just_under_the_caps_are_served(caps_url):
    many = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 7000) for i in range(4))
    status, _, _ = raw(caps_url, b"GET /api/queries HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + many + b"\r\n")
    assert status == 200


def test_an_endless_header_is_refused_while_it_is_read(caps_url):
    """httptools would keep growing one header value for as long as the client sends it; the
    server's parser stops at the cap instead of holding megabytes before the app sees them."""
    started = time.perf_counter()
    status, headers, body = raw(caps_url, b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"a" * 20_000_000)
    assert status == 431 and time.perf_counter() - started < 5
    assert "unfinished" in json.loads(body)["detail"]


@pytest.fixture(scope="module")
def slow_url(built):
    with serve(built[1].path, env={"POLE_GRAPH_HEAD_TIMEOUT": "1"}) as url:
        yield url


def test_a_client_sending_its_headers_slowly_gets_408_and_the_connection_closed(slow_url):
    """Slowloris: one header line, then nothing. uvicorn arms no timer before a first response, so
    such a client held its connection for ever; now the head must arrive within the head timeout."""
    with socket.create_connection(address(slow_url), timeout=10) as s:
        started = time.perf_counter()
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        for _ in range(3):  # a byte now and then does not reset the clock
            time.sleep(0.2)
            s.sendall(b"X")
        status, headers, body = read_answer(s)
        elapsed = time.perf_counter() - started
        assert status == 408 and 0.9 < elapsed < 3, (status, elapsed)
        assert "did not arrive within 1 s" in json.loads(body)["detail"]
        assert s.recv(1) == b""  # closed


def test_a_connection_that_sends_nothing_is_closed_and_a_prompt_client_is_served(slow_url):
    with socket.create_connection(address(slow_url), timeout=10) as s:
        started = time.perf_counter()
        assert s.recv(1) == b""
        assert 0.9 < time.perf_counter() - started < 3
    with socket.create_connection(address(slow_url), timeout=10) as s:  # kept alive past the head timeout
        for _ in range(2):
            s.sendall(b"GET /api/queries HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n")
            status, _, _ = read_answer(s)
            assert status == 200
            time.sleep(1.2)  # idle between requests: uvicorn's keep-alive timeout (5 s) governs, not ours


def test_a_body_over_the_cap_is_refused_by_its_content_length_before_it_is_sent(caps_url):
    request = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
               b"Content-Length: 5000001\r\n\r\n")  # and no body: the answer must not wait for it
    status, headers, body = raw(caps_url, request, timeout=5)
    data = problem(status, headers, body, 413)
    assert "5000000" in data["detail"] and headers["connection"] == "close"


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_cap(caps_url):
    """No Content-Length: the server counts the chunks and answers 413 once past 5 MB, and closes
    the connection while the client still has tens of megabytes to send — it never takes them all."""
    offered = 50  # MB
    sent = [0]
    with socket.create_connection(address(caps_url), timeout=15, source_address=("127.0.0.9", 0)) as s:
        s.sendall(b"POST /api/validate?name=big.ttl HTTP/1.1\r\nHost: x\r\nContent-Type: text/turtle\r\n"
                  b"Transfer-Encoding: chunked\r\nAccept: application/json\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (1 << 20, b"#" * (1 << 20))

        def upload() -> None:
            try:
                for _ in range(offered):
                    s.sendall(chunk)
                    sent[0] += 1
                s.sendall(b"0\r\n\r\n")
            except OSError:  # the server closed the connection: the point
                pass

        sender = threading.Thread(target=upload, daemon=True)
        sender.start()
        status, headers, body = read_answer(s)
        sender.join(timeout=15)
    data = problem(status, headers, body, 413)
    assert "5000000" in data["detail"]
    assert not sender.is_alive() and sent[0] < offered, f"{sent[0]} MB were taken before the refusal"


# ---- caps, in the app (any ASGI server) ---------------------------------------------------------

@pytest.fixture(scope="module")
def client(built):
    app = create_app(Settings(store=built[1].path, query_workers=0))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def test_the_app_itself_refuses_an_over_long_target_and_headers(client):
    r = client.get("/api/queries/poles?pad=" + "a" * 9000)
    assert r.status_code == 414 and r.json()["title"] == "URI Too Long"
    r = client.get("/", headers={"X-Big": "a" * 9000, "Accept": "application/json"})
    assert r.status_code == 431 and "X-Big".lower() in r.json()["detail"].lower()
    r = client.get("/", headers={f"X-Pad-{i}": "a" * 4000 for i in range(9)} | {"Accept": "text/html"})
    assert r.status_code == 431 and r.headers["content-type"].startswith("text/html")  # a page for a browser


def test_the_app_counts_a_chunked_body_and_refuses_it_past_the_cap(client):
    def body():
        for _ in range(12):
            yield b"#" * 1_000_000

    r = client.post("/api/validate?name=x.ttl", content=body(), headers={"Content-Type": "text/turtle"})
    assert r.status_code == 413 and r.headers["connection"] == "close"
    assert "5000000" in r.json()["detail"]


def test_a_parameter_value_over_the_iri_cap_is_refused_naming_it_and_the_limit(client):
    r = client.get("/api/queries/poles?region=" + quote("https://w3id.org/pole-graph/id/region/" + "a" * 4100))
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert "region" in detail and "4096" in detail and "POLE_GRAPH_MAX_IRI" in detail


def test_a_parameter_value_over_the_literal_cap_is_refused_naming_it_and_the_limit(client):
    r = client.post("/api/queries/poles", json={"theme": "a" * 70_000})
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert "theme" in detail and "65536" in detail
    assert client.post("/api/queries/poles", json={"theme": "a" * 60_000}).status_code == 200  # under it: searched


def test_a_dataset_iri_over_the_cap_is_refused(client):
    r = client.get("/sparql", params={"query": "ASK {}", "default-graph-uri": "http://example.org/" + "a" * 4100})
    assert r.status_code == 400 and "default-graph-uri" in r.json()["detail"]


@pytest.mark.parametrize("triple, what", [
    (b'<https://w3id.org/pole-graph/id/pole/x> <http://www.w3.org/2000/01/rdf-schema#label> "%s" .\n' % (b"v" * 70_000),
     "a literal of 70000 characters"),
    (b"<https://w3id.org/pole-graph/id/pole/x> <http://www.w3.org/2000/01/rdf-schema#seeAlso> <http://e.org/%s> .\n"
     % (b"v" * 5000), "an IRI of 5013 characters"),
])
def test_an_uploaded_record_with_an_over_long_term_gets_413_naming_file_line_and_limit(client, triple, what):
    r = client.post("/api/validate?name=long.nt", content=triple,
                    headers={"Content-Type": "application/n-triples", "Accept": "application/json"})
    assert r.status_code == 413
    assert r.json()["detail"].startswith(f"long.nt line 1: {what}; the limit is")


# ---- budgets -------------------------------------------------------------------------------------

WINDOW = 4


@pytest.fixture(scope="module")
def budget_url(built):
    env = {"POLE_GRAPH_BUDGET_WINDOW": str(WINDOW), "POLE_GRAPH_BUDGET_ERRORS": "5",
           "POLE_GRAPH_BUDGET_QUERY_TIME": "1", "POLE_GRAPH_QUERY_TIMEOUT": "2"}
    with serve(built[1].path, env=env) as url:
        yield url


def test_a_client_past_its_error_budget_gets_429_and_others_do_not(budget_url):
    for _ in range(5):
        assert get(budget_url, "/doc/pole/no-such-pole", "127.0.0.2", {"Accept": "text/html"})[0] == 404
    status, headers, body = get(budget_url, "/api/queries", "127.0.0.2")
    data = problem(status, headers, body, 429)
    wait = int(headers["retry-after"])
    assert 1 <= wait <= WINDOW and "5 error answers" in data["detail"]
    assert get(budget_url, "/api/queries", "127.0.0.3")[0] == 200  # another address: untouched
    status, headers, body = get(budget_url, "/", "127.0.0.2", {"Accept": "text/html"})
    assert status == 429 and headers["content-type"].startswith("text/html") and b"429" in body
    time.sleep(int(headers["retry-after"]))
    assert get(budget_url, "/api/queries", "127.0.0.2")[0] == 200  # served again after Retry-After


def test_a_client_past_its_query_time_gets_429_and_others_do_not(budget_url):
    started = time.perf_counter()
    status, _, _ = get(budget_url, "/sparql?query=" + quote(CARTESIAN), "127.0.0.4")
    assert status == 503 and time.perf_counter() - started < 3.5  # stopped at its 2 s deadline, charged 2 s
    status, headers, body = get(budget_url, "/api/queries/poles", "127.0.0.4")
    data = problem(status, headers, body, 429)
    assert "of query time" in data["detail"] and 1 <= int(headers["retry-after"]) <= WINDOW
    assert get(budget_url, "/sparql?query=" + quote("ASK { ?s ?p ?o }"), "127.0.0.5")[0] == 200
    assert get(budget_url, "/api/queries/poles", "127.0.0.5")[0] == 200
    time.sleep(int(headers["retry-after"]))
    assert get(budget_url, "/api/queries/poles", "127.0.0.4")[0] == 200


def test_answers_from_the_response_cache_cost_no_query_time(budget_url):
    path = "/sparql?query=" + quote("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")
    for _ in range(30):  # the first is computed (well under the 1 s budget), the others are cached
        assert get(budget_url, path, "127.0.0.6")[0] == 200


# ---- budgets, in the app --------------------------------------------------------------------------

def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(built):
    settings = Settings(store=built[1].path, query_workers=0, budget_errors=2)
    for trusted, independent in (((), False), (("testclient",), True)):
        app = create_app(settings.with_(trusted_proxies=trusted))
        with TestClient(app, base_url="http://127.0.0.1") as c:
            for _ in range(2):
                assert c.get("/doc/pole/nothing", headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 404
            other = c.get("/api/queries", headers={"X-Forwarded-For": "192.0.2.1, 192.0.2.2"})
            assert other.status_code == (200 if independent else 429)
            again = c.get("/api/queries", headers={"X-Forwarded-For": "192.0.2.1"})
            assert again.status_code == 429


def test_a_budget_of_zero_is_no_budget(built):
    app = create_app(Settings(store=built[1].path, query_workers=0, budget_errors=0, budget_query_time=0))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert all(c.get("/doc/pole/nothing").status_code == 404 for _ in range(100))


def test_retry_after_is_when_enough_spending_leaves_the_window():
    account = Account()
    for when, cost in ((0.0, 3.0), (10.0, 4.0), (20.0, 5.0)):
        account.costs.append((when, cost))
        account.spent += cost
    # 12 s spent, budget 6 s, window 60 s: the first two must leave (12-3-4 = 5 < 6) -> at 10 + 60
    assert account.wait(now=30.0, window=60.0, seconds=6.0, errors=0) == pytest.approx(40.0)
    assert account.wait(now=30.0, window=60.0, seconds=13.0, errors=0) == 0
    account.errors.extend([1.0, 2.0, 3.0])
    assert account.wait(now=30.0, window=60.0, seconds=0, errors=2) == pytest.approx(32.0)  # after 2.0 leaves
    account.forget(before=15.0)
    assert account.spent == 5.0 and not account.errors


def test_clients_that_spent_nothing_lately_are_forgotten():
    now = [0.0]
    budget = ClientBudget(None, Settings(budget_window=60), clock=lambda: now[0])
    budget.accounts["192.0.2.1"] = Account(errors=deque([0.0]))
    now[0] = 61.0
    budget._prune(now[0])
    assert budget.accounts == {}
