"""Publish: the whole linked-data site as static files, with content-negotiation rules for nginx and Apache.

Stage *publish*, for hosts that run no Python. Every file is an answer of the real app
(``server.create_app``), fetched in-process through httpx2's ASGI transport, never re-rendered here:
the static copy and the live server cannot drift apart. The documents are fetched by one worker
process per processor (pages are SPARQL- and template-bound), each with its own app on the store.

What it writes (``.en`` marks English; French is the site's default language):

    /                                   index.html, index.en.html
    /?region=53 (a filter a page links to)  index/region/53.html, index/region/53.en.html
    /doc/{type}/{key}                   doc/{type}/{key}.html, .en.html, .ttl, .jsonld, .rdf, .nt
    /def/core, /def/{scheme}[/{code}]   the same under def/
    /def/core/{version}                 the same; an earlier version has no page (the server answers Turtle)
    /data/pole-graph, /.well-known/void .ttl .jsonld .rdf .nt, and what a browser is sent: a page
                                        (.html, .en.html) or the Turtle as text (.txt)
    /data/dumps/{file}, /static/{file}, /openapi.json, /api (api.html, api.en.html), /api/queries (.json)
    errors                              404.html, 404.en.html; needs-server.html, .en.html, .json (501)
    nginx.conf, .htaccess               the rules, for nginx and Apache
    .pole-graph-publish.json            the marker: what was published, when, from which store

``Rules`` is the one description of how a static host answers: it writes ``nginx.conf`` and
``.htaccess``, and answers in Python the same way for the link check (the tests hold the three to
agreement against a real nginx and Apache). ``/id/…`` answers 303 to ``/doc/…``; a document is
chosen by extension, then ``?format=``, then Accept; a page by ``?lang=``, then Accept-Language.
What needs a running server (search, SPARQL, running stored queries, validation, home-page filters
no page links to) answers 501 with a page (or problem+json) saying so; an operator who also runs
``pole-graph serve`` proxies those paths to it (a commented line in each rules file).

Must not: write to the store (the server keeps its dumps beside it, ``{store}.dumps``, as it always
does), or leave a half-written site: the folder is built beside its target and swapped into place.
"""

from __future__ import annotations

import asyncio
import ctypes
import html
import json
import multiprocessing
import os
import re
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import unquote, urljoin, urlsplit

from . import __version__
from .errors import PoleGraphError, UsageError
from .formats import HTML, RDF_FORMATS
from .namespaces import BASE
from .settings import DEFAULT_BASE, Settings

MARKER = ".pole-graph-publish.json"
DOC_EXTENSIONS = ("ttl", "jsonld", "rdf", "nt")      # the RDF documents the server offers, in its order
LANG_SUFFIX = {"fr": "", "en": ".en"}                 # French is the default language of the site
SERVER_ONLY = r"^/(?:search|sparql|validate|api/validate|api/queries/.+)$"
HIDDEN = r"^/(?:nginx\.conf|\.htaccess|\.pole-graph-publish\.json)$"
DOCUMENTS = r"^/(?:doc|def)/.+$"                       # HTML unless asked otherwise
DESCRIPTIONS = r"^/(?:data/.+|\.well-known/void)$"      # Turtle unless asked otherwise (as the server)
# Where a path is looked for, in order: the path itself, then with each suffix. {variant} is the
# negotiated document (.ttl, or .html/.en.html), {text} is .txt when HTML was asked for (a
# description shown as text), {lang} is .en or nothing.
CHAINS = ((DOCUMENTS, ("", "{variant}", "{text}", "{lang}.html", ".ttl")),
          (DESCRIPTIONS, ("", "{variant}", "{text}", ".ttl")),
          (r"^/.+$", ("", "{lang}.html", ".json")))
SLUG = r"^[A-Za-z0-9_-]+$"
OWL = "http://www.w3.org/2002/07/owl#"
# Headers the app sends with every answer, copied from its answer into the rules.
POLICY_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options",
                  "strict-transport-security", "permissions-policy", "cross-origin-opener-policy",
                  "cross-origin-resource-policy", "access-control-allow-origin")
MEDIA_TYPES = {  # extension → Content-Type, as the server sends them (text/* with charset=utf-8, as Starlette)
    "html": HTML, "txt": "text/plain", "css": "text/css", "js": "text/javascript", "json": "application/json",
    **{ext: media for ext, (_, media) in RDF_FORMATS.items()}, "gz": "application/gzip",
    "svg": "image/svg+xml", "png": "image/png", "ico": "image/x-icon",
}
TEXT_TYPES = tuple(m for m in MEDIA_TYPES.values() if m.startswith("text/"))


# ---- the rules of the static host ------------------------------------------------------------------

def _full(media: str) -> str:
    """Accept names ``media`` at full quality (no q, or q=1)."""
    return r"(^|,)\s*" + re.escape(media) + r"\s*(;\s*q=1(\.0*)?\s*)?(,|$)"


def _accepted(media: str) -> str:
    """Accept names ``media`` with any quality but 0."""
    return r"(^|,)\s*" + re.escape(media) + r"\s*(,|$|;(?!\s*q=0(\.0*)?\s*(,|$)))"


