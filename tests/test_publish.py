"""Publish: the static site is what the server answers, every link resolves, and a real nginx with the
written rules negotiates as the server does (303, Accept, Accept-Language, extensions, 501).

nginx is required, not optional: CI installs it (``apt-get install -y nginx-light``). Apache runs too
when it is installed (``apache2``); without it only the written .htaccess is checked.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pyoxigraph as ox
import pytest
from starlette.testclient import TestClient

from pole_graph import publish as publish_module
from pole_graph.cli import main
from pole_graph.errors import PoleGraphError, UsageError
from pole_graph.formats import RDF_FORMATS
from tests.live import stop
from pole_graph.publish import MARKER, Rules, check_links, publish
from pole_graph.server import create_app
from pole_graph.settings import Settings

POLE = "aerospace-valley"
EXTENSIONS = ("ttl", "jsonld", "rdf", "nt")
MEDIA = {ext: RDF_FORMATS[ext][1] for ext in EXTENSIONS}
SYNTAX = {ext: RDF_FORMATS[ext][0] for ext in EXTENSIONS}
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
CHROME = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
          "application/signed-exchange;v=b3;q=0.7")


# ---- fixtures --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def settings(built) -> Settings:
    return Settings(store=built[1].path, query_workers=0)


@pytest.fixture(scope="module")
def published(tmp_path_factory, settings):
    out = tmp_path_factory.mktemp("publish") / "site"
    started = time.perf_counter()
    report = publish(settings, out)
    print(f"\npublish: {report.files} files, {report.bytes / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s")
    return report


@pytest.fixture(scope="module")
def site(published) -> Path:
    return published.out


@pytest.fixture(scope="module")
def rules(site) -> Rules:
    return Rules(publish_module.home_filters((site / "index.html").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def links(site, rules):
    return check_links(site, rules)


@pytest.fixture(scope="module")
def server(settings) -> Iterator[TestClient]:
    """The live app, to compare the static files with."""
    with TestClient(create_app(settings), base_url="https://w3id.org") as client:
        yield client


@pytest.fixture(scope="module")
def poles(built) -> list[str]:
    rows = built[1].query("SELECT ?p WHERE { ?p a <https://w3id.org/pole-graph/def/core#CompetitivenessCluster> }")
    return sorted(r["p"].value.rsplit("/", 1)[-1] for r in rows)


# ---- what is written ---------------------------------------------------------------------------------

def test_every_pole_has_its_page_in_two_languages_and_four_rdf_documents(site, poles):
    assert len(poles) == 90
    missing = [f"doc/pole/{key}{suffix}" for key in poles
               for suffix in (".html", ".en.html") + tuple(f".{e}" for e in EXTENSIONS)
               if not (site / f"doc/pole/{key}{suffix}").is_file()]
    assert not missing


def test_the_site_has_home_ontology_schemes_catalogue_dumps_api_and_rules(site):
    for name in ("index.html", "index.en.html", "def/core.html", "def/core.en.html", "def/core.ttl",
                 "def/theme.html", "def/theme.ttl", "def/policy-phase/2013-2018.en.html",
                 "def/core/0.1.0.ttl", "def/core/0.2.0.nt",
                 "data/pole-graph.ttl", "data/pole-graph.jsonld", "data/pole-graph.rdf", "data/pole-graph.nt",
                 ".well-known/void.ttl", ".well-known/void.nt", "data/dumps/pole-graph.nt.gz", "data/dumps/pole-graph.nq",
                 "openapi.json", "api/queries.json", "api.html", "static/style.css", "404.html",
                 "needs-server.html", "needs-server.en.html", "needs-server.json", "nginx.conf", ".htaccess", MARKER):
        assert (site / name).is_file(), name
    assert json.loads((site / "api/queries.json").read_text())[0]["name"]
    assert json.loads((site / MARKER).read_text())["generator"].startswith("pole-graph")


def test_the_report_counts_what_is_on_disk(published, site):
    files = [p for p in site.rglob("*") if p.is_file()]
    assert published.files == len(files)
    assert published.bytes == sum(p.stat().st_size for p in files)
    assert published.seconds > 0 and "nginx.conf" in published.text()


def test_every_link_in_every_page_resolves(site, links, server, published):
    """Every href, src and form action of every page resolves to a written file (directly, by the
    rules' negotiation, or after the 303 of an /id/ IRI), or is a feature that needs the server.
    A link the live server cannot answer either is the server's gap, named by the next test."""
    check = links
    assert check.pages > 1500 and check.links > 50_000
    assert (check.pages, check.links, check.broken) == (published.links.pages, published.links.links, published.links.broken)
    lost = sorted({link for _, link in check.broken
                   if server.get(link, headers={"accept": "text/html"}).status_code != 404})
    assert not lost, f"the server answers these, the static site does not: {lost[:10]}"
    assert {urlsplit(u).path for u in check.server_only} <= {
        "/search", "/sparql", "/validate", "/api/validate"} | {f"/api/queries/{n}" for n in _query_names(site)}


def test_no_page_links_to_a_document_the_server_does_not_have(links):
    assert not links.broken


def _query_names(site: Path) -> set[str]:
    return {q["name"] for q in json.loads((site / "api/queries.json").read_text())}


def test_rdf_documents_parse(site):
    for path in sorted(site.glob("doc/*/*")) + sorted(site.glob("def/**/*")):
        ext = path.suffix[1:]
        if ext in SYNTAX:
            assert list(ox.parse(path.read_bytes(), format=SYNTAX[ext], base_iri="https://w3id.org/")), path


def test_rdf_documents_are_what_the_server_answers(site, poles, server):
    for key in poles:
        for ext in EXTENSIONS:
            answer = server.get(f"/doc/pole/{key}", headers={"accept": MEDIA[ext]})
            assert answer.status_code == 200
            assert (site / f"doc/pole/{key}.{ext}").read_bytes() == answer.content, f"{key}.{ext}"
    for path in ("/def/core", "/def/theme", "/def/theme/sante", "/data/pole-graph", "/.well-known/void"):
        for ext in EXTENSIONS:
            answer = server.get(path, headers={"accept": MEDIA[ext]})
            assert (site / f"{path[1:]}.{ext}").read_bytes() == answer.content, f"{path}.{ext}"


def test_pages_are_what_the_server_answers_in_each_language(site, server):
    for path in (f"/doc/pole/{POLE}", "/doc/org/dgcis", "/def/core", "/def/theme/sante", "/", "/api"):
        stem = "index" if path == "/" else path[1:]
        for lang, suffix in (("fr", ""), ("en", ".en")):
            answer = server.get(path, headers={"accept": "text/html", "accept-language": lang})
            assert (site / f"{stem}{suffix}.html").read_bytes() == answer.content, (path, lang)
            assert f'<html lang="{lang}">' in answer.text


def test_home_page_links_to_one_filter_are_published(site, server):
    assert (site / "index/region/53.en.html").read_bytes() == server.get(
        "/?region=53", headers={"accept": "text/html", "accept-language": "en"}).content


def test_dumps_and_openapi_are_what_the_server_answers(site, server):
    for name in ("pole-graph.nt.gz", "pole-graph.ttl", "pole-graph.jsonld", "pole-graph.nq"):
        assert (site / "data/dumps" / name).read_bytes() == server.get(f"/data/dumps/{name}").content, name
    assert json.loads((site / "openapi.json").read_text())["servers"] == [{"url": "https://w3id.org"}]


# ---- writing safely ------------------------------------------------------------------------------------

def test_a_foreign_folder_is_refused_and_left_untouched(tmp_path, settings):
    out = tmp_path / "www"
    out.mkdir()
    (out / "index.html").write_text("the ministry's own page")
    with pytest.raises(UsageError, match="not a previous publish"):
        publish(settings, out)
    assert [p.name for p in out.iterdir()] == ["index.html"]
    assert (out / "index.html").read_text() == "the ministry's own page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["www"]  # no staging folder left beside it


def test_the_cli_refuses_a_foreign_folder_with_exit_status_2(tmp_path, settings):
    out = tmp_path / "www"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    stdout, stderr = _Text(), _Text()
    code = main(["publish", "--store", str(settings.store), "--out", str(out)], stdout, stderr)
    assert code == 2
    assert "not a previous publish" in stderr.text and "nothing was written" in stderr.text
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


@pytest.fixture()
def few_documents(monkeypatch) -> None:
    """A small publish, for the tests of writing and swapping: two documents, no home-page filter,
    no following of links to what was left out."""
    monkeypatch.setattr(publish_module, "described", lambda store: ["/doc/pole/aerospace-valley", "/def/theme"])
    monkeypatch.setattr(publish_module, "linked_filters", lambda page, filters: set())
    monkeypatch.setattr(publish_module, "_linked_documents", lambda links: [])


def test_publishing_again_replaces_a_previous_publish_whole(tmp_path, settings, few_documents):
    out = tmp_path / "site"
    first = publish(settings, out)
    (out / "stray.txt").write_text("left by hand")
    marker = json.loads((out / MARKER).read_text())
    second = publish(settings, out)
    assert not (out / "stray.txt").exists()
    assert (out / "doc/pole/aerospace-valley.ttl").is_file() and (out / MARKER).is_file()
    assert json.loads((out / MARKER).read_text())["generator"] == marker["generator"]
    assert second.files == first.files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # the old copy is gone


def test_an_empty_folder_is_published_into(tmp_path, settings, few_documents):
    out = tmp_path / "empty"
    out.mkdir()
    report = publish(settings, out, base_url="https://poles.example.gouv.fr/")
    assert (out / "doc/pole/aerospace-valley.html").is_file()
    assert json.loads((out / "openapi.json").read_text())["servers"] == [{"url": "https://poles.example.gouv.fr"}]
    assert report.origin == "https://poles.example.gouv.fr"


def test_the_cli_publishes_and_reports_in_english(tmp_path, settings, few_documents):
    stdout, stderr = _Text(), _Text()
    code = main(["publish", "--store", str(settings.store), "--out", str(tmp_path / "site"), "--lang", "en"], stdout, stderr)
    assert (code, stderr.text) == (0, "")
    assert stdout.text.startswith(f"published: {tmp_path / 'site'}") and " files, " in stdout.text
    assert (tmp_path / "site" / "doc/pole/aerospace-valley.en.html").is_file()


def test_a_store_changed_while_publishing_publishes_nothing(tmp_path, settings, few_documents, monkeypatch):
    versions = iter([{"written": "before"}, {"written": "after a steward's commit"}])
    monkeypatch.setattr(publish_module, "_data_version", lambda settings: next(versions))
    with pytest.raises(PoleGraphError, match="changed while publishing"):
        publish(settings, tmp_path / "site")
    assert list(tmp_path.iterdir()) == []


def test_a_base_url_that_is_not_http_is_refused(tmp_path, settings):
    with pytest.raises(UsageError, match="not an http"):
        publish(settings, tmp_path / "x", base_url="ftp://example.org/")
    assert not (tmp_path / "x").exists()


class _Text:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def flush(self) -> None:
        pass


# ---- the rules, in the files -------------------------------------------------------------------------------

def test_htaccess_has_a_rule_and_a_type_for_each_media_type(site):
    text = (site / ".htaccess").read_text()
    for ext, media in MEDIA.items():
        assert f"AddType {media} .{ext}" in text
        assert f"RewriteRule ^ - [E=PG_EXT:{ext}]" in text
        assert media.replace("+", "\\+") in text  # in an Accept condition
    for needed in ("AddType application/n-quads .nq", "AddType application/gzip .gz", "RemoveEncoding .gz",
                   "RewriteRule ^id/(.+)$ /doc/$1 [R=303,L]", "Options -MultiViews", 'Header always set Vary "Accept"',
                   "[R=501,L]", "ErrorDocument 404 /404.html"):
        assert needed in text, needed


def test_nginx_conf_has_a_type_for_each_media_type(site):
    text = (site / "nginx.conf").read_text()
    for ext, media in {**MEDIA, "nq": "application/n-quads", "gz": "application/gzip"}.items():
        assert f"{media} {ext};" in text
    assert "return 303 /doc/$1$is_args$args;" in text and 'add_header Vary "Accept" always;' in text


# ---- a real nginx ------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start: {log.read_text() if log.exists() else process.returncode}")
            time.sleep(0.05)


@contextmanager
def _running(command: list[str], port: int, log: Path, what: str) -> Iterator[str]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(port, process, log, what)
        yield f"127.0.0.1:{port}"
    finally:
        stop(process, timeout=10)


@pytest.fixture(scope="module")
def nginx(site, tmp_path_factory) -> Iterator[str]:
    """nginx as the current user on a free port of 127.0.0.1, serving the site with its nginx.conf."""
    binary = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None)
    if binary is None:
        pytest.fail("nginx is not installed: the static site's content negotiation is tested with a real nginx; "
                    "install it (Debian/Ubuntu: apt-get install -y nginx-light)")
    prefix = tmp_path_factory.mktemp("nginx")
    port = _free_port()
    temp = " ".join(f"{name}_temp_path {prefix}/{name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (prefix / "nginx.conf").write_text(f"""
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    {temp}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {site};
        include {site}/nginx.conf;
    }}
}}
""")
    # -e: the error log from the start, not the built-in /var/log/nginx path (not writable by a CI user)
    command = [binary, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(prefix / "nginx.conf")]
    check = subprocess.run(command + ["-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert "warn" not in check.stderr, check.stderr
    with _running(command + ["-g", "daemon off;"], port, prefix / "error.log", "nginx") as address:
        yield address


class _Client:
    """One keep-alive connection; never follows redirects."""

    def __init__(self, address: str) -> None:
        self.connection = http.client.HTTPConnection(address, timeout=10)

    def get(self, url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        names = {"accept": "Accept", "accept_language": "Accept-Language"}
        self.connection.request("GET", url, headers={names[k]: v for k, v in headers.items()})
        response = self.connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body


@pytest.fixture(scope="module")
def web(nginx) -> _Client:
    return _Client(nginx)


def test_nginx_id_answers_303_to_doc(web):
    status, headers, _ = web.get(f"/id/pole/{POLE}")
    assert status == 303
    assert headers["location"] == f"/doc/pole/{POLE}"
    assert headers["vary"] == "Accept"


def test_nginx_id_keeps_the_query_in_its_redirect(web):
    status, headers, _ = web.get(f"/id/pole/{POLE}?lang=en")
    assert (status, headers["location"]) == (303, f"/doc/pole/{POLE}?lang=en")


def test_nginx_following_the_303_with_accept_turtle_gives_turtle(web, site):
    status, headers, _ = web.get(f"/id/pole/{POLE}", accept="text/turtle")
    status, headers, body = web.get(headers["location"], accept="text/turtle")
    assert status == 200
    assert headers["content-type"] == "text/turtle; charset=utf-8"
    assert "Accept" in headers["vary"]
    assert body == (site / f"doc/pole/{POLE}.ttl").read_bytes()
    assert list(ox.parse(body, format=ox.RdfFormat.TURTLE))


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_nginx_negotiates_each_rdf_media_type(web, site, ext):
    status, headers, body = web.get(f"/doc/pole/{POLE}", accept=MEDIA[ext])
    assert status == 200
    assert headers["content-type"].split(";")[0] == MEDIA[ext]
    assert body == (site / f"doc/pole/{POLE}.{ext}").read_bytes()


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_nginx_serves_each_extension_with_its_media_type(web, ext):
    status, headers, _ = web.get(f"/doc/pole/{POLE}.{ext}", accept="text/html")
    assert (status, headers["content-type"].split(";")[0]) == (200, MEDIA[ext])


@pytest.mark.parametrize("accept", ["text/html", FIREFOX, CHROME, "*/*", None])
def test_nginx_gives_the_page_to_browsers_and_to_any(web, site, accept):
    status, headers, body = web.get(f"/doc/pole/{POLE}", **({"accept": accept} if accept else {}))
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert body == (site / f"doc/pole/{POLE}.html").read_bytes()
    assert headers["vary"] == "Accept, Accept-Language"


@pytest.mark.parametrize("language", ["en", "en-GB,en;q=0.9,fr;q=0.8", "de-DE,de;q=0.9,en;q=0.7"])
def test_nginx_gives_english_to_english_readers(web, site, language):
    status, headers, body = web.get(f"/doc/pole/{POLE}", accept=FIREFOX, accept_language=language)
    assert status == 200 and b'<html lang="en">' in body
    assert body == (site / f"doc/pole/{POLE}.en.html").read_bytes()


@pytest.mark.parametrize("language", ["fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "de", ""])
def test_nginx_gives_french_otherwise(web, site, language):
    _, _, body = web.get(f"/doc/pole/{POLE}", accept="text/html", accept_language=language)
    assert body == (site / f"doc/pole/{POLE}.html").read_bytes()


def test_nginx_lang_parameter_wins_over_accept_language(web, site):
    _, _, body = web.get(f"/doc/pole/{POLE}?lang=fr", accept_language="en")
    assert body == (site / f"doc/pole/{POLE}.html").read_bytes()
    _, _, body = web.get("/?lang=en", accept_language="fr")
    assert body == (site / "index.en.html").read_bytes()


def test_nginx_format_parameter_chooses_the_document(web, site):
    status, headers, _ = web.get(f"/doc/pole/{POLE}?format=jsonld", accept="text/html")
    assert headers["content-type"] == "application/ld+json"


def test_nginx_serves_dumps_with_their_own_types_and_no_content_encoding(web, site):
    status, headers, body = web.get("/data/dumps/pole-graph.nt.gz")
    assert (status, headers["content-type"]) == (200, "application/gzip")
    assert "content-encoding" not in headers
    assert body == (site / "data/dumps/pole-graph.nt.gz").read_bytes()
    assert web.get("/data/dumps/pole-graph.nq")[1]["content-type"] == "application/n-quads"


def test_nginx_catalogue_is_turtle_unless_a_browser_asks(web, site):
    _, headers, body = web.get("/.well-known/void")
    assert headers["content-type"] == "text/turtle; charset=utf-8"
    assert body == (site / ".well-known/void.ttl").read_bytes()
    _, headers, _ = web.get("/data/pole-graph", accept=FIREFOX)
    assert headers["content-type"].startswith(("text/html", "text/plain"))


def test_nginx_earlier_ontology_versions_are_turtle_even_for_browsers(web, site):
    status, headers, body = web.get("/def/core/0.1.0", accept=FIREFOX)
    assert (status, headers["content-type"]) == (200, "text/turtle; charset=utf-8")
    assert body == (site / "def/core/0.1.0.ttl").read_bytes()


def test_nginx_what_needs_the_server_answers_501_with_a_page_or_problem_json(web):
    status, headers, body = web.get("/sparql?query=ASK{}", accept=FIREFOX)
    assert status == 501 and b"pole-graph serve" in body and headers["content-type"].startswith("text/html")
    status, headers, body = web.get("/api/queries/poles?region=53", accept="application/sparql-results+json")
    assert status == 501 and json.loads(body)["status"] == 501


def test_nginx_unknown_paths_get_the_sites_404_page(web, site):
    status, _, body = web.get("/doc/pole/no-such-pole", accept="text/html")
    assert status == 404 and body == (site / "404.html").read_bytes()
    assert web.get("/nginx.conf")[0] == 404


def test_nginx_sends_the_servers_security_headers(web):
    _, headers, _ = web.get(f"/doc/pole/{POLE}")
    assert headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_nginx_answers_every_link_as_the_rules_say(web, site, rules, links):
    """The Python rules (used by the link check) and nginx agree on every URL the pages link to."""
    disagree = []
    for url in sorted(links.targets):
        expected = rules.answer(site, url, "text/html")
        status, headers, body = web.get(url, accept="text/html")
        if status != expected.status:
            disagree.append((url, status, expected.status))
        elif status == 303 and headers["location"] != expected.location:
            disagree.append((url, headers["location"], expected.location))
        elif status in (200, 404, 501) and expected.file and body != (site / expected.file.lstrip("/")).read_bytes():
            disagree.append((url, "body", expected.file))
    assert not disagree, disagree[:40]


CLIENTS = [  # Accept headers sent by real clients, and two with q-values the rules must weigh
    "text/turtle", "application/ld+json", "application/rdf+xml", "application/n-triples", "text/html", "*/*", FIREFOX,
    "application/rdf+xml, */*;q=0.1",                                   # rdflib, format="xml"
    "text/turtle, application/x-turtle, */*;q=0.1",                     # rdflib, format="turtle"
    "application/ld+json, application/json;q=0.9, */*;q=0.1",           # rdflib, format="json-ld"
    "text/turtle,application/n-triples;q=0.95,application/rdf+xml;q=0.7,application/ld+json;q=0.6,*/*;q=0.1",  # Jena
    "text/html;q=0.5, text/turtle",
    "text/turtle;q=0, text/html",
]


@pytest.mark.parametrize("accept", CLIENTS)
def test_nginx_picks_the_media_type_the_server_picks(web, server, accept):
    static = web.get(f"/doc/pole/{POLE}", accept=accept)[1]["content-type"]
    live = server.get(f"/doc/pole/{POLE}", headers={"accept": accept}).headers["content-type"]
    assert static == live


# ---- Apache, when installed ----------------------------------------------------------------------------

APACHE_MODULES = ("mpm_event", "authz_core", "mime", "rewrite", "headers", "dir", "alias")


@pytest.fixture(scope="module")
def apache(site) -> Iterator[str]:
    binary = shutil.which("apache2") or shutil.which("httpd") or ("/usr/sbin/apache2" if os.path.exists("/usr/sbin/apache2") else None)
    modules = Path("/usr/lib/apache2/modules")
    if binary is None or not modules.is_dir():
        pytest.fail("apache2 is not installed: .ci/run installs it (apt-get install -y apache2)")
    # Apache will not serve as root: it runs as nobody there, so it gets a world-readable copy of the site.
    root = Path(tempfile.mkdtemp(prefix="pole-graph-apache-"))
    try:
        os.chmod(root, 0o755)
        copy = root / "site"
        shutil.copytree(site, copy)
        port = _free_port()
        loads = "\n".join(f"LoadModule {m}_module {modules}/mod_{m}.so" for m in APACHE_MODULES)
        user = "User nobody\nGroup nogroup" if os.geteuid() == 0 else ""
        (root / "httpd.conf").write_text(f"""
