"""Server: the linked-data site, SPARQL endpoint and stored-query API, as an ASGI app factory.

Stage *publish*. ``create_app(settings)`` returns a Starlette app usable under any ASGI server;
``pole-graph serve`` runs it with uvicorn on 127.0.0.1:8000 by default. The app reads the store
(read-only, except SPARQL updates when a token is configured) and notices when stewards change it
(the store's build.json is rewritten on each commit), then reopens it and drops its caches.

Routes: ``/`` home · ``/search`` · ``/id/…`` → 303 ``/doc/…`` (content negotiation: HTML, Turtle,
JSON-LD, RDF/XML, N-Triples) · ``/def/…`` ontology and schemes · ``/sparql`` (SPARQL 1.1 Protocol)
· ``/api/queries[/{name}]`` · ``/openapi.json`` · ``/api`` · ``/data/pole-graph`` and
``/.well-known/void`` (DCAT-AP, VoID) · ``/data/dumps/{file}`` · ``/validate`` and ``/api/validate``.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import re
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pyoxigraph as ox
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import __version__
from .describe import cbd, local_path, page
from .errors import ParameterError, PoleGraphError, QueryError, UsageError
from .executor import QueryPool, QueryTimeout
from .formats import (
    HTML, RDF_FORMATS, RESULT_FORMATS, negotiate, parse_accept, serialize_result, serialize_triples,
)
from .limits import ClientBudget, LimitError, RequestLimits, check_terms, check_values, metered
from .namespaces import BASE, GRAPH_INFERRED, PREFIXES, shorten
from .pages import bar_chart, environment, tile_map, word
from .project import Project
from .queries import Catalogue, QueryResult, Resolver, bind_values, bindings_for, run_stored, sort_lists, to_result
from .settings import Settings
from .store import DB_DIR, INFO_FILE, KNOWLEDGE_GRAPH, GraphStore, drop_snapshot, mark_updated, snapshot

log = logging.getLogger("pole_graph.server")

RDF_MEDIA = [RDF_FORMATS[e][1] for e in ("ttl", "jsonld", "rdf", "nt")]
DOC_MEDIA = [HTML] + RDF_MEDIA
EXT_MEDIA = {"html": HTML, **{ext: RDF_FORMATS[ext][1] for ext in ("ttl", "jsonld", "rdf", "nt")}}
RESULT_MEDIA = {media: name for name, media in RESULT_FORMATS.items() if name != "table"}
RESULT_MEDIA.update({"application/json": "json", "text/plain": "tsv"})
CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"


class _NoCache(dict):
    """A cache that keeps nothing (POLE_GRAPH_RESPONSE_CACHE=0: every answer computed)."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


class AppState:
    """What the app holds: the store, the stored queries, caches — reopened when the data changes."""

    def __init__(self, settings: Settings, project: Project | None) -> None:
        self.settings = settings
        self.project = project or Project.discover(settings.project)
        self.catalogue = Catalogue.load(self.project)
        self.env = environment()
        self.lock = threading.RLock()
        self.cache: dict[tuple, Any] = {} if settings.response_cache else _NoCache()
        self.version: tuple = ()
        self.pool: QueryPool | None = None
        self.store: GraphStore | None = None
        self.resolver: Resolver | None = None
        self._steward = None
        self._checked = 0.0
        self.snapshot: Path | None = None
        self._retired: list[tuple[float, Path]] = []
        self.open()

    def open(self) -> None:
        """(Re)open the store: a fresh snapshot of it (see ``store.snapshot``), read by this process
        and by the SPARQL workers. The new store is opened before it replaces the old one, so a
        request never finds none; a replaced snapshot is deleted once no query can still be
        reading it (after the query deadline), or when the server stops."""
        with self.lock:
            if self.settings.endpoint:
                self._open_remote()
                return
            version = self._version()
            fresh = snapshot(Path(self.settings.store))
            store = GraphStore.open(fresh)
            previous, self.snapshot = self.snapshot, fresh
            self.store, self.version = store, version
            self.resolver = Resolver(store.query)
            self._steward = None
            self.cache.clear()
            if self.settings.query_workers > 0:
                if self.pool is None:
                    self.pool = QueryPool(fresh, self.settings.query_workers, self.settings.query_timeout,
                                          self.settings.max_rows, self.settings.query_memory << 20)
                else:
                    self.pool.db_path = str(fresh / DB_DIR)
                    self.pool.restart()
            now = time.monotonic()
            if previous is not None:
                self._retired.append((now, previous))
            grace = self.settings.query_timeout + 5
            for retired_at, path in [r for r in self._retired if now - r[0] > grace]:
                drop_snapshot(path)
                self._retired.remove((retired_at, path))

    def _open_remote(self) -> None:
        """A remote SPARQL 1.1 server (``--endpoint``): no snapshot and no worker pool; its queries
        run there, bounded by the client's deadline (the query timeout) and the server's own."""
        from .remote import RemoteStore, endpoints_from

        store = RemoteStore.open(endpoints_from(self.settings))
        self.store, self.version = store, store.version()
        self.resolver = Resolver(store.query)
        self._steward = None
        self.cache.clear()

    def _version(self) -> tuple:
        if self.settings.endpoint:
            return self.store.version() if self.store is not None else ()  # type: ignore[union-attr]
        info = Path(self.settings.store) / INFO_FILE
        try:
            stat = info.stat()
            return (stat.st_mtime_ns, stat.st_size)
        except OSError:
            return ()

    def fresh(self) -> GraphStore:
        """The store, reopened if a steward changed it since (checked at most once a second)."""
        now = time.monotonic()
        if now - self._checked > 1.0:
            self._checked = now
            if self._version() != self.version:
                log.info("store changed: reopening")
                self.open()
        assert self.store is not None
        return self.store

    def steward(self):
        from .steward import Steward

        with self.lock:
            if self._steward is None:
                self._steward = Steward(self.fresh())
            return self._steward

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self.store = self.resolver = self._steward = None
        gc.collect()
        for _, path in self._retired:
            drop_snapshot(path)
        self._retired.clear()
        if self.snapshot is not None:
            drop_snapshot(self.snapshot)
            self.snapshot = None


# ---- helpers ---------------------------------------------------------------------------------

def language(request: Request) -> str:
    lang = request.query_params.get("lang")
    if lang in ("fr", "en"):
        return lang
    for media, q, _ in parse_accept((request.headers.get("accept-language") or "").replace("-", "_")):
        code = media.split("_")[0]
        if code in ("fr", "en") and q > 0:
            return code
    return "fr"


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    state: AppState = request.app.state.pg
    lang = context.pop("lang", None) or language(request)
    other = "en" if lang == "fr" else "fr"
    params = dict(request.query_params)
    params["lang"] = other
    body = state.env.get_template(template).render(
        lang=lang, other_lang=other, switch_url=f"{request.url.path}?{urlencode(params)}",
        w=partial(word, lang=lang), base=BASE, rdf_type=str(PREFIXES["rdf"]) + "type", **context)
    return HTMLResponse(body, status_code=status, headers={"Content-Language": lang, "Vary": "Accept, Accept-Language"})


def wants_html(request: Request) -> bool:
    return negotiate(request.headers.get("accept"), ["application/json", HTML]) == HTML


async def on_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, PoleGraphError):
        status, detail, hint = exc.http_status, exc.message, exc.hint
    else:
        log.exception("unexpected error on %s", request.url.path)
        status, detail, hint = 500, "internal error (logged on the server)", None
    title = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
             406: "Not Acceptable", 409: "Conflict", 413: "Content Too Large", 415: "Unsupported Media Type",
             414: "URI Too Long", 422: "Unprocessable Content", 429: "Too Many Requests",
             431: "Request Header Fields Too Large", 503: "Service Unavailable", 507: "Insufficient Storage"}.get(status, "Error")
    headers = {"WWW-Authenticate": 'Bearer realm="pole-graph SPARQL update"'} if status == 401 else {}
    if status == 405:
        headers["Allow"] = "GET, HEAD, POST, OPTIONS"
    if isinstance(exc, LimitError):
        headers.update(exc.headers())
    if wants_html(request):
        response = render(request, "error.html", status=status, title=f"{status} {title}", detail=detail, hint=hint)
        response.headers.update(headers)
        return response
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if hint:
        body["hint"] = hint
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