# Media rules, the first that matches wins. A web server cannot weigh q-values, so two tiers stand in
# for them: a type named at full quality beats one named with a lower q; within a tier HTML comes
# first, then the RDF syntaxes in the server's order (what the server picks on a tie).
MEDIA_ORDER = [("html", HTML)] + [(ext, RDF_FORMATS[ext][1]) for ext in DOC_EXTENSIONS]
ACCEPT_RULES = [(ext, _full(media)) for ext, media in MEDIA_ORDER] + [(ext, _accepted(media)) for ext, media in MEDIA_ORDER]
# English when the first of fr/en that Accept-Language names is en (browsers list languages by preference).
ENGLISH = r"^(?:(?!\s*(?:fr|en)(?![a-z]))[^,]*,)*\s*en(?![a-z])"
JSON_ACCEPT, HTML_ACCEPT = "json", "text/html"


@dataclass(frozen=True)
class Answer:
    """What the static host answers: a status and the file served (or the redirect target)."""

    status: int
    file: str | None = None        # path under the site root, with a leading /
    location: str | None = None


@dataclass(frozen=True)
class Rules:
    """How a static host serves the published folder: one description, three renderings (nginx,
    Apache, and ``answer`` in Python for the link check).

    ``filters`` are the home page's filter parameters (one filter at a time is published);
    ``headers`` the policy headers the app sends with every answer (CSP, nosniff, CORS…).
    """

    filters: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    # -- Python ---------------------------------------------------------------------------------
    def answer(self, site: Path, url: str, accept: str | None = None, accept_language: str | None = None) -> Answer:
        """What nginx (or Apache) with the written rules answers for ``url`` (path and query)."""
        parts = urlsplit(url)
        path = unquote(parts.path) or "/"
        args: dict[str, str] = {}
        for pair in parts.query.split("&"):  # raw values, first one wins: nginx's $arg_name
            name, _, value = pair.partition("=")
            args.setdefault(name, value)
        lang = ".en" if re.search(ENGLISH, accept_language or "", re.I) else ""
        lang = {"en": ".en", "fr": ""}.get(args.get("lang", ""), lang)
        ext = next((e for e, rule in ACCEPT_RULES if re.search(rule, accept or "", re.I)), "default")
        if args.get("format") in ("html",) + DOC_EXTENSIONS:
            ext = args["format"]
        variant = lang + ".html" if ext == "html" else f".{ext}"
        text = ".txt" if ext == "html" else ".none"
        needs = f"/needs-server{lang}.html"
        if re.search(JSON_ACCEPT, accept or "", re.I) and not re.search(HTML_ACCEPT, accept or "", re.I):
            needs = "/needs-server.json"
        is_file = lambda p: (site / p.lstrip("/")).is_file()  # noqa: E731
        first = lambda *c: next((p for p in c if is_file(p)), None)  # noqa: E731
        not_found = Answer(404, f"/404{lang}.html")

        if path == "/":
            found = first(f"/index{self._filter(args)}{lang}.html")
            return Answer(200, found) if found else Answer(501, needs)
        if path.startswith("/data/dumps/"):
            return Answer(200, path) if is_file(path) else not_found
        if re.search(HIDDEN, path):
            return not_found
        m = re.match(r"^/id/(.+)$", path)
        if m:
            return Answer(303, location=f"/doc/{m.group(1)}" + (f"?{parts.query}" if parts.query else ""))
        if re.search(SERVER_ONLY, path):
            return Answer(501, needs)
        if path.endswith(".en.html"):
            found = first(path)
        elif path.endswith(".html"):
            found = first(f"{path[:-5]}{lang}.html", path)
        else:
            chain = next(suffixes for pattern, suffixes in CHAINS if re.search(pattern, path))
            found = first(*(path + s.format(variant=variant, text=text, lang=lang) for s in chain))
        return Answer(200, found) if found else not_found

    def _filter(self, args: dict[str, str]) -> str:
        out = ""
        for name in self.filters:
            value = args.get(name, "")
            if value:
                out += f"/{name}/" + (value if re.match(SLUG, value) else "~")
        return out

    # -- nginx ----------------------------------------------------------------------------------
    def nginx(self) -> str:
        """A snippet to include inside a ``server { }`` block whose ``root`` is the published folder."""
        def headers(*extra: tuple[str, str]) -> str:
            return "".join(f'    add_header {k} {_quoted(v)} always;\n' for k, v in extra + self.headers)

        def chain(suffixes: tuple[str, ...]) -> str:
            return " ".join("$uri" + s.format(variant="$pg_variant", text="$pg_text", lang="$pg_lang") for s in suffixes)

        def location(match: str, body: str, *extra: tuple[str, str]) -> str:
            return f"location {match} {{\n{headers(*extra)}    {body}\n}}\n"

        both = ("Vary", "Accept, Accept-Language")
        out = [f"# pole-graph {__version__}: nginx rules for the published site (written by `pole-graph publish`;",
               "# publish again rather than edit). Include inside the server block that serves this folder:",
               "#",
               "#     server {",
               "#         listen 80;",
               "#         server_name poles.example.gouv.fr;",
               "#         root /srv/pole-graph;                  # this folder, at the root of the site",
               "#         include /srv/pole-graph/nginx.conf;",
               "#     }",
               "#",
               "# Needs only nginx's standard modules (nginx-light is enough). Links are root-relative:",
               "# the folder must be the root of its host name.",
               "",
               "absolute_redirect off;",
               "charset utf-8;",
               "charset_types " + " ".join(t for t in TEXT_TYPES if t != HTML) + ";  # and text/html, always",
               "types {"]
        out += [f"    {media} {ext};" for ext, media in MEDIA_TYPES.items()]
        out += ["}", "default_type application/octet-stream;", ""]
        out += ["# Language: ?lang= first, then the first of fr/en named by Accept-Language; French by default.",
                'set $pg_lang "";', "set $pg_lang_code fr;",
                f'if ($http_accept_language ~* "{ENGLISH}") {{ set $pg_lang .en; set $pg_lang_code en; }}',
                'if ($arg_lang = "en") { set $pg_lang .en; set $pg_lang_code en; }',
                'if ($arg_lang = "fr") { set $pg_lang ""; set $pg_lang_code fr; }', "",
                "# Media type of documents: extension, then ?format=, then Accept (a type at full quality",
                "# beats one with a lower q; on a tie HTML, then Turtle, JSON-LD, RDF/XML, N-Triples).",
                "set $pg_ext default;"]
        out += [f'if ($http_accept ~* "{rule}") {{ set $pg_ext {ext}; }}' for ext, rule in reversed(ACCEPT_RULES)]
        out += ['if ($arg_format ~ "^(' + "|".join(("html",) + DOC_EXTENSIONS) + ')$") { set $pg_ext $1; }',
                "set $pg_variant .$pg_ext;", "set $pg_text .none;",
                "if ($pg_ext = html) { set $pg_variant $pg_lang.html; set $pg_text .txt; }", ""]
        if self.filters:
            out.append("# Home page: one filter at a time is published (index/{name}/{value}.html).")
            for name in self.filters:
                out += [f'set $pg_f_{name} "";',
                        f'if ($arg_{name} != "") {{ set $pg_f_{name} /{name}/~; }}',
                        f'if ($arg_{name} ~ "{SLUG}") {{ set $pg_f_{name} /{name}/$arg_{name}; }}']
            out.append("set $pg_filter " + '"' + "".join(f"$pg_f_{n}" for n in self.filters) + '";')
        else:
            out.append('set $pg_filter "";')
        out += ["", "# What needs the server answers 501, with a page (or problem+json) saying so.",
                "set $pg_needs /needs-server$pg_lang.html;",
                f'if ($http_accept ~* "{JSON_ACCEPT}") {{ set $pg_needs /needs-server.json; }}',
                f'if ($http_accept ~* "{HTML_ACCEPT}") {{ set $pg_needs /needs-server$pg_lang.html; }}',
                "error_page 501 $pg_needs;", "error_page 404 /404$pg_lang.html;", ""]
        out += [f"add_header {k} {_quoted(v)} always;" for k, v in self.headers]
        out.append("")
        out.append(location("= /", "try_files /index$pg_filter$pg_lang.html =501;", ("Vary", "Accept-Language"),
                            ("Content-Language", "$pg_lang_code")))
        out.append(location("^~ /data/dumps/", "try_files $uri =404;"))
        out.append(location(f'~ "{HIDDEN}"', "return 404;"))
        out.append(location('~ "^/id/(.+)$"', "return 303 /doc/$1$is_args$args;", ("Vary", "Accept")))
        out.append("# To offer these with a live `pole-graph serve`, replace `return 501;` with\n"
                   "#     proxy_pass http://127.0.0.1:8000;  proxy_set_header Host $host;\n")
        out.append(location(f'~ "{SERVER_ONLY}"', "return 501;"))
        out.append(location('~ "\\.en\\.html$"', "try_files $uri =404;", ("Vary", "Accept-Language"),
                            ("Content-Language", "en")))
        out.append(location('~ "^(?<pg_stem>/.+)\\.html$"', "try_files $pg_stem$pg_lang.html $uri =404;",
                            ("Vary", "Accept-Language"), ("Content-Language", "$pg_lang_code")))
        for pattern, suffixes in CHAINS:
            match, vary = (f'~ "{pattern}"', both) if pattern != CHAINS[-1][0] else ("/", ("Vary", "Accept-Language"))
            out.append(location(match, f"try_files {chain(suffixes)} =404;", vary))
        return "\n".join(out)

    # -- Apache ---------------------------------------------------------------------------------
    def htaccess(self) -> str:
        """Apache 2.4 rules (mod_rewrite, mod_headers, mod_mime) for the root of the published folder."""
        root = "%{CONTEXT_DOCUMENT_ROOT}/"
        out = [f"# pole-graph {__version__}: Apache 2.4 rules for the published site (written by `pole-graph publish`;",
               "# publish again rather than edit). Needs mod_rewrite, mod_headers and mod_mime, and",
               "# `AllowOverride FileInfo Options Indexes` for this folder (or copy these lines into its <Directory>).",
               "# Links are root-relative: the folder must be the DocumentRoot of its host name.",
               "",
               "Options -MultiViews -Indexes",
               "DirectoryIndex disabled",
               "# /def/core is a document and a folder (def/core/0.3.0…): no redirect to /def/core/",
               "DirectorySlash Off",
               "RemoveEncoding .gz"]
        out += [f"AddType {media} .{ext}" for ext, media in MEDIA_TYPES.items()]
        out += ["AddCharset utf-8 " + " ".join(f".{e}" for e, m in MEDIA_TYPES.items() if m in TEXT_TYPES),
                "AddLanguage en .en", '<FilesMatch "\\.html$">', "    DefaultLanguage fr", "</FilesMatch>",
                "ErrorDocument 404 /404.html", "ErrorDocument 501 /needs-server.html", "",
                "<IfModule mod_headers.c>"]
        out += [f"    Header always set {k} {_quoted(v)}" for k, v in self.headers]
        out += ['    Header always set Vary "Accept" "expr=%{REQUEST_URI} =~ m#^/id/#"',
                '    Header always set Vary "Accept, Accept-Language" "expr=%{REQUEST_URI} =~ m#^/(doc|def|data|\\.well-known)/#"',
                '    Header always set Vary "Accept-Language" "expr=%{REQUEST_URI} =~ m#^/(index|api)(/.*)?(\\.en)?\\.html$#"',
                "</IfModule>", "", "RewriteEngine On", "",
                "# Language (PG_LANG: .en or empty): ?lang= first, then the first of fr/en in Accept-Language.",
                f"RewriteCond %{{HTTP:Accept-Language}} {ENGLISH} [NC]",
                "RewriteRule ^ - [E=PG_LANG:.en]",
                "# (the request line, not QUERY_STRING: it is kept when an ErrorDocument is served)",
                "RewriteCond %{THE_REQUEST} ^\\S+\\s[^?\\s]*\\?([^\\s]*&)?lang=en(&|\\s)",
                "RewriteRule ^ - [E=PG_LANG:.en]",
                "RewriteCond %{THE_REQUEST} ^\\S+\\s[^?\\s]*\\?([^\\s]*&)?lang=fr(&|\\s)",
                "RewriteRule ^ - [E=!PG_LANG]", "",
                "# Media type of documents (PG_EXT): ?format=, then Accept; the last rule that matches wins.",
                "RewriteRule ^ - [E=PG_EXT:default]"]
        for ext, rule in reversed(ACCEPT_RULES):
            out += [f"RewriteCond %{{HTTP_ACCEPT}} {rule} [NC]", f"RewriteRule ^ - [E=PG_EXT:{ext}]"]
        out += ["RewriteCond %{QUERY_STRING} (^|&)format=(" + "|".join(("html",) + DOC_EXTENSIONS) + ")(&|$)",
                "RewriteRule ^ - [E=PG_EXT:%2]",
                "RewriteRule ^ - [E=PG_VARIANT:.%{ENV:PG_EXT},E=PG_TEXT:.none]",
                "RewriteCond %{ENV:PG_EXT} =html",
                "RewriteRule ^ - [E=PG_VARIANT:%{ENV:PG_LANG}.html,E=PG_TEXT:.txt]", ""]
        if self.filters:
            out.append("# Home page: one filter at a time is published (index/{name}/{value}.html).")
            for name in self.filters:
                out += [f"RewriteCond %{{QUERY_STRING}} (^|&){name}=[^&]",
                        f"RewriteRule ^$ - [E=PG_F_{name.upper()}:/{name}/~]",
                        f"RewriteCond %{{QUERY_STRING}} (^|&){name}=([A-Za-z0-9_-]+)(&|$)",
                        f"RewriteRule ^$ - [E=PG_F_{name.upper()}:/{name}/%2]"]
        filt = "".join(f"%{{ENV:PG_F_{n.upper()}}}" for n in self.filters)
        out += ["", "# What needs the server: 501 and a page (or problem+json) saying so.",
                "RewriteCond %{ENV:REDIRECT_STATUS} =501",
                "RewriteCond %{HTTP_ACCEPT} json [NC]",
                "RewriteCond %{HTTP_ACCEPT} !text/html [NC]",
                "RewriteRule ^needs-server\\.html$ needs-server.json [END]",
                "RewriteRule ^(nginx\\.conf|\\.htaccess|\\.pole-graph-publish\\.json)$ - [R=404,L]",
                "RewriteRule ^id/(.+)$ /doc/$1 [R=303,L]",
                "# To offer these with a live `pole-graph serve`, replace the next rule with (mod_proxy_http):",
                "#     RewriteRule ^(search|sparql|validate|api/validate|api/queries/.+)$ http://127.0.0.1:8000/$1 [P,L]",
                "RewriteRule ^(search|sparql|validate|api/validate|api/queries/.+)$ - [R=501,L]",
                "RewriteRule \\.en\\.html$ - [END]",
                "RewriteCond %{ENV:PG_LANG} =.en",
                f"RewriteCond {root}$1.en.html -f",
                "RewriteRule ^(.+)\\.html$ $1.en.html [END]",
                f"RewriteCond {root}index{filt}%{{ENV:PG_LANG}}.html -f",
                f"RewriteRule ^$ index{filt}%{{ENV:PG_LANG}}.html [END]",
                "RewriteRule ^$ - [R=501,L]",
                "RewriteRule ^data/dumps/ - [END]"]
        for pattern, suffixes in CHAINS:  # per-directory: the path without its leading /
            for s in suffixes[1:]:
                suffix = s.format(variant="%{ENV:PG_VARIANT}", text="%{ENV:PG_TEXT}", lang="%{ENV:PG_LANG}")
                out += [f"RewriteCond {root}$1 !-f", f"RewriteCond {root}$1{suffix} -f",
                        f"RewriteRule ^({pattern[2:-1]})$ $1{suffix} [END]"]
        return "\n".join(out) + "\n"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---- fetching from the app -------------------------------------------------------------------------