ServerRoot {root}
ServerName localhost
DefaultRuntimeDir {root}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
LogLevel warn
Listen 127.0.0.1:{port}
{loads}
{user}
TypesConfig /etc/mime.types
DocumentRoot {copy}
<Directory {copy}>
    AllowOverride All
    Require all granted
</Directory>
""")
        with _running([binary, "-f", str(root / "httpd.conf"), "-DFOREGROUND"], port, root / "error.log", "apache") as address:
            yield address
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_apache_negotiates_like_nginx(apache, site):
    web = _Client(apache)
    status, headers, _ = web.get(f"/id/pole/{POLE}")
    assert (status, headers["location"].rsplit("/", 3)[-3:]) == (303, ["doc", "pole", POLE])
    for ext in EXTENSIONS:
        status, headers, body = web.get(f"/doc/pole/{POLE}", accept=MEDIA[ext])
        assert (status, headers["content-type"].split(";")[0]) == (200, MEDIA[ext]), ext
        assert body == (site / f"doc/pole/{POLE}.{ext}").read_bytes()
    _, headers, body = web.get(f"/doc/pole/{POLE}", accept=FIREFOX, accept_language="en-GB,en;q=0.9")
    assert body == (site / f"doc/pole/{POLE}.en.html").read_bytes() and "Accept" in headers["vary"]
    _, headers, _ = web.get("/data/dumps/pole-graph.nt.gz")
    assert headers["content-type"] == "application/gzip" and "content-encoding" not in headers
    assert web.get("/sparql", accept=FIREFOX)[0] == 501
    assert web.get("/?region=53", accept_language="en")[2] == (site / "index/region/53.en.html").read_bytes()


def test_apache_answers_every_link_as_the_rules_say(apache, site, rules, links):
    web, disagree = _Client(apache), []
    for url in sorted(links.targets):
        expected = rules.answer(site, url, "text/html")
        status, headers, body = web.get(url, accept="text/html")
        if status != expected.status:
            disagree.append((url, status, expected.status))
        elif status == 303 and not headers["location"].endswith(expected.location or ""):
            disagree.append((url, headers["location"], expected.location))
        elif status in (200, 404, 501) and expected.file and body != (site / expected.file.lstrip("/")).read_bytes():
            disagree.append((url, "body", expected.file))
    assert not disagree, disagree[:40]


def test_apache_picks_the_media_type_the_server_picks(apache, server):
    web = _Client(apache)
    for accept in CLIENTS:
        static = web.get(f"/doc/pole/{POLE}", accept=accept)[1]["content-type"].replace("utf-8", "UTF-8").lower()
        live = server.get(f"/doc/pole/{POLE}", headers={"accept": accept}).headers["content-type"].lower()
        assert static == live, accept


def test_nginx_serves_static_files_with_the_servers_media_types(web, server, site):
    for path in sorted((site / "static").iterdir()):
        url = f"/static/{path.name}"
        status, headers, body = web.get(url)
        assert (status, body) == (200, path.read_bytes()), url
        assert headers["content-type"].lower() == server.get(url).headers["content-type"].lower(), url