async def not_found(request: Request, exc: Exception) -> Response:
    return await on_error(request, PoleGraphError.__new__(_NotFound))


class _NotFound(PoleGraphError):
    http_status = 404
    message = "no such page"
    hint = None


def secure(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


# ---- home and search ------------------------------------------------------------------------

def _rows(result: QueryResult) -> list[dict[str, Any]]:
    return [{c: (t.value if t is not None else None) for c, t in zip(result.columns, r)} for r in result.rows]


def home_context(state: AppState, lang: str, args: dict[str, str]) -> dict[str, Any]:
    store = state.fresh()
    key = ("home", state.version, lang, tuple(sorted(args.items())))
    if key in state.cache:
        return state.cache[key]
    count = lambda q: int(next(iter(store.query(q)))["n"].value)  # noqa: E731
    prefix = "PREFIX pg: <https://w3id.org/pole-graph/def/core#> PREFIX qb: <http://purl.org/linked-data/cube#> PREFIX foaf: <http://xmlns.com/foaf/0.1/> "
    counts = [
        (word("poles", lang).lower(), count(prefix + "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a pg:CompetitivenessCluster }")),
        ("labellisations" if lang == "fr" else "labellings", count(prefix + "SELECT (COUNT(?x) AS ?n) WHERE { ?x a pg:Labelling }")),
        ("partenariats" if lang == "fr" else "partnerships", count(prefix + "SELECT (COUNT(?x) AS ?n) WHERE { ?x a pg:ClusterPartnership }")),
        ("organismes publics" if lang == "fr" else "public bodies", count(prefix + "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a pg:PublicBody }")),
        ("personnes" if lang == "fr" else "people", count(prefix + "SELECT (COUNT(?x) AS ?n) WHERE { ?x a foaf:Person }")),
        ("chiffres publiés" if lang == "fr" else "published figures", count(prefix + "SELECT (COUNT(?x) AS ?n) WHERE { ?x a qb:Observation }")),
        ("sources", count(prefix + "SELECT (COUNT(?x) AS ?n) WHERE { ?x a pg:SourceDocument }")),
    ]
    label = lambda iri: f"""OPTIONAL {{ {iri} <http://www.w3.org/2004/02/skos/core#prefLabel> ?l1 FILTER(LANG(?l1) = "{lang}") }}
                          OPTIONAL {{ {iri} <http://www.w3.org/2004/02/skos/core#prefLabel> ?l2 FILTER(LANG(?l2) = "fr") }}"""  # noqa: E731
    regions = [(r["r"].value.rsplit("/", 1)[-1], (r["l1"] or r["l2"]).value) for r in store.query(
        prefix + f"SELECT ?r ?l1 ?l2 WHERE {{ ?r a pg:Region . {label('?r')} }} ORDER BY ?l2")]
    themes = [(r["t"].value.rsplit("/", 1)[-1], (r["l1"] or r["l2"]).value) for r in store.query(
        prefix + f"SELECT ?t ?l1 ?l2 WHERE {{ ?t a pg:Theme . {label('?t')} }} ORDER BY ?l1")]
    phases = [r["c"].value for r in store.query(
        prefix + "SELECT ?c WHERE { ?p a pg:PolicyPhase ; <http://www.w3.org/2004/02/skos/core#notation> ?c } ORDER BY ?c")]
    tiles = {}
    for r in store.query(prefix + f"""SELECT ?code ?l1 ?l2 (COUNT(DISTINCT ?pole) AS ?n) WHERE {{
            ?lab pg:labelledCluster ?pole ; pg:phase <https://w3id.org/pole-graph/def/policy-phase/2023-2026> .
            ?pole pg:region ?r . OPTIONAL {{ ?r pg:replacedBy ?new }} BIND(COALESCE(?new, ?r) AS ?cur)
            ?cur pg:inseeCode ?code . {label('?cur')} }} GROUP BY ?code ?l1 ?l2"""):
        tiles[r["code"].value] = ((r["l1"] or r["l2"]).value, int(r["n"].value))
    by_phase = [(r["c"].value, int(r["n"].value), f"/?phase={r['c'].value}&lang={lang}#poles") for r in store.query(
        prefix + """SELECT ?c (COUNT(DISTINCT ?pole) AS ?n) WHERE { ?lab pg:labelledCluster ?pole ; pg:phase ?p .
                    ?p <http://www.w3.org/2004/02/skos/core#notation> ?c } GROUP BY ?c ORDER BY ?c""")]
    by_world = [((r["l1"] or r["l2"]).value, int(r["n"].value), None) for r in store.query(
        prefix + f"""SELECT ?w ?l1 ?l2 (COUNT(DISTINCT ?x) AS ?n) WHERE {{ ?x a pg:ClusterPartnership ; pg:partner/pg:country/
                    <http://www.w3.org/2004/02/skos/core#broader> ?w . {label('?w')} }} GROUP BY ?w ?l1 ?l2 ORDER BY DESC(?n)""")]
    query_args = {k: v for k, v in args.items() if k in ("region", "theme", "phase") and v}
    if "theme" in query_args:  # a theme concept code: search by its label
        code = query_args["theme"]
        query_args["theme"] = dict(themes).get(code, code)
    result = run_stored(store, state.catalogue, "poles", query_args, lang, state.resolver)
    context = {"counts": counts, "regions": regions, "themes": themes, "phases": phases, "poles": _rows(result),
               "tilemap": tile_map(tiles, lang), "phase_chart": bar_chart(by_phase), "world_chart": bar_chart(by_world),
               "selected": {k: args.get(k, "") for k in ("region", "theme", "phase")}}
    state.cache[key] = context
    return context


async def home(request: Request) -> Response:
    state: AppState = request.app.state.pg
    lang = language(request)
    args = {k: v for k, v in request.query_params.items() if k in ("region", "theme", "phase")}
    context = await run_in_threadpool(home_context, state, lang, args)
    return render(request, "home.html", lang=lang, **context)


def search_things(state: AppState, text: str, lang: str, limit: int = 50) -> list[dict[str, str]]:
    """Things whose name, acronym, former name or code contains ``text`` (accents and case ignored):
    pôles first, then organisations and people, events, concepts; the records named after what they
    link (labellings, contributions, memberships) only when nothing else matches."""
    from .describe import _labels
    from .terms import fold

    folded = fold(text)
    if not folded:
        return []
    store = state.fresh()
    literal = ox.Literal(folded)
    query = f"""PREFIX pg: <https://w3id.org/pole-graph/def/core#>
      SELECT DISTINCT ?s WHERE {{ GRAPH <{BASE}graph/index> {{ ?s pg:foldedName ?n }}
        FILTER(CONTAINS(?n, {str(literal)})) FILTER(STRSTARTS(STR(?s), "{BASE}")) }} LIMIT 400"""
    iris = [r["s"].value for r in store.query(query)]
    primary = [i for i in iris if _search_rank(i) < 5]
    iris = primary or iris
    labels = _labels(store, set(iris), lang)
    exact = {i for i in iris if fold(labels.get(i, "")) == folded}
    ranked = sorted(iris, key=lambda i: (i not in exact, _search_rank(i), labels.get(i, i).lower()))[:limit]
    types: dict[str, str] = {}
    if ranked:
        chunk = " ".join(f"<{i}>" for i in ranked)
        for row in store.query(f"""SELECT ?s ?t WHERE {{ VALUES ?s {{ {chunk} }}
                GRAPH ?g {{ ?s a ?t }} FILTER(?g IN (<{BASE}graph/data>, <{BASE}graph/schemes>))
                FILTER(STRSTARTS(STR(?t), "{BASE}def/core#")) }}"""):
            types.setdefault(row["s"].value, row["t"].value)
    type_labels = _labels(store, set(types.values()), lang)
    return [{"iri": i, "label": labels.get(i, shorten(i)), "kind": "/".join(i[len(BASE):].split("/")[:2]),
             "type": type_labels.get(types.get(i, ""), "")} for i in ranked]


SEARCH_ORDER = {"pole": 0, "org": 1, "person": 1, "event": 2, "programme": 2, "partnership": 4, "change": 4,
                "labelling": 5, "contribution": 5, "membership": 5}


def _search_rank(iri: str) -> int:
    """Pôles first, then organisations and people, events and programmes, concepts, then the rest
    (labellings, partnerships, contributions: things named after what they link)."""
    if iri.startswith(BASE + "def/"):
        return 3
    kind = iri[len(BASE + "id/"):].split("/", 1)[0] if iri.startswith(BASE + "id/") else ""
    return SEARCH_ORDER.get(kind, 4)


async def search(request: Request) -> Response:
    state: AppState = request.app.state.pg
    q = request.query_params.get("q", "")[:200]
    lang = language(request)
    results = await run_in_threadpool(search_things, state, q, lang)
    if not wants_html(request):
        return JSONResponse(results)
    return render(request, "search.html", lang=lang, q=q, results=results)


# ---- linked-data documents ------------------------------------------------------------------

def _choose(request: Request, path: str) -> tuple[str, str | None]:
    """Split a document path from its extension and pick the media type (extension, ?format=, Accept)."""
    m = re.match(r"^(.*?)\.(html|ttl|jsonld|rdf|nt)$", path)
    if m:
        return m.group(1), EXT_MEDIA[m.group(2)]
    fmt = request.query_params.get("format")
    if fmt:
        media = EXT_MEDIA.get(fmt) or (fmt if fmt in DOC_MEDIA else None)
        if media is None:
            raise UsageError(f"unknown format {fmt!r}", hint="one of " + ", ".join(EXT_MEDIA))
        return path, media
    return path, negotiate(request.headers.get("accept"), DOC_MEDIA)


def not_acceptable(offered: list[str]) -> Response:
    body = {"type": "about:blank", "title": "Not Acceptable", "status": 406,
            "detail": "none of the requested media types is offered", "alternatives": offered}
    return JSONResponse(body, status_code=406, media_type="application/problem+json", headers={"Vary": "Accept"})


TURTLE_PREFIXES = {k: v for k, v in PREFIXES.items() if k != "graph"}


def rdf_response(triples: list[Any], media: str, headers: dict[str, str] | None = None) -> Response:
    ext = next(e for e, (_, m) in RDF_FORMATS.items() if m == media)
    # a set (a CONSTRUCT may repeat a triple), in a stable order that keeps each subject's triples
    # together; serialised straight, not through an in-memory store (one transaction per triple
    # was 30% of a document's CPU time)
    unique = sorted(set(triples), key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))
    body = ox.serialize(unique, format=RDF_FORMATS[ext][0],
                        prefixes=TURTLE_PREFIXES if ext == "ttl" else None)
    return Response(body, media_type=media, headers={"Vary": "Accept", **(headers or {})})


