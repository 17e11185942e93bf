"""Embedded store vs Oxigraph server: push time, stored-query latency, parity.

    python -m bench.remote                       # the real store only (about a minute)
    python -m bench.remote --sizes real,1m       # and a synthetic project of ~1M data triples
    python -m bench.remote --sizes 1m --keep /tmp/syn1m   # keep (or reuse) the synthetic project and store

For each size: a store (the real project built with ``pole_graph.build``; a synthetic project from
``bench.generate`` built with the same stages minus SHACL validation, which push does not need and
which takes pySHACL tens of minutes at this size — see docs/benchmarks.md), an ``oxigraph serve``
on a free port of 127.0.0.1 with an empty folder of its own, then:

- **push**: ``pole_graph.remote.push`` into the empty server, then again (replacing what is there),
  with the time of each phase (upload to staging graphs, the one-update swap, the count checks);
- **queries**: every ``#+ examples`` example of every stored query, through ``run_stored`` (argument
  resolution, binding, execution, conversion), on the embedded store and on the server, ``--runs``
  times each after one warm-up (3 times when the warm-up of both took over 2 s), interleaved; p50
  and p99 of the per-run wall-clock times (with few runs, p99 is the slowest run);
- **parity**: the rows of each example, canonicalised (sorted, blank nodes aside), equal or not.

Raw JSON goes to ``bench/results/remote-*.json``; the Markdown summary is printed (and pasted in
docs/scale-out.md by hand, with the machine and the date).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, location: Path) -> None:
        exe = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")
        if exe is None:
            raise SystemExit("the oxigraph server is not installed: pip install 'oxigraph>=0.5,<0.6'")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/query"
        self.process = subprocess.Popen([exe, "serve", "--location", str(location), "--bind", f"127.0.0.1:{self.port}"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "?query=ASK%7B%7D", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def build_store(size: str, work: Path) -> tuple[Path, Path, dict]:
    """(project, store) for a size: ``real`` or a synthetic target such as ``1m``."""
    from pole_graph import Project, build

    if size == "real":
        store = work / "real-store"
        if not store.exists():
            build(Project.discover(REPO), store)
        return REPO, store, {"source": "the project's own content", "validated": True}
    from bench.generate import generate, parse_size

    project, store = work / f"syn-{size}", work / f"syn-{size}-store"
    info: dict[str, Any] = {"source": f"bench.generate --size {size}", "validated": False}
    if not (project / "data").exists():
        t = time.perf_counter()
        info["generate"] = generate(project, parse_size(size))
        info["generate_seconds"] = round(time.perf_counter() - t, 1)
    if not store.exists():
        info["build_seconds"] = build_unvalidated(Project.discover(project), store)
    return project, store, info


def build_unvalidated(project: Any, store: Path) -> dict[str, float]:
    """build() without the SHACL stage: load → reason (rules) → name index → write_store."""
    from rdflib import Graph

    from pole_graph import __version__
    from pole_graph.load import load_content
    from pole_graph.namespaces import GRAPH_DATA, GRAPH_INDEX, GRAPH_INFERRED, GRAPH_ONTOLOGY, GRAPH_SCHEMES, GRAPH_SHAPES
    from pole_graph.rules import reason_fast
    from pole_graph.steward import name_index
    from pole_graph.store import write_store

    stages = {}
    t = time.perf_counter()
    content = load_content(project)
    stages["load"] = time.perf_counter() - t
    t = time.perf_counter()
    inference = reason_fast(content.asserted, content.ontology)
    stages["reason"] = time.perf_counter() - t
    t = time.perf_counter()
    index = Graph()
    for triple in name_index(content.asserted + inference.graph):
        index.add(triple)
    graphs = {GRAPH_ONTOLOGY: content.ontology, GRAPH_SCHEMES: content.schemes, GRAPH_DATA: content.data,
              GRAPH_INFERRED: inference.graph, GRAPH_SHAPES: content.shapes, GRAPH_INDEX: index}
    write_store(store, graphs, {"pole_graph": __version__, "reasoner": inference.engine, "records": len(content.records),
                                "validated": False})
    stages["index+store"] = time.perf_counter() - t
    return {k: round(v, 1) for k, v in stages.items()}


class Clock:
    """A progress stream that notes when each phase of push starts."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.marks: dict[str, float] = {}

    def write(self, text: str) -> int:
        for key in ("swapping", "swapped"):
            if key in text and key not in self.marks:
                self.marks[key] = time.perf_counter() - self.start
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def timed_push(store: Any, endpoints: Any) -> dict[str, Any]:
    from pole_graph.remote import push

    clock = Clock()
    report = push(store, endpoints, progress=clock)
    total = report.seconds
    swapping, swapped = clock.marks.get("swapping", 0.0), clock.marks.get("swapped", total)
    return {"seconds": round(total, 2), "upload_and_check": round(swapping, 2), "swap": round(swapped - swapping, 2),
            "verify": round(total - swapped, 2), "triples": sum(report.counts.values())}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def canonical(result: Any) -> list[tuple]:
    import pyoxigraph as ox

    def text(term: Any) -> str | None:
        return "_:b" if isinstance(term, ox.BlankNode) else (None if term is None else str(term))
    return sorted(tuple(text(t) for t in row) for row in result.rows)


