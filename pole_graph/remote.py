"""Remote: any SPARQL 1.1 server as the store (scale-out), and ``push``, which loads a built store into one.

Stage 4 (*store*), second implementation. ``RemoteStore`` reads like ``GraphStore`` (``query``,
``info``, ``dump`` and a ``db`` offering the few pyoxigraph ``Store`` calls the engine makes) and
returns the same pyoxigraph result types, so the queries, the steward's checks and the server work
unchanged on Oxigraph server, Fuseki, Virtuoso or GraphDB. It must not guess: an answer that is not
whole (HTTP 206, a body cut short, Fuseki's "Incomplete results" banner, a 503 or a 429 past its
retries) is an error naming the endpoint, never a result.

The protocol requests are built by SPARQLWrapper (query / update, dataset parameters, credentials);
they are sent by our own opener, because SPARQLWrapper sets no timeout by default, truncates the one
you give it to whole seconds (0.5 s becomes "none"), has a single timeout for connecting and reading,
and reads 206 as success. Here every request has a connect timeout and an overall deadline.

``push`` writes each graph of the built store into a staging graph, in chunks (blank nodes kept
together: a server gives each request's blank nodes fresh identities), checks the staged counts,
then swaps every graph in ONE update (``MOVE … TO …``), so readers see the old graph or the new,
never a mix; then it checks the counts again.

    PoleGraphError
    └── RemoteError              exit 2, HTTP 502   the remote store failed or answered badly
        ├── RemoteUnavailable    exit 2, HTTP 503   not reachable, 503, 429 past its retries
        ├── RemoteTimeout        exit 2, HTTP 504   no whole answer within the deadline
        ├── RemoteConflict       exit 2, HTTP 409   the remote changed while a steward's change was checked
        └── PartialAnswer        exit 2, HTTP 502   206, a body cut short, an "incomplete results" banner
    QueryError
    └── RemoteQueryError         exit 2, HTTP 400   the remote refused the query (HTTP 400)
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, TextIO

import pyoxigraph as ox

from . import __version__
from .errors import PoleGraphError, QueryError, StoreMissingError, UsageError
from .namespaces import BASE

BUILD_GRAPH = f"{BASE}graph/build"
"""What push wrote: the build's information (build.json) and the list of our graphs with their counts."""
STAGING = f"{BASE}graph/staging/"
REVISION = f"{BASE}graph/revision/"
"""One small graph ``graph/revision/{token}`` names the remote data's revision. Each write through
pole-graph drops it (without SILENT: the whole update fails if it is gone) and creates the next in
the same request: a compare-and-swap, so a steward whose checks ran against an older graph gets a
conflict instead of committing beside another steward's change (notes/reliability.md, class 7)."""
DCT = "http://purl.org/dc/terms/"
VOID = "http://rdfs.org/ns/void#"
RDF_JSON = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"

MAX_GET = 2000                 # longer requests go by POST (URL limits of proxies and servers)
MAX_ANSWER = 1 << 30           # bytes; more is refused rather than read into memory
RETRIES = 3                    # for reads answered 429 / 503 with Retry-After
MAX_RETRY_AFTER = 30.0         # seconds; a server asking for longer is reported, not waited for
CHUNK = 50_000                 # triples per upload request (notes/reliability.md: ≤ 100k or 10 MB)
BANNERS = (b"Incomplete results", b"Query cancelled due to timeout")


class RemoteError(PoleGraphError):
    http_status = 502


class RemoteUnavailable(RemoteError):
    http_status = 503


class RemoteTimeout(RemoteError):
    http_status = 504


class PartialAnswer(RemoteError):
    http_status = 502


class RemoteConflict(RemoteError):
    http_status = 409


class RemoteQueryError(QueryError):
    http_status = 400


# ---- endpoints and transport ------------------------------------------------------------------

@dataclass(frozen=True)
class Endpoints:
    """Where a SPARQL 1.1 server answers queries, updates and (optionally) the Graph Store Protocol.

    >>> e = Endpoints.derive("http://127.0.0.1:7878/query")
    >>> e.update, e.graph_store
    ('http://127.0.0.1:7878/update', 'http://127.0.0.1:7878/store')
    >>> Endpoints.derive("http://fuseki:3030/ds/query").graph_store is None
    True
    """

    query: str
    update: str
    graph_store: str | None = None
    auth: str | None = field(default=None, repr=False)   # "basic:USER:PASSWORD" or "bearer:TOKEN"
    connect_timeout: float = 5.0
    read_timeout: float = 30.0

    @classmethod
    def derive(cls, query: str, update: str | None = None, graph_store: str | None = None, **options: Any) -> "Endpoints":
        """Oxigraph's layout (``/query``, ``/update``, ``/store``) is derived; Fuseki's ``/ds/query``
        gives ``/ds/update`` and no Graph Store endpoint (uploads then go through SPARQL updates)."""
        _check_url(query, "endpoint")
        parts = urllib.parse.urlsplit(query)
        if update is None:
            update = urllib.parse.urlunsplit(parts._replace(path=parts.path[: -len("query")] + "update")) \
                if parts.path.endswith("/query") else query
        if graph_store is None and parts.path == "/query":
            graph_store = urllib.parse.urlunsplit(parts._replace(path="/store"))
        for url, name in ((update, "update endpoint"), (graph_store, "graph store endpoint")):
            if url:
                _check_url(url, name)
        if options.get("auth") and not re.match(r"^(basic:[^:]+:.*|bearer:.+)$", options["auth"]):
            raise UsageError("POLE_GRAPH_ENDPOINT_AUTH must be basic:USER:PASSWORD or bearer:TOKEN")
        return cls(query, update, graph_store or None, **options)

    @property
    def shown(self) -> str:
        """The query endpoint without credentials or query string, for messages."""
        return shown(self.query)


