"""Benchmark harness: ``python -m bench [--sizes 100k,1m] [--runs N] [--quick] [--out docs/benchmarks.md]``.

For each size: generate a synthetic project (``bench.generate``), then in separate processes
(``bench.worker``) time the build stages, the build command end to end, the stored queries through the API and straight on
pyoxigraph, and the same queries on rdflib's engine. Prints a summary, keeps the raw results as
JSON in ``bench/results/`` and appends a dated section to ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from .generate import DEFAULT_SEED, calibrate, generate, parse_size, size_label
from .report import HEADER, render_run

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


def machine() -> dict:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": ram_gb,
            "os": f"{platform.system()} {platform.release()}"}


def versions() -> dict:
    out = {}
    for name in ("rdflib", "owlrl", "pyshacl", "pyoxigraph"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + (" (with uncommitted changes)" if dirty else "") if sha else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def run_worker(argv: list[str], timeout: float, log: Path) -> dict:
    """Run ``python -m bench.worker …`` in its own process group; kill that group past ``timeout``."""
    cmd = [sys.executable, "-m", "bench.worker", *argv]
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
            status = "ok" if code == 0 else f"exit {code}"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the worker and its forked children, nothing else
            proc.wait()
            status = "timeout"
    return {"status": status, "seconds": time.perf_counter() - started, "log": str(log)}


def tail(path: Path, n: int = 25) -> str:
    try:
        return "\n".join(Path(path).read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def clean(base: Path) -> None:
    """Delete a size's generated project and store (the JSON results and logs stay)."""
    shutil.rmtree(base / "project", ignore_errors=True)
    shutil.rmtree(base / "store", ignore_errors=True)
    for stale in base.glob("store.*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def measure_targets(workdir: Path, label: str, args: argparse.Namespace, say) -> dict:
    """The targets measured outside the size loop, each by its own script with a JSON output:
    record validation and serve's start-up on the largest size's store, HTTP on the real graph."""
    out: dict = {"size": label}
    store = workdir / label / "store"
    seconds = args.http_seconds or (3 if args.quick else 10)
    jobs = [("record", ["bench.record", "--from-run", str(workdir), "--only", label, "--runs", "11" if args.quick else "21"], 600),
            ("serve", ["bench.serve", "--store", str(store), "--runs", "3" if args.quick else "5"], 600),
            ("http", ["bench.http", "--seconds", str(seconds)], 300 + 12 * (seconds + 3))]
    for key, argv, timeout in jobs:
        if key != "http" and not (store / "oxigraph").is_dir():
            out[key] = {"error": "no store was written"}
            continue
        target = workdir / f"{key}.json"
        t = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, "-m", *argv, "--json", str(target)], cwd=REPO, timeout=timeout,
                                  capture_output=True, text=True)
            if done.returncode == 0 and target.exists():
                out[key] = json.loads(target.read_text(encoding="utf-8"))
            else:
                out[key] = {"error": (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit {done.returncode}"]}
        except subprocess.TimeoutExpired:
            out[key] = {"error": f"stopped after {timeout} s"}
        say(f"targets: {key} in {time.perf_counter() - t:.0f} s" + (f" — {out[key]['error']}" if "error" in out[key] else ""))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=None, help="comma-separated data sizes in triples (default 100k,1m; --quick: 10k,100k)")
    ap.add_argument("--runs", type=int, default=None, help="runs per cheap measurement (default 3; --quick: 1)")
    ap.add_argument("--quick", action="store_true", help="10k and 100k, 1 run, short timeouts (~5 minutes)")
    ap.add_argument("--out", default="docs/benchmarks.md", help="Markdown file the dated section is appended to")
    ap.add_argument("--no-append", action="store_true", help="print the summary, do not append it to --out")
    ap.add_argument("--stage-timeout", type=float, default=None, help="seconds per reason/validate stage (default 1200; --quick: 60)")
    ap.add_argument("--owlrl-timeout", type=float, default=None,
                    help="seconds for the owlrl reference closure (default: the stage timeout)")
    ap.add_argument("--rdflib-timeout", type=float, default=None, help="seconds per rdflib query (default 60; --quick: 5)")
    ap.add_argument("--query-timeout", type=float, default=None,
                    help="seconds per pyoxigraph/API query run, warm-up included (default 600; --quick: 10)")
    ap.add_argument("--no-rdflib", action="store_true", help="skip the rdflib engine")
    ap.add_argument("--cheap", type=float, default=30.0, help="repeat a build stage only if its first run took less (s)")
    ap.add_argument("--cheap-query", type=float, default=5.0, help="repeat a query only if its warm-up took less (s)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--keep", action="store_true", help="keep the generated projects and stores")
    ap.add_argument("--owlrl-ratio", type=float, default=None,
                    help="give owlrl a CPU budget of this many times the rules engine's (--quick: 20, the target, on the largest size only)")
    ap.add_argument("--owlrl-sizes", default=None,
                    help="run owlrl only at these sizes, e.g. 10k,100k (default: every size; --quick: the largest)")
    ap.add_argument("--pyshacl-sizes", default=None,
                    help="run the pySHACL reference validation only at these sizes (default: every size; --quick: the smallest)")
    ap.add_argument("--pyshacl-timeout", type=float, default=None, help="seconds for pySHACL (default: the stage timeout)")
    ap.add_argument("--staged-sizes", default=None,
                    help="time the build stage by stage, with the owlrl and pySHACL anchors, only at these sizes "
                         "(default: every size); the others get the build command alone, e.g. 5m, whose forked "
                         "stages would need twice the memory")
    ap.add_argument("--targets", action="store_true",
                    help="after the sizes, measure record validation, serve start-up and HTTP and print every target (on with --quick)")
    ap.add_argument("--http-seconds", type=int, default=None, help="wrk duration per HTTP case (default 10; --quick: 3)")
    args = ap.parse_args(argv)
    targets = args.targets or args.quick

    sizes = [parse_size(s) for s in (args.sizes or ("10k,100k" if args.quick else "100k,1m")).split(",") if s.strip()]
    runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    stage_timeout = args.stage_timeout if args.stage_timeout is not None else (60.0 if args.quick else 1200.0)
    owlrl_timeout = args.owlrl_timeout if args.owlrl_timeout is not None else stage_timeout
    rdflib_timeout = args.rdflib_timeout if args.rdflib_timeout is not None else (5.0 if args.quick else 60.0)
    query_timeout = args.query_timeout if args.query_timeout is not None else (10.0 if args.quick else 600.0)

    # record validation and serve's start-up are measured on the 1M store (the targets' size) if
    # there is one, else on the largest
    target_label = "1m" if any(size_label(x) == "1m" for x in sizes) else size_label(sizes[-1])
    staged_sizes = {parse_size(x) for x in args.staged_sizes.split(",")} if args.staged_sizes else None
    started = time.perf_counter()
    now = dt.datetime.now(dt.timezone.utc)
    run_id = now.strftime("%Y%m%dT%H%M%SZ")
    workdir = RESULTS / run_id
    workdir.mkdir(parents=True, exist_ok=True)
    from pole_graph import __version__ as pg_version

    shown_argv = sys.argv[1:] if argv is None else argv
    run = {"meta": {"run_id": run_id, "date_utc": now.strftime("%Y-%m-%d %H:%M UTC"),
                    "command": "python -m bench " + " ".join(shlex.quote(a) for a in shown_argv),
                    "machine": machine(), "python": platform.python_version(), "packages": versions(),
                    "pole_graph": pg_version, "commit": git_commit(), "seed": args.seed, "runs": runs,
                    "stage_timeout": stage_timeout, "owlrl_timeout": owlrl_timeout, "rdflib_timeout": rdflib_timeout, "query_timeout": query_timeout,
                    "sizes": [size_label(s) for s in sizes]},
           "sizes": {}}
    out_json = RESULTS / f"{run_id}.json"

    def save() -> None:
        run["meta"]["wall_seconds"] = time.perf_counter() - started
        out_json.write_text(json.dumps(run, indent=2, ensure_ascii=False, default=str), encoding="utf-8")

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {msg}", flush=True)

    say(f"run {run_id}: sizes {', '.join(size_label(s) for s in sizes)}, runs {runs}, stage timeout "
        f"{stage_timeout:.0f} s, query timeout {query_timeout:.0f} s, rdflib timeout {rdflib_timeout:.0f} s; raw results in {out_json.relative_to(REPO)}")
    t = time.perf_counter()
    calibration = calibrate(args.seed)
    say(f"calibrated in {time.perf_counter() - t:.1f} s: data triples ≈ {calibration.intercept:.0f} + "
        f"{calibration.slope:.1f} × pôles (probes {calibration.probes})")

    for target in sizes:
        label = size_label(target)
        base = workdir / label
        project, store = base / "project", base / "store"
        size: dict = {"target": target, "errors": []}
        run["sizes"][label] = size

        t = time.perf_counter()
        gen = generate(project, target, args.seed, calibration)
        gen["seconds"] = time.perf_counter() - t
        size["generate"] = gen
        say(f"{label}: generated {gen['n_poles']} synthetic pôles in {gen['seconds']:.1f} s")

        common = ["--runs", str(runs)]

        def step(key: str, argv: list[str], timeout: float) -> dict:
            """Run one worker (``argv[0]``), writing ``{key}.json`` and ``{key}.log`` in ``base``; its
            results go into ``size[key]``, a failure into ``size["errors"]``."""
            done = run_worker([*argv, "--out", str(base / f"{key}.json"), *common], timeout=timeout, log=base / f"{key}.log")
            if (base / f"{key}.json").exists():
                size[key] = json.loads((base / f"{key}.json").read_text(encoding="utf-8"))
            if done["status"] != "ok":
                size["errors"].append(f"{argv[0]} worker {done['status']} after {done['seconds']:.0f} s:\n{tail(base / f'{key}.log')}")
            return done

        last = target == sizes[-1]
        owlrl = ["--owlrl-timeout", str(owlrl_timeout)]
        owlrl_sizes = {parse_size(x) for x in args.owlrl_sizes.split(",")} if args.owlrl_sizes else None
        if (args.quick and not last) or (owlrl_sizes is not None and target not in owlrl_sizes):
            owlrl.append("--no-owlrl")  # --quick: the reasoning target is at the largest size only
        ratio = args.owlrl_ratio if args.owlrl_ratio is not None else (20.0 if args.quick else None)
        if ratio and (last or not args.quick):
            owlrl += ["--owlrl-ratio", str(ratio)]
        pyshacl_sizes = ({parse_size(x) for x in args.pyshacl_sizes.split(",")} if args.pyshacl_sizes
                         else ({sizes[0]} if args.quick else None))
        if pyshacl_sizes is not None and target not in pyshacl_sizes:
            owlrl.append("--no-pyshacl")
        if args.pyshacl_timeout:
            owlrl += ["--pyshacl-timeout", str(args.pyshacl_timeout)]
        if staged_sizes is None or target in staged_sizes:
            b = step("build", ["build", "--project", str(project), "--store", str(store), "--stage-timeout", str(stage_timeout),
                               *owlrl, "--cheap", str(args.cheap)], 7 * stage_timeout + 1800)
            bs = (size.get("build") or {}).get("stages", {})
            say(f"{label}: build worker {b['status']} in {b['seconds']:.0f} s — data {(size.get('build') or {}).get('graphs', {}).get('data')} triples; "
                + ", ".join(f"{k} {v.get('status')} {min(v['runs']) if v.get('runs') else v.get('ran_for', 0):.1f} s"
                            for k, v in bs.items()))
            save()
        # the build command as a user runs it, end to end (the store it writes is the one queried next)
        c = step("command", ["command", "--project", str(project), "--store", str(store), "--cheap", str(max(args.cheap, 120.0))],
                 4 * stage_timeout + 1800)
        cs = size.get("command") or {}
        say(f"{label}: pole-graph build {c['status']}: " + ", ".join(f"{x:.1f} s" for x in cs.get("runs", []))
            + (f", peak RSS {max(cs['rss_mb']):.0f} MB" if cs.get("rss_mb") else ""))
        save()

        if (store / "oxigraph").is_dir():
            q = step("query", ["query", "--project", str(project), "--store", str(store), "--cheap", str(args.cheap_query),
                               "--timeout", str(query_timeout)], 4 * 3600 + 100 * query_timeout)
            say(f"{label}: queries (API + pyoxigraph) {q['status']} in {q['seconds']:.0f} s")
            save()
            if not args.no_rdflib and not (args.quick and last) and (base / "query.json").exists():
                n_items = len(size.get("query", {}).get("items", []))
                r = step("rdflib", ["rdflib", "--store", str(store), "--texts", str(base / "query.json"),
                                    "--timeout", str(rdflib_timeout), "--cheap", str(args.cheap_query)],
                         n_items * (rdflib_timeout + 30) * 1.5 + 3600)
                say(f"{label}: queries (rdflib) {r['status']} in {r['seconds']:.0f} s")
                save()
        else:
            size["errors"].append("no store was written: queries not run")
        if not args.keep and not (targets and label == target_label):
            clean(base)

    if targets:
        run["targets"] = measure_targets(workdir, target_label, args, say)
        if not args.keep:
            clean(workdir / target_label)
    save()
    text = render_run(run)
    print()
    print(text)
    if not args.no_append:
        out = Path(args.out)
        if not out.is_absolute():
            out = REPO / out
        out.parent.mkdir(parents=True, exist_ok=True)
        existing = out.read_text(encoding="utf-8") if out.exists() else HEADER
        out.write_text(existing.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n", encoding="utf-8")
        say(f"appended to {out}")
    say(f"raw results: {out_json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