PAGE = "page"  # a Job's media for what a browser is sent: text/html, or text/plain, or an RDF document
ANY = "any"    # a Job's media for a file served as it is (static assets)
RDF_MEDIA = tuple(RDF_FORMATS[ext][1] for ext in DOC_EXTENSIONS)


@dataclass(frozen=True)
class Job:
    """One request to the app and the file its answer goes to (relative to the site root).

    A ``PAGE`` job writes ``file`` if the answer is HTML, ``{stem}.txt`` if it is plain text (a
    description with no page of its own), and nothing if it is RDF (the rules then serve the Turtle).
    """

    url: str
    file: str
    media: str                  # the Content-Type expected (without parameters), or PAGE
    accept: str = "*/*"
    lang: str = "fr"
    doc: str = ""               # the document the job is part of
    optional: bool = False      # a document all of whose jobs answer 404 is skipped, not an error
    status: int = 200

    def target(self, media: str) -> str | None:
        if self.media != PAGE:
            return self.file if self.accepts(media) else None
        if media == HTML:
            return self.file
        if media == "text/plain":
            return re.sub(r"(\.en)?\.html$", ".txt", self.file)
        return None

    def accepts(self, media: str) -> bool:
        return media == self.media or self.media == ANY or (self.media == PAGE and media in (HTML, "text/plain", *RDF_MEDIA))



