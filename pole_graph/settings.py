"""Settings: one frozen dataclass, read at the entry points only (CLI `main`, later the app factory).

Library code receives a Settings and never reads ``os.environ`` itself. Every setting is listed in
``SETTINGS_DOC`` (a test checks each field is documented there and in docs/configuration.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping

from .errors import UsageError

DEFAULT_BASE = "https://w3id.org/pole-graph/"

SETTINGS_DOC = {
    "store": ("POLE_GRAPH_STORE", "Path of the embedded on-disk store.", ".pole-graph/store"),
    "project": ("POLE_GRAPH_PROJECT", "Folder holding ontology/, data/ and queries/ (default: the installed content).", None),
    "lang": ("POLE_GRAPH_LANG", "Language of labels and messages: fr or en.", "fr"),
    "reasoner": ("POLE_GRAPH_REASONER", "OWL 2 RL engine for build: rules (fast, tested equal to owlrl) or owlrl (the reference).", "rules"),
    "validator": ("POLE_GRAPH_VALIDATOR", "SHACL engine for build: sparql (the shapes compiled to SPARQL on pyoxigraph, tested equal to pySHACL) or pyshacl (the reference).", "sparql"),
    "query_timeout": ("POLE_GRAPH_QUERY_TIMEOUT", "Seconds a query may run before it is stopped.", "30"),
    "host": ("POLE_GRAPH_HOST", "Address the server listens on.", "127.0.0.1"),
    "port": ("POLE_GRAPH_PORT", "Port the server listens on.", "8000"),
    "query_workers": ("POLE_GRAPH_QUERY_WORKERS", "Worker processes answering /sparql (each killed at its deadline); 0 runs queries in the server process, without a deadline.", "2"),
    "max_rows": ("POLE_GRAPH_MAX_ROWS", "Most rows (or triples) /sparql returns; the answer says when it was cut.", "10000"),
    "max_body": ("POLE_GRAPH_MAX_BODY", "Largest request body the server accepts, in bytes.", "5000000"),
    "max_query": ("POLE_GRAPH_MAX_QUERY", "Longest SPARQL query text the server accepts, in characters.", "100000"),
    "response_cache": ("POLE_GRAPH_RESPONSE_CACHE", "Keep GET answers per data version (1) or compute every answer (0).", "1"),
    "update_token": ("POLE_GRAPH_UPDATE_TOKEN", "Bearer token allowing SPARQL updates on /sparql; unset, the endpoint is read-only.", None),
    "endpoint": ("POLE_GRAPH_ENDPOINT", "Query URL of a remote SPARQL 1.1 server to use instead of the embedded store (see docs/scale-out.md); `push` loads it.", None),
    "update_endpoint": ("POLE_GRAPH_UPDATE_ENDPOINT", "Update URL of the remote server (default: the endpoint with /query changed to /update, else the endpoint itself).", None),
    "graph_store_endpoint": ("POLE_GRAPH_GRAPH_STORE_ENDPOINT", "Graph Store Protocol URL of the remote server, used by push to upload (default: /store for an endpoint at /query, as Oxigraph; else uploads go through SPARQL updates).", None),
    "endpoint_auth": ("POLE_GRAPH_ENDPOINT_AUTH", "Credentials for the remote server: basic:USER:PASSWORD or bearer:TOKEN (environment only; never printed).", None),
    "connect_timeout": ("POLE_GRAPH_CONNECT_TIMEOUT", "Seconds to wait for a connection to the remote server (reads then wait up to the query timeout).", "5"),
    "max_url": ("POLE_GRAPH_MAX_URL", "Longest request target (path and query string) the server accepts, in bytes (414 beyond).", "8192"),
    "max_header": ("POLE_GRAPH_MAX_HEADER", "Longest single request header line, in bytes (431 beyond).", "8192"),
    "max_headers": ("POLE_GRAPH_MAX_HEADERS", "Most bytes of request headers in all (431 beyond).", "32768"),
    "max_iri": ("POLE_GRAPH_MAX_IRI", "Longest IRI in a query parameter (400 beyond) or an uploaded record (413), in characters.", "4096"),
    "max_literal": ("POLE_GRAPH_MAX_LITERAL", "Longest literal in a query parameter (400 beyond) or an uploaded record (413), in characters.", "65536"),
    "query_memory": ("POLE_GRAPH_QUERY_MEMORY", "Megabytes of memory a /sparql query may take in its worker beyond the worker's own (the worker is stopped beyond, HTTP 503); 0: no cap.", "4096"),
    "head_timeout": ("POLE_GRAPH_HEAD_TIMEOUT", "Seconds a client may take to send a request's line and headers once connected or once it started one (408 and the connection closed beyond).", "10"),
    "budget_window": ("POLE_GRAPH_BUDGET_WINDOW", "Seconds of the rolling window of each client's budgets.", "60"),
    "budget_query_time": ("POLE_GRAPH_BUDGET_QUERY_TIME", "Seconds of query time one client may spend per window on /sparql and /api/queries (429 beyond; 0: no limit).", "120"),
    "budget_errors": ("POLE_GRAPH_BUDGET_ERRORS", "Error answers (4xx, 5xx) one client may receive per window (429 beyond; 0: no limit).", "60"),
    "trusted_proxies": ("POLE_GRAPH_TRUSTED_PROXIES", "Comma-separated addresses of reverse proxies whose X-Forwarded-For names the client (default: none; the client is the peer address).", None),
}


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with safe defaults.

    >>> Settings().lang
    'fr'
    """

    store: Path = Path(".pole-graph/store")
    project: Path | None = None
    lang: str = "fr"
    reasoner: str = "rules"
    validator: str = "sparql"
    query_timeout: float = 30.0
    host: str = "127.0.0.1"
    port: int = 8000
    query_workers: int = 2
    max_rows: int = 10_000
    max_body: int = 5_000_000
    max_query: int = 100_000
    response_cache: bool = True
    update_token: str | None = field(default=None, repr=False)
    endpoint: str | None = None
    update_endpoint: str | None = None
    graph_store_endpoint: str | None = None
    endpoint_auth: str | None = field(default=None, repr=False)
    connect_timeout: float = 5.0
    max_url: int = 8192
    max_header: int = 8192
    max_headers: int = 32_768
    max_iri: int = 4096
    max_literal: int = 65_536
    budget_window: float = 60.0
    head_timeout: float = 10.0
    query_memory: int = 4096
    budget_query_time: float = 120.0
    budget_errors: int = 60
    trusted_proxies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.lang not in ("fr", "en"):
            raise UsageError(f"unknown language {self.lang!r}", hint="use fr or en")
        if self.reasoner not in ("rules", "owlrl"):
            raise UsageError(f"unknown reasoner {self.reasoner!r}", hint="use rules or owlrl")
        if self.validator not in ("sparql", "pyshacl"):
            raise UsageError(f"unknown validator {self.validator!r}", hint="use sparql or pyshacl")
        if not self.query_timeout > 0:
            raise UsageError("the query timeout must be a positive number of seconds")
        if not 0 <= self.port < 65536:
            raise UsageError(f"port {self.port} is not between 0 and 65535")
        for name in ("max_rows", "max_body", "max_query", "max_url", "max_header", "max_headers", "max_iri", "max_literal"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be at least 1")
        if self.query_workers < 0:
            raise UsageError("query_workers cannot be negative")
        if not self.connect_timeout > 0:
            raise UsageError("the connect timeout must be a positive number of seconds")
        if self.query_memory < 0:
            raise UsageError("query_memory cannot be negative")
        if not self.head_timeout > 0:
            raise UsageError("the head timeout must be a positive number of seconds")
        if not self.budget_window > 0:
            raise UsageError("the budget window must be a positive number of seconds")
        if self.budget_query_time < 0 or self.budget_errors < 0:
            raise UsageError("a client budget cannot be negative (0 turns it off)")
        if self.endpoint:
            from .remote import Endpoints  # checks the URLs and the credentials' form

            Endpoints.derive(self.endpoint, self.update_endpoint, self.graph_store_endpoint, auth=self.endpoint_auth)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Settings from ``POLE_GRAPH_*`` variables, then explicit overrides (flags) on top."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            var = SETTINGS_DOC[f.name][0]
            if var in env and env[var] != "":
                values[f.name] = env[var]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**_coerce(values))

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **_coerce(changes))