def _check_url(url: str, name: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{name} {shown(url)!r} is not an http(s) URL", hint="e.g. http://127.0.0.1:7878/query")


def shown(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


_LOCAL = threading.local()  # per thread: the read timeout to set, and the socket of the request under way


def _patched(base: type) -> type:
    class Connection(base):  # type: ignore[misc, valid-type]
        def connect(self) -> None:
            super().connect()                            # bounded by the connect timeout (urlopen's timeout)
            self.sock.settimeout(_LOCAL.read_timeout)    # then each wait for data by the read deadline
            _LOCAL.sock = self.sock
    return Connection


_HTTP_CONNECTION, _HTTPS_CONNECTION = _patched(http.client.HTTPConnection), _patched(http.client.HTTPSConnection)


class _HTTP(urllib.request.HTTPHandler):
    def http_open(self, req):  # type: ignore[override]
        return self.do_open(_HTTP_CONNECTION, req)


class _HTTPS(urllib.request.HTTPSHandler):
    def https_open(self, req):  # type: ignore[override]
        options = {"context": self._context}
        if getattr(self, "_check_hostname", None) is not None:  # Python < 3.12 only
            options["check_hostname"] = self._check_hostname
        return self.do_open(_HTTPS_CONNECTION, req, **options)


@dataclass
class Answer:
    status: int
    media_type: str
    body: bytes
    headers: dict[str, str]


class Client:
    """Sends SPARQL protocol requests to one server; every failure becomes a RemoteError naming it."""

    def __init__(self, endpoints: Endpoints, sleep: Callable[[float], None] = time.sleep) -> None:
        self.endpoints = endpoints
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_HTTP, _HTTPS)  # no global opener: SPARQLWrapper's is global

    # -- requests built by SPARQLWrapper --

    def _wrapper(self, url: str, text: str, update: bool, accept: str | None,
                 default_graphs: Iterable[str] = (), named_graphs: Iterable[str] = ()) -> urllib.request.Request:
        import warnings

        from SPARQLWrapper import POST, SPARQLWrapper
        from SPARQLWrapper.Wrapper import URLENCODED

        sw = SPARQLWrapper(url, updateEndpoint=url, agent=f"pole-graph/{__version__}")
        sw.setOnlyConneg(True)  # no format=/output= parameters: servers disagree on their values
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its query-type sniffing warns on queries it cannot classify
            sw.setQuery(text)
        sw.queryType = "INSERT" if update else "SELECT"  # update or query; the Accept header is ours
        for g in default_graphs:
            sw.addDefaultGraph(g)
        for g in named_graphs:
            sw.addNamedGraph(g)
        auth = self.endpoints.auth
        if auth and auth.startswith("basic:"):
            user, _, password = auth[len("basic:"):].partition(":")
            sw.setCredentials(user, password)
        elif auth:
            sw.addCustomHttpHeader("Authorization", "Bearer " + auth[len("bearer:"):])
        if accept:
            sw.addCustomHttpHeader("Accept", accept)
        if not update:
            request = sw._createRequest()  # GET: the parameters in the URL
            if len(request.full_url) <= MAX_GET:
                return request
        sw.setMethod(POST)
        sw.setRequestMethod(URLENCODED)
        return sw._createRequest()

    def query(self, text: str, accept: str, default_graphs: Iterable[str] = (), named_graphs: Iterable[str] = (),
              deadline: float | None = None) -> Answer:
        request = self._wrapper(self.endpoints.query, text, False, accept, default_graphs, named_graphs)
        return self.send(request, read=True, deadline=deadline)

    def update(self, text: str, deadline: float | None = None) -> Answer:
        request = self._wrapper(self.endpoints.update, text, True, None)
        return self.send(request, read=False, deadline=deadline)

    def upload(self, graph: str, ntriples: bytes, deadline: float | None = None) -> Answer:
        """Add N-Triples to a graph: Graph Store Protocol POST when there is an endpoint for it,
        else one INSERT DATA (any SPARQL 1.1 server)."""
        if self.endpoints.graph_store is None:
            text = f"INSERT DATA {{ GRAPH <{graph}> {{\n{ntriples.decode('utf-8')}\n}} }}"
            return self.update(text, deadline=deadline)
        url = self.endpoints.graph_store + "?" + urllib.parse.urlencode({"graph": graph})
        request = urllib.request.Request(url, data=ntriples, method="POST",
                                         headers={"Content-Type": "application/n-triples",
                                                  "User-Agent": f"pole-graph/{__version__}"})
        auth = self.endpoints.auth
        if auth and auth.startswith("basic:"):
            import base64
            request.add_header("Authorization", "Basic " + base64.b64encode(auth[len("basic:"):].encode()).decode())
        elif auth:
            request.add_header("Authorization", "Bearer " + auth[len("bearer:"):])
        return self.send(request, read=False, deadline=deadline)

    # -- sending --

    def send(self, request: urllib.request.Request, read: bool, deadline: float | None = None) -> Answer:
        """Send, with retries for reads answered 429 or 503 with a short Retry-After."""
        where = shown(request.full_url)
        timeout = self.endpoints.read_timeout if deadline is None else deadline
        for attempt in range(RETRIES + 1):
            try:
                return self._send_once(request, where, timeout)
            except _RetryLater as later:
                if not read or attempt == RETRIES or later.wait is None or later.wait > MAX_RETRY_AFTER:
                    raise later.error from None
                self._sleep(later.wait)
        raise AssertionError("unreachable")

    def _send_once(self, request: urllib.request.Request, where: str, timeout: float) -> Answer:
        _LOCAL.read_timeout, _LOCAL.sock = timeout, None
        started = time.monotonic()
        try:
            response = self._opener.open(request, timeout=self.endpoints.connect_timeout)
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc, where) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                if _LOCAL.sock is None:
                    raise RemoteUnavailable(f"{where}: no connection within {self.endpoints.connect_timeout:g} s",
                                            hint="is the server running and reachable? (--endpoint, POLE_GRAPH_ENDPOINT)") from None
                raise RemoteTimeout(f"{where}: no answer within {timeout:g} s",
                                    hint="the server is slow or the query is heavy; raise POLE_GRAPH_QUERY_TIMEOUT "
                                         "or the server's own timeout") from None
            text = getattr(reason, "strerror", None) or str(reason)
            raise RemoteUnavailable(f"{where}: cannot connect: {text}",
                                    hint="is the server running? check --endpoint / POLE_GRAPH_ENDPOINT") from None
        except (socket.timeout, TimeoutError):
            raise RemoteTimeout(f"{where}: no answer within {timeout:g} s",
                                hint="the server is slow or the query is heavy; raise POLE_GRAPH_QUERY_TIMEOUT") from None
        except (http.client.HTTPException, ConnectionError, OSError) as exc:
            raise RemoteUnavailable(f"{where}: the connection failed before an answer ({exc or type(exc).__name__})",
                                    hint="did the server stop? a request that got no answer may or may not have "
                                         "been applied; reads are safe to repeat, and so is push") from None
        with response:
            status = response.status
            headers = {k.lower(): v for k, v in response.headers.items()}
            if status == 206 or headers.get("x-sql-state", "").upper() == "S1TAT":
                state = headers.get("x-sql-state")
                raise PartialAnswer(f"{where}: a partial answer (HTTP {status}" + (f", X-SQL-State {state}" if state else "")
                                    + "): the server stopped the query at its time or row limit",
                                    hint="narrow the query, or raise the server's limits (Virtuoso: "
                                         "MaxQueryExecutionTime, ResultSetMaxRows)")
            body = self._read(response, where, started, timeout)
        return Answer(status, headers.get("content-type", "").split(";")[0].strip().lower(), body, headers)

    def _read(self, response: http.client.HTTPResponse, where: str, started: float, timeout: float) -> bytes:
        """The whole body, within the deadline; a body shorter than announced is an error."""
        chunks, size = [], 0
        while True:
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                raise RemoteTimeout(f"{where}: the answer was not complete after {timeout:g} s",
                                    hint="raise POLE_GRAPH_QUERY_TIMEOUT, or narrow the query")
            if _LOCAL.sock is not None:
                _LOCAL.sock.settimeout(left)
            try:
                chunk = response.read1(1 << 16) if hasattr(response, "read1") else response.read(1 << 16)
            except (socket.timeout, TimeoutError):
                raise RemoteTimeout(f"{where}: the answer was not complete after {timeout:g} s",
                                    hint="raise POLE_GRAPH_QUERY_TIMEOUT, or narrow the query") from None
            except http.client.IncompleteRead as exc:
                raise PartialAnswer(f"{where}: the answer was cut short after {size + len(exc.partial)} bytes",
                                    hint="the server or a proxy closed the connection; try again") from None
            except (ConnectionError, OSError, http.client.HTTPException) as exc:
                raise PartialAnswer(f"{where}: the answer was cut short after {size} bytes ({exc})") from None
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_ANSWER:
                raise RemoteError(f"{where}: the answer is larger than {MAX_ANSWER} bytes", hint="narrow the query")
            chunks.append(chunk)
        body = b"".join(chunks)
        expected = response.headers.get("content-length")
        if expected and expected.isdigit() and int(expected) != len(body):
            raise PartialAnswer(f"{where}: the answer was cut short ({len(body)} of {expected} bytes)")
        return body

    def _http_error(self, exc: urllib.error.HTTPError, where: str) -> Exception:
        try:
            raw = exc.read(20_000)
        except Exception:  # the error body is only for the message
            raw = b""
        text = _readable(raw, exc.headers.get("content-type", "") if exc.headers else "")
        code = exc.code
        retry = _retry_after(exc.headers.get("retry-after") if exc.headers else None)
        if code == 429:
            return _RetryLater(RemoteUnavailable(
                f"{where}: too many requests (HTTP 429" + (f", retry after {retry:g} s" if retry is not None else "") + ")",
                hint="the server limits its clients; wait, or ask its operator"), retry)
        if code == 503:
            return _RetryLater(RemoteUnavailable(f"{where}: the server is unavailable or timed out (HTTP 503)"
                                                 + (f": {text}" if text else ""),
                                                 hint="try again later, or raise the server's query timeout"), retry)
        if code == 400:
            return RemoteQueryError(f"{where} refused the request (HTTP 400)" + (f": {text}" if text else ""))
        if code in (401, 403):
            return RemoteError(f"{where}: not allowed (HTTP {code})" + (f": {text}" if text else ""),
                               hint="set POLE_GRAPH_ENDPOINT_AUTH to basic:USER:PASSWORD or bearer:TOKEN")
        if code == 404:
            return RemoteError(f"{where}: no SPARQL service there (HTTP 404)",
                               hint="check the URL: Oxigraph answers on /query, Fuseki on /DATASET/query, "
                                    "Virtuoso on /sparql")
        if code in (413, 414):
            return RemoteError(f"{where}: the request is too large for the server (HTTP {code})")
        if code == 504:
            return RemoteTimeout(f"{where}: a gateway timed out (HTTP 504)")
        return RemoteError(f"{where}: the server failed (HTTP {code})" + (f": {text}" if text else ""))