@dataclass(frozen=True)
class Fetched:
    job: Job
    status: int
    media: str
    size: int


class Fetcher:
    """Requests to the real app, in-process (httpx2's ASGI transport): what a client would be sent."""

    def __init__(self, settings: Settings, origin: str) -> None:
        import httpx2

        from .server import create_app

        self.app = create_app(settings.with_(query_workers=0))
        self.client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.app), base_url=origin)

    async def get(self, url: str, accept: str = "*/*", lang: str = "fr"):
        return await self.client.get(url, headers={"accept": accept, "accept-language": lang})

    async def run(self, jobs: Iterable[Job], site: Path, concurrency: int = 4) -> list[Fetched]:
        """Run the jobs, several at a time (the app answers in its thread pool), writing their files."""
        gate = asyncio.Semaphore(concurrency)

        async def one(job: Job) -> Fetched:
            async with gate:
                response = await self.get(job.url, job.accept, job.lang)
            media = response.headers.get("content-type", "").split(";")[0].strip()
            file = job.target(media) if response.status_code == job.status else None
            if file:
                target = site / file
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(response.content)
            return Fetched(job, response.status_code, media, len(response.content))

        return list(await asyncio.gather(*(one(j) for j in jobs)))

    async def close(self) -> None:
        await self.client.aclose()
        self.app.state.pg.close()


