"""Markdown (and console) rendering of a benchmark run's raw results."""

from __future__ import annotations

import math
import statistics
from typing import Any

HEADER = """# Benchmarks

What the build and the stored queries cost as the graph grows, measured by the harness in
`bench/` on synthetic data. Each section below is one run, appended by the harness; numbers from
different machines or versions are not comparable with each other.

**Data.** `bench/generate.py` writes a synthetic project: the real `ontology/` (core, SKOS schemes,
SHACL shapes) and `queries/`, and generated `data/*.csv` in the record formats of
`data/README.md` — pôles (`syn-pole-00001`…) with regions, themes and 1–5 labellings over the
five phases, member companies, foreign clusters and partnerships, public bodies, programmes,
workshops and contributions, people and memberships, mergers, figures. The generator is seeded
(deterministic) and calibrated so that the *data* graph (`len(load_content(project).data)`)
reaches about the target size (10k, 100k, 1M triples); the ontology and schemes add about 4k
triples, and reasoning about as many again as the data. A few synthetic records carry the keys and
names that the queries' `#+ examples` use (`lyonbiopole`, `ubifrance`, "Images et Réseaux"…), so
every example runs unchanged. At 10k the generated data is checked to conform to the shapes.

**Build stages**, cut as `pole_graph.build.build` cuts them: *load* (`load_content` and the
asserted union); *reason* with the rules engine (`pole_graph.rules.reason_fast`, build()'s
default) and, as a separate stage, with owlrl (`pole_graph.reason.reason`, the reference OWL 2 RL
closure), whose inferred triples are compared with the rules engine's; *validate* as build()
runs it since 2026-11-28 (the shapes compiled to SPARQL, `pole_graph.shacl_sparql.validate_store`,
on a pyoxigraph store holding the asserted and inferred graphs; in runs before that date this
column was pySHACL) and, as a reference stage, pySHACL on the union of asserted and inferred graphs
(`pole_graph.validate.validate`, `--pyshacl-sizes`, `--pyshacl-timeout`); *name index* (`steward.name_index`, the `graph/index` build() writes); *store* (pyoxigraph
bulk load of the named graphs, `write_store`). The total adds the stages build() runs (rules
engine, not owlrl). Reasoning and validation run in a forked child with a budget
(`--stage-timeout`, 1200 s by default, counted in CPU seconds so that other work on a shared
machine does not cause it; the child is also stopped after 3× the budget in wall-clock time):
past it the child is killed and the stage reads "timeout (> N s; it had X of CPU)". If no reasoner finished, validation runs on the asserted graphs alone and the
store is written without the inferred graph (flagged), so that the queries still get numbers. A
stage is repeated `--runs` times only when its first run took less than 30 s; cells read
*median (min–max, ×runs); cpu median* (CPU time of the process, all its threads: pyoxigraph's
bulk load uses several), and a timeout gives the CPU time the stage had got when it was killed.

**Stored queries.** Each example of each stored query (`#+ examples`), on the same built store,
three ways: **API** = `pole_graph.run_stored` (argument resolution with a fresh `Resolver`,
binding, pyoxigraph, conversion to a `QueryResult`; warmed up once first); **pyoxigraph** = the same
bound SPARQL text (`bind_values(q.text, bindings_for(q, args, "fr", Resolver(store.query)))`) sent
straight to pyoxigraph through `GraphStore.query` (one call, with the store's dataset: the
asserted and inferred graphs as default graph) and consumed to a list (warmed up once). API and pyoxigraph run in a child process that reports each measurement; one
that takes longer than `--query-timeout` (600 s by default) gets the child killed and reads
"> N s" (a query is repeated `--runs` times only if its warm-up took less than 5 s). **rdflib** = that text run by rdflib's SPARQL engine on a
`Dataset(default_union=True)` loaded from the store's N-Quads dump of those same graphs
(`GraphStore.dump`), each query in a forked child
with a timeout (`--rdflib-timeout`, CPU seconds as for the stages). Times are wall-clock medians; the CPU time of each is recorded too,
and the ratios are of CPU-time medians (steadier when other processes share the machine; the
1-minute load average during each size is given in the notes). "rows" gives the rows each way
(API / pyoxigraph / rdflib) as a cross-check.

**Memory.** Each size's build, queries and rdflib phases run in their own process; peak RSS
is `getrusage(...).ru_maxrss` of that process, and for the forked reason/validate children
their own peak (which includes the pages they share with the parent).

**Reproduce** (from the repository root; raw JSON goes to `bench/results/`, git-ignored):

```sh
.venv/bin/pip install -e '.[bench]'                       # adds the oxigraph server (bench.http, bench.remote)
.venv/bin/python -m bench --quick                         # 10k and 100k, 1 run, short timeouts
.venv/bin/python -m bench --sizes 100k,1m --runs 3 --keep --stage-timeout 1500 --owlrl-timeout 300
.venv/bin/python -m bench.record --from-run bench/results/RUN --write   # record validation on those stores
.venv/bin/python -m bench.http --seconds 10 --write       # HTTP vs the oxigraph server (needs `apt-get install wrk`)
.venv/bin/python -m bench.generate --size 10k --out /tmp/syn10k --check   # just the data
```

Options: `--stage-timeout S`, `--owlrl-timeout S` (owlrl's own budget), `--owlrl-ratio R` (owlrl's
CPU budget as R× the rules engine's: a timeout then proves the ratio), `--owlrl-sizes`,
`--pyshacl-sizes`, `--pyshacl-timeout S`, `--query-timeout S`, `--rdflib-timeout S`, `--no-rdflib`,
`--targets` (after the sizes: record validation and `serve` start-up on the largest store, HTTP
against the Oxigraph server, then a table of every target of issue 6; on with `--quick`),
`--http-seconds N`, `--seed N`, `--keep` (keep the generated projects and stores), `--out FILE`
(this file), `--no-append`. `python -m bench.serve --store PATH` measures start-up and memory
alone; `python -m bench.plot RUN.json…` draws cost against size.
"""


