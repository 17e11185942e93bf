"""Limits: what one request, and one client, may ask of the server.

Part of *publish* (the web app). Two ASGI middlewares and the helpers the routes call:

- ``RequestLimits`` refuses an over-long request target (414), an over-long header line or too many
  header bytes (431) and a body above ``max_body`` (413) — by its Content-Length before reading it,
  and for a chunked body as soon as the count passes the cap, so nothing large is ever buffered.
- ``ClientBudget`` gives each client (its peer address; ``X-Forwarded-For`` only from a trusted
  proxy) a rolling window of query time and of error answers, as Wikidata's query service does; a
  client past either gets 429 with ``Retry-After``, the others are not affected.
- ``metered`` charges the engine time of one answer to its client; ``check_values`` (400) and
  ``check_terms`` (413) cap IRIs and literals in stored-query parameters and uploaded records.
- ``uvicorn_options`` gives ``pole-graph serve`` a parser that enforces the URL and header caps
  while it reads (httptools itself has none: without it a client could make the server hold a
  header of any size before the app sees it).

It decides nothing about queries or data beyond their size, and reads no settings of its own.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Awaitable, Callable, Iterator, Mapping

from .errors import PoleGraphError
from .settings import Settings

METER = "pole_graph.meter"  # the scope key of the request's Meter
REASONS = {408: "Request Timeout", 413: "Content Too Large", 414: "URI Too Long", 429: "Too Many Requests",
           431: "Request Header Fields Too Large"}
QUERY_PATHS = ("/sparql", "/api/queries")


class LimitError(PoleGraphError):
    """A request past one of the limits; ``http_status`` is 400 (a parameter value), 413, 414, 429 or 431."""

    def __init__(self, status: int, message: str, *, hint: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.http_status = status
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        headers = {"Connection": "close"} if self.http_status in (413, 414, 431) else {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


Refuse = Callable[[Any, PoleGraphError], Awaitable[Any]]


async def _send_error(scope, receive, send, error: LimitError, refuse: Refuse | None) -> None:
    """Answer with ``refuse`` (the app's error page: HTML or problem+json by Accept), else JSON."""
    if refuse is not None:
        from starlette.requests import Request

        response = await refuse(Request(scope, receive), error)
        response.headers.update(error.headers())
        return await response(scope, receive, send)
    body = json.dumps(_problem(error)).encode("utf-8")
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers().items()]
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _problem(error: LimitError) -> dict[str, Any]:
    body = {"type": "about:blank", "title": REASONS.get(error.http_status, "Error"), "status": error.http_status,
            "detail": error.message}
    if error.hint:
        body["hint"] = error.hint
    return body


# ---- one request ---------------------------------------------------------------------------------

def url_error(length: int, cap: int) -> LimitError:
    return LimitError(414, f"the request target is {length} bytes long; the limit is {cap}",
                      hint="send a long query with POST (application/sparql-query, or a form), "
                           "or ask the operator to raise POLE_GRAPH_MAX_URL")


def header_error(what: str, length: int, cap: int, setting: str) -> LimitError:
    return LimitError(431, f"{what} {length} bytes; the limit is {cap}",
                      hint=f"send fewer or shorter headers (cookies?), or ask the operator to raise {setting}")


def body_error(cap: int, length: int | None = None) -> LimitError:
    told = f"the request body is {length} bytes" if length is not None else "the request body passed the limit"
    return LimitError(413, f"{told}; the limit is {cap} bytes",
                      hint="split the file, or ask the operator to raise POLE_GRAPH_MAX_BODY")


def head_error(scope: Mapping[str, Any], settings: Settings) -> LimitError | None:
    """The first cap the request line and headers pass, or None."""
    target = len(scope.get("raw_path") or scope["path"].encode("utf-8"))
    if scope.get("query_string"):
        target += 1 + len(scope["query_string"])
    if target > settings.max_url:
        return url_error(target, settings.max_url)
    total = 0
    for name, value in scope.get("headers", []):
        line = len(name) + 2 + len(value)
        if line > settings.max_header:
            return header_error(f"the header {name.decode('latin-1')[:100]!r} takes", line, settings.max_header,
                                "POLE_GRAPH_MAX_HEADER")
        total += line + 2
    if total > settings.max_headers:
        return header_error("the request's headers take", total, settings.max_headers, "POLE_GRAPH_MAX_HEADERS")
    return None


