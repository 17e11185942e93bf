"""Measurements, one process per size and phase (so peak memory is per size), JSON out.

    python -m bench.worker build  --project P --store S --out build.json [--runs 3] [--stage-timeout 1200]
    python -m bench.worker query  --project P --store S --out query.json [--runs 3]
    python -m bench.worker rdflib --store S --texts query.json --out rdflib.json [--timeout 60]

``build`` times the stages of ``pole_graph.build.build`` one by one, cut exactly where ``build``
cuts them: *load* (``load_content`` + the asserted union), *reason* (``reason``), *validate*
(union of asserted and inferred + ``validate`` + class counts; pySHACL's own time is kept beside
it), *store* (``write_store``). Reason and validate run in a forked child with a deadline: a stage
that passes it is killed and recorded as a timeout with the time it ran. If reasoning timed out,
validation runs on the asserted graphs alone and the store is written without an inferred graph,
both flagged, so that the later stages and the queries still get numbers.

``query`` runs every stored query's examples through ``run_stored`` (the Python API: resolving
the arguments, binding, running, converting) and the same bound text straight on pyoxigraph.
``rdflib`` runs that bound text with rdflib's SPARQL engine on a ``Dataset(default_union=True)``
loaded from the store's N-Quads dump, each query in a forked child with a timeout.

A measurement is repeated ``--runs`` times when its first run was cheap (under ``--cheap``
seconds), otherwise done once; the JSON keeps every run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable


# ---- helpers -----------------------------------------------------------------------------------

def rss_mb_self() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_forked(fn: Callable[[], Any], timeout: float) -> dict:
    """Run ``fn`` in a forked child (it sees the parent's memory, copy-on-write).

    Returns ``{"status": "ok"|"timeout"|"error", "seconds", "value", "error", "rss_mb"}``:
    ``seconds`` is measured inside the child around ``fn`` only (ok), or the wall time until the
    child was killed (timeout); ``rss_mb`` is the child's peak resident set (it includes the pages
    it shares with the parent, so it approximates the peak the stage would reach in one process).
    """
    fd, path = tempfile.mkstemp(prefix="pole-graph-bench-", suffix=".pickle")
    os.close(fd)
    gc.collect()
    gc.freeze()  # keep the parent's objects out of the child's collections (less copy-on-write)
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            t = time.perf_counter()
            value = fn()
            seconds = time.perf_counter() - t
            payload = {"status": "ok", "seconds": seconds, "value": value}
        except BaseException:  # noqa: BLE001 - reported to the parent
            payload = {"status": "error", "seconds": time.perf_counter() - started, "error": traceback.format_exc()}
            code = 1
        try:
            with open(path, "wb") as fh:
                pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            os._exit(code)
    gc.unfreeze()
    deadline = started + timeout
    pause = 0.01
    while True:
        wpid, _status, usage = os.wait4(pid, os.WNOHANG)
        if wpid:
            break
        if time.perf_counter() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, _, usage = os.wait4(pid, 0)
            os.unlink(path)
            return {"status": "timeout", "seconds": time.perf_counter() - started, "value": None,
                    "error": None, "rss_mb": usage.ru_maxrss / 1024.0}
        time.sleep(pause)
        pause = min(pause * 1.5, 0.5)
    try:
        with open(path, "rb") as fh:
            out = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError):
        out = {"status": "error", "seconds": time.perf_counter() - started, "error": "the child died without a result"}
    finally:
        if os.path.exists(path):
            os.unlink(path)
    out.setdefault("value", None)
    out.setdefault("error", None)
    out["rss_mb"] = usage.ru_maxrss / 1024.0
    return out


def repeat(first_seconds: float, runs: int, cheap: float) -> int:
    """How many more runs after the first: all of them if the first was cheap, else none."""
    return runs - 1 if first_seconds < cheap else 0


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(path)


# ---- build stages --------------------------------------------------------------------------------

def cmd_build(args: argparse.Namespace) -> int:
    from rdflib import Graph

    from pole_graph import __version__
    from pole_graph.build import content_hash, count_classes
    from pole_graph.load import load_content
    from pole_graph.namespaces import GRAPH_DATA, GRAPH_INFERRED, GRAPH_ONTOLOGY, GRAPH_SCHEMES, GRAPH_SHAPES
    from pole_graph.project import Project
    from pole_graph.reason import reason
    from pole_graph.store import write_store
    from pole_graph.validate import validate

    project = Project.discover(args.project)
    result: dict[str, Any] = {"stages": {}, "flags": [], "graphs": {}, "rss_mb": {}}
    out = Path(args.out)

    def save() -> None:
        result["rss_mb"]["worker"] = rss_mb_self()
        write_json(out, result)

    # -- load: as build() times it, load_content + the asserted union
    def do_load():
        content = load_content(project)
        return content, content.asserted

    runs = []
    t = time.perf_counter()
    content, asserted = do_load()
    runs.append(time.perf_counter() - t)
    for _ in range(repeat(runs[0], args.runs, args.cheap)):
        gc.collect()
        t = time.perf_counter()
        do_load()
        runs.append(time.perf_counter() - t)
    gc.collect()
    result["stages"]["load"] = {"status": "ok", "runs": runs}
    result["records"] = len(content.records)
    result["graphs"] = {"ontology": len(content.ontology), "schemes": len(content.schemes),
                        "data": len(content.data), "shapes": len(content.shapes), "asserted": len(asserted)}
    save()
    print(f"load: {runs[0]:.2f} s, data {len(content.data)} triples", file=sys.stderr, flush=True)

    # -- reason (owlrl), forked with a deadline
    def do_reason():
        inference = reason(asserted)
        return {"triples": list(inference.graph), "engine": inference.engine, "closure": inference.closure_size}

    runs, rss, inferred, engine, closure = [], [], None, "owlrl", None
    first = run_forked(do_reason, args.stage_timeout)
    stage: dict[str, Any] = {"status": first["status"], "runs": [], "timeout": args.stage_timeout}
    if first["status"] == "ok":
        runs.append(first["seconds"])
        rss.append(first["rss_mb"])
        value = first["value"]
        inferred = Graph()
        for triple in value["triples"]:
            inferred.add(triple)
        engine, closure = value["engine"], value["closure"]
        del value, first
        for _ in range(repeat(runs[0], args.runs, args.cheap)):
            again = run_forked(lambda: len(reason(asserted).graph), args.stage_timeout)
            if again["status"] != "ok":
                break
            runs.append(again["seconds"])
            rss.append(again["rss_mb"])
        stage.update(runs=runs, closure=closure, engine=engine)
    else:
        stage.update(ran_for=first["seconds"], error=first["error"])
        rss.append(first["rss_mb"])
        result["flags"].append(f"reason {first['status']} after {first['seconds']:.0f} s: validation ran on the asserted "
                               "graphs only and the store has no inferred graph")
        inferred = Graph()
    result["stages"]["reason"] = stage
    result["rss_mb"]["reason_child"] = max(rss) if rss else None
    result["graphs"]["inferred"] = len(inferred)
    save()
    print(f"reason: {stage['status']} {runs[:1] or stage.get('ran_for')}", file=sys.stderr, flush=True)
    gc.collect()

    # -- validate (pySHACL), forked with a deadline; the stage as build() cuts it
    def do_validate():
        t = time.perf_counter()
        union = asserted + inferred
        union_s = time.perf_counter() - t
        report = validate(union, content.shapes)
        count_classes(union)
        violations = report.violations()
        return {"conforms": report.conforms, "results": len(report.results), "violations": len(violations),
                "pyshacl_seconds": report.seconds, "union_seconds": union_s,
                "union_triples": len(union),
                "sample": report.text("en", limit=8) if not report.conforms else ""}

    runs, rss, detail = [], [], []
    first = run_forked(do_validate, args.stage_timeout)
    stage = {"status": first["status"], "runs": [], "timeout": args.stage_timeout,
             "on": "asserted + inferred" if result["stages"]["reason"]["status"] == "ok" else "asserted only"}
    rss.append(first["rss_mb"])
    if first["status"] == "ok":
        runs.append(first["seconds"])
        detail.append(first["value"])
        for _ in range(repeat(runs[0], args.runs, args.cheap)):
            again = run_forked(do_validate, args.stage_timeout)
            if again["status"] != "ok":
                break
            runs.append(again["seconds"])
            detail.append(again["value"])
            rss.append(again["rss_mb"])
        stage.update(runs=runs, pyshacl_runs=[d["pyshacl_seconds"] for d in detail],
                     conforms=detail[0]["conforms"], results=detail[0]["results"],
                     violations=detail[0]["violations"], union_triples=detail[0]["union_triples"])
        if not detail[0]["conforms"]:
            stage["sample"] = detail[0]["sample"]
            if stage["on"] == "asserted + inferred":
                result["flags"].append(f"the generated data does NOT conform: {detail[0]['violations']} violation(s)")
    else:
        stage.update(ran_for=first["seconds"], error=first["error"])
        result["flags"].append(f"validate {first['status']} after {first['seconds']:.0f} s")
    result["stages"]["validate"] = stage
    result["rss_mb"]["validate_child"] = max(rss) if rss else None
    save()
    print(f"validate: {stage['status']} {runs[:1] or stage.get('ran_for')}", file=sys.stderr, flush=True)

    # -- store (pyoxigraph), in process, as build() does it
    graphs = {GRAPH_ONTOLOGY: content.ontology, GRAPH_SCHEMES: content.schemes, GRAPH_DATA: content.data,
              GRAPH_INFERRED: inferred, GRAPH_SHAPES: content.shapes}

    def do_store():
        info = {"pole_graph": __version__, "reasoner": engine, "content_sha256": content_hash(project),
                "records": len(content.records), "stages": {}, "benchmark": True}
        return write_store(Path(args.store), graphs, info)

    runs = []
    t = time.perf_counter()
    counts = do_store()
    runs.append(time.perf_counter() - t)
    for _ in range(repeat(runs[0], args.runs, args.cheap)):
        t = time.perf_counter()
        do_store()
        runs.append(time.perf_counter() - t)
    result["stages"]["store"] = {"status": "ok", "runs": runs}
    result["store_counts"] = {str(k).rsplit("/", 1)[-1]: v for k, v in counts.items()}
    result["store_bytes"] = sum(f.stat().st_size for f in Path(args.store).rglob("*") if f.is_file())
    save()
    print(f"store: {runs[0]:.2f} s", file=sys.stderr, flush=True)
    return 0


# ---- stored queries: API and raw pyoxigraph ----------------------------------------------------------

def cmd_query(args: argparse.Namespace) -> int:
    from pole_graph import Catalogue, GraphStore, Project, run_stored
    from pole_graph.queries import Resolver, bind_values, bindings_for

    project = Project.discover(args.project)
    catalogue = Catalogue.load(project)
    store = GraphStore.open(args.store)
    items = []
    for name in catalogue.names():
        q = catalogue.get(name)
        for i, example in enumerate(q.examples):
            item: dict[str, Any] = {"query": name, "example": i, "args": dict(example)}
            items.append(item)
            try:
                t = time.perf_counter()
                text = bind_values(q.text, bindings_for(q, example, "fr", Resolver(store.query)))
                item["bind_seconds"] = time.perf_counter() - t
            except Exception as exc:  # noqa: BLE001 - a finding, kept in the results
                item["error"] = f"{type(exc).__name__}: {exc}"
                continue
            item["text"] = text

            def api():
                return len(run_stored(store, catalogue, name, example).rows)

            def raw():
                return len(list(store.db.query(text, use_default_graph_as_union=True)))

            try:
                t = time.perf_counter()
                item["api_rows"] = api()  # warm-up
                warm_api = time.perf_counter() - t
                t = time.perf_counter()
                item["raw_rows"] = raw()  # warm-up
                warm_raw = time.perf_counter() - t
            except Exception as exc:  # noqa: BLE001
                item["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
                continue
            item["warmup"] = {"api": warm_api, "raw": warm_raw}
            n = args.runs if max(warm_api, warm_raw) < args.cheap else 1
            item["api"], item["raw"] = [], []
            for _ in range(n):  # interleaved, so drift affects both alike
                t = time.perf_counter()
                api()
                item["api"].append(time.perf_counter() - t)
                t = time.perf_counter()
                raw()
                item["raw"].append(time.perf_counter() - t)
            print(f"{name} #{i}: api {min(item['api']) * 1e3:.1f} ms, pyoxigraph {min(item['raw']) * 1e3:.1f} ms, "
                  f"{item['raw_rows']} rows", file=sys.stderr, flush=True)
    write_json(Path(args.out), {"items": items, "rss_mb": {"worker": rss_mb_self()}})
    return 0


# ---- stored queries: rdflib's engine -------------------------------------------------------------------

def cmd_rdflib(args: argparse.Namespace) -> int:
    import pyoxigraph as ox
    from rdflib import Dataset

    from pole_graph import GraphStore
    from pole_graph.namespaces import ASSERTED_GRAPHS, GRAPH_INFERRED, GRAPH_SHAPES

    texts = json.loads(Path(args.texts).read_text(encoding="utf-8"))["items"]
    result: dict[str, Any] = {"items": [], "timeout": args.timeout}
    t = time.perf_counter()
    store = GraphStore.open(args.store)
    dump = store.dump(ox.RdfFormat.N_QUADS, ASSERTED_GRAPHS + (GRAPH_INFERRED, GRAPH_SHAPES))
    del store
    result["dump_seconds"] = time.perf_counter() - t
    result["dump_bytes"] = len(dump)
    t = time.perf_counter()
    ds = Dataset(default_union=True)
    ds.parse(data=dump, format="nquads")
    result["load_seconds"] = time.perf_counter() - t
    result["quads"] = len(ds)
    del dump
    list(ds.query("ASK { ?s ?p ?o }"))  # build the parser and evaluator once, before forking
    print(f"rdflib: dataset of {result['quads']} quads loaded in {result['load_seconds']:.1f} s",
          file=sys.stderr, flush=True)
    for item in texts:
        out: dict[str, Any] = {"query": item["query"], "example": item["example"]}
        result["items"].append(out)
        if "text" not in item:
            out["status"] = "skipped"
            continue
        text = item["text"]
        runs = []
        first = run_forked(lambda: len(list(ds.query(text))), args.timeout)
        out["status"] = first["status"]
        if first["status"] == "ok":
            out["rows"] = first["value"]
            runs.append(first["seconds"])
            for _ in range(repeat(runs[0], args.runs, args.cheap)):
                again = run_forked(lambda: len(list(ds.query(text))), args.timeout)
                if again["status"] != "ok":
                    break
                runs.append(again["seconds"])
        elif first["status"] == "timeout":
            out["ran_for"] = first["seconds"]
        else:
            out["error"] = first["error"]
        out["runs"] = runs
        print(f"rdflib {item['query']} #{item['example']}: {first['status']} "
              f"{(runs[0] if runs else first['seconds']):.2f} s", file=sys.stderr, flush=True)
        write_json(Path(args.out), dict(result, rss_mb={"worker": rss_mb_self()}))
    result["rss_mb"] = {"worker": rss_mb_self()}
    write_json(Path(args.out), result)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.worker")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--project", required=True, type=Path)
    b.add_argument("--store", required=True, type=Path)
    b.add_argument("--stage-timeout", type=float, default=1200.0)
    q = sub.add_parser("query")
    q.add_argument("--project", required=True, type=Path)
    q.add_argument("--store", required=True, type=Path)
    r = sub.add_parser("rdflib")
    r.add_argument("--store", required=True, type=Path)
    r.add_argument("--texts", required=True, type=Path)
    r.add_argument("--timeout", type=float, default=60.0)
    for p in (b, q, r):
        p.add_argument("--out", required=True, type=Path)
        p.add_argument("--runs", type=int, default=3)
        p.add_argument("--cheap", type=float, default=30.0, help="repeat a measurement only if its first run took less")
    args = ap.parse_args(argv)
    return {"build": cmd_build, "query": cmd_query, "rdflib": cmd_rdflib}[args.cmd](args)


if __name__ == "__main__":
    raise SystemExit(main())