class _RetryLater(Exception):
    def __init__(self, error: RemoteError, wait: float | None) -> None:
        super().__init__(str(error))
        self.error, self.wait = error, wait


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        from email.utils import parsedate_to_datetime
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _readable(raw: bytes, content_type: str) -> str:
    """A short, one-line text from an error body (HTML pages reduced to their text)."""
    text = raw.decode("utf-8", errors="replace")
    if "html" in content_type.lower() or text.lstrip().startswith("<"):
        text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
        text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:300] + ("…" if len(text) > 300 else "")


# ---- reading: results as pyoxigraph's own types -------------------------------------------------

RESULTS_JSON = "application/sparql-results+json"
RDF_ACCEPT = "application/n-triples, text/turtle;q=0.9, application/rdf+xml;q=0.5"


def query_form(text: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE: the first keyword after the prologue, comments aside.

    >>> query_form('PREFIX p: <http://x#> # SELECT\\nCONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }')
    'CONSTRUCT'
    """
    from .queries import _segments

    code = " ".join(part if is_code else ("" if part.startswith("#") else " <> ") for is_code, part in _segments(text))
    code = re.sub(r"^\s*((PREFIX\s+[^\s:]*:\s*<>|BASE\s*<>)\s*)*", "", code, flags=re.I)
    m = re.match(r"\s*(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", code, re.I)
    return m.group(1).upper() if m else "SELECT"  # not recognised: the server's parser says what is wrong


def _banner(body: bytes, where: str) -> None:
    tail = body[-4096:]
    if any(b in tail for b in BANNERS):
        raise PartialAnswer(f"{where}: the server cut the answer short and said so "
                            "(\"Incomplete results\": its query timeout struck while it was sending)",
                            hint="raise the server's query timeout (Fuseki: arq:queryTimeout), or narrow the query")


def solutions_from(answer: Answer, where: str) -> Any:
    """pyoxigraph ``QuerySolutions`` / ``QueryBoolean`` from a SPARQL JSON answer, checked whole first."""
    if answer.media_type not in (RESULTS_JSON, "application/json"):
        hint = "is this URL a SPARQL endpoint?"
        if answer.media_type == "text/html" and urllib.parse.urlsplit(where).path in ("", "/"):
            hint = (f"this is a web page, not the query endpoint: for Oxigraph server give "
                    f"{where.rstrip('/')}/query (Fuseki: …/DATASET/sparql)")
        raise PartialAnswer(f"{where}: expected SPARQL JSON results, got {answer.media_type or 'no content type'}",
                            hint=hint)
    _banner(answer.body, where)
    # pyoxigraph's parser objects must be dropped by the thread that made them: none may outlive
    # this frame through an exception's traceback, hence no raise inside the try.
    error, parsed = None, None
    try:
        parsed = ox.parse_query_results(answer.body, format=ox.QueryResultsFormat.JSON)
        if not isinstance(parsed, ox.QueryBoolean):
            for _ in parsed:  # the parser is lazy: read to the end, so a cut body fails here, not later
                pass
    except SyntaxError as exc:
        error = str(exc)
    finally:
        del parsed
    if error is not None:
        raise PartialAnswer(f"{where}: the answer is not whole SPARQL JSON results ({error})",
                            hint="the answer was cut short, or the server appended text to it")
    return ox.parse_query_results(answer.body, format=ox.QueryResultsFormat.JSON)


def _rows(answer: Answer, where: str) -> list[Any]:
    """The solutions as a list: the engine's own lookups keep no parser object in a frame that an
    exception's traceback could carry to another thread (pyoxigraph objects are thread-bound)."""
    return list(solutions_from(answer, where))


def triples_from(answer: Answer, where: str) -> list[ox.Triple]:
    fmt = ox.RdfFormat.from_media_type(answer.media_type) if answer.media_type else None
    if fmt is None:
        raise PartialAnswer(f"{where}: expected RDF, got {answer.media_type or 'no content type'}")
    _banner(answer.body, where)
    error, parser, out = None, None, []
    try:
        parser = ox.parse(answer.body, format=fmt)
        out = [ox.Triple(t.subject, t.predicate, t.object) for t in parser]
    except SyntaxError as exc:
        error = str(exc)
    finally:
        del parser  # dropped by this thread (see solutions_from)
    if error is not None:
        raise PartialAnswer(f"{where}: the answer is not whole {answer.media_type} ({error})")
    return out


def as_query_triples(triples: Iterable[ox.Triple]) -> ox.QueryTriples:
    """A real ``QueryTriples`` (what pyoxigraph returns for CONSTRUCT), from a list of triples."""
    mem = ox.Store()
    mem.extend(ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in triples)
    return mem.query("CONSTRUCT WHERE { ?s ?p ?o }")


def _term(term: Any) -> str | None:
    """A pattern position in SPARQL: a constant, or None for a variable (blank nodes cannot be named)."""
    if term is None or isinstance(term, ox.BlankNode):
        return None
    if isinstance(term, ox.NamedNode):
        return f"<{term.value}>"
    return str(term)


class RemoteDB:
    """The part of pyoxigraph's ``Store`` API the engine uses, answered by a remote server."""

    def __init__(self, client: Client, graphs: list[str], revision: str | None = None) -> None:
        self.client = client
        self.graphs = graphs  # our named graphs, as push wrote them: the dataset of every query
        self.revision = revision  # the revision graph when this handle was opened (see REVISION)

    def query(self, query: str, *, default_graph: Any = None, named_graphs: Any = None, base_iri: str | None = None,
              use_default_graph_as_union: bool = False, substitutions: Any = None) -> Any:
        """Like ``pyoxigraph.Store.query``: with ``default_graph`` the named graphs stay visible
        (pyoxigraph's behaviour; the protocol alone would empty them), so they are listed too."""
        if substitutions:
            raise UsageError("substitutions are not sent to a remote store", hint="bind values into the text")
        if use_default_graph_as_union:
            default_graph = [ox.NamedNode(g) for g in self.graphs]
        form = query_form(query)
        if base_iri:
            query = f"BASE <{base_iri}>\n{query}"
        default = None if default_graph is None else [g.value for g in _listed(default_graph)]
        named = None if named_graphs is None else [g.value for g in _listed(named_graphs)]
        if default is not None and named is None:
            named = list(self.graphs)
        # An empty list cannot be said with protocol parameters: none are sent, and the server's own
        # default graph, which push leaves empty, answers instead.
        accept = RESULTS_JSON if form in ("SELECT", "ASK") else RDF_ACCEPT
        answer = self.client.query(query, accept, default or (), named or ())
        where = self.client.endpoints.shown
        if form in ("SELECT", "ASK"):
            return solutions_from(answer, where)
        return as_query_triples(triples_from(answer, where))

    def quads_for_pattern(self, subject: Any, predicate: Any, obj: Any, graph_name: Any = None) -> list[ox.Quad]:
        if any(isinstance(t, ox.BlankNode) for t in (subject, predicate, obj, graph_name)):
            return []  # a remote blank node has no name a query can give
        s, p, o = _term(subject) or "?s", _term(predicate) or "?p", _term(obj) or "?o"
        where = self.client.endpoints.shown
        if isinstance(graph_name, ox.NamedNode):
            answer = self.client.query(f"CONSTRUCT {{ {s} {p} {o} }} WHERE {{ GRAPH {graph_name} {{ {s} {p} {o} }} }}",
                                       RDF_ACCEPT)
            return [ox.Quad(t.subject, t.predicate, t.object, graph_name) for t in triples_from(answer, where)]
        if isinstance(graph_name, ox.DefaultGraph):
            text = f"SELECT * WHERE {{ {s} {p} {o} }}"
            graph_part = None
        else:
            text = f"SELECT * WHERE {{ GRAPH ?g {{ {s} {p} {o} }} }}"
            graph_part = "g"
        rows = _rows(self.client.query(text, RESULTS_JSON, (), self.graphs if graph_part else ()), where)
        out = []
        for row in rows:
            out.append(ox.Quad(subject if s != "?s" else row["s"], predicate if p != "?p" else row["p"],
                               obj if o != "?o" else row["o"],
                               row["g"] if graph_part else ox.DefaultGraph()))
        return out

    def named_graphs(self) -> Iterator[ox.NamedNode]:
        rows = _rows(self.client.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { } }", RESULTS_JSON),
                     self.client.endpoints.shown)
        return iter([r["g"] for r in rows if isinstance(r["g"], ox.NamedNode)])

    def update(self, update: str, base_iri: str | None = None) -> None:
        """One update request, applied only if the remote is still at the revision this handle
        read (a compare-and-swap on the revision graph); the next revision is written with it.

        Raises:
            RemoteConflict: someone wrote the remote store since; nothing was written.
        """
        where = self.client.endpoints.shown
        if self.revision is None:
            raise RemoteError(f"{where}: this store has no revision graph, so a change cannot be checked against it",
                              hint="push the store again with this version of pole-graph")
        token = uuid.uuid4().hex
        new = REVISION + token
        text = (f"DROP GRAPH <{self.revision}> ;\n{update} ;\n"
                f"INSERT DATA {{ GRAPH <{new}> {{ <{BUILD_GRAPH}> <{DCT}identifier> \"{token}\" }} }}")
        try:
            self.client.update((f"BASE <{base_iri}>\n" if base_iri else "") + text,
                               deadline=max(self.client.endpoints.read_timeout, 120.0))
        except (RemoteError, RemoteQueryError):
            if read_revision(self.client) != self.revision:
                raise RemoteConflict(f"{where}: the remote store changed while this change was being checked "
                                     "(another steward's change, or a push); nothing was written",
                                     hint="run the command again: it checks against the current graph") from None
            raise
        self.revision = new

    def flush(self) -> None:
        pass  # the server commits each update request