def measure(size: str, work: Path, runs: int, budget: float = 10.0, endpoint: str | None = None,
            only: set[str] | None = None) -> dict[str, Any]:
    from pole_graph import Catalogue, GraphStore, Project, run_stored
    from pole_graph.remote import Endpoints, RemoteStore

    project, store_path, info = build_store(size, work)
    store = GraphStore.open(store_path)
    counts = {g.value: sum(1 for _ in store.db.quads_for_pattern(None, None, None, g)) for g in store.db.named_graphs()}
    folder = Path(tempfile.mkdtemp(prefix="oxigraph-", dir=work))
    server = Server(folder / "db") if endpoint is None else None
    try:
        endpoints = Endpoints.derive(endpoint or server.url, read_timeout=600.0)  # type: ignore[union-attr]
        # --endpoint: a server this store was already pushed to (its push times measured before)
        pushes = [timed_push(store, endpoints), timed_push(store, endpoints)] if endpoint is None else []
        remote = RemoteStore.open(endpoints)
        catalogue = Catalogue.load(Project.discover(project))
        queries: list[dict[str, Any]] = []
        for name in catalogue.names():
            if only and name not in only:
                continue
            for args in catalogue.queries[name].examples or ({},):
                times: dict[str, list[float]] = {"embedded": [], "remote": []}
                results = {}
                t = time.perf_counter()
                results_time = {}
                for backend, target in (("embedded", store), ("remote", remote)):
                    started = time.perf_counter()
                    results[backend] = run_stored(target, catalogue, name, args, "fr")  # warm-up
                    results_time[backend] = time.perf_counter() - started
                warm = time.perf_counter() - t
                slow = warm > 2.0  # a slow example gets 3 runs, not --runs; past the budget, its warm-up only
                for _ in range(0 if warm > budget else 3 if slow else runs):
                    for backend, target in (("embedded", store), ("remote", remote)):
                        t = time.perf_counter()
                        run_stored(target, catalogue, name, args, "fr")
                        times[backend].append(time.perf_counter() - t)
                if warm > budget:
                    times = {"embedded": [results_time["embedded"]], "remote": [results_time["remote"]]}
                queries.append({"query": name, "args": args, "rows": len(results["embedded"].rows),
                                "parity": canonical(results["embedded"]) == canonical(results["remote"])
                                and results["embedded"].columns == results["remote"].columns,
                                "embedded": times["embedded"], "remote": times["remote"]})
                (work / f"partial-{size}-{os.getpid()}.json").write_text(json.dumps(queries, default=str), encoding="utf-8")
    finally:
        if server is not None:
            server.stop()
    disk = sum(f.stat().st_size for f in (folder / "db").rglob("*") if f.is_file())
    shutil.rmtree(folder, ignore_errors=True)
    return {"size": size, "info": info, "graphs": counts, "triples": sum(counts.values()), "push": pushes,
            "server_disk_bytes": disk, "runs": runs, "queries": queries}