async def identifier(request: Request) -> Response:
    rest = request.path_params["rest"]
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/doc/{rest}{query}", status_code=303, headers={"Vary": "Accept"})


async def document(request: Request) -> Response:
    state: AppState = request.app.state.pg
    path, media = _choose(request, request.path_params["rest"])
    if media is None:
        return not_acceptable(DOC_MEDIA)
    iri = f"{BASE}id/{path}"
    if not re.match(r"^[a-z-]+/[A-Za-z0-9._-]+$", path):
        raise _not_found_error(path)
    return await run_in_threadpool(_document, request, state, iri, media, f"/doc/{path}")


def _not_found_error(what: str) -> PoleGraphError:
    err = PoleGraphError(f"nothing is described at {what!r}", hint="search by name with /search?q=…")
    err.http_status = 404
    return err


def _document(request: Request, state: AppState, iri: str, media: str, doc_path: str) -> Response:
    store = state.fresh()
    lang = language(request)
    if media == HTML:
        key = ("page", state.version, iri, lang)
        model = state.cache.get(key) or page(store, iri, lang)
        if not model.exists:
            raise _not_found_error(iri)
        state.cache[key] = model
        alternates = [(RDF_FORMATS[e][1], e) for e in ("ttl", "jsonld", "rdf", "nt")]
        return render(request, "resource.html", lang=lang, page=model, alternates=alternates, doc_path=doc_path)
    triples = cbd(store, iri)
    if not triples:
        raise _not_found_error(iri)
    return rdf_response(triples, media)


# ---- ontology and schemes --------------------------------------------------------------------

def ontology_context(state: AppState, lang: str) -> dict[str, Any]:
    store = state.fresh()
    key = ("ontology", state.version, lang)
    if key in state.cache:
        return state.cache[key]
    core = f"{BASE}def/core"
    rows = list(store.query(f"""PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> PREFIX owl: <http://www.w3.org/2002/07/owl#>
        PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        SELECT ?t ?kind ?label ?def WHERE {{ GRAPH <{BASE}graph/ontology> {{
          ?t rdfs:isDefinedBy <{core}> ; a ?kind . FILTER(?kind IN (owl:Class, owl:ObjectProperty, owl:DatatypeProperty, owl:AnnotationProperty))
          OPTIONAL {{ ?t rdfs:label ?label FILTER(LANG(?label) = "{lang}") }}
          OPTIONAL {{ ?t skos:definition ?def FILTER(LANG(?def) = "{lang}") }} }} }} ORDER BY ?t"""))
    relations = {}
    for r in store.query(f"""PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT ?t ?p ?o WHERE {{ GRAPH <{BASE}graph/ontology> {{ ?t ?p ?o FILTER(?p IN (rdfs:subClassOf, rdfs:domain, rdfs:range))
        FILTER(isIRI(?o)) FILTER(STRSTARTS(STR(?t), "{core}#")) }} }}"""):
        relations.setdefault(r["t"].value, []).append((r["p"].value, r["o"].value))
    names = {"http://www.w3.org/2000/01/rdf-schema#subClassOf": word("subclass_of", lang),
             "http://www.w3.org/2000/01/rdf-schema#domain": word("domain", lang),
             "http://www.w3.org/2000/01/rdf-schema#range": word("range", lang)}
    classes, properties = [], []
    for r in rows:
        t = r["t"].value
        extra: dict[str, list] = {}
        for p, o in relations.get(t, []):
            label = o.split("#")[-1] if o.startswith(core) else shorten(o)
            extra.setdefault(names[p], []).append((o, label))
        entry = {"id": t.split("#")[-1], "curie": shorten(t), "label": r["label"].value if r["label"] else t.split("#")[-1],
                 "definition": r["def"].value if r["def"] else "", "extra": sorted(extra.items())}
        (classes if r["kind"].value.endswith("#Class") else properties).append(entry)
    version = next((r["v"].value for r in store.query(
        f"SELECT ?v WHERE {{ GRAPH <{BASE}graph/ontology> {{ <{core}> <http://www.w3.org/2002/07/owl#versionInfo> ?v }} }}")), "")
    title = next((r["t"].value for r in store.query(
        f'SELECT ?t WHERE {{ GRAPH <{BASE}graph/ontology> {{ <{core}> <http://purl.org/dc/terms/title> ?t FILTER(LANG(?t) = "{lang}") }} }}')), "pg")
    description = next((r["t"].value for r in store.query(
        f'SELECT ?t WHERE {{ GRAPH <{BASE}graph/ontology> {{ <{core}> <http://purl.org/dc/terms/description> ?t FILTER(LANG(?t) = "{lang}") }} }}')), "")
    ctx = {"title": title, "description": description, "version": version, "iri": core,
           "sections": [(word("classes", lang), classes), (word("properties", lang), properties)]}
    state.cache[key] = ctx
    return ctx


def _ontology_triples(store: GraphStore, version: str | None) -> list[Any]:
    if version:
        raise _not_found_error(f"def/core/{version}")
    return list(store.db.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{BASE}graph/ontology> {{ ?s ?p ?o }} }}"))


def _scheme_triples(store: GraphStore, scheme: str) -> list[Any]:
    s = f"{BASE}def/{scheme}"
    return list(store.db.query(f"""CONSTRUCT {{ ?x ?p ?o }} WHERE {{ GRAPH <{BASE}graph/schemes> {{
        {{ BIND(<{s}> AS ?x) ?x ?p ?o }} UNION {{ ?x <http://www.w3.org/2004/02/skos/core#inScheme> <{s}> . ?x ?p ?o }} }} }}"""))