def _coerce(values: dict[str, object]) -> dict[str, object]:
    out = dict(values)
    for key in ("store", "project"):
        if isinstance(out.get(key), str):
            out[key] = Path(out[key])  # type: ignore[arg-type]
    for key in ("port", "query_workers", "max_rows", "max_body", "max_query", "max_url", "max_header", "max_headers",
                "max_iri", "max_literal", "budget_errors", "query_memory"):
        if isinstance(out.get(key), str):
            try:
                out[key] = int(out[key])  # type: ignore[arg-type]
            except ValueError:
                raise UsageError(f"{SETTINGS_DOC[key][0]}: not a whole number: {out[key]!r}") from None
    if isinstance(out.get("response_cache"), str):
        flag = str(out["response_cache"]).strip().lower()
        if flag not in ("0", "1", "true", "false", "yes", "no", "on", "off"):
            raise UsageError(f"POLE_GRAPH_RESPONSE_CACHE: not a yes/no value: {out['response_cache']!r}")
        out["response_cache"] = flag in ("1", "true", "yes", "on")
    if isinstance(out.get("trusted_proxies"), str):
        out["trusted_proxies"] = tuple(a.strip() for a in str(out["trusted_proxies"]).split(",") if a.strip())
    for key in ("query_timeout", "connect_timeout", "budget_window", "budget_query_time", "head_timeout"):
        if isinstance(out.get(key), str):
            try:
                out[key] = float(out[key])  # type: ignore[arg-type]
            except ValueError:
                raise UsageError(f"{SETTINGS_DOC[key][0]}: not a number: {out[key]!r}") from None
    return out