class RequestLimits:
    """ASGI middleware: the URL, header and body caps of ``settings`` (414, 431, 413).

    A body is counted as it arrives: a Content-Length above the cap is refused before any byte is
    read, and a chunked body as soon as its running count passes the cap (the route reading it
    gets the error, which the app answers as usual). The refusals close the connection, so the
    rest of an unwanted upload is not read.
    """

    def __init__(self, app, settings: Settings, refuse: Refuse | None = None) -> None:
        self.app, self.settings, self.refuse = app, settings, refuse

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        error = head_error(scope, self.settings)
        cap = self.settings.max_body
        if error is None:
            declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
            if declared is not None and declared.strip().isdigit() and int(declared) > cap:
                error = body_error(cap, int(declared))
        if error is not None:
            return await _send_error(scope, receive, send, error, self.refuse)
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise body_error(cap)
            return message

        async def closing(message) -> None:  # a 413 raised by ``counted``: drop the connection after it
            if message["type"] == "http.response.start" and message["status"] == 413 and seen > cap:
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"connection" for k, _ in headers):
                    message = {**message, "headers": headers + [(b"connection", b"close")]}
            await send(message)

        await self.app(scope, counted, closing)


def check_values(values: Mapping[str, str], iri_names: set[str], settings: Settings) -> None:
    """Refuse (400, as any unacceptable parameter value) a value longer than its cap: ``max_iri`` for
    the names in ``iri_names`` (parameters naming a thing, which may be given as an IRI),
    ``max_literal`` for the others.

    >>> try:
    ...     check_values({"q": "x" * 10}, set(), Settings(max_literal=5))
    ... except LimitError as exc:
    ...     print(exc.http_status, exc.message)
    400 the parameter q is 10 characters long; the limit is 5 (POLE_GRAPH_MAX_LITERAL)
    """
    for name, value in values.items():
        iri = name in iri_names
        cap = settings.max_iri if iri else settings.max_literal
        if len(value) > cap:
            setting = "POLE_GRAPH_MAX_IRI" if iri else "POLE_GRAPH_MAX_LITERAL"
            raise LimitError(400, f"the parameter {name[:100]} is {len(value)} characters long; the limit is {cap} ({setting})",
                             hint="no thing, name or text of the graph is that long: check the value")


def check_terms(records: Any, settings: Settings) -> None:
    """Refuse (413) uploaded records holding an IRI longer than ``max_iri`` or a literal longer than
    ``max_literal``, naming the file, the line and the limit. ``records`` are ingest's
    SubmittedRecords (anything with ``file``, ``line`` and ``triples`` of rdflib terms)."""
    from rdflib import Literal, URIRef

    for record in records:
        for triple in record.triples:
            for term in triple:
                if isinstance(term, URIRef) and len(term) > settings.max_iri:
                    kind, cap, setting = "an IRI", settings.max_iri, "POLE_GRAPH_MAX_IRI"
                elif isinstance(term, Literal) and len(term) > settings.max_literal:
                    kind, cap, setting = "a literal", settings.max_literal, "POLE_GRAPH_MAX_LITERAL"
                else:
                    continue
                name = PurePath(record.file).name  # the name the client sent, not a temporary folder
                where = f"{name} line {record.line}" if record.line else name
                raise LimitError(413, f"{where}: {kind} of {len(term)} characters; the limit is {cap} ({setting})",
                                 hint="shorten the value, or ask the operator to raise " + setting)


# ---- one client ----------------------------------------------------------------------------------

class Meter:
    """Engine time charged to one request (seconds), filled in by the routes through ``metered``."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds = 0.0


@dataclass
class Measure:
    """What ``metered`` yields: set ``seconds`` to the engine's own figure when it gives one."""

    seconds: float | None = None


@contextmanager
def metered(request: Any) -> Iterator[Measure]:
    """Charge the time of the block (or the ``seconds`` the block reports) to the request's client.

    Used around every query evaluation of ``/sparql`` and ``/api/queries``; a query stopped at its
    deadline is charged the time it ran. Without ``ClientBudget`` in front, it measures nothing.
    """
    meter = request.scope.get(METER)
    measure = Measure()
    started = time.perf_counter()
    try:
        yield measure
    finally:
        if meter is not None:
            meter.seconds += measure.seconds if measure.seconds is not None else time.perf_counter() - started


