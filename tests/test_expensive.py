"""Expensive queries (issue 7, item 4): a real server with a 3 s deadline and two query workers is
sent cartesian products, unbounded property paths, a catastrophic-backtracking regex and a huge
GROUP_CONCAT. Each must end with 503 and a message naming the deadline within deadline + 1 s; a
canary client asking a cheap stored query meanwhile (response cache off, so every answer is
computed) must keep its p95 under twice the p95 it had before the attack; and the memory of the
server's process tree must come back once the workers that ran them are killed.

The regex is not expensive here: pyoxigraph evaluates REGEX with Rust's `regex` crate, which runs in
time linear in the input (no backtracking), so ``^(a+)+$`` over long strings of ``a`` answers at
once; the test pins that it answers, well within the deadline.
"""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote

import psutil
import pytest

from tests.live import serve

DEADLINE = 3.0
SLACK = 1.0  # the "deadline + 1 s"
CANARY = "/api/queries/poles?region=Bretagne"
BASELINE_SECONDS = 6.0
EXPENSIVE = {
    "cartesian product": "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",
    "cartesian product, ordered": "SELECT * { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?c ?f ?i LIMIT 1",
    "unbounded property path": "SELECT (COUNT(*) AS ?n) { ?x (<urn:p>|!<urn:p>)* ?y }",
    "huge GROUP_CONCAT": "SELECT (STRLEN(GROUP_CONCAT(STR(?c))) AS ?n) { ?a ?b ?c . ?d ?e ?f }",
}
REDOS = ('SELECT (COUNT(*) AS ?n) { ?s ?p ?o FILTER REGEX(CONCAT(REPLACE(STR(?o), ".", "a"), '
         'REPLACE(STR(?o), ".", "a"), "!"), "^(a+)+$") }')


def connection(base: str, source: str) -> http.client.HTTPConnection:
    host, port = base.split("//")[1].split(":")
    return http.client.HTTPConnection(host, int(port), timeout=60, source_address=(source, 0))


def ask(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    conn.request("GET", path, headers={"Accept": "application/sparql-results+json"})
    response = conn.getresponse()
    body = response.read()
    return response.status, body, time.perf_counter() - started


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def server_tree_rss(port: int) -> int:
    """Resident memory of the server process (the test's child listening on ``port``) and its workers."""
    for child in psutil.Process().children():
        try:
            if any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in child.net_connections("tcp")):
                return sum(p.memory_info().rss for p in [child, *child.children(recursive=True)] if p.is_running())
        except psutil.Error:
            continue
    raise AssertionError(f"no server process listening on port {port}")


