"""Measurements, one process per size and phase (so peak memory is per size), JSON out.

    python -m bench.worker build  --project P --store S --out build.json [--runs 3] [--stage-timeout 1200]
    python -m bench.worker query  --project P --store S --out query.json [--runs 3]
    python -m bench.worker rdflib --store S --texts query.json --out rdflib.json [--timeout 60]

``build`` times the stages of ``pole_graph.build.build`` one by one, cut exactly where ``build``
cuts them: *load* (``load_content`` + the asserted union), *reason* with the rules engine
(``rules.reason_fast``, build()'s default) and, separately, with owlrl (``reason.reason``, the
reference; its result is compared with the rules engine's), *validate* (union of asserted and
inferred + ``validate``; pySHACL's own time is kept beside it), *index* (``steward.name_index``)
and *store* (``write_store``). Reasoning and validation run in a forked child with a deadline: a
stage that passes it is killed and recorded as a timeout with the time it ran. If no reasoner
finished, validation runs on the asserted graphs alone and the store is written without an
inferred graph, both flagged, so that the later stages and the queries still get numbers.

``query`` runs every stored query's examples through ``run_stored`` (the Python API: resolving
the arguments, binding, running, converting) and the same bound text straight on pyoxigraph
(``GraphStore.query``: one call into pyoxigraph with the store's dataset, asserted + inferred
graphs as the default graph), each measurement watched by a timeout. ``rdflib`` runs that bound
text with rdflib's SPARQL engine on a ``Dataset(default_union=True)`` loaded from the store's
N-Quads dump of the same graphs, each query in a forked child with a timeout.

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
import statistics
import tempfile
import time
import traceback
from itertools import chain
from pathlib import Path
from typing import Any, Callable


# ---- helpers -----------------------------------------------------------------------------------

def rss_mb_self() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


LOAD_SAMPLES: list[float] = []


def note_load() -> float:
    """Sample the 1-minute load average (other processes on the machine skew wall-clock times)."""
    value = os.getloadavg()[0]
    LOAD_SAMPLES.append(value)
    return value


def load_summary() -> dict:
    return {"cores": os.cpu_count(), "min": min(LOAD_SAMPLES, default=None), "max": max(LOAD_SAMPLES, default=None),
            "samples": len(LOAD_SAMPLES)}


WALL_FACTOR = 3.0  # a child is also stopped after this many times its CPU budget in wall-clock time
_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float | None:
    """CPU seconds (user + system) a running process has used so far, from /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, IndexError, ValueError):
        return None


