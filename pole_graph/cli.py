"""Command line: one verb per stage, consistent flags, ``main(argv) -> int`` for tests.

A thin shell: it reads flags and ``POLE_GRAPH_*`` variables into Settings, calls the library, and
turns PoleGraphError into a message on stderr and its exit code (0 ok, 1 not conformant, 2 bad
input or usage).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Sequence, TextIO

from . import __version__
from .build import build
from .errors import PoleGraphError, UsageError
from .formats import RDF_FORMATS, RESULT_FORMATS, rdf_format, serialize_result, serialize_triples
from .load import load_content
from .project import Project
from .queries import Catalogue, describe, run_sparql, run_stored
from .settings import Settings
from .remote import shown as remote_shown
from .store import GRAPH_SELECTIONS, GraphStore, open_store


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", help="store folder (default .pole-graph/store, env POLE_GRAPH_STORE)")
    common.add_argument("--project", help="folder holding ontology/, data/, queries/ (default: installed content)")
    common.add_argument("--lang", choices=("fr", "en"), help="language of labels and messages (default fr)")
    common.add_argument("--endpoint", metavar="URL",
                        help="a remote SPARQL 1.1 server instead of the embedded store (env POLE_GRAPH_ENDPOINT; see docs/scale-out.md)")

    parser = argparse.ArgumentParser(prog="pole-graph", description="Knowledge graph of the French pôles de compétitivité.")
    parser.add_argument("--version", action="version", version=f"pole-graph {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")

    b = sub.add_parser("build", parents=[common], help="load, reason, validate and write the store")
    b.add_argument("--reasoner", choices=("rules", "owlrl"), help="OWL 2 RL engine (default rules; owlrl is the reference)")
    b.add_argument("--validator", choices=("sparql", "pyshacl"),
                   help="SHACL engine (default sparql: the shapes as SPARQL on pyoxigraph; pyshacl is the reference)")
    sub.add_parser("check", parents=[common], help="parse all content and report every problem")

    q = sub.add_parser("query", parents=[common], help="run a stored query: query NAME [k=v …]")
    q.add_argument("name", nargs="?", help="query name (see --list)")
    q.add_argument("args", nargs="*", metavar="k=v", help="parameters")
    q.add_argument("--list", action="store_true", help="list the stored queries and their parameters")
    q.add_argument("--format", default="table", choices=sorted(RESULT_FORMATS))
    q.add_argument("--show", action="store_true", help="print the SPARQL with its parameters bound, do not run it")

    s = sub.add_parser("sparql", parents=[common], help="run an ad-hoc read-only SPARQL query")
    s.add_argument("query", help="the query text, a file holding it, or - for standard input")
    s.add_argument("--format", default="table", help="table, csv, tsv, json, xml; ttl, nt, jsonld, rdf for CONSTRUCT/DESCRIBE")

    v = sub.add_parser("validate", parents=[common], help="validate new records against the stored graph")
    v.add_argument("files", nargs="+", metavar="FILE", help="CSV (record templates), Turtle, N-Triples, JSON-LD or RDF/XML")
    v.add_argument("--format", default="text", choices=("text", "json", "ttl", "csv", "html"), help="report format")
    v.add_argument("--input-format", choices=("csv", "ttl", "nt", "jsonld", "rdf"), help="format of the files (default: by extension)")
    v.add_argument("--type", help="record type of CSV files whose name and header do not say it")

    a = sub.add_parser("add", parents=[common], help="validate, then add records atomically")
    a.add_argument("files", nargs="+", metavar="FILE")
    a.add_argument("--dry-run", action="store_true", help="print what would be added, inferred and touched; write nothing")
    a.add_argument("--format", default="text", choices=("text", "json", "ttl", "csv", "html"), help="report format")
    a.add_argument("--input-format", choices=("csv", "ttl", "nt", "jsonld", "rdf"))
    a.add_argument("--type", help="record type of CSV files whose name and header do not say it")
    a.add_argument("--by", help="who makes the change (default: the system user name)")

    r = sub.add_parser("retract", parents=[common], help="remove a record and what was inferred from it, atomically")
    r.add_argument("record", help="the record's key, {type}/{key}, or IRI")
    r.add_argument("--dry-run", action="store_true", help="print what would be removed; write nothing")
    r.add_argument("--by", help="who makes the change (default: the system user name)")

    h = sub.add_parser("history", parents=[common], help="what stewards added and retracted, when, from what")
    h.add_argument("--format", default="text", choices=("text", "json"))

    t = sub.add_parser("template", parents=[common], help="an empty CSV template for a record type, documented from the shapes")
    t.add_argument("type", help="record type: poles, labellings, organisations, partnerships, …")

    sv = sub.add_parser("serve", parents=[common], help="serve the site, the SPARQL endpoint and the query API (uvicorn)")
    sv.add_argument("--host", help="address to listen on (default 127.0.0.1, env POLE_GRAPH_HOST)")
    sv.add_argument("--port", type=int, help="port (default 8000, env POLE_GRAPH_PORT; 0 for any free port)")
    sv.add_argument("--workers", type=int, dest="query_workers", help="SPARQL worker processes (default 2)")
    sv.add_argument("--query-timeout", type=float, help="seconds before a SPARQL query is stopped (default 30)")
    sv.add_argument("--get", metavar="PATH", help="answer one request for PATH in-process, print it, and exit")
    sv.add_argument("--accept", default="text/html", help="Accept header sent with --get (default text/html)")

    pb = sub.add_parser("publish", parents=[common], help="write the whole site as static files, with conneg rules for nginx and Apache")
    pb.add_argument("--out", required=True, help="folder to write (created; must be empty or a previous publish)")
    pb.add_argument("--base-url", help="where the site will be served, for absolute links (default https://w3id.org/pole-graph/)")

    ps = sub.add_parser("push", parents=[common], help="load the built store into a remote SPARQL 1.1 server (--endpoint URL)")
    ps.add_argument("--update-endpoint", metavar="URL", help="its update URL (default derived from --endpoint; env POLE_GRAPH_UPDATE_ENDPOINT)")
    ps.add_argument("--graph-store-endpoint", metavar="URL", help="its Graph Store Protocol URL (default /store beside /query; env POLE_GRAPH_GRAPH_STORE_ENDPOINT)")
    ps.add_argument("--chunk", type=int, default=50_000, help="triples per upload request (default 50000)")

    e = sub.add_parser("export", parents=[common], help="dump the graph")
    e.add_argument("--format", default="nq", choices=sorted(RDF_FORMATS))
    e.add_argument("--graph", default="all", choices=sorted(GRAPH_SELECTIONS))
    e.add_argument("--output", "-o", help="file to write (default standard output)")
    return parser


def _settings(ns: argparse.Namespace) -> Settings:
    flags = ("store", "project", "lang", "reasoner", "validator", "host", "port", "query_workers", "query_timeout", "endpoint",
             "update_endpoint", "graph_store_endpoint")
    return Settings.from_env(**{name: getattr(ns, name, None) for name in flags})


def _args(pairs: Sequence[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{pair!r} is not a parameter", hint="write parameters as name=value, e.g. region=Bretagne")
        if key in out:
            raise UsageError(f"parameter {key} is given twice")
        out[key] = value
    return out


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = _parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if not ns.verb:
        parser.print_help(out)
        return 2
    try:
        settings = _settings(ns)
        if getattr(ns, "endpoint", None) and ns.verb not in REMOTE_VERBS:
            raise UsageError(f"{ns.verb} does not work on a remote store (--endpoint)",
                             hint=f"--endpoint works with {', '.join(sorted(REMOTE_VERBS))}")
        return VERBS[ns.verb](ns, settings, out, err)
    except PoleGraphError as exc:
        print(f"error: {exc}", file=err)
        return exc.exit_code


def cmd_build(ns: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    project = Project.discover(settings.project)
    report = build(project, settings.store, reasoner=settings.reasoner, validator=settings.validator)
    print(report.text(), file=out)
    print("conforms: yes" if settings.lang == "en" else "conforme : oui", file=out)
    return 0


def cmd_check(ns: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    project = Project.discover(settings.project)
    problems = []
    from .errors import ContentError

    for step in (lambda: load_content(project), lambda: Catalogue.load(project)):
        try:
            step()
        except ContentError as exc:
            problems.extend(exc.problems)
    if problems:
        for p in problems:
            print(str(p), file=err)
        print(f"{len(problems)} problem(s)", file=err)
        return 2
    files = len(project.all_files)
    print(f"{files} files checked, no problem found" if settings.lang == "en" else f"{files} fichiers vérifiés, aucun problème", file=out)
    return 0


def cmd_query(ns: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    project = Project.discover(settings.project)
    catalogue = Catalogue.load(project)
    if ns.list or not ns.name:
        rows = list(describe(catalogue, settings.lang))
        width = max(len(n) for n, _, _ in rows)
        pwidth = max(len(p) for _, p, _ in rows)
        for name, params, summary in rows:
            print(f"{name:<{width}}  {params:<{pwidth}}  {summary}", file=out)
        print("(* = required)" if settings.lang == "en" else "(* = obligatoire)", file=out)
        return 0 if ns.list else 2
    args = _args(ns.args)
    store = open_store(settings)
    if ns.show:
        from .queries import Resolver, bind_values, bindings_for

        query = catalogue.get(ns.name)
        print(bind_values(query.text, bindings_for(query, args, settings.lang, Resolver(store.query))), file=out)
        return 0
    result = run_stored(store, catalogue, ns.name, args, settings.lang)
    out.write(serialize_result(result, ns.format))
    if ns.format == "table":
        out.write("\n")
    return 0


def cmd_sparql(ns: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    text = ns.query
    if text == "-":
        text = sys.stdin.read()
    elif Path(text).is_file():
        text = Path(text).read_text(encoding="utf-8")
    store = open_store(settings)
    result = run_sparql(store, text)
    if result.triples is not None:
        fmt = ns.format if ns.format != "table" else "ttl"
        data = serialize_triples(result.triples, fmt)
        out.write(data.decode("utf-8"))
        return 0
    if ns.format not in RESULT_FORMATS:
        raise UsageError(f"--format {ns.format} does not apply to a SELECT or ASK result",
                         hint="use " + ", ".join(RESULT_FORMATS))
    out.write(serialize_result(result, ns.format))
    if ns.format == "table":
        out.write("\n")
    return 0


def cmd_export(ns: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    store = open_store(settings)
    fmt = rdf_format(ns.format)
    data = store.dump(fmt, GRAPH_SELECTIONS[ns.graph])
    if ns.output:
        Path(ns.output).write_bytes(data)
    else:
        out.write(data.decode("utf-8"))
    return 0


def cmd_serve(ns: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from .limits import uvicorn_options
    from .server import create_app, get
    from .store import GraphStore

    open_store(settings)  # fail now, with the usual message, if there is no store (or no remote one)
    if ns.get:
        status, headers, body = get(ns.get, settings, {"accept": ns.accept})
        print(f"HTTP {status}", file=out)
        for key in ("content-type", "location", "content-language", "vary"):
            if key in headers:
                print(f"{key}: {headers[key]}", file=out)
        print(file=out)
        print(body.decode("utf-8", errors="replace"), file=out)
        return 0 if status < 400 else 1
    import socket

    import uvicorn

    app = create_app(settings)
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        raise UsageError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
                         hint="choose another port with --port, or stop what uses it") from None
    host, port = sock.getsockname()[:2]
    source = remote_shown(settings.endpoint) if settings.endpoint else settings.store
    print(f"pole-graph {__version__}: serving {source} on http://{host}:{port}/ (Ctrl-C stops)", file=out, flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            **uvicorn_options(settings))  # the URL and header caps, enforced while parsing
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def cmd_publish(ns: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from .publish import publish

    report = publish(settings, Path(ns.out), base_url=ns.base_url)
    print(report.text(), file=out)
    return 0


def cmd_validate(ns: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from .steward import Steward

    steward = Steward(open_store(settings))
    report, _ = steward.check(steward.read([Path(f) for f in ns.files], ns.input_format, ns.type), settings.lang)
    out.write(report.render(ns.format, settings.lang))
    return report.exit_code


def _released(verb):
    """Run a write verb, then drop its read-write store handle before returning: RocksDB readers opened
    afterwards in the same process must not share files with a live writer."""
    import functools
    import gc

    @functools.wraps(verb)
    def run(*args, **kwargs):
        try:
            return verb(*args, **kwargs)
        finally:
            gc.collect()
    return run


@contextlib.contextmanager
def _writing(settings: Settings):
    """A store to change: the embedded one under the writers' lock, or the remote one, whose
    commits are compare-and-swapped against the revision read here (remote.RemoteDB.update)."""
    if settings.endpoint:
        yield open_store(settings)
        return
    from .steward import open_for_writing
    from .store import writer_lock

    with writer_lock(settings.store):
        yield open_for_writing(settings.store)


@_released
def cmd_add(ns: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from .steward import PG, Steward, current_user

    with _writing(settings) as store:
        steward = Steward(store)
        try:
            sub = steward.read([Path(f) for f in ns.files], ns.input_format, ns.type)
            report, plan = steward.check(sub, settings.lang)
            if report.exit_code != 0:
                out.write(report.render(ns.format, settings.lang))
                print(("rien n'a été écrit" if settings.lang == "fr" else "nothing was written"), file=err)
                return report.exit_code
            if ns.dry_run:
                out.write(plan.diff() + "\n")
                return 0
            activity = steward.commit(plan, PG.RecordAddition, sub.checksums, ns.by or current_user())
        finally:
            steward.close()
    fr = settings.lang == "fr"
    print((f"ajouté : {len(plan.records)} enregistrement(s), {len(plan.asserted)} triplets, "
           f"{len(plan.inferred)} déduits ({activity})") if fr else
          (f"added: {len(plan.records)} record(s), {len(plan.asserted)} triples, "
           f"{len(plan.inferred)} inferred ({activity})"), file=out)
    return 0


@_released
def cmd_retract(ns: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from .steward import PG, Steward, current_user

    with _writing(settings) as store:
        steward = Steward(store)
        try:
            plan, problems = steward.retraction_plan(ns.record)
            if problems:
                for p in problems:
                    print(f"error: {p}", file=err)
                return 2
            if ns.dry_run:
                out.write(plan.diff() + "\n")
                return 0
            activity = steward.commit(plan, PG.RecordRetraction, {}, ns.by or current_user())
        finally:
            steward.close()
    print((f"retiré : {plan.records[0]}, {len(plan.removed_asserted)} triplets, "
           f"{len(plan.removed_inferred)} déduits ({activity})") if settings.lang == "fr" else
          (f"retracted {plan.records[0]}: {len(plan.removed_asserted)} triples, "
           f"{len(plan.removed_inferred)} inferred removed ({activity})"), file=out)
    return 0


def cmd_history(ns: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    import json as _json

    from .steward import Steward

    entries = Steward(open_store(settings)).history()
    if ns.format == "json":
        out.write(_json.dumps(entries, ensure_ascii=False, indent=1) + "\n")
        return 0
    if not entries:
        print("aucune modification" if settings.lang == "fr" else "no change yet", file=out)
    for e in entries:
        records = ", ".join(r.rsplit("/id/", 1)[-1] for r in e["records"])
        files = ", ".join(e["files"])
        print(f"{e['when']}  {e['action']:<8} {e['by']:<12} {records}" + (f"  ← {files}" if files else ""), file=out)
    return 0


def cmd_template(ns: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from .load import load_content
    from .templates import template

    project = Project.discover(settings.project)
    content = load_content(project)
    out.write(template(ns.type, content.shapes, content.ontology, settings.lang))
    return 0


def cmd_push(ns: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from .remote import endpoints_from, push

    if not settings.endpoint:
        raise UsageError("push needs the remote server: --endpoint URL (or POLE_GRAPH_ENDPOINT)",
                         hint="e.g. `oxigraph serve --location DIR`, then --endpoint http://localhost:7878/query")
    if ns.chunk < 1:
        raise UsageError("--chunk must be at least 1")
    store = GraphStore.open(settings.store)
    report = push(store, endpoints_from(settings), progress=err, chunk_size=ns.chunk,
                  write_timeout=max(300.0, settings.query_timeout))
    print(report.text(), file=out)
    return 0


REMOTE_VERBS = {"query", "sparql", "validate", "add", "retract", "export", "serve", "history", "push"}

VERBS = {"build": cmd_build, "check": cmd_check, "query": cmd_query, "sparql": cmd_sparql, "export": cmd_export,
         "validate": cmd_validate, "add": cmd_add, "retract": cmd_retract, "history": cmd_history,
         "template": cmd_template, "serve": cmd_serve, "publish": cmd_publish, "push": cmd_push}