async def definition(request: Request) -> Response:
    state: AppState = request.app.state.pg
    path, media = _choose(request, request.path_params.get("rest", "core"))
    if media is None:
        return not_acceptable(DOC_MEDIA)
    return await run_in_threadpool(_definition, request, state, path, media)


def _definition(request: Request, state: AppState, path: str, media: str) -> Response:
    store = state.fresh()
    lang = language(request)
    doc_path = f"/def/{path}"
    alternates = [(RDF_FORMATS[e][1], e) for e in ("ttl", "jsonld", "rdf", "nt")]
    if path == "core" or path.startswith("core/"):
        version = path[5:] if path.startswith("core/") else None
        versions_dir = state.project.root / "ontology" / "versions"
        if version and (versions_dir / f"core-{version}.ttl").exists():
            data = (versions_dir / f"core-{version}.ttl").read_bytes()
            if media == HTML or media == RDF_FORMATS["ttl"][1]:
                return Response(data, media_type="text/turtle", headers={"Vary": "Accept"})
            triples = list(ox.parse(data, format=ox.RdfFormat.TURTLE))
            return rdf_response([ox.Triple(q.subject, q.predicate, q.object) for q in triples], media)
        if version and version != next((r["v"].value for r in store.query(
                f"SELECT ?v WHERE {{ GRAPH <{BASE}graph/ontology> {{ <{BASE}def/core> <http://www.w3.org/2002/07/owl#versionInfo> ?v }} }}")), None):
            raise _not_found_error(f"def/core/{version}")
        if media == HTML:
            return render(request, "ontology.html", lang=lang, alternates=alternates, doc_path=doc_path,
                          **ontology_context(state, lang))
        return rdf_response(_ontology_triples(store, None), media)
    parts = path.split("/")
    if len(parts) == 1 and re.match(r"^[a-z-]+$", parts[0]):
        # a SKOS scheme with its concepts, else what else is described there (an ontology module: def/alignments)
        triples = _scheme_triples(store, parts[0]) or cbd(store, f"{BASE}def/{path}")
        if not triples:
            raise _not_found_error(f"def/{path}")
        if media != HTML:
            return rdf_response(triples, media)
    elif not (len(parts) == 2 and re.match(r"^[a-z-]+$", parts[0]) and re.match(r"^[A-Za-z0-9._-]+$", parts[1])):
        raise _not_found_error(f"def/{path}")
    iri = f"{BASE}def/{path}"
    if media == HTML:
        model = page(store, iri, lang)
        if not model.exists:
            raise _not_found_error(iri)
        return render(request, "resource.html", lang=lang, page=model, alternates=alternates, doc_path=doc_path)
    triples = cbd(store, iri)
    if not triples:
        raise _not_found_error(iri)
    return rdf_response(triples, media)


# ---- SPARQL 1.1 Protocol ------------------------------------------------------------------------

_KEYWORD = lambda k: re.compile(r"(?<![\w:$?])" + k + r"(?![\w:])", re.I)  # noqa: E731
FROM_KEYWORD = _KEYWORD("FROM")
USING_OR_WITH = _KEYWORD("(?:USING|WITH)")
# FROM [NAMED] then its graph: an IRI (the next, opaque, segment) or a prefixed name (in this one)
FROM = re.compile(r"(?<![\w:$?])FROM\s*(?:NAMED(?![\w:.-])\s*)?(?:$|([A-Za-z][\w.-]*)?:([^\s{}]*))", re.I)
PREFIX_DECLARATION = re.compile(r"(?<![\w:$?])PREFIX\s+([A-Za-z][\w.-]*)?:\s*$", re.I)


def check_query(text: str, store: GraphStore) -> bool:
    """Refuse, before any evaluation, what would reach outside the store: SERVICE, FROM a graph the
    store does not hold (a remote or file: IRI, written in full or as a prefixed name).

    Returns:
        Whether the query names its own dataset (FROM or FROM NAMED).
    Raises:
        QueryError: the query reaches outside the store.
    """
    from .queries import _segments, reaches_outside

    keyword = reaches_outside(text)
    if keyword == "SERVICE":
        raise QueryError("SERVICE is not allowed: this endpoint makes no outgoing requests",
                         hint="query the remote endpoint yourself")
    if keyword:
        raise QueryError("LOAD is not allowed: this endpoint fetches nothing")
    named = {g.value for g in store.db.named_graphs()}
    segments = _segments(text)
    prefixes: dict[str, str] = {}
    names_dataset = False
    for i, (is_code, part) in enumerate(segments):
        if not is_code:
            continue
        following = segments[i + 1][1] if i + 1 < len(segments) else ""
        declaration = PREFIX_DECLARATION.search(part)
        if declaration and following.startswith("<"):
            prefixes[declaration.group(1) or ""] = following[1:-1]
        names_dataset = names_dataset or bool(FROM_KEYWORD.search(part))
        for m in FROM.finditer(part):
            if m.group(2) is not None:
                if (m.group(1) or "") not in prefixes:
                    continue  # an undeclared prefix: the parser refuses the query
                graph = prefixes[m.group(1) or ""] + m.group(2)
            elif following.startswith("<"):
                graph = following[1:-1]
            else:
                continue
            if graph not in named:
                raise QueryError(f"FROM <{graph}>: no such graph in this store (remote graphs are not fetched)",
                                 hint="the store's graphs: " + ", ".join(sorted(named)))
    return names_dataset


def service_description(request: Request) -> bytes:
    endpoint = f"{request.url.scheme}://{request.url.netloc}/sparql"
    formats = "".join(f"    sd:resultFormat <http://www.w3.org/ns/formats/{f}> ;\n" for f in
                      ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                       "Turtle", "N-Triples", "RDF_XML", "JSON-LD"))
    graphs = "".join(f"      sd:defaultGraph [ a sd:Graph ; sd:name <{g.value}> ] ;\n" for g in KNOWLEDGE_GRAPH)
    settings = request.app.state.pg.settings
    # the default graph is the union of the knowledge graph's four graphs, not of every named graph:
    # so no sd:UnionDefaultGraph
    languages = "sd:SPARQL11Query, sd:SPARQL11Update" if settings.update_token else "sd:SPARQL11Query"
    access = "Mises à jour avec un jeton" if settings.update_token else "Lecture seule"
    return f"""@prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
@prefix dct: <http://purl.org/dc/terms/> .
<{endpoint}> a sd:Service ;
    sd:endpoint <{endpoint}> ;
    sd:supportedLanguage {languages} ;
{formats}    dct:title "Point d'accès SPARQL des pôles de compétitivité"@fr, "SPARQL endpoint of the French competitiveness clusters"@en ;
    dct:description "{access} ; SERVICE, LOAD et FROM distant refusés ; requêtes arrêtées après {settings.query_timeout:g} s."@fr ;
    sd:defaultDataset [ a sd:Dataset ;
{graphs}    ] .
""".encode("utf-8")


def _sparql_params(request: Request, body: bytes) -> dict[str, list[str]]:
    """Protocol parameters from the query string and the body; 4XX for what the protocol forbids."""
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    charset = re.search(r"charset=([\w-]+)", request.headers.get("content-type") or "", re.I)
    params = {k: v for k, v in parse_qs(request.url.query, keep_blank_values=True).items()}
    if request.method == "POST":
        if ctype == "application/x-www-form-urlencoded":
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise UsageError("the form is not UTF-8") from None
            for k, v in parse_qs(text, keep_blank_values=True).items():
                params.setdefault(k, []).extend(v)
        elif ctype in ("application/sparql-query", "application/sparql-update"):
            if charset and charset.group(1).lower() not in ("utf-8", "utf8"):
                raise UsageError(f"the body must be UTF-8, not {charset.group(1)}")
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise UsageError("the body is not UTF-8") from None
            params.setdefault("query" if ctype.endswith("query") else "update", []).append(text)
        elif ctype == "":
            raise UsageError("a POST needs a Content-Type", hint="application/x-www-form-urlencoded, application/sparql-query or application/sparql-update")
        else:
            err = UsageError(f"unsupported Content-Type {ctype!r}",
                             hint="application/x-www-form-urlencoded, application/sparql-query or application/sparql-update")
            err.http_status = 415
            raise err
    return params