class Canary(threading.Thread):
    """Asks the cheap query again and again on one keep-alive connection, from its own address."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.conn = connection(base, "127.0.0.2")
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                status, body, seconds = ask(self.conn, CANARY)
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(f"{time.monotonic():.2f} {type(exc).__name__}: {exc}")
                self.conn.close()
                continue
            if status != 200:
                self.failures.append(f"{status} {body[:200]!r}")
            self.latencies.append(seconds)
            time.sleep(0.02)  # a client, not a flood

    def measure(self, seconds: float | None = None, until: threading.Event | None = None) -> list[float]:
        start = len(self.latencies)
        if until is not None:
            until.wait()
        else:
            time.sleep(seconds or 0)
        return self.latencies[start:]


@pytest.fixture(scope="module")
def server(built):
    env = {"POLE_GRAPH_QUERY_TIMEOUT": str(DEADLINE), "POLE_GRAPH_QUERY_WORKERS": "2",
           "POLE_GRAPH_RESPONSE_CACHE": "0"}
    with serve(built[1].path, env=env) as url:
        yield url


@dataclass
class Attack:
    """What one run of the attack measured (``attack`` runs it once for the tests below)."""

    results: dict[str, tuple[int, dict, float]]  # name -> (status, problem, seconds)
    redos: tuple[int, bytes, float]
    baseline: list[float]  # the canary's latencies before the attack, and during it
    under_attack: list[float]
    canary_failures: list[str]
    rss: tuple[int, int, int]  # bytes: before, peak during, after

    def figures(self) -> dict[str, object]:
        return {
            "elapsed s": {name: round(r[2], 2) for name, r in self.results.items()},
            "regex s": round(self.redos[2], 3),
            "canary p95 ms (baseline, under attack)": (round(p95(self.baseline) * 1000, 1), round(p95(self.under_attack) * 1000, 1)),
            "canary p50 ms (baseline, under attack)": (round(statistics.median(self.baseline) * 1000, 1),
                                                       round(statistics.median(self.under_attack) * 1000, 1)),
            "canary requests (baseline, under attack)": (len(self.baseline), len(self.under_attack)),
            "server tree RSS MB (before, peak, after)": tuple(x >> 20 for x in self.rss),
        }


@pytest.fixture(scope="module")
def attack(server) -> Attack:
    port = int(server.rsplit(":", 1)[1])
    warm = connection(server, "127.0.0.3")
    for query in (REDOS, "ASK { ?s ?p ?o }"):  # both workers have opened the store
        assert ask(warm, "/sparql?query=" + quote(query))[0] == 200
    canary = Canary(server)
    canary.start()
    canary.measure(1.0)  # warm-up, not counted
    baseline = canary.measure(BASELINE_SECONDS)
    rss_before = server_tree_rss(port)

    results: dict[str, tuple[int, dict, float]] = {}
    peak = [rss_before]
    done = threading.Event()

    def attacker(names: list[str], source: str) -> None:
        conn = connection(server, source)
        for name in names:
            status, body, seconds = ask(conn, "/sparql?query=" + quote(EXPENSIVE[name]))
            results[name] = (status, json.loads(body) if status != 200 else {}, seconds)

    def watch_memory() -> None:
        while not done.is_set():
            try:
                peak[0] = max(peak[0], server_tree_rss(port))
            except (AssertionError, psutil.Error):
                pass
            time.sleep(0.2)

    names = list(EXPENSIVE)  # two at a time: both workers busy for the whole attack
    attackers = [threading.Thread(target=attacker, args=(names[i::2], f"127.0.0.{4 + i}")) for i in range(2)]
    threading.Thread(target=watch_memory, daemon=True).start()
    start = len(canary.latencies)
    for t in attackers:
        t.start()
    for t in attackers:
        t.join(timeout=60)
    under_attack = canary.latencies[start:]
    done.set()
    time.sleep(1.0)  # the killed workers' replacements have started
    redos = ask(connection(server, "127.0.0.3"), "/sparql?query=" + quote(REDOS))
    settled = time.monotonic() + 10
    rss_after = server_tree_rss(port)
    while rss_after > rss_before * 1.25 and time.monotonic() < settled:
        time.sleep(0.5)
        rss_after = server_tree_rss(port)
    canary.stop.set()
    canary.join(timeout=10)
    measured = Attack(results, redos, baseline, under_attack, canary.failures, (rss_before, peak[0], rss_after))
    print("\nexpensive queries:", json.dumps(measured.figures()))
    return measured


@pytest.mark.parametrize("name", list(EXPENSIVE))
def test_an_expensive_query_gets_503_naming_the_deadline_within_deadline_plus_1_s(attack, name):
    status, problem, seconds = attack.results[name]
    assert status == 503, (status, problem)
    assert f"deadline of {DEADLINE:g} s" in problem["detail"] and problem["hint"], problem
    assert seconds <= DEADLINE + SLACK, f"answered after {seconds:.2f} s"


def test_a_catastrophic_backtracking_regex_is_harmless(attack):
    status, _, seconds = attack.redos
    assert status == 200 and seconds < DEADLINE, "pyoxigraph's regex engine is linear-time: it answers"


def test_memory_is_given_back_after_the_attack(attack):
    before, peak, after = attack.rss
    assert peak > before  # the queries did take memory (1-3 GB at the peak, measured)...
    assert after <= before * 1.25 + (32 << 20), attack.figures()  # ...which the killed workers gave back


def test_a_cheap_query_keeps_its_p95_under_twice_its_baseline_during_the_attack(attack):
    """The query workers run at a lower CPU priority (executor.WORKER_NICENESS): without it, the
    two workers burning both cores took the CPU from the web process (p95 3.3x its baseline while
    other work shared the machine)."""
    assert not attack.canary_failures, attack.canary_failures[:3]
    assert len(attack.under_attack) >= 20
    assert p95(attack.under_attack) < 2 * p95(attack.baseline), attack.figures()


def test_a_query_past_its_memory_cap_is_stopped_with_503_and_the_next_one_answers(built):
    """With POLE_GRAPH_QUERY_MEMORY=200 (MB beyond the worker's own) and a deadline long enough not
    to be the cause, a query that must hold a cartesian product to sort it fails its allocation:
    503 saying it needed more memory than allowed; the next query answers."""
    env = {"POLE_GRAPH_QUERY_TIMEOUT": "60", "POLE_GRAPH_QUERY_MEMORY": "200", "POLE_GRAPH_RESPONSE_CACHE": "0"}
    with serve(built[1].path, env=env) as base:
        conn = connection(base, "127.0.0.4")
        try:
            sort = "SELECT * { ?a ?b ?c . ?d ?e ?f } ORDER BY ?c ?f LIMIT 1"
            status, body, seconds = ask(conn, "/sparql?query=" + quote(sort))
            assert status == 503, body[:300]
            assert "more memory than a query may use (200 MB)" in json.loads(body)["detail"], body[:300]
            assert seconds < 30, "stopped by its memory cap, well before its deadline"
            status, body, _ = ask(conn, "/sparql?query=" + quote("SELECT (COUNT(*) AS ?n) { ?s a ?t }"))
            assert status == 200 and json.loads(body)["results"]["bindings"][0]["n"]["value"] != "0"
        finally:
            conn.close()