def _listed(graphs: Any) -> list[Any]:
    if isinstance(graphs, (ox.NamedNode, ox.DefaultGraph)):
        return [graphs]
    return list(graphs)


@dataclass
class RemoteStore:
    """A remote SPARQL 1.1 server holding what ``push`` wrote: reads like ``GraphStore``."""

    endpoints: Endpoints
    db: RemoteDB
    info: dict
    path: None = None

    @classmethod
    def open(cls, endpoints: Endpoints) -> "RemoteStore":
        """Connect and read what push stored (the build's information, our graphs).

        Raises:
            RemoteUnavailable: the server does not answer. StoreMissingError: nothing pushed there.
        """
        client = Client(endpoints)
        info, graphs = read_build(client)
        if info is None:
            raise StoreMissingError(f"{endpoints.shown}: no pole-graph data in this SPARQL store",
                                    hint=f"run `pole-graph push --endpoint {endpoints.shown}` first")
        return cls(endpoints, RemoteDB(client, graphs, read_revision(client)), info)

    def query(self, sparql: str) -> Any:
        """SPARQL with the knowledge graph (asserted + inferred) as the default graph, the other named
        graphs reachable with GRAPH: as ``GraphStore.query``."""
        from .store import KNOWLEDGE_GRAPH

        return self.db.query(sparql, default_graph=KNOWLEDGE_GRAPH)

    def dump(self, fmt: ox.RdfFormat, graphs: tuple[Any, ...]) -> bytes:
        from .store import GraphStore

        return GraphStore.dump(self, fmt, graphs)  # type: ignore[arg-type]  # only uses self.db

    def version(self) -> tuple:
        """What changes when the remote data changes (a push, a commit through pole-graph)."""
        return ("remote", read_revision(self.db.client))