def run_forked(fn: Callable[[], Any], timeout: float) -> dict:
    """Run ``fn`` in a forked child (it sees the parent's memory, copy-on-write).

    Returns ``{"status": "ok"|"timeout"|"error", "seconds", "cpu_seconds", "value", "error", "rss_mb"}``:
    ``seconds`` is measured inside the child around ``fn`` only (ok), or the wall time until the
    child was killed (timeout). The budget ``timeout`` is in CPU seconds, so that other work on a
    shared machine does not turn a slow stage into a timeout; a child also stops after
    ``WALL_FACTOR`` × ``timeout`` of wall-clock time, whatever CPU it got; ``cpu_seconds`` is the CPU time of the same span (for a timeout,
    all the CPU time the child used); ``rss_mb`` is the child's peak resident set (it includes the pages
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
            t, c = time.perf_counter(), time.process_time()
            value = fn()
            seconds, cpu = time.perf_counter() - t, time.process_time() - c
            payload = {"status": "ok", "seconds": seconds, "cpu_seconds": cpu, "value": value}
        except BaseException:  # noqa: BLE001 - reported to the parent
            payload = {"status": "error", "seconds": time.perf_counter() - started, "error": traceback.format_exc()}
            code = 1
        try:
            with open(path, "wb") as fh:
                pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            os._exit(code)
    gc.unfreeze()
    deadline = started + WALL_FACTOR * timeout
    pause = 0.01
    while True:
        wpid, _status, usage = os.wait4(pid, os.WNOHANG)
        if wpid:
            break
        used = cpu_of(pid)
        if time.perf_counter() > deadline or (used is not None and used > timeout):
            os.kill(pid, signal.SIGKILL)
            _, _, usage = os.wait4(pid, 0)
            os.unlink(path)
            return {"status": "timeout", "seconds": time.perf_counter() - started, "value": None,
                    "cpu_seconds": usage.ru_utime + usage.ru_stime,
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

def forked_stage(fn: Callable[[], Any], args: argparse.Namespace, *, keep_first: bool = True) -> tuple[dict, Any]:
    """A stage run in forked children: the first run, then more if it was cheap.

    ``fn`` returns a dict; if it holds ``seconds``, that is the stage time (so the child can leave
    out work done after the measured call, e.g. a comparison), else the time around ``fn``.
    Returns the stage record and the first run's value.
    """
    stage: dict[str, Any] = {"runs": [], "cpu_runs": [], "timeout": args.stage_timeout, "rss_mb": [],
                             "load_before": note_load()}

    def times(out: dict) -> tuple[float, float]:
        v = out["value"] if isinstance(out["value"], dict) else {}
        return v.get("seconds", out["seconds"]), v.get("cpu_seconds", out.get("cpu_seconds"))

    first = run_forked(fn, args.stage_timeout)
    stage["status"] = first["status"]
    stage["rss_mb"].append(first["rss_mb"])
    stage["load_after"] = note_load()
    if first["status"] != "ok":
        stage["ran_for"] = first["seconds"]
        stage["cpu_ran_for"] = first.get("cpu_seconds")
        if first["error"]:
            stage["error"] = first["error"]
        return stage, None
    value = first["value"]
    wall, cpu = times(first)
    stage["runs"].append(wall)
    stage["cpu_runs"].append(cpu)
    for _ in range(repeat(stage["runs"][0], args.runs, args.cheap)):
        again = run_forked(fn, args.stage_timeout)
        if again["status"] != "ok":
            break
        wall, cpu = times(again)
        stage["runs"].append(wall)
        stage["cpu_runs"].append(cpu)
        stage["rss_mb"].append(again["rss_mb"])
    stage["load_after"] = note_load()
    return stage, value


def cmd_build(args: argparse.Namespace) -> int:
    """The stages of ``pole_graph.build.build`` one by one, cut where build() cuts them.

    build() reasons with the fast rules engine by default (``reasoner="rules"``); owlrl, the
    reference, is timed too, as its own stage, and its result compared with the rules engine's.
    The later stages use the rules engine's inferred graph, as build() does.
    """
    from pole_graph.terms import graph_of

    from pole_graph import __version__
    from pole_graph.build import content_hash
    from pole_graph.load import load_content
    from pole_graph import namespaces as ns
    from pole_graph.project import Project
    from pole_graph.reason import reason
    from pole_graph.store import write_store
    from pole_graph.validate import validate
    try:
        from pole_graph.rules import reason_fast
    except ImportError:  # an older library: owlrl only
        reason_fast = None
    try:
        from pole_graph.steward import name_index
    except ImportError:
        name_index = None

    project = Project.discover(args.project)
    result: dict[str, Any] = {"stages": {}, "flags": [], "graphs": {}, "rss_mb": {}}
    out = Path(args.out)

    def save() -> None:
        result["rss_mb"]["worker"] = rss_mb_self()
        result["load_average"] = load_summary()
        write_json(out, result)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    # -- load: as build() times it, load_content (the asserted union, which only the owlrl and
    #    pySHACL reference stages need, is made afterwards, untimed)
    def do_load():
        """As build() runs it: with the cycle collector paused (repeated loads in one process were
        otherwise up to twice as slow as the first, each full collection walking the previous ones)."""
        gc.disable()
        try:
            return load_content(project)
        finally:
            gc.enable()

    runs, cpu = [], []
    note_load()
    t, c = time.perf_counter(), time.process_time()
    content = do_load()
    runs.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
    for _ in range(repeat(runs[0], args.runs, args.cheap)):
        gc.collect()
        t, c = time.perf_counter(), time.process_time()
        do_load()
        runs.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    gc.collect()
    note_load()
    asserted = content.asserted
    result["stages"]["load"] = {"status": "ok", "runs": runs, "cpu_runs": cpu}
    result["records"] = len(content.records)
    result["graphs"] = {"ontology": len(content.ontology), "schemes": len(content.schemes),
                        "data": len(content.data), "shapes": len(content.shapes), "asserted": len(asserted)}
    save()
    log(f"load: {runs[0]:.2f} s, data {len(content.data)} triples")

    # -- reason with the rules engine (build()'s default), forked with a deadline
    inferred, engine = None, None
    if reason_fast is not None:
        def do_rules():
            inference = reason_fast(chain(content.ontology, content.schemes, content.data), content.ontology)
            return {"triples": list(inference.triples), "engine": inference.engine, "closure": inference.closure_size}

        stage, value = forked_stage(do_rules, args)
        if value is not None:
            inferred = set(value["triples"])
            engine = value["engine"]
            stage.update(engine=engine, closure=value["closure"], inferred=len(inferred))
            del value
        result["stages"]["reason_rules"] = stage
        save()
        log(f"reason (rules): {stage['status']} {stage['runs'][:1] or stage.get('ran_for')}")
        gc.collect()

    # -- reason with owlrl (the reference), forked with a deadline; compared with the rules engine
    def do_owlrl():
        t, c = time.perf_counter(), time.process_time()
        inference = reason(asserted)
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        mine = inference.triples
        value: dict[str, Any] = {"seconds": seconds, "cpu_seconds": cpu, "engine": inference.engine, "closure": inference.closure_size,
                                 "inferred": len(mine)}
        if inferred is not None:
            theirs = set(inferred)
            value["only_owlrl"] = len(mine - theirs)
            value["only_rules"] = len(theirs - mine)
        else:
            value["triples"] = list(mine)
        return value

    owlrl_budget = args.owlrl_timeout or args.stage_timeout
    rules_cpu = [c for c in (result["stages"].get("reason_rules") or {}).get("cpu_runs") or [] if c]
    if args.owlrl_ratio and rules_cpu:
        # Budget owlrl at exactly the ratio the target asks for: if it is stopped there, the rules
        # engine is proven at least that much faster without spending more CPU on the proof.
        owlrl_budget = args.owlrl_ratio * statistics.median(rules_cpu)
    owlrl_args = argparse.Namespace(**{**vars(args), "stage_timeout": owlrl_budget})
    if args.no_owlrl:
        stage, value = {"status": "skipped", "runs": [], "cpu_runs": []}, None
    else:
        stage, value = forked_stage(do_owlrl, owlrl_args)
    if value is not None:
        stage.update({k: v for k, v in value.items() if k not in ("triples", "seconds", "cpu_seconds")})
        if inferred is None:
            inferred = set(value["triples"])
            engine = value["engine"]
        elif value.get("only_owlrl") or value.get("only_rules"):
            result["flags"].append(f"owlrl and the rules engine differ: {value['only_owlrl']} triple(s) only from owlrl, "
                                   f"{value['only_rules']} only from the rules engine")
        del value
    elif stage["status"] != "skipped":
        result["flags"].append(f"reason (owlrl) {stage['status']} after {stage.get('ran_for', 0):.0f} s")
    result["stages"]["reason_owlrl"] = stage
    if inferred is None:
        inferred = set()
        result["flags"].append("no reasoner finished: validation ran on the asserted graphs only and the store "
                               "has no inferred graph")
    result["graphs"]["inferred"] = len(inferred)
    save()
    log(f"reason (owlrl): {stage['status']} {stage['runs'][:1] or stage.get('ran_for')}")
    gc.collect()
    with_inferred = len(inferred) > 0

    # -- validate as build() does it: the shapes compiled to SPARQL, run by pyoxigraph on a store
    #    holding the graphs (build() runs it on the new store before the swap; here an in-memory
    #    store is loaded first, untimed), forked with a deadline
    def do_validate():
        import pyoxigraph as ox

        from pole_graph.shacl_sparql import validate_store
        from pole_graph.store import graph_to_ntriples

        memory = ox.Store()
        named = {ns.GRAPH_ONTOLOGY: content.ontology, ns.GRAPH_SCHEMES: content.schemes, ns.GRAPH_DATA: content.data,
                 ns.GRAPH_INFERRED: inferred}
        for name, graph in named.items():
            memory.bulk_load(graph_to_ntriples(graph), ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(str(name)))
        t, c = time.perf_counter(), time.process_time()
        report = validate_store(memory, content.shapes, [str(g) for g in named])
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        return {"seconds": seconds, "cpu_seconds": cpu, "conforms": report.conforms, "results": len(report.results),
                "violations": len(report.violations()), "sample": report.text("en", limit=8) if not report.conforms else ""}

    # -- validate with pySHACL (the reference), as build(validator="pyshacl") does: union + validate
    def do_pyshacl():
        t, c = time.perf_counter(), time.process_time()
        union = graph_of(chain(asserted, inferred))
        report = validate(union, content.shapes)
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        return {"seconds": seconds, "cpu_seconds": cpu, "conforms": report.conforms, "results": len(report.results),
                "violations": len(report.violations()), "pyshacl_seconds": report.seconds,
                "union_triples": len(union), "sample": report.text("en", limit=8) if not report.conforms else ""}

    for key, fn in (("validate", do_validate), ("validate_pyshacl", do_pyshacl)):
        if key == "validate_pyshacl" and args.no_pyshacl:
            result["stages"][key] = {"status": "skipped", "runs": [], "cpu_runs": []}
            continue
        budget = args.pyshacl_timeout if key == "validate_pyshacl" and args.pyshacl_timeout else args.stage_timeout
        stage, value = forked_stage(fn, argparse.Namespace(**{**vars(args), "stage_timeout": budget}))
        stage["on"] = "asserted + inferred" if with_inferred else "asserted only"
        if value is not None:
            stage.update({k: value[k] for k in ("conforms", "results", "violations", "pyshacl_seconds", "union_triples")
                          if k in value})
            if not value["conforms"]:
                stage["sample"] = value["sample"]
                if with_inferred:
                    result["flags"].append(f"{key}: the generated data does NOT conform: {value['violations']} violation(s)")
        else:
            result["flags"].append(f"{key} {stage['status']} after {stage.get('ran_for', 0):.0f} s")
        result["stages"][key] = stage
        save()
        log(f"{key}: {stage['status']} {stage['runs'][:1] or stage.get('ran_for')}")
    v, r = result["stages"].get("validate", {}), result["stages"].get("validate_pyshacl", {})
    if v.get("status") == "ok" and r.get("status") == "ok" and (v.get("results"), v.get("conforms")) != (r.get("results"), r.get("conforms")):
        result["flags"].append(f"the SPARQL validator and pySHACL disagree: {v.get('results')} vs {r.get('results')} results")

    # -- the name index (graph/index), as build() derives it from the union
    graphs = {ns.GRAPH_ONTOLOGY: content.ontology, ns.GRAPH_SCHEMES: content.schemes, ns.GRAPH_DATA: content.data,
              ns.GRAPH_INFERRED: inferred, ns.GRAPH_SHAPES: content.shapes}
    if name_index is not None and hasattr(ns, "GRAPH_INDEX"):
        union = chain(content.ontology, content.schemes, content.data, inferred)
        runs, cpu = [], []
        for i in range(args.runs):
            t, c = time.perf_counter(), time.process_time()
            index = name_index(union if i == 0 else chain(content.ontology, content.schemes, content.data, inferred))
            runs.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            if runs[0] >= args.cheap:
                break
        del union
        graphs[ns.GRAPH_INDEX] = index
        result["stages"]["index"] = {"status": "ok", "runs": runs, "cpu_runs": cpu}
        result["graphs"]["index"] = len(index)

    # -- store (pyoxigraph), in process, as build() does it
    def do_store():
        info = {"pole_graph": __version__, "reasoner": engine, "content_sha256": content_hash(project),
                "records": len(content.records), "stages": {}, "benchmark": True}
        return write_store(Path(args.store), graphs, info)

    runs, cpu = [], []
    t, c = time.perf_counter(), time.process_time()
    counts = do_store()
    runs.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
    for _ in range(repeat(runs[0], args.runs, args.cheap)):
        t, c = time.perf_counter(), time.process_time()
        do_store()
        runs.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    note_load()
    result["stages"]["store"] = {"status": "ok", "runs": runs, "cpu_runs": cpu}
    result["store_counts"] = {str(k).rsplit("/", 1)[-1]: v for k, v in counts.items()}
    result["store_bytes"] = sum(f.stat().st_size for f in Path(args.store).rglob("*") if f.is_file())
    for name in ("reason_rules", "reason_owlrl", "validate", "validate_pyshacl"):
        st = result["stages"].get(name)
        if st:
            if st.get("rss_mb"):
                result["rss_mb"][name + "_child"] = max(st["rss_mb"])
    save()
    log(f"store: {runs[0]:.2f} s")
    return 0


# ---- the build command, end to end -----------------------------------------------------------------

def cmd_command(args: argparse.Namespace) -> int:
    """``pole-graph build`` as a user runs it: a fresh process each run, from start-up to exit.

    Records per run the wall time (what the 60 s target is about), the process's peak RSS and
    CPU time (from ``wait4``), and the stage times the build wrote into the store's build.json.
    """
    import subprocess

    result: dict[str, Any] = {"status": "ok", "runs": [], "cpu_runs": [], "rss_mb": [], "stages": [],
                              "command": "pole-graph build --project P --store S"}
    cmd = [sys.executable, "-m", "pole_graph", "build", "--project", str(args.project), "--store", str(args.store)]
    for i in range(args.runs):
        note_load()
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            result.update(status=f"exit {proc.returncode}", error=proc.stderr.read().decode(errors="replace")[-2000:])
            break
        proc.stderr.close()
        info = json.loads((args.store / "build.json").read_text(encoding="utf-8"))
        result["runs"].append(seconds)
        result["cpu_runs"].append(usage.ru_utime + usage.ru_stime)
        result["rss_mb"].append(usage.ru_maxrss / 1024.0)
        result["stages"].append(info.get("stages", {}))
        result["counts"] = info.get("counts", {})
        result["records"] = info.get("records")
        result["store_bytes"] = sum(f.stat().st_size for f in args.store.rglob("*") if f.is_file())
        print(f"build command: {seconds:.1f} s, peak RSS {usage.ru_maxrss / 1024:.0f} MB", file=sys.stderr, flush=True)
        if seconds >= args.cheap:
            break
    result["load_average"] = load_summary()
    write_json(Path(args.out), result)
    return 0 if result["status"] == "ok" else 1


# ---- stored queries: API and raw pyoxigraph ----------------------------------------------------------

def cmd_query(args: argparse.Namespace) -> int:
    """Bind every example, then measure them in a child process, one measurement at a time.

    pyoxigraph cannot be interrupted from Python, so the measurements run in a child
    (``query-child``) that reports each one as a JSON line; a measurement that runs longer than
    ``--timeout`` gets the child killed, is recorded as a timeout, and a new child carries on
    with the next measurement.
    """
    import subprocess

    from pole_graph import Catalogue, GraphStore, Project
    from pole_graph.queries import Resolver, bind_values, bindings_for

    project = Project.discover(args.project)
    catalogue = Catalogue.load(project)
    store = GraphStore.open(args.store)
    items: list[dict[str, Any]] = []
    for name in catalogue.names():
        q = catalogue.get(name)
        for i, example in enumerate(q.examples):
            item: dict[str, Any] = {"query": name, "example": i, "args": dict(example)}
            items.append(item)
            try:
                t = time.perf_counter()
                item["text"] = bind_values(q.text, bindings_for(q, example, "fr", Resolver(store.query)))
                item["bind_seconds"] = time.perf_counter() - t
            except Exception as exc:  # noqa: BLE001 - a finding, kept in the results
                item["error"] = f"{type(exc).__name__}: {exc}"
    del store
    out = Path(args.out)
    work = out.with_name(out.stem + "-work.json")
    events = out.with_name(out.stem + "-events.jsonl")
    write_json(work, {"items": items})
    todo = [(k, mode) for k, item in enumerate(items) if "text" in item for mode in ("api", "raw")]
    events.write_text("", encoding="utf-8")
    position, children = 0, 0
    while position < len(todo):
        cmd = [sys.executable, "-m", "bench.worker", "query-child", "--project", str(args.project),
               "--store", str(args.store), "--work", str(work), "--events", str(events),
               "--start", str(position), "--runs", str(args.runs), "--cheap", str(args.cheap), "--out", str(out)]
        child = subprocess.Popen(cmd)
        children += 1
        offset = events.stat().st_size
        last = time.perf_counter()
        allowance = max(args.timeout, 60.0)  # the first event also waits for the child's start-up
        current: tuple[int, str] | None = None
        while True:
            with open(events, encoding="utf-8") as fh:
                fh.seek(offset)
                chunk = fh.read()
            if chunk.endswith("\n"):
                offset += len(chunk.encode("utf-8"))
                for line in chunk.splitlines():
                    ev = json.loads(line)
                    last = time.perf_counter()
                    allowance = args.timeout
                    k, mode = ev["item"], ev["mode"]
                    item = items[k]
                    if ev["event"] == "start":
                        current = (k, mode)
                    elif ev["event"] == "warm":
                        item[f"{mode}_rows"] = ev["rows"]
                        item.setdefault("warmup", {})[mode] = ev["seconds"]
                        LOAD_SAMPLES.append(ev["load"])
                    elif ev["event"] == "run":
                        item.setdefault(mode, []).append(ev["seconds"])
                        item.setdefault(f"{mode}_cpu", []).append(ev["cpu"])
                        LOAD_SAMPLES.append(ev["load"])
                    elif ev["event"] == "error":
                        item[f"{mode}_status"] = "error"
                        item["error"] = ev["error"]
                    elif ev["event"] == "done":
                        item.setdefault(f"{mode}_status", "ok")
                        position = todo.index((k, mode)) + 1
                        current = None
                        print(f"{item['query']} #{item['example']} {mode}: "
                              f"{(min(item.get(mode) or [float('nan')])) * 1e3:.1f} ms, {item.get(mode + '_rows')} rows",
                              file=sys.stderr, flush=True)
            code = child.poll()
            if code is not None and position >= len(todo):
                break
            if code is not None:  # died without finishing: skip what it was on
                if current is not None:
                    items[current[0]][f"{current[1]}_status"] = "error"
                    items[current[0]]["error"] = f"the measuring process exited with code {code}"
                    position = todo.index(current) + 1
                else:
                    position += 1
                break
            if time.perf_counter() - last > allowance:
                child.kill()
                child.wait()
                if current is None:  # stuck before its first measurement started
                    current = todo[position]
                k, mode = current
                phase = "run" if items[k].get("warmup", {}).get(mode) is not None else "warm-up"
                items[k][f"{mode}_status"] = "timeout"
                items[k][f"{mode}_ran_for"] = time.perf_counter() - last
                items[k][f"{mode}_timeout_in"] = phase
                print(f"{items[k]['query']} #{items[k]['example']} {mode}: timeout in the {phase} "
                      f"(> {args.timeout:.0f} s)", file=sys.stderr, flush=True)
                position = todo.index(current) + 1
                break
            time.sleep(0.05)
    write_json(out, {"items": items, "timeout": args.timeout, "children": children, "load_average": load_summary(),
                     "rss_mb": {"worker": rss_mb_self(),
                                "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0}})
    return 0


def cmd_query_child(args: argparse.Namespace) -> int:
    from pole_graph import Catalogue, GraphStore, Project, run_stored

    catalogue = Catalogue.load(Project.discover(args.project))
    store = GraphStore.open(args.store)
    items = json.loads(Path(args.work).read_text(encoding="utf-8"))["items"]
    todo = [(k, mode) for k, item in enumerate(items) if "text" in item for mode in ("api", "raw")]
    with open(args.events, "a", encoding="utf-8", buffering=1) as log:
        def emit(**ev: Any) -> None:
            log.write(json.dumps(ev) + "\n")
            log.flush()

        for k, mode in todo[args.start:]:
            item = items[k]
            name, example, text = item["query"], item["args"], item["text"]
            if mode == "api":
                def measure() -> int:
                    return len(run_stored(store, catalogue, name, example).rows)
            else:
                def measure() -> int:  # GraphStore.query: pyoxigraph with the store's own dataset
                    return len(list(store.query(text)))
            emit(event="start", item=k, mode=mode)
            try:
                t, c = time.perf_counter(), time.process_time()
                rows = measure()  # warm-up
                warm = time.perf_counter() - t
                emit(event="warm", item=k, mode=mode, seconds=warm, cpu=time.process_time() - c, rows=rows,
                     load=os.getloadavg()[0])
                for _ in range(args.runs if warm < args.cheap else 1):
                    t, c = time.perf_counter(), time.process_time()
                    measure()
                    emit(event="run", item=k, mode=mode, seconds=time.perf_counter() - t, cpu=time.process_time() - c,
                         load=os.getloadavg()[0])
            except Exception as exc:  # noqa: BLE001
                emit(event="error", item=k, mode=mode, error=f"{type(exc).__name__}: {exc}")
            emit(event="done", item=k, mode=mode)
    return 0


# ---- stored queries: rdflib's engine -------------------------------------------------------------------

def cmd_rdflib(args: argparse.Namespace) -> int:
    import pyoxigraph as ox
    from rdflib import Dataset
    from rdflib.plugins.sparql import prepareQuery

    from pole_graph import GraphStore
    from pole_graph.store import GRAPH_SELECTIONS

    texts = json.loads(Path(args.texts).read_text(encoding="utf-8"))["items"]
    result: dict[str, Any] = {"items": [], "timeout": args.timeout}
    t = time.perf_counter()
    store = GraphStore.open(args.store)
    # the knowledge graph (asserted + inferred named graphs): with default_union=True its union is the
    # default graph, as GraphStore.query's, and GRAPH <…/data>, <…/inferred> still work
    dump = store.dump(ox.RdfFormat.N_QUADS, GRAPH_SELECTIONS["all"])
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

        def run_rdflib():
            t = time.perf_counter()
            prepared = prepareQuery(text)
            parsed = time.perf_counter() - t
            return len(list(ds.query(prepared))), parsed

        runs, cpu, parse = [], [], []
        note_load()
        first = run_forked(run_rdflib, args.timeout)
        out["status"] = first["status"]
        if first["status"] == "ok":
            out["rows"] = first["value"][0]
            runs.append(first["seconds"])
            cpu.append(first["cpu_seconds"])
            parse.append(first["value"][1])
            for _ in range(repeat(runs[0], args.runs, args.cheap)):
                again = run_forked(run_rdflib, args.timeout)
                if again["status"] != "ok":
                    break
                runs.append(again["seconds"])
                cpu.append(again["cpu_seconds"])
                parse.append(again["value"][1])
            out["parse"] = parse
            out["cpu"] = cpu
        elif first["status"] == "timeout":
            out["ran_for"] = first["seconds"]
            out["cpu_ran_for"] = first.get("cpu_seconds")
        else:
            out["error"] = first["error"]
        note_load()
        out["runs"] = runs
        print(f"rdflib {item['query']} #{item['example']}: {first['status']} "
              f"{(runs[0] if runs else first['seconds']):.2f} s", file=sys.stderr, flush=True)
        write_json(Path(args.out), dict(result, rss_mb={"worker": rss_mb_self()}, load_average=load_summary()))
    result["rss_mb"] = {"worker": rss_mb_self()}
    result["load_average"] = load_summary()
    write_json(Path(args.out), result)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.worker")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--project", required=True, type=Path)
    b.add_argument("--store", required=True, type=Path)
    b.add_argument("--stage-timeout", type=float, default=1200.0)
    b.add_argument("--owlrl-timeout", type=float, default=None, help="owlrl's own budget (default: --stage-timeout)")
    b.add_argument("--owlrl-ratio", type=float, default=None,
                   help="owlrl's CPU budget as this many times the rules engine's CPU time (overrides --owlrl-timeout)")
    b.add_argument("--no-owlrl", action="store_true", help="skip the owlrl reference closure")
    b.add_argument("--pyshacl-timeout", type=float, default=None, help="pySHACL's own budget (default: --stage-timeout)")
    b.add_argument("--no-pyshacl", action="store_true", help="skip the pySHACL reference validation")
    c = sub.add_parser("command")
    c.add_argument("--project", required=True, type=Path)
    c.add_argument("--store", required=True, type=Path)
    q = sub.add_parser("query")
    q.add_argument("--project", required=True, type=Path)
    q.add_argument("--store", required=True, type=Path)
    q.add_argument("--timeout", type=float, default=600.0, help="seconds per measurement (warm-up or run)")
    qc = sub.add_parser("query-child")
    qc.add_argument("--project", required=True, type=Path)
    qc.add_argument("--store", required=True, type=Path)
    qc.add_argument("--work", required=True, type=Path)
    qc.add_argument("--events", required=True, type=Path)
    qc.add_argument("--start", type=int, default=0)
    r = sub.add_parser("rdflib")
    r.add_argument("--store", required=True, type=Path)
    r.add_argument("--texts", required=True, type=Path)
    r.add_argument("--timeout", type=float, default=60.0)
    for p in (b, c, q, qc, r):
        p.add_argument("--out", required=True, type=Path)
        p.add_argument("--runs", type=int, default=3)
        p.add_argument("--cheap", type=float, default=30.0, help="repeat a measurement only if its first run took less")
    args = ap.parse_args(argv)
    return {"build": cmd_build, "command": cmd_command, "query": cmd_query, "query-child": cmd_query_child,
            "rdflib": cmd_rdflib}[args.cmd](args)


if __name__ == "__main__":
    raise SystemExit(main())
