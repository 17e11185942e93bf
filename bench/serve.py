"""Start-up and memory of `pole-graph serve` on a persisted store.

    python -m bench.serve [--store PATH ...] [--runs 5] [--write]

For each store (default: the real graph, built into a temporary folder), starts
``python -m pole_graph serve --store PATH --port 0`` ``--runs`` times and measures, from the
moment the process is spawned:

- **ready**: the first 200 answer of ``/api/queries`` (the server listens and answers);
- **first page**: then the first answer of a pôle's page (``/doc/pole/KEY``, uncached: the store
  is read for it) and of ``/sparql`` with a count of the pôles (answered by a query worker);
- **RSS**: resident memory of the server and its query workers (psutil, whole process tree),
  once ready and again after those requests.

Issue 6's target: ready ≤ 1 s after start on a persisted 1M-triple store, RSS ≤ 1 GB. The Python
start-up itself (interpreter + imports of the server's modules) is measured the same way and
reported beside it, since no store size can make ``serve`` faster than that.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import psutil

from .http import fetch, stop

ROOT = Path(__file__).resolve().parent.parent
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?p a <https://w3id.org/pole-graph/def/core#CompetitivenessCluster> }"


def rss_tree(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def first_pole(store: Path) -> str:
    from pole_graph.store import GraphStore

    graph = GraphStore.open(store)
    rows = list(graph.query("SELECT ?p WHERE { ?p a <https://w3id.org/pole-graph/def/core#CompetitivenessCluster> } LIMIT 1"))
    del graph
    return rows[0]["p"].value.split("/id/pole/", 1)[1]


def get(url: str, accept: str = "*/*") -> int:
    return fetch(url, accept)[0]


def one_run(store: Path, pole: str) -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "POLE_GRAPH_RESPONSE_CACHE": "0"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pole_graph", "serve", "--store", str(store), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not match:
            raise RuntimeError(f"serve did not start: {line}")
        base = f"http://127.0.0.1:{match.group(1)}"
        while True:
            try:
                if get(base + "/api/queries") == 200:
                    break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("serve exited") from None
                time.sleep(0.005)
        ready = time.perf_counter() - t0
        rss_ready = rss_tree(proc.pid)
        t = time.perf_counter()
        get(f"{base}/doc/pole/{pole}", "text/html")
        page = time.perf_counter() - t
        t = time.perf_counter()
        get(f"{base}/sparql?query={quote(COUNT)}", "application/sparql-results+json")
        sparql = time.perf_counter() - t
        for _ in range(3):
            get(f"{base}/", "text/html")
            get(f"{base}/api/queries/poles", "application/json")
        rss_used = rss_tree(proc.pid)
        return {"ready": ready, "page": page, "sparql": sparql, "rss_ready": rss_ready, "rss_used": rss_used}
    finally:
        stop(proc)


def python_startup(runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import pole_graph.server, uvicorn"], check=True, cwd=ROOT)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def triples(store: Path) -> int:
    import json

    info = json.loads((store / "build.json").read_text(encoding="utf-8"))
    return sum(info.get("counts", {}).values())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", action="append", type=Path, help="a built store (repeatable; default: the real graph)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--write", action="store_true", help="append the table to docs/benchmarks.md")
    ap.add_argument("--json", type=Path, default=None, help="also write the measurements as JSON here")
    ns = ap.parse_args(argv)
    stores = ns.store
    tmp = None
    if not stores:
        tmp = tempfile.TemporaryDirectory(prefix="pg-serve-bench-")
        real = Path(tmp.name) / "store"
        subprocess.run([sys.executable, "-m", "pole_graph", "build", "--store", str(real)], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        stores = [real]
    startup = python_startup(ns.runs)
    lines = ["| store (triples) | ready, median (min–max) | first pôle page | first /sparql | RSS ready | RSS after requests | targets |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    measured = []
    for store in stores:
        pole = first_pole(store)
        results = [one_run(store, pole) for _ in range(ns.runs)]
        med = {k: statistics.median(r[k] for r in results) for k in results[0]}
        measured.append({"store": str(store), "triples": triples(store), "runs": results, "median": med,
                         "python_startup": startup})
        ready = [r["ready"] for r in results]
        met = ("met" if med["ready"] <= 1.0 else "NOT met") + " / " + ("met" if med["rss_used"] <= 1 << 30 else "NOT met")
        lines.append(f"| {store.name if store.name != 'store' else store.parent.name} ({triples(store):,}) "
                     f"| {med['ready']:.2f} s ({min(ready):.2f}–{max(ready):.2f}) | {med['page'] * 1000:.0f} ms "
                     f"| {med['sparql'] * 1000:.0f} ms | {med['rss_ready'] / 2**20:.0f} MB | {med['rss_used'] / 2**20:.0f} MB "
                     f"| ready ≤ 1 s, RSS ≤ 1 GB: {met} |")
    table = "\n".join(lines)
    cores = os.cpu_count()
    header = (f"\n## {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC — `python -m bench.serve` (start-up and memory)\n\n"
              f"- Machine: {cores} cores; Python {sys.version.split()[0]}; {ns.runs} runs per store; response cache off\n"
              f"- Python start-up alone (`python -c 'import pole_graph.server, uvicorn'`): {startup:.2f} s median\n\n")
    print(header + table)
    if ns.json:
        import json

        ns.json.write_text(json.dumps(measured, indent=2), encoding="utf-8")
    if ns.write:
        with open(ROOT / "docs" / "benchmarks.md", "a", encoding="utf-8") as f:
            f.write(header + table + "\n")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