def endpoints_from(settings: Any) -> Endpoints:
    return Endpoints.derive(settings.endpoint, settings.update_endpoint, settings.graph_store_endpoint,
                            auth=settings.endpoint_auth, connect_timeout=settings.connect_timeout,
                            read_timeout=settings.query_timeout)


def read_revision(client: Client) -> str | None:
    """The revision graph now on the remote (None if there is none)."""
    rows = _rows(client.query(f'SELECT ?g WHERE {{ GRAPH ?g {{ <{BUILD_GRAPH}> <{DCT}identifier> ?t }} '
                                       f'FILTER(STRSTARTS(STR(?g), "{REVISION}")) }}', RESULTS_JSON), client.endpoints.shown)
    found = sorted(r["g"].value for r in rows)
    return found[0] if len(found) == 1 else None


def read_build(client: Client) -> tuple[dict | None, list[str]]:
    """The build information and the graph list that push stored in graph/build (None, [] if none)."""
    rows = _rows(client.query(
        f"SELECT ?d ?g WHERE {{ GRAPH <{BUILD_GRAPH}> {{ <{BUILD_GRAPH}> <{DCT}description> ?d "
        f"OPTIONAL {{ <{BUILD_GRAPH}> <{DCT}hasPart> ?g }} }} }}", RESULTS_JSON), client.endpoints.shown)
    info, graphs = None, set()
    for row in rows:
        try:
            info = json.loads(row["d"].value)
        except ValueError:
            raise RemoteError(f"{client.endpoints.shown}: graph/build holds no readable build information",
                              hint="push again") from None
        if row["g"] is not None:
            graphs.add(row["g"].value)
    return info, sorted(graphs)