def _run_jobs(settings: Settings, origin: str, site: Path, jobs: list[Job]) -> list[Fetched]:
    """Worker process: its own app on the store (read-only), the given jobs, their files written."""
    async def main() -> list[Fetched]:
        fetcher = Fetcher(settings, origin)
        try:
            return await fetcher.run(jobs, site)
        finally:
            await fetcher.close()

    return asyncio.run(main())


def _workers(jobs: int) -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8, jobs // 300))


# ---- what to publish ---------------------------------------------------------------------------------

def document_jobs(path: str, optional: bool = False, extensions: bool = True) -> list[Job]:
    """The page in each language and the four RDF documents of ``path`` (``/doc/pole/x``): by
    extension (``/doc/pole/x.ttl``), or by Accept where the server offers no extension."""
    stem = path.lstrip("/")
    jobs = [Job(path, f"{stem}{suffix}.html", PAGE, HTML, lang, path, optional) for lang, suffix in LANG_SUFFIX.items()]
    for ext in DOC_EXTENSIONS:
        media = RDF_FORMATS[ext][1]
        jobs.append(Job(f"{path}.{ext}" if extensions else path, f"{stem}.{ext}", media,
                        "*/*" if extensions else media, doc=path, optional=optional))
    return jobs


def described(store: Any) -> list[str]:
    """Paths of the documents about what the store describes: every ``id/…`` subject (``#`` parts
    belong to their document), the ontology, and each SKOS scheme and concept under ``def/``."""
    query = f"""PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
      SELECT DISTINCT ?s WHERE {{
        {{ ?s ?p ?o FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{BASE}id/")) }}
        UNION {{ ?s a skos:ConceptScheme FILTER(STRSTARTS(STR(?s), "{BASE}def/")) }}
        UNION {{ ?s skos:inScheme ?scheme FILTER(STRSTARTS(STR(?s), "{BASE}def/")) }}
        UNION {{ ?s a <{OWL}Ontology> FILTER(?s = <{BASE}def/core>) }} }}"""
    paths = set()
    for row in store.query(query):
        rest = row["s"].value[len(BASE):].split("#")[0]
        kind, _, key = rest.partition("/")
        if kind == "id" and re.match(r"^[a-z-]+/[A-Za-z0-9._-]+$", key):
            paths.add(f"/doc/{key}")
        elif kind == "def" and re.match(r"^[a-z-]+(/[A-Za-z0-9._-]+)?$", key):
            paths.add(f"/def/{key}")
    return sorted(paths)


LINK = re.compile(r'\b(?:href|src|action)\s*=\s*"([^"]*)"')  # the templates quote attributes with "


