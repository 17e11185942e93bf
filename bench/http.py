"""HTTP throughput: pole-graph's server against the `oxigraph` server, same data, same SPARQL.

    python -m bench.http [--store PATH] [--seconds 10] [--connections 8] [--write]

Builds the real graph (unless --store names a built one), starts `pole-graph serve` and `oxigraph
serve-read-only` on free ports of 127.0.0.1 over the same store, and drives each with `wrk` (8
connections, keep-alive, on loopback; Debian package `wrk`) for three request kinds:

- **pôle page**: ours answers `/doc/pole/aerospace-valley` as HTML and as Turtle; oxigraph answers
  the SPARQL behind the Turtle document (the concise bounded description, `describe.cbd`).
- **stored query**: ours answers `/api/queries/poles?region=Bretagne` (JSON); oxigraph answers the
  same query with its parameter bound (`bind_values`), on the same dataset.
- **/sparql**: one analytical SELECT (pôles per region and phase) on both endpoints.

Both get the same dataset (the knowledge graph: ontology, schemes, data, inferred as default graph,
by `default-graph-uri`). Every response is checked once before timing (status 200, same number of
result rows on both sides). Results are printed as a Markdown table; `--write` appends them, with
the machine and the date, to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ["https://w3id.org/pole-graph/graph/ontology", "https://w3id.org/pole-graph/graph/schemes",
             "https://w3id.org/pole-graph/graph/data", "https://w3id.org/pole-graph/graph/inferred"]
ANALYTICAL = """PREFIX pg: <https://w3id.org/pole-graph/def/core#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?region ?phase (COUNT(DISTINCT ?pole) AS ?poles) WHERE {
  ?lab pg:labelledCluster ?pole ; pg:phase ?p . ?p skos:notation ?phase .
  ?pole pg:region ?r . ?r skos:prefLabel ?region FILTER(LANG(?region) = "fr")
} GROUP BY ?region ?phase ORDER BY ?region ?phase"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer")
            time.sleep(0.2)


@contextmanager
def process(args: list[str], ready: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    try:
        wait_for(ready)
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Terminate a server started here; kill it if it has not stopped within 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def fetch(url: str, accept: str) -> tuple[int, bytes]:
    with urlopen(Request(url, headers={"Accept": accept}), timeout=60) as r:
        return r.status, r.read()


def rows(body: bytes, accept: str) -> int:
    if "json" in accept and "ld+json" not in accept:
        data = json.loads(body)
        return len(data["results"]["bindings"])
    import pyoxigraph as ox

    fmt = {"text/turtle": ox.RdfFormat.TURTLE, "text/html": None}[accept]
    return len(list(ox.parse(body, format=fmt))) if fmt else 1


def wrk(url: str, accept: str, seconds: int, connections: int) -> dict:
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "60s",
                          "-H", f"Accept: {accept}", url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label: str) -> float:
        value, unit = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)\b", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": ms("50"), "p99": ms("99"), "errors": int(errors.group(1)) if errors else 0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", help="a built store (default: build the real graph in a temporary folder)")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--write", action="store_true", help="append the results to docs/benchmarks.md")
    parser.add_argument("--json", type=Path, default=None, help="also write the measurements as JSON here")
    ns = parser.parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("bench.http needs wrk: apt-get install -y wrk")
    oxigraph = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")
    if not Path(oxigraph).exists():
        sys.exit("bench.http needs the oxigraph server: pip install -e '.[bench]'")

    import pole_graph.describe as describe
    from pole_graph import Catalogue, GraphStore, Project, build
    from pole_graph.queries import Resolver, bind_values, bindings_for

    with tempfile.TemporaryDirectory() as tmp:
        store_path = Path(ns.store) if ns.store else Path(tmp) / "store"
        if not ns.store:
            build(Project.discover(ROOT), store_path)
        store = GraphStore.open(store_path)
        catalogue = Catalogue.load(Project.discover(ROOT))
        q = catalogue.queries["poles"]
        stored_sparql = bind_values(q.text, bindings_for(q, {"region": "Bretagne"}, "fr", Resolver(store.query)))
        cbd_query = _cbd_query(describe, "https://w3id.org/pole-graph/id/pole/aerospace-valley")
        del store
        ours_port, cold_port, ox_port = free_port(), free_port(), free_port()
        ours = f"http://127.0.0.1:{ours_port}"
        cold = f"http://127.0.0.1:{cold_port}"
        theirs = f"http://127.0.0.1:{ox_port}"
        dataset = [("default-graph-uri", g) for g in KNOWLEDGE]

        def ox_url(query: str) -> str:
            return f"{theirs}/query?" + urlencode([("query", query)] + dataset)

        cases = [  # (name, our path, accept, oxigraph URL or None)
            ("pôle page (HTML)", "/doc/pole/aerospace-valley", "text/html", None),
            ("pôle document (Turtle)", "/doc/pole/aerospace-valley", "text/turtle", ox_url(cbd_query)),
            ("stored query `poles region=Bretagne`", "/api/queries/poles?region=Bretagne",
             "application/sparql-results+json", ox_url(stored_sparql)),
            ("/sparql analytical SELECT", "/sparql?" + urlencode([("query", ANALYTICAL)] + dataset),
             "application/sparql-results+json", ox_url(ANALYTICAL)),
        ]
        serve = [sys.executable, "-m", "pole_graph", "serve", "--store", str(store_path), "--port"]
        results = []
        with process(serve + [str(ours_port)], f"{ours}/api/queries"), \
             process(serve + [str(cold_port)], f"{cold}/api/queries", env={"POLE_GRAPH_RESPONSE_CACHE": "0"}), \
             process([oxigraph, "serve-read-only", "--location", str(store_path / "oxigraph"),
                      "--bind", f"127.0.0.1:{ox_port}"], f"{theirs}/query?query=ASK%7B%7D"):
            for name, path, accept, ox_request in cases:
                measured = []
                for url in (ours + path, cold + path, ox_request):
                    if url is None:
                        measured.append(None)
                        continue
                    status, body = fetch(url, accept)
                    assert status == 200, (name, url, status)
                    count = rows(body, accept)
                    if measured and measured[0] is not None:
                        assert count == measured[0]["rows"], (name, url, count, measured[0]["rows"])
                    wrk(url, accept, 2, ns.connections)  # warm-up
                    measured.append(dict(wrk(url, accept, ns.seconds, ns.connections), rows=count))
                results.append((name, *measured))
                print(name, measured, flush=True)
    table = render(results, ns)
    print(table)
    if ns.json:
        ns.json.write_text(json.dumps([{"request": name, "cached": warm, "uncached": cold, "oxigraph": ox}
                                       for name, warm, cold, ox in results], indent=2), encoding="utf-8")
    if ns.write:
        path = ROOT / "docs" / "benchmarks.md"
        with path.open("a", encoding="utf-8") as f:
            f.write("\n" + table)
    return 0