# ---- push -------------------------------------------------------------------------------------

def staging_name(graph: str) -> str:
    """``graph/data`` → ``graph/staging/data``; other IRIs get a digest.

    >>> staging_name("https://w3id.org/pole-graph/graph/data")
    'https://w3id.org/pole-graph/graph/staging/data'
    """
    prefix = f"{BASE}graph/"
    tail = graph[len(prefix):] if graph.startswith(prefix) else ""
    if not re.match(r"^[A-Za-z0-9_-]+$", tail):
        tail = "x-" + hashlib.sha256(graph.encode()).hexdigest()[:16]
    return STAGING + tail


def chunks(triples: Iterable[ox.Triple], size: int = CHUNK) -> Iterator[list[ox.Triple]]:
    """Triples in chunks of about ``size``; triples linked through blank nodes stay in one chunk,
    because each request's blank nodes are new nodes to the server."""
    parent: dict[ox.BlankNode, ox.BlankNode] = {}

    def find(b: ox.BlankNode) -> ox.BlankNode:
        root = b
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[b] != root:
            parent[b], b = root, parent[b]
        return root

    plain, linked = [], []
    for t in triples:
        blanks = [n for n in (t.subject, t.object) if isinstance(n, ox.BlankNode)]
        if not blanks:
            plain.append(t)
            continue
        first = find(blanks[0])
        for other in blanks[1:]:
            root = find(other)
            if root != first:
                parent[root] = first
        linked.append((blanks[0], t))
    groups: dict[ox.BlankNode, list[ox.Triple]] = {}
    for b, t in linked:
        groups.setdefault(find(b), []).append(t)
    chunk: list[ox.Triple] = []
    for group in list(groups.values()) + [[t] for t in plain]:
        chunk.extend(group)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def remote_counts(client: Client, graphs: Iterable[str]) -> dict[str, int]:
    graphs = list(graphs)
    if not graphs:
        return {}
    values = " ".join(f"<{g}>" for g in graphs)
    rows = _rows(client.query(f"SELECT ?g (COUNT(*) AS ?n) WHERE {{ VALUES ?g {{ {values} }} "
                                       f"GRAPH ?g {{ ?s ?p ?o }} }} GROUP BY ?g", RESULTS_JSON), client.endpoints.shown)
    counts = {g: 0 for g in graphs}
    counts.update({r["g"].value: int(r["n"].value) for r in rows})
    return counts