async def sparql(request: Request) -> Response:
    state: AppState = request.app.state.pg
    body = await request.body()
    if len(body) > state.settings.max_body:
        err = UsageError(f"the request body is larger than {state.settings.max_body} bytes")
        err.http_status = 413
        raise err
    params = _sparql_params(request, body)
    for key in ("default-graph-uri", "named-graph-uri", "using-graph-uri", "using-named-graph-uri"):
        for iri in params.get(key, []):
            check_values({key: iri}, {key}, state.settings)
    queries, updates = params.get("query", []), params.get("update", [])
    if len(queries) > 1 or len(updates) > 1:
        raise UsageError("give one query (or one update) per request")
    if queries and updates:
        raise UsageError("a request is a query or an update, not both")
    if updates:
        if request.method != "POST":
            raise UsageError("updates are sent with POST")
        return await run_in_threadpool(_update, request, state, updates[0], params)
    if not queries:
        if negotiate(request.headers.get("accept"), ["text/turtle", HTML]) == HTML:
            return await run_in_threadpool(_query_page, request, state, "", None)
        return Response(service_description(request), media_type="text/turtle", headers={"Vary": "Accept"})
    text = queries[0]
    if len(text) > state.settings.max_query:
        err = UsageError(f"the query is longer than {state.settings.max_query} characters")
        err.http_status = 413
        raise err
    if negotiate(request.headers.get("accept"), [RESULT_FORMATS["json"], HTML]) == HTML and "format" not in params:
        return await run_in_threadpool(_query_page, request, state, text, params)
    return await run_in_threadpool(_query, request, state, text, params)


def _dataset(params: dict[str, list[str]], default_key: str = "default-graph-uri",
             named_key: str = "named-graph-uri") -> tuple[list[str] | None, list[str] | None]:
    """The dataset the protocol parameters name, as (default graphs, named graphs); (None, None) when
    they name none. Naming one kind leaves the other empty: the request's dataset is exactly what it
    lists (SPARQL 1.1 Protocol §2.1.4, §2.2.3), and it overrides the query's FROM / FROM NAMED."""
    default, named = params.get(default_key) or [], params.get(named_key) or []
    if not default and not named:
        return None, None
    for key, iris in ((default_key, default), (named_key, named)):
        for iri in iris:
            try:
                ox.NamedNode(iri)
            except ValueError as exc:
                raise UsageError(f"{key}={iri!r} is not an absolute IRI: {exc}") from None
    return list(default), list(named)


def _query(request: Request, state: AppState, text: str, params: dict[str, list[str]]) -> Response:
    with state.lock:  # the store and the pool of one moment: an update's reopen swaps both
        store = state.fresh()
        names_dataset = check_query(text, store)
        pool = state.pool
    default_graphs, named_graphs = _dataset(params)
    if default_graphs is None and not names_dataset:
        default_graphs = [g.value for g in KNOWLEDGE_GRAPH]
    base_iri = f"{request.url.scheme}://{request.url.netloc}/sparql"  # relative IRIs resolve against the endpoint
    accept = request.headers.get("accept")
    forced = (params.get("format") or [None])[0]
    result_format = forced if forced in ("json", "xml", "csv", "tsv") else \
        RESULT_MEDIA.get(negotiate(accept, list(RESULT_MEDIA)) or RESULT_FORMATS["json"], "json")
    rdf_media = negotiate(accept, RDF_MEDIA + [RDF_FORMATS["nq"][1]]) or RDF_FORMATS["ttl"][1]
    rdf_ext = forced if forced in RDF_FORMATS else next(e for e, (_, m) in RDF_FORMATS.items() if m == rdf_media)
    if not forced and negotiate(accept, list(RESULT_MEDIA)) is None and negotiate(accept, RDF_MEDIA + [RDF_FORMATS["nq"][1]]) is None:
        return not_acceptable(list(RESULT_MEDIA) + RDF_MEDIA + [RDF_FORMATS["nq"][1]])  # before any work
    if pool is not None:
        with metered(request) as measure:
            answer = pool.run(text, result_format=result_format, rdf_format=rdf_ext,
                              default_graphs=default_graphs, named_graphs=named_graphs, base_iri=base_iri)
            measure.seconds = answer.seconds  # the worker's own time, not the wait for a free one
        headers = {"Vary": "Accept"}
        if answer.truncated:
            headers["X-Result-Truncated"] = str(state.settings.max_rows)
        if answer.kind != "graph" and negotiate(accept, list(RESULT_MEDIA)) is None and not forced:
            return not_acceptable(list(RESULT_MEDIA))
        return Response(answer.body, media_type=answer.media_type, headers=headers)
    kwargs: dict[str, Any] = {"base_iri": base_iri}
    if default_graphs is not None:
        kwargs["default_graph"] = [ox.NamedNode(g) for g in default_graphs]
    if named_graphs is not None:
        kwargs["named_graphs"] = [ox.NamedNode(g) for g in named_graphs]
    try:
        with metered(request):
            result = to_result(store.db.query(text, **kwargs))
    except SyntaxError as exc:
        raise QueryError(f"SPARQL syntax error: {exc}") from None
    if result.triples is not None:
        return Response(serialize_triples(result.triples, rdf_ext), media_type=RDF_FORMATS[rdf_ext][1],
                        headers={"Vary": "Accept"})
    if negotiate(accept, list(RESULT_MEDIA)) is None and not forced:
        return not_acceptable(list(RESULT_MEDIA))
    cap = state.settings.max_rows
    headers = {"Vary": "Accept"}
    if len(result.rows) > cap:
        result.rows = result.rows[:cap]
        headers["X-Result-Truncated"] = str(cap)
    return Response(serialize_result(result, result_format), media_type=RESULT_FORMATS[result_format], headers=headers)


def _query_page(request: Request, state: AppState, text: str, params: dict[str, list[str]] | None) -> Response:
    lang = language(request)
    examples = []
    for name in state.catalogue.names():
        q = state.catalogue.queries[name]
        args = q.examples[0] if q.examples else {}
        try:
            bound = bind_values(q.text, bindings_for(q, args, lang, state.resolver))
        except PoleGraphError:
            continue
        bound = "\n".join(line for line in bound.splitlines() if not line.startswith("#+")).strip() + "\n"
        examples.append((name, q.summary.get(lang) or q.summary.get("fr", ""), bound))
    context: dict[str, Any] = {"query": text or examples[0][2] if examples else text, "examples": examples,
                               "table": None, "boolean": None, "error": None, "truncated": False}
    if text:
        context["query"] = text
        try:
            with state.lock:
                store = state.fresh()
                names_dataset = check_query(text, store)
                pool = state.pool
            default = None if names_dataset else [g.value for g in KNOWLEDGE_GRAPH]
            if pool is not None:
                with metered(request) as measure:
                    answer = pool.run(text, result_format="json", default_graphs=default)
                    measure.seconds = answer.seconds
                data = json.loads(answer.body)
                if "boolean" in data:
                    context["boolean"] = data["boolean"]
                else:
                    context["table"] = _json_table(data)
                    context["truncated"] = answer.truncated
            else:
                try:
                    with metered(request):
                        result = to_result(store.db.query(text, **({"default_graph": KNOWLEDGE_GRAPH} if default else {})))
                except SyntaxError as exc:
                    raise QueryError(f"SPARQL syntax error: {exc}") from None
                if result.boolean is not None:
                    context["boolean"] = result.boolean
                elif result.triples is None:
                    context["table"] = QueryResult(result.columns, result.rows[: state.settings.max_rows])
        except PoleGraphError as exc:
            context["error"] = exc.message
    return render(request, "sparql.html", lang=lang, **context)