def _cbd_query(describe, iri: str) -> str:
    """The CONSTRUCT that describe.cbd() sends, captured from a recording store."""
    captured: list[str] = []

    class Recorder:
        def query(self, text: str):
            captured.append(text)
            return []

    describe.cbd(Recorder(), iri)
    return captured[0]


def render(results, ns) -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    lines = [f"## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} — `python -m bench.http` (HTTP throughput)", "",
             f"Machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()} "
             f"{platform.release()}. Load: `wrk -t2 -c{ns.connections} -d{ns.seconds}s --timeout 60s` on loopback, "
             "after a 2 s warm-up; the client and the servers share the same cores. pole-graph: `pole-graph serve` "
             "(uvicorn + httptools, one process, 2 SPARQL worker processes), *cached* = as shipped (answers kept per "
             "data version), *uncached* = `POLE_GRAPH_RESPONSE_CACHE=0` (every answer computed). oxigraph: "
             "`oxigraph serve-read-only` (pip package `oxigraph`) on the same store with the same dataset "
             "(`default-graph-uri` × 4); it caches nothing. *rows*: result rows (triples for Turtle), checked equal "
             "on every server before timing. The real graph (about 23k triples).", "",
             "| request | rows | pole-graph cached: req/s · p50 · p99 ms | pole-graph uncached: req/s · p50 · p99 ms | "
             "oxigraph: req/s · p50 · p99 ms | cached / oxigraph | uncached / oxigraph |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def cell(m) -> str:
        return f"{m['rps']:.0f} · {m['p50']:.1f} · {m['p99']:.1f}" if m else "—"

    for name, warm, cold, ox in results:
        ratio = (lambda m: f"{m['rps'] / ox['rps']:.2f}×" if ox else "—")
        lines.append(f"| {name} | {warm['rows']} | {cell(warm)} | {cell(cold)} | {cell(ox)} | {ratio(warm)} | {ratio(cold)} |")
    errors = sum(m["errors"] for _, *ms in results for m in ms if m)
    lines += ["", f"Non-2xx responses during the runs: {errors}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