@dataclass
class Account:
    """One client's spending: (when, seconds) of its answers and the times of its errors, in the window."""

    costs: deque = field(default_factory=deque)
    errors: deque = field(default_factory=deque)
    spent: float = 0.0

    def forget(self, before: float) -> None:
        while self.costs and self.costs[0][0] <= before:
            self.spent -= self.costs.popleft()[1]
        while self.errors and self.errors[0] <= before:
            self.errors.popleft()
        if not self.costs:
            self.spent = 0.0  # no float drift once the window is empty

    def wait(self, now: float, window: float, seconds: float, errors: int) -> float:
        """Seconds until this client is within both budgets again (0: it is)."""
        wait = 0.0
        if seconds and self.spent >= seconds:
            left = self.spent
            for when, cost in self.costs:
                left -= cost
                if left < seconds:
                    wait = max(wait, when + window - now)
                    break
        if errors and len(self.errors) >= errors:
            wait = max(wait, self.errors[len(self.errors) - errors] + window - now)
        return max(0.0, wait)


class ClientBudget:
    """ASGI middleware: per client, a rolling window of query time and of errors (429 beyond).

    The client is the peer address (``scope["client"]``); when the peer is one of
    ``settings.trusted_proxies``, the right-most address of ``X-Forwarded-For`` that is not a
    trusted proxy. Query time is the engine time of ``/sparql`` and ``/api/queries`` answers
    (reported by the routes through ``metered``; an answer from the response cache costs nothing);
    errors are answers with a 4xx or 5xx status other than this middleware's own 429. A client past
    either budget gets 429 with ``Retry-After``: the seconds until enough of its spending leaves
    the window. Nothing is kept about clients that spent nothing within the window.
    """

    def __init__(self, app, settings: Settings, refuse: Refuse | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.app, self.settings, self.refuse, self.clock = app, settings, refuse, clock
        self.accounts: dict[str, Account] = {}
        self._pruned = clock()
        self.refused = 0

    def client(self, scope) -> str:
        peer = (scope.get("client") or ("unknown", 0))[0]
        trusted = self.settings.trusted_proxies
        if peer not in trusted:
            return peer
        forwarded = b",".join(v for k, v in scope.get("headers", []) if k == b"x-forwarded-for").decode("latin-1")
        for address in reversed([a.strip() for a in forwarded.split(",") if a.strip()]):
            if address not in trusted:
                return address
        return peer

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        settings = self.settings
        if not settings.budget_query_time and not settings.budget_errors:
            return await self.app(scope, receive, send)
        now = self.clock()
        who = self.client(scope)
        self._prune(now)
        account = self.accounts.get(who)
        if account is not None:
            account.forget(now - settings.budget_window)
            wait = account.wait(now, settings.budget_window, settings.budget_query_time, settings.budget_errors)
            if wait > 0:
                self.refused += 1
                return await _send_error(scope, receive, send, self._error(account, wait), self.refuse)
        meter = scope[METER] = Meter()
        status: list[int] = []

        async def watch(message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            failed = not status or status[0] >= 400
            if meter.seconds or failed:
                end = self.clock()
                account = self.accounts.setdefault(who, Account())
                if meter.seconds and scope["path"].startswith(QUERY_PATHS):
                    account.costs.append((end, meter.seconds))
                    account.spent += meter.seconds
                if failed:
                    account.errors.append(end)

    def _error(self, account: Account, wait: float) -> LimitError:
        s = self.settings
        seconds = math.ceil(wait)
        if s.budget_errors and len(account.errors) >= s.budget_errors:
            spent = f"{len(account.errors)} error answers in the last {s.budget_window:g} s (the limit is {s.budget_errors})"
        else:
            spent = f"{account.spent:.1f} s of query time in the last {s.budget_window:g} s (the limit is {s.budget_query_time:g} s)"
        return LimitError(429, f"too many requests from your address: {spent}; try again in {seconds} s",
                          hint="wait for Retry-After; make queries cheaper (LIMIT, selective patterns) or check "
                               "why they fail; for the whole graph, download a dump from /data/pole-graph",
                          retry_after=seconds)

    def _prune(self, now: float) -> None:
        if now - self._pruned < self.settings.budget_window:
            return
        self._pruned = now
        before = now - self.settings.budget_window
        for who in list(self.accounts):
            account = self.accounts[who]
            account.forget(before)
            if not account.costs and not account.errors:
                del self.accounts[who]


# ---- the HTTP parser -----------------------------------------------------------------------------

class _Refused(Exception):
    """Raised in a parser callback to stop reading a request past a cap."""


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``: an HTTP protocol enforcing the URL and header caps
    while it parses. Without httptools, h11's own bound on an incomplete request head is set."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return {"http": "h11", "h11_max_incomplete_event_size": settings.max_url + settings.max_headers + 1024}

    class LimitedHttpToolsProtocol(HttpToolsProtocol):
        """httptools, with the caps counted as the request line and headers arrive.

        The request target and each header are counted exactly in the parser's callbacks; and a
        head still unfinished after more than ``max_url + max_headers`` bytes (a single endless
        header, which httptools would keep growing before calling back) is refused by its byte count.
        """

        limits = settings
        _head_timer: Any = None

        # A request's line and headers must arrive within ``head_timeout`` of the connection or of
        # the request's first byte (uvicorn arms no timer before a first response: a client sending
        # nothing, or one header byte at a time, held its connection for ever).
        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_head_timer()
            super().connection_lost(exc)

        def _arm_head_timer(self) -> None:
            self._cancel_head_timer()
            self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.transport.is_closing():
                return
            if getattr(self, "_head_open", False):
                self._refusal = LimitError(408, f"the request's headers did not arrive within {self.limits.head_timeout:g} s",
                                           hint="send the whole request head at once (POLE_GRAPH_HEAD_TIMEOUT)")
                self.send_400_response("")
            elif self.cycle is None:  # connected, sent nothing
                self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head_open, self._head_bytes, self._url_bytes, self._header_bytes = True, 0, 0, 0
            self._refusal: LimitError | None = None
            if self._head_timer is None:  # the next request on a kept-alive connection
                self._arm_head_timer()

        def on_url(self, url: bytes) -> None:
            self._url_bytes += len(url)
            if self._url_bytes > self.limits.max_url:
                self._refusal = url_error(self._url_bytes, self.limits.max_url)
                raise _Refused
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            line = len(name) + 2 + len(value)
            self._header_bytes += line + 2
            if line > self.limits.max_header:
                self._refusal = header_error(f"the header {name.decode('latin-1')[:100]!r} takes", line,
                                             self.limits.max_header, "POLE_GRAPH_MAX_HEADER")
                raise _Refused
            if self._header_bytes > self.limits.max_headers:
                self._refusal = header_error("the request's headers take", self._header_bytes,
                                             self.limits.max_headers, "POLE_GRAPH_MAX_HEADERS")
                raise _Refused
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._head_open = False
            self._cancel_head_timer()
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            # Only bytes read while a head was already open count: the chunk a request starts in
            # may end the previous one (bounded by the transport's read size).
            was_open = getattr(self, "_head_open", False)
            super().data_received(data)
            if was_open and self._head_open and not self.transport.is_closing():
                self._head_bytes += len(data)
                if self._head_bytes > self.limits.max_url + self.limits.max_headers:
                    self._refusal = header_error("the request's headers, still unfinished, take more than", self._head_bytes,
                                                 self.limits.max_headers, "POLE_GRAPH_MAX_HEADERS")
                    self.send_400_response("")

        def send_400_response(self, msg: str) -> None:  # uvicorn's answer to a parser error
            refusal = getattr(self, "_refusal", None)
            if refusal is None:
                return super().send_400_response(msg)
            if self.cycle is not None and not self.cycle.response_complete:
                self.transport.close()  # an answer to a pipelined request is still being written
                return
            body = json.dumps(_problem(refusal)).encode("utf-8")
            head = (f"HTTP/1.1 {refusal.http_status} {REASONS[refusal.http_status]}\r\n"
                    "content-type: application/problem+json\r\nx-content-type-options: nosniff\r\n"
                    f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode("latin-1")
            self.transport.write(head + body)
            self.transport.close()

    return {"http": LimitedHttpToolsProtocol}