def _json_table(data: dict) -> QueryResult:
    columns = data["head"]["vars"]
    rows = []
    for b in data["results"]["bindings"]:
        row = []
        for c in columns:
            t = b.get(c)
            if t is None:
                row.append(None)
            elif t["type"] == "uri":
                row.append(ox.NamedNode(t["value"]))
            elif t["type"] == "bnode":
                row.append(ox.BlankNode(t["value"]))
            else:
                row.append(ox.Literal(t["value"], language=t.get("xml:lang")) if t.get("xml:lang") else
                           ox.Literal(t["value"], datatype=ox.NamedNode(t["datatype"])) if t.get("datatype") else ox.Literal(t["value"]))
        rows.append(row)
    return QueryResult(columns, rows)


def _update(request: Request, state: AppState, text: str, params: dict[str, list[str]]) -> Response:
    import hmac

    from .queries import _segments, reaches_outside
    from .store import writer_lock

    token = state.settings.update_token
    if state.settings.endpoint:
        err = PoleGraphError("updates are off: this site reads a remote SPARQL store",
                             hint="send updates to the remote server itself, or use `pole-graph push`")
        err.http_status = 403
        raise err
    scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
    if not token or scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        err = PoleGraphError("updates are off" if not token else "a valid token is needed to update",
                             hint="this endpoint is read-only unless its operator configures an update token"
                             if not token else "send the header Authorization: Bearer <token>")
        err.http_status = 403 if not token else 401
        raise err
    code = [part for is_code, part in _segments(text) if is_code]  # not strings, IRIs or comments
    if reaches_outside(text):
        raise QueryError("LOAD and SERVICE are not allowed: this endpoint fetches nothing")
    default, named = _dataset(params, "using-graph-uri", "using-named-graph-uri")
    if default is not None:
        if any(USING_OR_WITH.search(part) for part in code):
            raise UsageError("using-graph-uri / using-named-graph-uri and USING / WITH in the update conflict",
                             hint="name the dataset in the request or in the update, not both")
        text = _using(text, default, named or [])
    base_iri = f"{request.url.scheme}://{request.url.netloc}/sparql"  # relative IRIs resolve against the endpoint

    # The server and its workers read a snapshot of the store (AppState.open), never the files
    # written here: queries go on while the update runs, then the reopen serves the new state.
    path = Path(state.settings.store)
    with writer_lock(path):
        db = None
        try:
            db = ox.Store(str(path / DB_DIR))
            db.update(text, base_iri=base_iri)
            db.flush()
        except SyntaxError as exc:
            raise QueryError(f"SPARQL update syntax error: {exc}") from None
        except OSError as exc:  # a full disk, a refused write: 507 with the store's own message
            from .store import write_error

            raise write_error(path, exc, "the update may not have been applied; the store is whole") from None
        except RuntimeError as exc:  # the engine refused an operation (DROP of a missing graph…): nothing written
            raise QueryError(f"the update failed: {exc}") from None
        finally:
            db = None
            gc.collect()  # closed before build.json changes and the lock goes: the next reader's snapshot is whole
        try:
            mark_updated(path, "sparql-update")
        except OSError as exc:
            from .store import write_error

            raise write_error(path, exc, "the update is in the store; servers see it once build.json can be written") from None
    state.open()  # a new snapshot, read here and by new workers: the next query sees the update
    return Response(status_code=204)


def _using(update: str, default: list[str], named: list[str]) -> str:
    """The update with the protocol's dataset written in: ``USING`` / ``USING NAMED`` before each
    top-level ``WHERE`` (pyoxigraph takes no dataset for updates). ``DELETE WHERE { P }`` is spelt
    out as ``DELETE { P } USING … WHERE { P }``, its meaning in SPARQL 1.1 Update §3.1.3.3.

    >>> _using('INSERT { ?s a 1 } WHERE { ?s ?p "WHERE" }', ["urn:g"], [])
    'INSERT { ?s a 1 } USING <urn:g> WHERE { ?s ?p "WHERE" }'
    >>> _using("DELETE WHERE { ?s ?p ?o }", [], ["urn:g"])
    'DELETE { ?s ?p ?o } USING NAMED <urn:g> WHERE { ?s ?p ?o }'
    """
    from .queries import _segments

    using = " ".join([f"USING {ox.NamedNode(g)}" for g in default] + [f"USING NAMED {ox.NamedNode(g)}" for g in named])
    tokens: list[tuple[bool, str]] = []  # (is_code, text); strings, IRIs and comments are one token each
    for is_code, part in _segments(update):
        tokens += [(True, t) for t in re.findall(r"\s+|[{}]|[^\s{}]+", part)] if is_code else [(False, part)]
    out: list[str] = []
    significant: list[str] = []  # the code words and terms so far, without spaces and comments
    depth, i = 0, 0
    while i < len(tokens):
        is_code, tok = tokens[i]
        if is_code and tok == "{":
            depth += 1
        elif is_code and tok == "}":
            depth -= 1
        elif is_code and depth == 0 and tok.upper() == "WHERE":
            if significant and significant[-1].upper() == "DELETE":
                start = end = i + 1
                while end < len(tokens) and tokens[end] != (True, "{"):
                    end += 1
                level = 0
                for end in range(end, len(tokens)):
                    level += {"{": 1, "}": -1}.get(tokens[end][1], 0) if tokens[end][0] else 0
                    if level == 0:
                        break
                pattern = "".join(t for _, t in tokens[start:end + 1]).strip()
                out.append(f"{pattern} {using} WHERE {pattern}")
                significant.append("}")
                i = end + 1
                continue
            out.append(using + " ")
        out.append(tok)
        if not is_code or not tok.isspace():
            if is_code or not tok.startswith("#"):
                significant.append(tok)
        i += 1
    return "".join(out)


# ---- stored-query API ---------------------------------------------------------------------------

def query_summary(request: Request, state: AppState, name: str) -> dict[str, Any]:
    q = state.catalogue.queries[name]
    return {"name": name, "summary": dict(q.summary), "description": dict(q.description), "tags": list(q.tags),
            "url": f"/api/queries/{name}",
            "parameters": [{"name": p.name, "type": p.type, "required": p.required, "class": p.cls,
                            "values": sorted(p.values) or None, "description": dict(p.description)} for p in q.params],
            "examples": [f"/api/queries/{name}?{urlencode(e)}" for e in q.examples]}


async def api_list(request: Request) -> Response:
    state: AppState = request.app.state.pg
    return JSONResponse([query_summary(request, state, n) for n in state.catalogue.names()])