def _staging_graphs(client: Client) -> list[str]:
    rows = _rows(client.query(f'SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ }} FILTER(STRSTARTS(STR(?g), "{STAGING}")) }}',
                                       RESULTS_JSON), client.endpoints.shown)
    return sorted(r["g"].value for r in rows)


@dataclass
class PushReport:
    endpoint: str
    counts: dict[str, int]
    dropped: list[str]
    seconds: float

    def text(self) -> str:
        lines = [f"pushed to {self.endpoint} in {self.seconds:.1f} s:"]
        width = max((len(g) for g in self.counts), default=0)
        lines += [f"  {g:<{width}}  {n:>9} triples" for g, n in sorted(self.counts.items())]
        lines += [f"  dropped {g} (not in this build)" for g in self.dropped]
        return "\n".join(lines)


def push(store: Any, endpoints: Endpoints, progress: TextIO | None = None, chunk_size: int = CHUNK,
         write_timeout: float = 300.0) -> PushReport:
    """Load every graph of a built store into the remote store, swapped in at once.

    Args:
        store: a GraphStore (the local build).
        endpoints: the remote server.
        progress: where to print progress (standard error), or None.
    Returns:
        What was pushed: triples per graph, as counted on the remote after the swap.
    Raises:
        RemoteError and its kinds: the remote then holds its previous graphs (and maybe staging
        graphs, dropped by the next push).
    """
    started = time.monotonic()
    client = Client(endpoints)
    where = endpoints.shown
    _, previous = read_build(client)
    stale = _staging_graphs(client)
    if stale:  # left by an interrupted push
        client.update("".join(f"DROP SILENT GRAPH <{g}> ;\n" for g in stale).rstrip(";\n"), deadline=write_timeout)

    graphs = sorted(g.value for g in store.db.named_graphs())
    expected: dict[str, int] = {}
    total_graphs = len(graphs) + 1
    for i, graph in enumerate(graphs, 1):
        triples = [ox.Triple(q.subject, q.predicate, q.object)
                   for q in store.db.quads_for_pattern(None, None, None, ox.NamedNode(graph))]
        expected[graph] = len(triples)
        sent = 0
        for part in chunks(triples, chunk_size):
            client.upload(staging_name(graph), ox.serialize(part, format=ox.RdfFormat.N_TRIPLES), deadline=write_timeout)
            sent += len(part)
            _progress(progress, f"push: {_short(graph)} {sent}/{len(triples)} triples ({i}/{total_graphs} graphs)")
        if not triples:
            _progress(progress, f"push: {_short(graph)} empty ({i}/{total_graphs} graphs)")

    info = dict(store.info or {})
    build = [f"<{BUILD_GRAPH}> <{DCT}description> {ox.Literal(json.dumps(info, sort_keys=True, ensure_ascii=False), datatype=ox.NamedNode(RDF_JSON))} ."]
    build += [f"<{BUILD_GRAPH}> <{DCT}hasPart> <{g}> ." for g in graphs]
    build += [f"<{g}> <{VOID}triples> {ox.Literal(str(n), datatype=ox.NamedNode('http://www.w3.org/2001/XMLSchema#integer'))} ."
              for g, n in expected.items()]
    client.upload(staging_name(BUILD_GRAPH), ("\n".join(build) + "\n").encode("utf-8"), deadline=write_timeout)
    expected[BUILD_GRAPH] = len(build)
    _progress(progress, f"push: build information ({total_graphs}/{total_graphs} graphs)")

    staged = remote_counts(client, [staging_name(g) for g in expected])
    for graph, n in expected.items():
        if staged[staging_name(graph)] != n:
            raise RemoteError(f"{where}: staging graph {staging_name(graph)} holds {staged[staging_name(graph)]} "
                              f"triples, {n} were sent; nothing was swapped in",
                              hint="another push may be running; run push again when it is done")

    # One update request: the server applies it as one transaction, so readers see old or new.
    dropped = sorted(set(previous) - set(graphs))
    operations = []
    for graph, n in expected.items():
        operations.append(f"MOVE SILENT GRAPH <{staging_name(graph)}> TO GRAPH <{graph}>" if n
                          else f"DROP SILENT GRAPH <{graph}>")
    operations += [f"DROP SILENT GRAPH <{g}>" for g in dropped]
    revisions = _rows(client.query(f'SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ }} FILTER(STRSTARTS(STR(?g), "{REVISION}")) }}',
                                            RESULTS_JSON), where)
    operations += [f"DROP SILENT GRAPH <{r['g'].value}>" for r in revisions]
    token = uuid.uuid4().hex
    operations.append(f"INSERT DATA {{ GRAPH <{REVISION}{token}> {{ <{BUILD_GRAPH}> <{DCT}identifier> \"{token}\" }} }}")
    _progress(progress, f"push: swapping {len(expected)} graphs in")
    # The swap rewrites every triple (199 s for 1.9M on Oxigraph, measured): give it an hour at least.
    client.update(" ;\n".join(operations), deadline=max(write_timeout, 3600.0))
    _progress(progress, "push: swapped; checking the counts")

    after = remote_counts(client, list(expected) + dropped)
    wrong = {g: (after[g], expected.get(g, 0)) for g in after if after[g] != expected.get(g, 0)}
    if wrong:
        listed = ", ".join(f"{_short(g)} has {a}, expected {e}" for g, (a, e) in sorted(wrong.items()))
        raise RemoteError(f"{where}: after the swap, {listed}", hint="another writer changed the store; push again")
    if progress is not None and progress.isatty():
        print(file=progress)
    return PushReport(where, {g: after[g] for g in expected}, dropped, time.monotonic() - started)


def _short(graph: str) -> str:
    return graph[len(BASE):] if graph.startswith(BASE) else graph


def _progress(stream: TextIO | None, text: str) -> None:
    if stream is None:
        return
    if stream.isatty():
        stream.write("\r\033[K" + text)
    else:
        stream.write(text + "\n")
    stream.flush()


__all__ = ["BUILD_GRAPH", "Client", "Endpoints", "PartialAnswer", "PushReport", "RemoteConflict", "RemoteDB", "RemoteError",
           "RemoteQueryError", "RemoteStore", "RemoteTimeout", "RemoteUnavailable", "push"]