def markdown(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    ms = lambda s: f"{s * 1000:.1f} ms" if s < 10 else f"{s:.1f} s"  # noqa: E731
    lines = [f"### {meta['date']} — `{meta['command']}`", "",
             f"- Machine: {meta['machine']}; {meta['python']}; pyoxigraph and oxigraph server {meta['oxigraph']}; "
             f"SPARQLWrapper {meta['sparqlwrapper']}; load average at start {meta['load']}",
             f"- pole-graph at commit {meta['commit']}; {meta['runs']} runs per query example after one warm-up", "",
             "| store | triples | first push | second push (replace) | of which swap | server folder | parity |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in results:
        p1, p2 = (r["push"] + [{"seconds": float("nan"), "swap": float("nan")}] * 2)[:2]
        same = sum(q["parity"] for q in r["queries"])
        lines.append(f"| {r['size']} ({r['info']['source']}) | {r['triples']:,} | {p1['seconds']:.1f} s | "
                     f"{p2['seconds']:.1f} s | {p2['swap']:.1f} s | {r['server_disk_bytes'] / 1e6:.0f} MB | "
                     f"{'yes' if same == len(r['queries']) else 'NO'}: {same}/{len(r['queries'])} examples |")
    lines += ["", "Stored-query latency through `run_stored` (resolving arguments included), per example:", "",
              "| store | query | args | rows (runs) | embedded p50 | embedded p99 | Oxigraph server p50 | server p99 |",
              "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        for q in r["queries"]:
            args = " ".join(f"{k}={v}" for k, v in q["args"].items())
            lines.append(f"| {r['size']} | {q['query']} | {args} | {q['rows']} ({len(q['embedded'])} runs) | {ms(percentile(q['embedded'], 50))} | "
                         f"{ms(percentile(q['embedded'], 99))} | {ms(percentile(q['remote'], 50))} | {ms(percentile(q['remote'], 99))} |")
        every_e = [t for q in r["queries"] for t in q["embedded"]]
        every_r = [t for q in r["queries"] for t in q["remote"]]
        lines.append(f"| {r['size']} | **all examples** | | | **{ms(percentile(every_e, 50))}** | **{ms(percentile(every_e, 99))}** | "
                     f"**{ms(percentile(every_r, 50))}** | **{ms(percentile(every_r, 99))}** |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.remote", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="real", help="comma-separated: real, and synthetic targets such as 100k, 1m")
    ap.add_argument("--runs", type=int, default=20, help="timed runs per query example (default 20)")
    ap.add_argument("--budget", type=float, default=10.0,
                    help="an example whose warm-up takes longer (both stores, seconds) is timed by its warm-up only")
    ap.add_argument("--endpoint", help="measure queries on this server, already pushed to (one size only; no push times)")
    ap.add_argument("--queries", help="comma-separated stored queries to measure (default all)")
    ap.add_argument("--keep", type=Path, help="work folder to keep (and reuse: generated projects, built stores)")
    args = ap.parse_args(argv)
    import pyoxigraph
    import SPARQLWrapper

    work = args.keep or Path(tempfile.mkdtemp(prefix="pole-graph-bench-remote-"))
    work.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": "python -m bench.remote " + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
            "python": f"Python {platform.python_version()}", "oxigraph": pyoxigraph.__version__,
            "sparqlwrapper": SPARQLWrapper.__version__, "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "commit": commit + (" (with uncommitted changes)" if dirty else ""), "runs": args.runs}
    try:
        results = []
        for size in args.sizes.split(","):
            print(f"[{time.strftime('%H:%M:%S')}] {size}…", file=sys.stderr, flush=True)
            results.append(measure(size.strip(), work, args.runs, args.budget, args.endpoint,
                                   set(args.queries.split(",")) if args.queries else None))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"remote-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str), encoding="utf-8")
    print(markdown(results, meta))
    print(f"raw results: {out.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