class _Forms(HTMLParser):
    """Names of the selects in GET forms that submit to the home page (its filters)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self._in_home_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            action = urlsplit(a.get("action") or "").path
            self._in_home_form = (a.get("method") or "get").lower() == "get" and action == "/"
        elif tag == "select" and self._in_home_form and a.get("name") not in (None, *self.names):
            self.names.append(a["name"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_home_form = False


def home_filters(page: str) -> tuple[str, ...]:
    """The home page's filters, read from its form (so a new filter is handled too).

    >>> home_filters('<form method="get" action="/#poles"><select name="phase"><option value="">all</option>'
    ...              '<option value="2005-2008">2005-2008</option></select></form>')
    ('phase',)
    """
    parser = _Forms()
    parser.feed(page)
    return tuple(parser.names)


def linked_filters(page: str, filters: tuple[str, ...]) -> set[tuple[str, str]]:
    """The single home-page filters a page links to (the map's regions, the chart's phases…): those are
    published; other filter values, and filters combined, need the server (a form is a query).

    >>> sorted(linked_filters('<a href="/?region=32">…</a> <a href="/?phase=2005-2008&amp;lang=fr#poles">…</a>',
    ...                       ("region", "phase")))
    [('phase', '2005-2008'), ('region', '32')]
    """
    found = set()
    for raw in LINK.findall(page):
        parts = urlsplit(html.unescape(raw))
        if parts.scheme or parts.netloc or parts.path != "/":
            continue
        chosen = [(k, v) for k, _, v in (p.partition("=") for p in parts.query.split("&")) if k in filters and v]
        if len(chosen) == 1 and re.match(SLUG, chosen[0][1]):
            found.add(chosen[0])
    return found


# ---- checking links ------------------------------------------------------------------------------------

def page_url(file: str) -> str:
    """The URL a written page answers at (for resolving its relative links)."""
    stem = re.sub(r"(\.en)?\.html$", "", "/" + file.lstrip("/"))
    return "/" if stem == "/index" else stem


@dataclass
class LinkCheck:
    pages: int = 0
    links: int = 0
    targets: set[str] = field(default_factory=set)          # distinct internal URLs linked to
    server_only: set[str] = field(default_factory=set)      # linked URLs that need the server (501)
    broken: list[tuple[str, str]] = field(default_factory=list)  # (page, link)


def check_links(site: Path, rules: Rules) -> LinkCheck:
    """Every internal link (href, src, form action) of every written page, answered by ``rules``:
    a file, a redirect to a file, or the needs-the-server page; anything else is broken."""
    result = LinkCheck()
    seen: dict[str, Answer] = {}
    for page in sorted(site.rglob("*.html")):
        rel = page.relative_to(site).as_posix()
        base = page_url(rel)
        result.pages += 1
        for raw in LINK.findall(page.read_text(encoding="utf-8")):
            link = html.unescape(raw)
            target = urljoin(base, link)
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue  # another site, mailto:, javascript:…
            url = parts.path + (f"?{parts.query}" if parts.query else "")
            result.links += 1
            result.targets.add(url)
            if url not in seen:
                answer, hops = rules.answer(site, url, HTML), 0
                while answer.status == 303 and hops < 5:
                    answer, hops = rules.answer(site, answer.location or "", HTML), hops + 1
                seen[url] = answer
            answer = seen[url]
            if answer.status == 501:
                result.server_only.add(url)
            elif answer.status != 200:
                result.broken.append((rel, link))
    return result


# ---- the report ------------------------------------------------------------------------------------------

@dataclass
class PublishReport:
    """What a publish wrote: files, bytes, seconds, and what it checked."""

    out: Path
    files: int
    bytes: int
    seconds: float
    documents: int
    workers: int
    origin: str
    links: LinkCheck
    skipped: list[str] = field(default_factory=list)    # described IRIs the server does not serve (404)
    lang: str = "fr"

    def text(self) -> str:
        fr = self.lang == "fr"
        size = f"{self.bytes / 1e6:.1f} MB"
        lines = [(f"publié : {self.out}" if fr else f"published: {self.out}"),
                 (f"  {self.files} fichiers, {size}, {self.documents} documents, en {self.seconds:.1f} s "
                  f"({self.workers} processus)") if fr else
                 (f"  {self.files} files, {size}, {self.documents} documents, in {self.seconds:.1f} s "
                  f"({self.workers} processes)"),
                 (f"  liens : {self.links.links} dans {self.links.pages} pages, {len(self.links.broken)} cassé(s), "
                  f"{len(self.links.server_only)} adresse(s) qui demandent le serveur (501)") if fr else
                 (f"  links: {self.links.links} in {self.links.pages} pages, {len(self.links.broken)} broken, "
                  f"{len(self.links.server_only)} address(es) needing the server (501)"),
                 (f"  openapi.json annonce le serveur {self.origin}" if fr else
                  f"  openapi.json names {self.origin} as its server"),
                 ("  règles : nginx.conf (à inclure dans un bloc server), .htaccess (Apache)" if fr else
                  "  rules: nginx.conf (include it in a server block), .htaccess (Apache)")]
        for path in self.skipped:
            lines.append((f"  non publié (le serveur répond 404) : {path}" if fr else
                          f"  not published (the server answers 404): {path}"))
        targets: dict[str, int] = {}
        for page, link in self.links.broken:
            target = urlsplit(urljoin(page_url(page), link)).path
            targets[target] = targets.get(target, 0) + 1
        for target, n in sorted(targets.items(), key=lambda t: -t[1])[:20]:
            lines.append((f"  lien cassé vers {target} ({n} fois)" if fr else f"  broken link to {target} ({n} times)"))
        return "\n".join(lines)


# ---- publish -----------------------------------------------------------------------------------------------

def publish(settings: Settings, out: Path, base_url: str | None = None) -> PublishReport:
    """Write the whole site as static files into ``out``, swapped into place when complete.

    Args:
        settings: where the store is (``settings.store``); ``lang`` is the report's language.
        out: the folder to write: absent, empty, or a previous publish (it has the marker file).
        base_url: the public address of the site (default https://w3id.org/pole-graph/); its origin
            is what ``/openapi.json`` names as the server, as a live server names itself.

    Returns:
        A PublishReport (files, bytes, seconds, links checked).

    Raises:
        UsageError: ``out`` holds something that is not a previous publish (nothing is written), or
            ``base_url`` is not an http(s) address.
        PoleGraphError: the app failed to answer, or the store changed while publishing (the previous
            site, if any, is left as it was).
    """
    started = time.perf_counter()
    out = Path(out).absolute()
    origin = _origin(base_url or DEFAULT_BASE)
    _refuse_foreign(out)
    version = _data_version(settings)  # and the usual message, before anything is written, if there is no store
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.publish-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        documents, workers, skipped, rules = asyncio.run(_build(settings, origin, staging))
        (staging / "nginx.conf").write_text(rules.nginx(), encoding="utf-8")
        (staging / ".htaccess").write_text(rules.htaccess(), encoding="utf-8")
        links = check_links(staging, rules)
        closure = _linked_documents(links)
        if closure:  # documents the pages link to that the store's subjects did not name
            found = _run_jobs(settings, origin, staging, closure)
            unserved = _check(found)
            documents += len({r.job.doc for r in found}) - len(unserved)
            skipped += unserved
            links = check_links(staging, rules)
        if _data_version(settings) != version:
            raise PoleGraphError("the store changed while publishing (a steward's commit or an update)",
                                 hint="publish again; the previous site, if any, is untouched")
        files = [p for p in staging.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        marker = {"generator": f"pole-graph {__version__}", "published": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "store": str(Path(settings.store).absolute()), "origin": origin, "files": len(files) + 1,
                  "bytes": size, "documents": documents}
        (staging / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return PublishReport(out, len(files) + 1, size + (out / MARKER).stat().st_size, time.perf_counter() - started,
                         documents, workers, origin, links, skipped, settings.lang)


def _data_version(settings: Settings) -> dict:
    from .catalogue import data_version
    from .store import GraphStore

    return data_version(GraphStore.open(settings.store))


def _linked_documents(links: LinkCheck) -> list[Job]:
    """Jobs for the documents that broken links point to, in case the server has them (a described
    thing outside id/ and def/, a new kind of link): a 404 leaves the link broken, and reported."""
    paths = sorted({urlsplit(urljoin(page_url(page), link)).path for page, link in links.broken})
    return [j for path in paths if re.search(DOCUMENTS, path) or re.search(DESCRIPTIONS, path)
            if not path.startswith("/data/dumps/") and not re.search(r"\.(html|ttl|jsonld|rdf|nt)$", path)
            for j in document_jobs(path, optional=True, extensions=bool(re.search(DOCUMENTS, path)))]


def _origin(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--base-url {base_url!r} is not an http(s) address",
                         hint="give the public address of the site, e.g. https://poles.example.gouv.fr/")
    return f"{parts.scheme}://{parts.netloc}"


def _refuse_foreign(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file, not a folder", hint="choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise UsageError(f"{out} is not empty and is not a previous publish (no {MARKER} in it): nothing was written",
                         hint="choose an empty or new folder for --out; publish replaces the folder's whole content")


async def _build(settings: Settings, origin: str, site: Path) -> tuple[int, int, list[str], Rules]:
    """Fetch everything into ``site``: the small things here, the documents in worker processes.
    Returns the documents written, the worker processes, the documents skipped and the rules."""
    from . import catalogue
    from .server import dumps_folder

    fetcher = Fetcher(settings, origin)
    try:
        state = fetcher.app.state.pg
        first: list[Job] = []   # the home page (its form lists the filters) and the catalogue (it writes the dumps)
        for lang, suffix in LANG_SUFFIX.items():
            first += [Job("/", f"index{suffix}.html", HTML, HTML, lang), Job("/api", f"api{suffix}.html", HTML, HTML, lang),
                      Job("/404", f"404{suffix}.html", HTML, HTML, lang, status=404)]
        first += [Job("/api/queries", "api/queries.json", "application/json"),
                  Job("/openapi.json", "openapi.json", "application/json")]
        for path in ("/data/pole-graph", "/.well-known/void"):  # the catalogue writes the dumps (beside the store)
            first += document_jobs(path, extensions=False)
        results = await fetcher.run(first, site, concurrency=1)
        answer = await fetcher.get("/", HTML)
        headers = tuple(("-".join(w.capitalize() for w in k.split("-")), v)
                        for k, v in answer.headers.items() if k in POLICY_HEADERS)

        then: list[Job] = []
        static = next(r for r in fetcher.app.routes if getattr(r, "path", "") == "/static").app.directory
        for path in sorted(Path(static).rglob("*")):
            if path.is_file():
                name = path.relative_to(static).as_posix()
                then.append(Job(f"/static/{name}", f"static/{name}", ANY))
        then += [Job(d.path, d.path.lstrip("/"), d.media_type) for d in catalogue.read_dumps(dumps_folder(state.settings))]
        then += await _ontology_versions(fetcher, state.store)
        home = [(site / f"index{suffix}.html").read_text(encoding="utf-8") for suffix in LANG_SUFFIX.values()]
        filters = home_filters(home[0])
        for name, value in sorted({f for page in home for f in linked_filters(page, filters)}):
            then += [Job(f"/?{name}={value}", f"index/{name}/{value}{suffix}.html", HTML, HTML, lang)
                     for lang, suffix in LANG_SUFFIX.items()]
        _needs_server(site, state.env)
        documents = described(state.store)
    finally:
        await fetcher.close()
    then += [j for path in documents for j in document_jobs(path, optional=True)]
    workers = _workers(len(then))
    if workers == 1:
        results += await asyncio.to_thread(_run_jobs, settings, origin, site, then)
    else:  # the pages are SPARQL- and template-bound: one app per processor
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = await asyncio.gather(*(loop.run_in_executor(pool, _run_jobs, settings, origin, site, then[i::workers])
                                           for i in range(workers)))
        results += [r for part in parts for r in part]
    skipped = _check(results)
    return len(documents) - len(skipped), workers, skipped, Rules(filters, headers)


NEEDS_SERVER = {
    "fr": ("501 — cette fonction demande le serveur",
           "Ce site est une copie statique du graphe : la recherche, le point d'accès SPARQL, l'exécution des "
           "requêtes enregistrées, les filtres combinés de la page d'accueil et la validation de fichiers ont "
           "besoin du serveur pole-graph, qui ne tourne pas ici.",
           "Toutes les pages, les documents RDF et les téléchargements complets (menu Données) sont ici ; pour "
           "interroger le graphe, chargez un téléchargement dans un triplestore, ou lancez « pole-graph serve »."),
    "en": ("501 — this needs the server",
           "This site is a static copy of the graph: search, the SPARQL endpoint, running stored queries, combined "
           "home-page filters and file validation need the pole-graph server, which does not run here.",
           "Every page, RDF document and full download (Data menu) is here; to query the graph, load a download "
           "into a triple store, or run `pole-graph serve`."),
}


def _needs_server(site: Path, env: Any) -> None:
    """The answer to what needs the server, with the site's own error template (HTML) and problem+json."""
    from functools import partial

    from .namespaces import PREFIXES
    from .pages import word

    for lang, suffix in LANG_SUFFIX.items():
        title, detail, hint = NEEDS_SERVER[lang]
        other = "en" if lang == "fr" else "fr"
        body = env.get_template("error.html").render(
            lang=lang, other_lang=other, switch_url=f"?lang={other}", w=partial(word, lang=lang), base=BASE,
            rdf_type=str(PREFIXES["rdf"]) + "type", title=title, detail=detail, hint=hint)
        (site / f"needs-server{suffix}.html").write_text(body, encoding="utf-8")
    _, detail, hint = NEEDS_SERVER["en"]
    problem = {"type": "about:blank", "title": "Not Implemented", "status": 501, "detail": detail, "hint": hint}
    (site / "needs-server.json").write_text(json.dumps(problem, ensure_ascii=False) + "\n", encoding="utf-8")


async def _ontology_versions(fetcher: Fetcher, store: Any) -> list[Job]:
    """The current version IRI of def/core, then each ``owl:priorVersion``, read from each version's
    own Turtle (earlier versions are files the server serves, not graphs in the store)."""
    import pyoxigraph as ox

    row = next(iter(store.query(f"SELECT ?v WHERE {{ <{BASE}def/core> <{OWL}versionIRI> ?v }}")), None)
    todo, jobs, seen = [row["v"].value] if row else [], [], set()
    while todo:
        iri = todo.pop()
        if iri in seen or not iri.startswith(BASE + "def/core/"):
            continue
        seen.add(iri)
        path = "/" + iri[len(BASE):]
        ttl = await fetcher.get(path + ".ttl")
        if ttl.status_code != 200:
            raise PoleGraphError(f"{path}.ttl: the server answered {ttl.status_code}")
        jobs += document_jobs(path)
        for triple in ox.parse(ttl.content, format=ox.RdfFormat.TURTLE):
            if triple.predicate.value == OWL + "priorVersion":  # said of def/core, in the version's document
                todo.append(triple.object.value)
    return jobs


def _check(results: list[Fetched]) -> list[str]:
    """Stop on any failed answer; return the documents skipped because the server does not serve them."""
    by_doc: dict[str, list[Fetched]] = {}
    for r in results:
        by_doc.setdefault(r.job.doc or r.job.url, []).append(r)
    skipped, failed = [], []
    for doc, answers in by_doc.items():
        if all(a.job.optional and a.status == 404 for a in answers):
            skipped.append(doc)
            continue
        failed += [a for a in answers if a.status != a.job.status or not a.job.accepts(a.media)]
    if failed:
        shown = "; ".join(f"{a.job.url} (Accept {a.job.accept}, {a.job.lang}): {a.status} {a.media}" for a in failed[:5])
        raise PoleGraphError(f"{len(failed)} answer(s) of the app were not what was expected: {shown}",
                             hint="see one with `pole-graph serve --get PATH --accept TYPE`; nothing was published")
    return sorted(skipped)


def _swap(staging: Path, out: Path) -> None:
    """Put ``staging`` at ``out``: one atomic exchange where Linux offers it, else two renames."""
    if out.exists():
        if _exchange(staging, out):
            shutil.rmtree(staging)
            return
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out)


def _exchange(a: Path, b: Path) -> bool:
    """renameat2(RENAME_EXCHANGE): swap two folders at once (Linux ≥ 3.15); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange) == 0