async def api_query(request: Request) -> Response:
    state: AppState = request.app.state.pg
    name = request.path_params["name"]
    stored = state.catalogue.get(name)
    args = dict(request.query_params)
    if request.method == "POST":
        ctype = (request.headers.get("content-type") or "").split(";")[0].strip()
        if ctype == "application/json":
            try:
                body = json.loads(await request.body() or b"{}")
            except json.JSONDecodeError as exc:
                raise UsageError(f"the body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
            if not isinstance(body, dict) or not all(isinstance(v, (str, int, float)) for v in body.values()):
                raise UsageError("the body must be a JSON object of parameter values")
            args.update({k: str(v) for k, v in body.items()})
        else:
            form = await request.form()
            args.update({k: str(v) for k, v in form.items()})
    check_values(args, {p.name for p in stored.params if p.type == "thing"}, state.settings)  # before any conversion
    control = {k: args.pop(k) for k in ("lang", "page", "per_page", "format") if k in args}
    lang = control.get("lang") if control.get("lang") in ("fr", "en") else language(request)
    try:
        page_no = max(1, int(control.get("page", 1)))
        per_page = min(1000, max(1, int(control.get("per_page", 100))))
    except ValueError:
        raise ParameterError("page and per_page are positive integers") from None
    fmt = control.get("format")
    accept = request.headers.get("accept")
    if fmt == "html" or (not fmt and negotiate(accept, [RESULT_FORMATS["json"], HTML]) == HTML and "application/" not in (accept or "")):
        media = HTML
    elif fmt:
        if fmt not in ("json", "xml", "csv", "tsv"):
            raise UsageError(f"unknown format {fmt!r}", hint="json, xml, csv, tsv or html")
        media = RESULT_FORMATS[fmt]
    else:
        media = negotiate(accept, [RESULT_FORMATS["json"], RESULT_FORMATS["xml"], RESULT_FORMATS["csv"],
                                   RESULT_FORMATS["tsv"], "application/json"])
        if media is None:
            return not_acceptable([RESULT_FORMATS[f] for f in ("json", "xml", "csv", "tsv")])
    key = ("api", state.version, name, lang, tuple(sorted(args.items())))

    def run() -> QueryResult:
        store = state.fresh()
        if key not in state.cache:
            with metered(request):
                result = run_stored(store, state.catalogue, name, args, lang, state.resolver)
            state.cache[key] = result
            return result
        return state.cache[key]

    result = await run_in_threadpool(run)
    total = len(result.rows)
    last = max(1, -(-total // per_page))
    rows = result.rows[(page_no - 1) * per_page: page_no * per_page]
    shown = QueryResult(result.columns, rows)
    links = []
    base_args = dict(args, lang=lang, per_page=per_page, **({"format": fmt} if fmt else {}))
    for rel, n in (("first", 1), ("prev", page_no - 1), ("next", page_no + 1), ("last", last)):
        if 1 <= n <= last and not (rel in ("prev", "next") and n == page_no):
            links.append(f'</api/queries/{name}?{urlencode(dict(base_args, page=n))}>; rel="{rel}"')
    headers = {"Link": ", ".join(links), "X-Total-Count": str(total), "Vary": "Accept, Accept-Language"}
    if media == HTML:
        response = render(request, "table.html", lang=lang, title=name, table=shown, total=total)
        response.headers.update(headers)
        return response
    fmt_name = RESULT_MEDIA.get(media, "json")
    return Response(serialize_result(shown, fmt_name), media_type=RESULT_FORMATS[fmt_name], headers=headers)


async def api_page(request: Request) -> Response:
    state: AppState = request.app.state.pg
    lang = language(request)
    queries = []
    for name in state.catalogue.names():
        q = state.catalogue.queries[name]
        example = q.examples[0] if q.examples else {}
        queries.append({"name": name, "summary": q.summary.get(lang) or q.summary.get("fr", ""),
                        "params": [{"name": p.name, "required": p.required, "choices": sorted(p.values),
                                    "description": p.description.get(lang, ""), "example": example.get(p.name)}
                                   for p in q.params]})
    return render(request, "api.html", lang=lang, queries=queries)


async def openapi(request: Request) -> Response:
    from .openapi import openapi_document

    state: AppState = request.app.state.pg
    server = f"{request.url.scheme}://{request.url.netloc}"
    return JSONResponse(openapi_document(state.catalogue, __version__, language(request), server))


# ---- catalogue, dumps, validation ----------------------------------------------------------------

def dumps_folder(settings: Settings) -> Path:
    """Where the server keeps the dumps of a store: beside it, ``{store}.dumps``."""
    store = Path(settings.store)
    return store.parent / (store.name + ".dumps")


def _dumps(state: AppState) -> tuple[Path, list[Any]]:
    from . import catalogue

    folder = dumps_folder(state.settings)
    with state.lock:
        return folder, catalogue.ensure_dumps(state.fresh(), folder)


def _description(state: AppState, which: str, base: str):
    from . import catalogue

    key = (which, state.version, base)
    with state.lock:
        if key not in state.cache:
            folder, dumps = _dumps(state)
            make = catalogue.void_graph if which == "void" else catalogue.catalogue_graph
            graph = make(state.fresh(), dumps, base)
            state.cache[key] = graph
            return graph
        return state.cache[key]


def _data_context(state: AppState, lang: str) -> dict[str, Any]:
    """The catalogue as a page: what the dataset is, its licence and coverage, numbers, downloads."""
    from . import catalogue

    with state.lock:
        _, dumps = _dumps(state)
        key = ("statistics", state.version)
        stats = state.cache.get(key) or catalogue.statistics(state.fresh())
        state.cache[key] = stats
    fr, en = catalogue._dataset_description(stats)
    return {"title": word("site", lang), "description": fr if lang == "fr" else en, "stats": stats, "dumps": dumps,
            "alternates": [(RDF_FORMATS[e][1], e) for e in ("ttl", "jsonld", "rdf", "nt")], "lang": lang}


async def data_resource(request: Request) -> Response:
    """Other things named under /data/ (the published figures' qb:DataSet): described like /doc/…."""
    state: AppState = request.app.state.pg
    path, media = _choose(request, request.path_params["name"])
    if media is None:
        return not_acceptable(DOC_MEDIA)
    if not re.match(r"^[a-z0-9-]+$", path):
        raise _not_found_error(f"data/{path}")
    return await run_in_threadpool(_document, request, state, f"{BASE}data/{path}", media, f"/data/{path}")


async def data_catalogue(request: Request) -> Response:
    state: AppState = request.app.state.pg
    fmt = request.query_params.get("format")
    media = EXT_MEDIA.get(fmt) if fmt else negotiate(request.headers.get("accept"), RDF_MEDIA + [HTML])
    if media is None:
        return not_acceptable(RDF_MEDIA)
    which = "void" if request.url.path == "/.well-known/void" else "catalogue"
    if media == HTML and which == "catalogue":
        return render(request, "data.html", **await run_in_threadpool(_data_context, state, language(request)))
    graph = await run_in_threadpool(_description, state, which, BASE)
    if media == HTML:  # no page of its own: the Turtle, readable in a browser
        media = "text/plain; charset=utf-8"
        rdflib_fmt = "turtle"
    else:
        fmt = {v[1]: k for k, v in RDF_FORMATS.items()}[media]
        rdflib_fmt = {"ttl": "turtle", "nt": "nt", "jsonld": "json-ld", "rdf": "xml"}[fmt]
    return Response(graph.serialize(format=rdflib_fmt), media_type=media, headers={"Vary": "Accept"})


async def dump_file(request: Request) -> Response:
    import base64

    state: AppState = request.app.state.pg
    name = request.path_params["file"]
    folder, dumps = await run_in_threadpool(_dumps, state)
    entry = next((d for d in dumps if d.file == name), None)
    if entry is None:
        raise _not_found_error(f"data/dumps/{name}")
    digest = base64.b64encode(bytes.fromhex(entry.sha256)).decode("ascii")
    return FileResponse(folder / name, media_type=entry.media_type,
                        headers={"Repr-Digest": f"sha-256=:{digest}:", "Digest": f"sha-256={digest}"})


def _too_large(message: str) -> PoleGraphError:
    err = UsageError(message, hint="split the file, or ask the operator to raise POLE_GRAPH_MAX_BODY")
    err.http_status = 413
    return err


async def validate_page(request: Request) -> Response:
    return render(request, "validate.html", report=None)


async def api_validate(request: Request) -> Response:
    state: AppState = request.app.state.pg
    lang = language(request)
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    limit = state.settings.max_body
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        if ctype == "multipart/form-data":
            form = await request.form(max_files=20)
            for i, item in enumerate(form.getlist("file")):
                if not hasattr(item, "read"):
                    continue
                data = await item.read()
                if len(data) > limit:
                    raise _too_large(f"{item.filename}: larger than {limit} bytes")
                safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(item.filename or f"upload-{i}").name) or f"upload-{i}"
                path = Path(tmp) / f"{i}" / safe
                path.parent.mkdir()
                path.write_bytes(data)
                paths.append(path)
        else:
            body = await request.body()
            if len(body) > limit:
                raise _too_large(f"the body is larger than {limit} bytes")
            ext = {"text/csv": ".csv", "text/turtle": ".ttl", "application/n-triples": ".nt",
                   "application/ld+json": ".jsonld", "application/rdf+xml": ".rdf"}.get(ctype)
            if ext is None:
                err = UsageError(f"unsupported Content-Type {ctype!r}", hint="multipart/form-data, text/csv, text/turtle, application/n-triples, application/ld+json or application/rdf+xml")
                err.http_status = 415
                raise err
            name = re.sub(r"[^A-Za-z0-9._-]", "_", request.query_params.get("name", "") or "") or f"upload{ext}"
            if not name.endswith(ext):
                name += ext
            path = Path(tmp) / name
            path.write_bytes(body)
            paths.append(path)
        if not paths:
            raise UsageError("no file to validate")

        def check():
            steward = state.steward()
            submission = steward.read(paths, request.query_params.get("input_format"), request.query_params.get("type"))
            check_terms(submission.records, state.settings)
            report, _ = steward.check(submission, lang)
            return report

        report = await run_in_threadpool(check)
    for r in report.records:  # report the names the steward sent, not the temporary paths
        if r.file:
            r.file = Path(r.file).name
    if wants_html(request):
        return render(request, "validate.html", lang=lang, report=report.text(lang))
    # 400 for what could not be read (syntax, unknown references: the CLI's exit 2), 422 for records
    # read but not conforming (exit 1); the body is the CLI's JSON report either way
    return JSONResponse(report.as_dict(lang), status_code={0: 200, 1: 422}.get(report.exit_code, 400))


# ---- the app --------------------------------------------------------------------------------------

def create_app(settings: Settings | None = None, project: Project | None = None) -> Starlette:
    """The ASGI app: ``uvicorn --factory 'pole_graph.server:create_app'`` or ``pole-graph serve``."""
    settings = settings or Settings.from_env()
    state = AppState(settings, project)
    routes = [
        Route("/", home), Route("/search", search),
        Route("/id/{rest:path}", identifier), Route("/doc/{rest:path}", document),
        Route("/def", definition), Route("/def/{rest:path}", definition),
        Route("/sparql", sparql, methods=["GET", "POST"]),
        Route("/api", api_page), Route("/api/queries", api_list),
        Route("/api/queries/{name}", api_query, methods=["GET", "POST"]),
        Route("/openapi.json", openapi),
        Route("/data/pole-graph", data_catalogue), Route("/data/catalogue", data_catalogue),
        Route("/.well-known/void", data_catalogue),
        Route("/data/dumps/{file}", dump_file), Route("/data/{name}", data_resource),
        Route("/validate", validate_page), Route("/api/validate", api_validate, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        state.close()

    app = Starlette(routes=routes, exception_handlers={PoleGraphError: on_error, Exception: on_error, 404: not_found,
                                                      405: _method_not_allowed},
                    lifespan=lifespan)
    app.state.pg = state

    if settings.response_cache:
        app.add_middleware(ResponseCache, state=state)
    app.add_middleware(RequestLimits, settings=settings, refuse=on_error)
    app.add_middleware(ClientBudget, settings=settings, refuse=on_error)
    app.add_middleware(Guard)
    return app


class ResponseCache:
    """ASGI middleware: GET answers kept per data version, so a page, a document, a stored query or a
    SPARQL query asked again costs a dictionary lookup until the data change.

    Safe because everything served is a function of the request and the data version: the key is
    the path and query string plus the headers that choose the answer (Accept, Accept-Language,
    Host); SPARQL calling NOW, RAND, UUID or STRUUID is never cached; only 200 answers under 2 MB
    are kept, at most 2048 of them and 64 MB in all (least recently used dropped first). Each kept
    answer gets a strong ETag; ``If-None-Match`` then gets 304.
    """

    PATHS = ("/", "/search", "/doc/", "/def", "/api", "/openapi.json", "/sparql", "/data/pole-graph",
             "/data/catalogue", "/.well-known/void")
    VOLATILE = re.compile(r"\b(NOW|RAND|UUID|STRUUID)\s*\(", re.I)
    MAX_ENTRY, MAX_TOTAL, MAX_COUNT = 2 << 20, 64 << 20, 2048

    def __init__(self, app, state: AppState) -> None:
        from collections import OrderedDict

        self.app, self.state = app, state
        self.entries: OrderedDict[tuple, tuple[int, list, bytes, bytes]] = OrderedDict()
        self.size = 0
        self.version: tuple = ()
        self.hits = self.misses = 0

    def _cacheable(self, scope) -> bool:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return False
        path = scope["path"]
        if not (path in self.PATHS or path.startswith(("/doc/", "/def/", "/api/queries"))):
            return False
        if path == "/sparql" and self.VOLATILE.search(parse_qs(scope.get("query_string", b"").decode("latin-1")).get("query", [""])[0]):
            return False
        return True

    async def __call__(self, scope, receive, send) -> None:
        if not self._cacheable(scope):
            return await self.app(scope, receive, send)
        headers = {k: v for k, v in scope["headers"] if k in (b"accept", b"accept-language", b"host", b"if-none-match")}
        version = await run_in_threadpool(self._version)
        key = (scope["method"], scope["path"], scope.get("query_string", b""), headers.get(b"accept"),
               headers.get(b"accept-language"), headers.get(b"host"))
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
            self.hits += 1
            status, response_headers, body, etag = entry
            if headers.get(b"if-none-match") == etag:
                await send({"type": "http.response.start", "status": 304,
                            "headers": [(k, v) for k, v in response_headers if k in (b"etag", b"vary", b"cache-control")]})
                await send({"type": "http.response.body", "body": b""})
                return
            await send({"type": "http.response.start", "status": status, "headers": response_headers})
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
            return
        self.misses += 1
        started: dict = {}
        held: list[bytes] = []
        passing = False

        async def capture(message) -> None:
            nonlocal passing
            if message["type"] == "http.response.start":
                started.update(message)
                if message["status"] != 200:
                    passing = True
                    await send(message)
                return  # a 200 is held back until its body is complete, to add the ETag
            if passing:
                await send(message)
                return
            held.append(message.get("body", b""))
            if message.get("more_body"):  # a streamed answer: not kept, passed on as it comes
                passing = True
                await send(started)
                await send({"type": "http.response.body", "body": b"".join(held), "more_body": True})
                return
            body = b"".join(held)
            etag = ('"' + hashlib.sha256(body).hexdigest()[:32] + '"').encode()
            response_headers = list(started.get("headers", [])) + [(b"etag", etag)]
            if version == self.version and len(body) <= self.MAX_ENTRY and scope["method"] == "GET":
                self._keep(key, (200, response_headers, body, etag))
            if headers.get(b"if-none-match") == etag:
                await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", etag)]})
                await send({"type": "http.response.body", "body": b""})
                return
            await send({**started, "headers": response_headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)

    def _version(self) -> tuple:
        self.state.fresh()
        if self.state.version != self.version:
            self.entries.clear()
            self.size = 0
            self.version = self.state.version
        return self.version

    def _keep(self, key: tuple, entry: tuple) -> None:
        self.entries[key] = entry
        self.size += len(entry[2])
        while self.size > self.MAX_TOTAL or len(self.entries) > self.MAX_COUNT:
            _, old = self.entries.popitem(last=False)
            self.size -= len(old[2])


class Guard:
    """ASGI middleware: refuses methods the site does not use, adds the security headers to every
    response and CORS to reads (so browser apps elsewhere can query the endpoint and the API)."""

    SECURITY = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"same-origin")]

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method, path = scope["method"], scope["path"]
        if method not in ("GET", "HEAD", "POST", "OPTIONS"):
            response = await on_error(Request(scope, receive), _method_error(method))
            return await response(scope, receive, send)
        cors = method in ("GET", "HEAD") or path.startswith("/api/queries") or path == "/sparql"
        if method == "OPTIONS":  # CORS preflight for the read API (no credentials, no writes)
            allowed = path.startswith("/api/queries") or path == "/sparql"
            headers = {"Allow": "GET, HEAD, POST, OPTIONS"}
            if allowed:
                headers.update({"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST",
                                "Access-Control-Allow-Headers": "Accept, Content-Type", "Access-Control-Max-Age": "86400"})
            return await Response(status_code=204, headers=headers)(scope, receive, send)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in self.SECURITY if k not in present]
                if cors and b"access-control-allow-origin" not in present:
                    headers.append((b"access-control-allow-origin", b"*"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _method_error(method: str) -> PoleGraphError:
    err = PoleGraphError(f"method {method} is not allowed here")
    err.http_status = 405
    return err


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return await on_error(request, _method_error(request.method))


def get(path: str, settings: Settings, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Answer one request in-process (``pole-graph serve --get PATH``)."""
    from starlette.testclient import TestClient

    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        response = client.get(path, headers=headers or {}, follow_redirects=False)
        return response.status_code, dict(response.headers), response.content