def fmt_s(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if x < 0.001:
        return f"{x * 1e3:.2f} ms"
    if x < 0.1:
        return f"{x * 1e3:.1f} ms"
    if x < 1:
        return f"{x * 1e3:.0f} ms"
    if x < 100:
        return f"{x:.2f} s"
    if x < 3600:
        return f"{x:.0f} s"
    return f"{x:.0f} s ({x / 3600:.1f} h)"


def fmt_n(n: int | None) -> str:
    return "–" if n is None else f"{n:,}".replace(",", " ")


def fmt_ratio(r: float | None, prefix: str = "") -> str:
    if r is None:
        return "–"
    return f"{prefix}{r:.1f}×" if r < 100 else f"{prefix}{r:.0f}×"


def med(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def cell(stage: dict | None) -> str:
    if not stage:
        return "–"
    status = stage.get("status")
    if status == "timeout":
        used = stage.get("cpu_ran_for")
        return (f"timeout (> {stage.get('timeout', stage.get('ran_for', 0)):.0f} s"
                + (f"; it had {fmt_s(used)} of CPU" if used is not None else "") + ")")
    if status == "error":
        return "error"
    runs = stage.get("runs") or []
    if not runs:
        return "–"
    m = statistics.median(runs)
    text = fmt_s(m) if len(runs) == 1 else f"{fmt_s(m)} ({fmt_s(min(runs))}–{fmt_s(max(runs))}, ×{len(runs)})"
    cpu = [c for c in stage.get("cpu_runs") or [] if c is not None]
    if cpu:
        text += f"; cpu {fmt_s(statistics.median(cpu))}"
    return text


def stage_median(stage: dict | None) -> float | None:
    if not stage or stage.get("status") != "ok":
        return None
    return med(stage.get("runs") or [])


def build_total(stages: dict) -> tuple[float, bool]:
    """Seconds of the build as build() runs it (load, the default reasoner, validate, index, store),
    and whether that is a lower bound (a stage was stopped at its budget)."""
    reasoner = "reason_rules" if "reason_rules" in stages else ("reason_owlrl" if "reason_owlrl" in stages else "reason")
    if stages.get(reasoner, {}).get("status") != "ok" and stages.get("reason_owlrl", {}).get("status") == "ok":
        reasoner = "reason_owlrl"
    total, lower_bound = 0.0, False
    for name in ("load", reasoner, "validate", "index", "store"):
        st = stages.get(name)
        if not st:
            continue
        if st.get("status") == "ok":
            total += med(st.get("runs") or [0.0]) or 0.0
        else:
            total += st.get("ran_for") or st.get("timeout") or 0.0
            lower_bound = True
    return total, lower_bound


def total_cell(stages: dict) -> str:
    total, lower_bound = build_total(stages)
    return ("> " if lower_bound else "") + fmt_s(total)


def max_or_none(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return max(xs) if xs else None


def geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def args_text(args: dict) -> str:
    if not args:
        return "(none)"
    return ", ".join(f"{k}={v}" for k, v in args.items())


def query_rows(size: dict) -> list[dict[str, Any]]:
    """One row per query example: medians, rows and ratios, joined from the query and rdflib phases."""
    rd = {(i["query"], i["example"]): i for i in (size.get("rdflib") or {}).get("items", [])}
    rd_timeout = (size.get("rdflib") or {}).get("timeout")
    q_timeout = (size.get("query") or {}).get("timeout")
    out = []
    for item in (size.get("query") or {}).get("items", []):
        r = rd.get((item["query"], item["example"]), {})
        api = med(item.get("api") or []) if item.get("api_status", "ok") == "ok" else None
        raw = med(item.get("raw") or []) if item.get("raw_status", "ok") == "ok" else None
        rdf = med(r.get("runs") or []) if r.get("status") == "ok" else None
        # ratios of CPU medians where recorded (other processes on the machine disturb them less)
        c_api = med(item.get("api_cpu") or []) if api is not None else None
        c_raw = med(item.get("raw_cpu") or []) if raw is not None else None
        c_rdf = med(r.get("cpu") or []) if rdf is not None else None
        r_api, r_raw, r_rdf = (c_api, c_raw, c_rdf) if c_raw else (api, raw, rdf)
        row = {"query": item["query"], "example": item["example"], "args": item.get("args", {}),
               "api": api, "raw": raw, "rdflib": rdf, "rdflib_status": r.get("status", "not run"),
               "api_status": item.get("api_status", "ok" if item.get("api") else "not run"),
               "raw_status": item.get("raw_status", "ok" if item.get("raw") else "not run"),
               "rows": (item.get("api_rows"), item.get("raw_rows"), r.get("rows")),
               "error": item.get("error") or r.get("error"), "timeout": rd_timeout, "query_timeout": q_timeout,
               "cpu": (c_api, c_raw, c_rdf),
               "api_ratio": r_api / r_raw if r_api and r_raw else None,
               "rdflib_ratio": r_rdf / r_raw if r_rdf and r_raw else None,
               "rdflib_ratio_lower": (rd_timeout / raw) if r.get("status") == "timeout" and raw else None}
        out.append(row)
    return out


def time_cell(status: str, value: float | None, timeout: float | None) -> str:
    if status == "ok":
        return fmt_s(value)
    if status == "timeout":
        return f"> {timeout:.0f} s" if timeout else "timeout"
    return status


def parse_note(rdf: dict) -> str:
    parses = [med(i["parse"]) for i in rdf.get("items", []) if i.get("parse")]
    if not parses:
        return ""
    return (f" rdflib's times include parsing the query text (`prepareQuery`), "
            f"{fmt_s(min(parses))}–{fmt_s(max(parses))} per query.")


def target_rows(run: dict) -> list[tuple[str, str, str, str]]:
    """(target, measured, ratio or figure, verdict) for every target of issue 6 the run measured."""
    sizes = run["sizes"]
    labels = list(sizes)
    rows: list[tuple[str, str, str, str]] = []
    largest = ("1m" if "1m" in sizes else labels[-1]) if labels else None  # the targets are set at 1M

    def verdict(ok: bool | None, where: str = "") -> str:
        text = "–" if ok is None else ("met" if ok else "**not met**")
        return text + (f" ({where})" if where else "")

    # 1. stored queries: API ÷ pyoxigraph at the largest size (the target is at 1M)
    if largest:
        qrows = [r for r in query_rows(sizes[largest]) if r["api_ratio"]]
        if qrows:
            g = geomean([r["api_ratio"] for r in qrows])
            worst = max(qrows, key=lambda r: r["api_ratio"])
            rows.append(("stored query, warm, API ÷ pyoxigraph on the same store: ≤ 1.2× at 1M",
                         f"{largest}: {len(qrows)} examples; worst {worst['query']} {args_text(worst['args'])} "
                         f"{fmt_ratio(worst['api_ratio'])}",
                         f"geomean {g:.2f}×", verdict(g <= 1.2, "" if largest == "1m" else f"measured at {largest}")))
    # 2. reasoning: owlrl ÷ rules at 100k (CPU)
    label = "100k" if "100k" in sizes else largest
    if label:
        st = (sizes[label].get("build") or {}).get("stages", {})
        rules, owl = st.get("reason_rules") or {}, st.get("reason_owlrl") or {}
        r_cpu = med([c for c in rules.get("cpu_runs") or [] if c])
        if r_cpu and owl.get("status") == "ok":
            o_cpu = med([c for c in owl.get("cpu_runs") or [] if c]) or 0
            same = "same triples" if not owl.get("only_owlrl") and not owl.get("only_rules") else "DIFFERENT triples"
            rows.append(("OWL 2 RL reasoning ≥ 20× faster than owlrl at 100k, same triples",
                         f"{label}: rules {fmt_s(r_cpu)} CPU, owlrl {fmt_s(o_cpu)} CPU ({same})",
                         f"{o_cpu / r_cpu:.1f}×", verdict(o_cpu / r_cpu >= 20, "" if label == "100k" else f"at {label}")))
        elif r_cpu and owl.get("status") == "timeout":
            o_cpu = owl.get("cpu_ran_for") or owl.get("ran_for") or 0
            rows.append(("OWL 2 RL reasoning ≥ 20× faster than owlrl at 100k, same triples",
                         f"{label}: rules {fmt_s(r_cpu)} CPU; owlrl stopped after {fmt_s(o_cpu)} CPU, unfinished",
                         f"≥ {o_cpu / r_cpu:.1f}×", verdict(o_cpu / r_cpu >= 19.9, "same triples: tests/test_reasoning.py")))
    # 3. build ≤ 60 s at 1M: the command end to end if it was timed, else the sum of the stages
    command = (sizes[largest].get("command") or {}) if largest else {}
    if command.get("runs"):
        wall = med(command["runs"])
        rows.append(("build ≤ 60 s at 1M (`pole-graph build`, start to exit)",
                     f"{largest}: {fmt_s(wall)} median of {len(command['runs'])}, peak RSS {max(command['rss_mb']):.0f} MB",
                     f"{wall / 60:.2f}× the budget",
                     verdict(None if largest != "1m" else wall <= 60, "" if largest == "1m" else f"measured at {largest} only")))
    elif largest:
        total, lower = build_total((sizes[largest].get("build") or {}).get("stages", {}))
        if total:
            rows.append(("build (load + reason + validate + index + store) ≤ 60 s at 1M",
                         f"{largest}: {'> ' if lower else ''}{fmt_s(total)}", f"{total / 60:.2f}× the budget",
                         verdict(None if largest != "1m" else (not lower and total <= 60),
                                 "" if largest == "1m" else f"measured at {largest} only")))
    targets = run.get("targets") or {}
    rec = targets.get("record")
    if isinstance(rec, list) and rec:
        worst = max(rec, key=lambda r: r["median_ms"])
        rows.append(("one new record validated ≤ 50 ms median, whatever the store size",
                     f"{worst['size']} ({fmt_n(worst['triples'])} triples): slowest case “{worst['case']}”",
                     f"{worst['median_ms']:.1f} ms median", verdict(worst["median_ms"] <= 50)))
    srv = targets.get("serve")
    if isinstance(srv, list) and srv:
        m = srv[0]["median"]
        rows.append(("`serve` ready ≤ 1 s after start on a persisted store, RSS ≤ 1 GB (target at 1M)",
                     f"{fmt_n(srv[0]['triples'])} triples: ready {m['ready']:.2f} s; RSS {m['rss_used'] / 2**20:.0f} MB "
                     f"after requests", f"{m['ready']:.2f} s · {m['rss_used'] / 2**30:.2f} GB",
                     verdict(m["ready"] <= 1.0 and m["rss_used"] <= 2**30)))
    http = targets.get("http")
    if isinstance(http, list) and http:
        for h in http:
            ox = h.get("oxigraph")
            if not ox:
                continue
            warm, cold = h["cached"]["rps"] / ox["rps"], h["uncached"]["rps"] / ox["rps"]
            rows.append((f"HTTP ≥ 1.0× the oxigraph server's req/s, 8 clients: {h['request']}",
                         f"real graph: {h['cached']['rps']:.0f} req/s cached (p99 {h['cached']['p99']:.1f} ms), "
                         f"{h['uncached']['rps']:.0f} uncached (p99 {h['uncached']['p99']:.1f} ms); oxigraph "
                         f"{ox['rps']:.0f} (p99 {ox['p99']:.1f} ms)",
                         f"{warm:.2f}× cached · {cold:.2f}× uncached",
                         verdict(warm >= 1.0, "as shipped" if cold >= 1.0 else "as shipped; uncached not met")))
    for key in ("record", "serve", "http"):
        if isinstance(targets.get(key), dict) and targets[key].get("error"):
            rows.append((key, f"not measured: {targets[key]['error']}", "–", "–"))
    return rows


def render_targets(run: dict) -> str:
    rows = target_rows(run)
    if not rows:
        return ""
    lines = ["### Targets (issue 6)", "", "| target | measured | ratio / figure | verdict |", "| --- | --- | ---: | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines + [""])


def render_run(run: dict) -> str:
    meta = run["meta"]
    lines = [f"## {meta['date_utc']} — `{meta['command']}`", ""]
    m = meta["machine"]
    lines += [
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']:.1f} GB RAM ({m['os']})",
        f"- Python {meta['python']}; " + ", ".join(f"{k} {v}" for k, v in meta["packages"].items()),
        f"- pole-graph {meta.get('pole_graph', '?')} at commit {meta.get('commit', '?')}; seed {meta['seed']}; "
        f"runs {meta['runs']}; stage timeout {meta['stage_timeout']:.0f} s; owlrl timeout "
        f"{meta.get('owlrl_timeout', meta['stage_timeout']):.0f} s; query timeout "
        f"{meta.get('query_timeout', 0):.0f} s; rdflib timeout "
        f"{meta['rdflib_timeout']:.0f} s; wall time {fmt_s(meta.get('wall_seconds'))}",
        "",
    ]
    sizes = run["sizes"]
    targets = render_targets(run)
    if targets:
        lines += [targets]

    lines += ["### Build stages", "",
              "| size | data triples | inferred | load | reason (rules, build's default) | reason (owlrl) | "
              "validate (SPARQL, build's default) | validate (pySHACL) | name index | store (pyoxigraph) | sum of the stages (build() overlaps the store loads with reason and index) |",
              "| --- | ---: | ---: | --- | --- | --- | --- | --- | --- | --- | ---: |"]
    for label, s in sizes.items():
        b = s.get("build") or {}
        if not b:
            lines.append(f"| {label} | " + " | ".join(["not timed stage by stage (`--staged-sizes`): see the build command below"]
                                                     + [""] * 9) + " |")
            continue
        st = b.get("stages", {})
        g = b.get("graphs", {})
        def vcell_of(v: dict | None) -> str:
            text = cell(v) if not (v and v.get("status") == "skipped") else "not run"
            if v and v.get("status") == "ok":
                if v.get("pyshacl_seconds") is not None:
                    text += f"; pySHACL alone {fmt_s(v['pyshacl_seconds'])}"
                if v.get("on") == "asserted only":
                    text += " — on asserted only"
                if not v.get("conforms"):
                    text += f" — {v.get('violations')} violations"
            return text
        vcell, pcell = vcell_of(st.get("validate")), vcell_of(st.get("validate_pyshacl"))
        ocell = cell(st.get("reason_owlrl") or st.get("reason"))
        o = st.get("reason_owlrl") or {}
        if o.get("status") == "ok" and "only_owlrl" in o:
            same = not o.get("only_owlrl") and not o.get("only_rules")
            ocell += " — same triples as rules" if same else f" — differs (+{o['only_owlrl']}/−{o['only_rules']})"
        lines.append(f"| {label} | {fmt_n(g.get('data'))} | {fmt_n(g.get('inferred'))} | {cell(st.get('load'))} | "
                     f"{cell(st.get('reason_rules'))} | {ocell} | {vcell} | {pcell} | {cell(st.get('index'))} | "
                     f"{cell(st.get('store'))} | {total_cell(st)} |")
    lines.append("")

    commands = {label: s["command"] for label, s in sizes.items() if (s.get("command") or {}).get("runs")}
    if commands:
        lines += ["### The build command, end to end", "",
                  "`pole-graph build` in a fresh process, from start-up to exit (what a user waits for), and the "
                  "stages it reported in its build.json (run of median wall time):", "",
                  "| size | wall | CPU | peak RSS | load | reason | validate | index | the rest: store, start-up, exit |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for label, c in commands.items():
            runs = c["runs"]
            middle = sorted(range(len(runs)), key=lambda i: runs[i])[len(runs) // 2]
            stages = c["stages"][middle]
            wall = fmt_s(med(runs)) + (f" ({fmt_s(min(runs))}–{fmt_s(max(runs))}, {len(runs)} runs)" if len(runs) > 1 else "")
            named = ("load", "reason", "validate", "index")
            rest = runs[middle] - sum(stages.get(k) or 0.0 for k in named)  # build.json is written before the store is
            lines.append(f"| {label} | {wall} | {fmt_s(med(c['cpu_runs']))} | {max(c['rss_mb']):.0f} MB | "
                         + " | ".join(fmt_s(stages.get(k)) if stages.get(k) is not None else "–" for k in named)
                         + f" | {fmt_s(rest)} |")
        lines.append("")

    lines += ["Triples per graph (as read back from the store) and store size:", "",
              "| size | records | ontology | schemes | data | inferred | shapes | index | closure | store on disk |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label, s in sizes.items():
        b = s.get("build") or {}
        c = b.get("store_counts") or {str(k).rsplit("/", 1)[-1]: v for k, v in ((s.get("command") or {}).get("counts") or {}).items()}
        stages = b.get("stages", {})
        closure = next((stages.get(k, {}).get("closure") for k in ("reason_rules", "reason_owlrl", "reason")
                        if stages.get(k, {}).get("closure")), None)
        stored = b.get("store_bytes") or (s.get("command") or {}).get("store_bytes")
        size_mb = stored / 1e6 if stored else None
        lines.append(f"| {label} | {fmt_n(b.get('records') or (s.get('command') or {}).get('records'))} | {fmt_n(c.get('ontology'))} | {fmt_n(c.get('schemes'))} | "
                     f"{fmt_n(c.get('data'))} | {fmt_n(c.get('inferred'))} | {fmt_n(c.get('shapes'))} | "
                     f"{fmt_n(c.get('index'))} | {fmt_n(closure)} | {'–' if size_mb is None else f'{size_mb:.0f} MB'} |")
    lines.append("")

    flags = [(label, f) for label, s in sizes.items()
             for f in (s.get("build") or {}).get("flags", []) + [e.splitlines()[0] + " (see the log in bench/results/)"
                                                                  for e in s.get("errors", [])]]
    for label, s in sizes.items():
        loads = [x for part in ("build", "query", "rdflib") for x in
                 [((s.get(part) or {}).get("load_average") or {}).get(k) for k in ("min", "max")] if x is not None]
        if loads:
            cores = run["meta"]["machine"]["cores"]
            busy = max(loads) > cores + 0.5
            flags.append((label, f"1-minute load average during the measurements: {min(loads):.1f}–{max(loads):.1f} "
                                 f"on {cores} cores" + (" — the machine was shared with other work, so wall-clock "
                                                        "times are inflated; the CPU times are the steadier figures"
                                                        if busy else "")))
    if flags:
        lines += ["Notes:", ""] + [f"- {label}: {f}" for label, f in flags] + [""]

    for label, s in sizes.items():
        rows = query_rows(s)
        if not rows:
            continue
        rdf = s.get("rdflib") or {}
        lines += [f"### Stored queries at {label}", ""]
        if rdf:
            lines += [f"rdflib dataset: {fmt_n(rdf.get('quads'))} quads, N-Quads dump {fmt_s(rdf.get('dump_seconds'))}, "
                      f"parsed into `Dataset(default_union=True)` in {fmt_s(rdf.get('load_seconds'))}."
                      + parse_note(rdf), ""]
        lines += ["| query | example | rows (API / ox / rdflib) | API | pyoxigraph | rdflib | CPU: API / ox / rdflib "
                  "| API ÷ ox | rdflib ÷ ox |",
                  "| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: |"]
        for r in rows:
            if r["error"] and r["api"] is None and r["raw"] is None:
                lines.append(f"| {r['query']} | {args_text(r['args'])} | error: {r['error'].splitlines()[0]} | | | | | | |")
                continue
            if r["rdflib_status"] == "timeout":
                rd_cell, rd_ratio = f"> {r['timeout']:.0f} s", fmt_ratio(r["rdflib_ratio_lower"], "> ")
            elif r["rdflib_status"] == "ok":
                rd_cell, rd_ratio = fmt_s(r["rdflib"]), fmt_ratio(r["rdflib_ratio"])
            else:
                rd_cell, rd_ratio = r["rdflib_status"], "–"
            rows_cell = " / ".join("–" if x is None else str(x) for x in r["rows"])
            lines.append(f"| {r['query']} | {args_text(r['args'])} | {rows_cell} | "
                         f"{time_cell(r['api_status'], r['api'], r['query_timeout'])} | "
                         f"{time_cell(r['raw_status'], r['raw'], r['query_timeout'])} | {rd_cell} | "
                         f"{' / '.join(fmt_s(c) if c is not None else '–' for c in r['cpu'])} | "
                         f"{fmt_ratio(r['api_ratio'])} | {rd_ratio} |")
        g_api = geomean([r["api_ratio"] for r in rows if r["api_ratio"]])
        g_rdf = geomean([r["rdflib_ratio"] for r in rows if r["rdflib_ratio"]])
        n_to = sum(1 for r in rows if r["rdflib_status"] == "timeout")
        lines += ["", f"Geometric mean of the ratios: API ÷ pyoxigraph {fmt_ratio(g_api)}, rdflib ÷ pyoxigraph "
                  f"{fmt_ratio(g_rdf)} (over the {sum(1 for r in rows if r['rdflib_ratio'])} queries rdflib finished"
                  + (f"; {n_to} timed out" if n_to else "") + ").", ""]

    lines += ["### Peak memory (RSS)", "",
              "| size | build process | reason (rules) child | reason (owlrl) child | validate (SPARQL) child | "
              "validate (pySHACL) child | queries (API + pyoxigraph) | rdflib process |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def mb(x: float | None) -> str:
        return "–" if x is None else (f"{x / 1024:.2f} GB" if x >= 1024 else f"{x:.0f} MB")

    for label, s in sizes.items():
        b = (s.get("build") or {}).get("rss_mb", {})
        lines.append(f"| {label} | {mb(b.get('worker'))} | {mb(b.get('reason_rules_child'))} | "
                     f"{mb(b.get('reason_owlrl_child') or b.get('reason_child'))} | {mb(b.get('validate_child'))} | "
                     f"{mb(b.get('validate_pyshacl_child'))} | "
                     f"{mb(max_or_none(((s.get('query') or {}).get('rss_mb') or {}).values()))} | "
                     f"{mb(((s.get('rdflib') or {}).get('rss_mb') or {}).get('worker'))} |")
    lines.append("")
    gen = [(label, s.get("generate")) for label, s in sizes.items() if s.get("generate")]
    if gen:
        lines += ["Generated data: " + "; ".join(
            f"{label}: {g['n_poles']} synthetic pôles, {g['counts'].get('companies')} companies, "
            f"{g['counts'].get('foreign_clusters')} foreign clusters, {g['counts'].get('observations')} figures "
            f"(generated in {fmt_s(g.get('seconds'))})" for label, g in gen) + ".", ""]
    return "\n".join(lines)
