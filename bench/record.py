"""Record validation against stores of growing size, beside full validation, in the same run.

    python -m bench.record [--sizes 100k,1m] [--runs 21] [--write]
    python -m bench.record --from-run bench/results/RUN [--write]   # the stores `python -m bench --keep` built


For each size: generate the synthetic project (bench/generate.py), build it (`pole_graph.build`,
whose *validate* stage is the full pySHACL validation of asserted + inferred), then validate new
records the way `pole-graph validate` does — `Steward.check` on a submission read from CSV — against
that store, warm (the steward open, as in a server), `--runs` times, and report the median, min and
max. With ``--from-run``, the stores and the full-validation stage of a kept harness run are used
instead (the harness validates in a child with a CPU budget; a timeout is reported as such), so a
1M-triple graph is built and validated once for both benchmarks. Three submissions: one labelling of an existing pôle; a foreign organisation and a partnership
between it and a pôle (two records, each referring to the store); and the same with a typo in the
pôle key (the report path: a reference problem with a suggestion). Results print as Markdown;
`--write` appends them to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LABELLING = """pole,phase,category,decision,from,until,label_name,duration,note,source
{pole},{phase},,,,,,,,https://example.org/decision
"""
ORGANISATION = """key,kind,name_fr,name_en,country,locality,website,source
grappe-bench,foreign-cluster,Grappe de mesure,Benchmark cluster,CAN,Québec,https://grappe-bench.example/,https://example.org/annonce
"""
PARTNERSHIP = """key,pole,partner,year,description_fr,description_en,source
{pole}-grappe-bench,{pole},grappe-bench,2024,Partenariat de mesure.,Benchmark partnership.,https://example.org/annonce
"""


def measure(steward, files: list[Path], runs: int) -> tuple[list[float], str]:
    times, outcome = [], ""
    for _ in range(runs + 1):
        started = time.perf_counter()
        report, _ = steward.check(steward.read(files), "en")
        times.append(time.perf_counter() - started)
        outcome = "conforms" if report.exit_code == 0 else f"exit {report.exit_code}"
    return times[1:], outcome  # the first run warms caches up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100k,1m")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--from-run", type=Path, default=None,
                        help="a `python -m bench --keep` run folder: measure against its stores")
    parser.add_argument("--only", default=None, help="with --from-run: only this size (e.g. 100k)")
    parser.add_argument("--json", type=Path, default=None, help="also write the measurements as JSON here")
    ns = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from bench.generate import generate, parse_size
    from pole_graph import GraphStore, Project, build
    from pole_graph.steward import Steward

    rows = []
    if ns.from_run:
        labels = sorted((p.name for p in ns.from_run.iterdir() if (p / "store").is_dir()
                         and (ns.only is None or p.name == ns.only)), key=parse_size)
    else:
        labels = ns.sizes.split(",")
    for label in labels:
        with tempfile.TemporaryDirectory() as tmp:
            if ns.from_run:
                stage = json.loads((ns.from_run / label / "build.json").read_text(encoding="utf-8"))["stages"]["validate"]
                full = (f"{statistics.median(stage['runs']):.1f} s" if stage.get("runs") else
                        f"> {stage.get('timeout', 0):.0f} s (stopped; it had {stage.get('ran_for', 0):.0f} s)")
                store = GraphStore.open(ns.from_run / label / "store")
            else:
                root = Path(tmp) / "project"
                generate(root, parse_size(label))
                report = build(Project.discover(root), Path(tmp) / "store")
                full = f"{report.stages['validate']:.1f} s"
                store = GraphStore.open(Path(tmp) / "store")
            triples = int(next(iter(store.db.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")))["n"].value)
            pole = next(iter(store.db.query(
                "PREFIX pg: <https://w3id.org/pole-graph/def/core#> SELECT ?k WHERE { GRAPH <https://w3id.org/pole-graph/graph/data> { "
                "?p a pg:CompetitivenessCluster OPTIONAL { ?l pg:labelledCluster ?p } FILTER NOT EXISTS { ?p <http://schema.org/dissolutionDate> ?d } } "
                "BIND(STRAFTER(STR(?p), '/id/pole/') AS ?k) FILTER(STRSTARTS(?k, 'syn-pole')) } "
                "GROUP BY ?k HAVING(COUNT(?l) < 5) ORDER BY ?k LIMIT 1")))["k"].value
            steward = Steward(store)
            files = Path(tmp) / "records"
            files.mkdir()
            cases = []
            held = {r["c"].value for r in store.db.query(
                "SELECT ?c WHERE { GRAPH <https://w3id.org/pole-graph/graph/data> { ?l <https://w3id.org/pole-graph/def/core#labelledCluster> "
                f"<https://w3id.org/pole-graph/id/pole/{pole}> ; <https://w3id.org/pole-graph/def/core#phase> ?p }} "
                "GRAPH ?g { ?p <http://www.w3.org/2004/02/skos/core#notation> ?c } }")}
            phase = next(p for p in ("2023-2026", "2019-2022", "2013-2018", "2009-2012", "2005-2008") if p not in held)
            (files / "labellings.csv").write_text(LABELLING.format(pole=pole, phase=phase), encoding="utf-8")
            cases.append(("one labelling", [files / "labellings.csv"]))
            (files / "organisations.csv").write_text(ORGANISATION, encoding="utf-8")
            (files / "partnerships.csv").write_text(PARTNERSHIP.format(pole=pole), encoding="utf-8")
            cases.append(("organisation + partnership", [files / "organisations.csv", files / "partnerships.csv"]))
            typo = files / "typo"
            typo.mkdir()
            (typo / "organisations.csv").write_text(ORGANISATION, encoding="utf-8")
            (typo / "partnerships.csv").write_text(PARTNERSHIP.format(pole=pole).replace(f",{pole},", f",{pole[:-1]}x,"), encoding="utf-8")
            cases.append(("the same with the pôle key mistyped", [typo / "organisations.csv", typo / "partnerships.csv"]))
            for name, paths in cases:
                times, outcome = measure(steward, paths, ns.runs)
                rows.append((label, triples, name, outcome, times, full))
                print(label, triples, name, outcome, f"{statistics.median(times) * 1000:.1f} ms", flush=True)
            del steward, store
    text = render(rows, ns)
    print(text)
    if ns.json:
        ns.json.write_text(json.dumps([{"size": label, "triples": triples, "case": name, "outcome": outcome,
                                        "median_ms": statistics.median(times) * 1000, "min_ms": min(times) * 1000,
                                        "max_ms": max(times) * 1000, "runs": len(times)}
                                       for label, triples, name, outcome, times, _ in rows], indent=2), encoding="utf-8")
    if ns.write:
        with (ROOT / "docs" / "benchmarks.md").open("a", encoding="utf-8") as f:
            f.write("\n" + text)
    return 0


def render(rows, ns) -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "") if Path("/proc/cpuinfo").exists() else platform.processor()
    lines = [f"## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} — `python -m bench.record` (record validation)", "",
             f"Machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}. Each size is a synthetic "
             "project (`bench/generate.py`) built with `pole_graph.build`; *full validation* is that build's "
             "validate stage (pySHACL on asserted + inferred, the whole graph). *Record validation* is "
             f"`Steward.check` on the submission read from CSV, warm, median of {ns.runs} runs (min–max). "
             "*store triples*: every triple in the store (all named graphs).", "",
             "| size | store triples | submission | outcome | record validation, median (min–max) | full validation |",
             "| --- | ---: | --- | --- | ---: | ---: |"]
    for label, triples, name, outcome, times, full in rows:
        lines.append(f"| {label} | {triples:,} | {name} | {outcome} | ".replace(",", " ")
                     + f"{statistics.median(times) * 1000:.1f} ms ({min(times) * 1000:.1f}–{max(times) * 1000:.1f}) | {full} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
