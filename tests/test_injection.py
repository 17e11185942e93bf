"""Injection (issue 7, item 2): a hostile parameter value is refused, or reaches the engine as one
correctly escaped term; the store never changes.

Every parameter of every stored query gets every value of a corpus of hostile text (quotes and
triple quotes, braces, ``> } ; DROP ALL``, newlines and ``#``, ``\\u0022``-style escapes, NUL, lone
surrogates, 10 kB strings, hostile language tags, datatypes and IRIs) through the Python API, over
HTTP (query string, JSON and form bodies) and, for a representative subset, through the CLI in a
subprocess. A property test (Hypothesis) then checks, for arbitrary text and every parameter type,
that the bound query's algebra is the template's with exactly one constant — the value given — in
place of the parameter's variable.

The parameter types the stored queries use: thing, text, date, year, enum (``integer`` is declared
in ``queries.PARAM_TYPES`` but used by none; the property test covers it anyway).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox
import pytest
import rdflib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import Query as QUERY_GRAMMAR
from starlette.testclient import TestClient

from pole_graph import GraphStore, run_stored
from pole_graph.cli import main
from pole_graph.errors import ParameterError, PoleGraphError
from pole_graph.queries import PARAM_TYPES, Param, Resolver, bind_values, convert, term_to_sparql
from pole_graph.server import create_app
from pole_graph.settings import Settings
from pole_graph.store import DB_DIR
from tests.live import copy_store

XSD = "http://www.w3.org/2001/XMLSchema#"
POLE = "https://w3id.org/pole-graph/id/pole/aerospace-valley"

HOSTILE = [
    # quotes, long quotes, braces, statement breakers
    "'", '"', "'''", '"""', 'x""" } ; DROP ALL ; #', "x''' } ; DROP ALL ; #", "{", "}", "} {",
    "> } ; DROP ALL", '" } ; INSERT DATA { <a> <b> <c> } #', "' } ; INSERT DATA { <a> <b> <c> } #",
    ") } ; CLEAR ALL ; SELECT * { (", "?_pole", "$_resource", "BOUND(?_year)", "?s ?p ?o",
    # newlines and comments (SPARQL ends a comment at \n and at \r)
    "x\n# } ; DROP ALL", "x\r} ; DROP ALL #", "x\r\n#\n}", "2013\n#", "2013-2018\n# }",
    # escapes: \u sequences written out, backslashes
    "\\u0022 } ; DROP ALL ; \\u0022", "\\U00000022) } DROP ALL #", "\\u003E } DROP ALL", "\\", '\\"', '\\\\"',
    # NUL, controls, separators
    "\x00", "a\x00b", "2013\x00", "\x7f\x1b[31m\u2028\x85", "\ufeff\u200b",
    # lone surrogates (the Python API and JSON bodies can carry them; see http_value for the URL form)
    "\ud800", "a\udfffb", "\udced\udca0\udc80",
    # 10 kB
    "x" * 10_000, '" } ' * 2_500,
    # hostile language tags
    'fr"@en', '"x"@fr"@en', "en-", '"x"@en-', "x;drop", '"x"@x;drop',
    # hostile datatypes and IRIs
    '"1"^^<http://x> } DROP ALL {', '"1"^^<http://x>', "<http://x> } DROP ALL {", "http://x> } DROP ALL {",
    "http://a b", "http://x/>", "http://a\x00b", "http://a/\x7f", "https://x/\ufffe", "http://[::1",
    "http://x/\ud800", "http://x/%zz", f"{POLE}> }} ; DROP ALL ; <x", f"{POLE}\x00", f"<{POLE}>",
    "http://" + "a" * 10_000 + ".example/", "file:///etc/passwd", "http://127.0.0.1:9/x",
    # a valid value with something hostile after it, and near misses
    '2013-06-17" } DROP ALL {', "2013-06-17T00:00:00", "2013-02-30", "99999-01-01", "\u0662\u0660\u0661\u0663",
    'ministry" } #', "ministry\x00", 'aerospace-valley"', "aerospace-valley ; DROP ALL",
]


HTTP_ONLY = ["\ud800", "\x00", "x\r} ; DROP ALL #", "x" * 10_000, '" } ' * 2_500, "http://" + "a" * 10_000 + ".example/"]


def fingerprint(path: Path) -> tuple[int, str]:
    """Number of quads and a digest of their sorted N-Quads: equal iff the store holds the same quads."""
    db = ox.Store.read_only(str(path / DB_DIR))
    lines = sorted(db.dump(format=ox.RdfFormat.N_QUADS).splitlines())
    return len(lines), hashlib.sha256(b"\n".join(lines)).hexdigest()


@pytest.fixture(scope="module", autouse=True)
def _hypothesis_home(tmp_path_factory):
    """Hypothesis keeps caches (Unicode tables, constants) even without an example database: in a
    temporary folder, not in a .hypothesis/ folder of the checkout."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(scope="module")
def private(built, tmp_path_factory) -> Path:
    """A private copy of the built store: whatever a test sends, it is this copy that must not change."""
    return copy_store(built[1].path, tmp_path_factory.mktemp("injection") / "store")


@pytest.fixture(scope="module")
def baseline(private) -> tuple[int, str]:
    """The private store's fingerprint before the first attack (the last test compares)."""
    return fingerprint(private)


@pytest.fixture(scope="module")
def pstore(private) -> GraphStore:
    return GraphStore.open(private)


@pytest.fixture(scope="module")
def app_client(private):
    # hundreds of refusals from one client: the per-client error budget (429), where there is one, is
    # another test's subject
    budget = {"budget_errors": 0} if "budget_errors" in {f.name for f in dataclasses.fields(Settings)} else {}
    app = create_app(Settings(store=private, query_workers=0, response_cache=False, **budget))
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        yield client


def all_params(catalogue) -> list[tuple[str, Param]]:
    return [(name, p) for name in catalogue.names() for p in catalogue.queries[name].params]


def test_the_stored_queries_use_the_parameter_types_this_file_attacks(catalogue):
    used = {p.type for _, p in all_params(catalogue)}
    assert used == {"thing", "text", "date", "year", "enum"}, used
    assert used <= set(PARAM_TYPES)


# ---- (a) the Python API ----------------------------------------------------------------------------

def _other_args(query, name: str) -> dict[str, str]:
    """Valid values for the other required parameters, so the hostile one is the only thing tried."""
    example = next(iter(query.examples), {})
    return {p.name: example[p.name] for p in query.params if p.required and p.name != name and p.name in example}


@pytest.mark.parametrize("name", ["events", "indicators", "lineage", "partnerships", "phase-changes", "pole",
                                  "poles", "roles", "sources", "support-actors"])
def test_every_hostile_value_is_refused_or_bound_as_one_term_by_the_python_api(name, catalogue, pstore, baseline):
    query = catalogue.get(name)
    resolver = Resolver(pstore.query)
    wrong, ran, refused = [], 0, 0
    for param in query.params:
        for value in HOSTILE:
            args = dict(_other_args(query, param.name), **{param.name: value})
            try:
                result = run_stored(pstore, catalogue, name, args, resolver=resolver)
            except ParameterError:
                refused += 1
                continue
            except Exception as exc:  # noqa: BLE001 — anything else is the finding
                wrong.append(f"{param.name}={value[:60]!r}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            ran += 1
            if param.type in ("date", "year", "enum"):  # none of the corpus is a valid value of these
                wrong.append(f"{param.name}={value[:60]!r} ({param.type}) ran with {len(result.rows)} rows")
    assert not wrong, "\n".join(wrong)
    assert ran + refused == len(query.params) * len(HOSTILE)


def test_hostile_language_arguments_reach_the_engine_as_one_literal(catalogue, pstore, baseline):
    poles = run_stored(pstore, catalogue, "poles", {}).column("pole")
    for lang in ('fr"@en', "en-", "x;drop", '" } ; DROP ALL ; #', "fr\n#", "fr\r}"):
        assert run_stored(pstore, catalogue, "poles", {}, lang=lang).column("pole") == poles, lang


# ---- (c) HTTP -----------------------------------------------------------------------------------------

def http_value(value: str) -> str:
    """A value percent-encoded as UTF-8, as a browser or curl sends it; a lone surrogate goes as the
    bytes a careless client would send (``%ED%A0%80``), which the server must take as bad UTF-8."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _check_answer(response, where: str, wrong: list[str]) -> str:
    if response.status_code == 200:
        body = response.json()
        if "results" not in body:
            wrong.append(f"{where}: 200 without SPARQL results")
        return "ran"
    if response.status_code in (400, 413, 414, 422, 431) and response.headers.get("content-type", "").startswith("application/problem+json"):
        if not response.json().get("detail"):
            wrong.append(f"{where}: {response.status_code} problem without detail")
        return "refused"
    wrong.append(f"{where}: {response.status_code} {response.text[:200]}")
    return "wrong"


@pytest.mark.parametrize("name", ["events", "indicators", "lineage", "partnerships", "phase-changes", "pole",
                                  "poles", "roles", "sources", "support-actors"])
def test_every_hostile_value_is_refused_or_bound_as_one_term_over_http(name, catalogue, app_client, baseline):
    """A third of the corpus in the query string, a sixth in a JSON body, a sixth in a form (conversion
    itself met the whole corpus through the Python API), plus what only HTTP carries: percent-encoded
    bad UTF-8, NUL, and URLs past the server's length limit."""
    query = catalogue.get(name)
    accept = {"Accept": "application/sparql-results+json"}
    wrong: list[str] = []
    for param in query.params:
        others = _other_args(query, param.name)
        fixed = "".join(f"&{k}={http_value(v)}" for k, v in others.items())
        for value in HOSTILE[::3] + HTTP_ONLY:
            where = f"GET ?{param.name}={value[:40]!r}"
            r = app_client.get(f"/api/queries/{name}?{param.name}={http_value(value)}{fixed}", headers=accept)
            _check_answer(r, where, wrong)
        # the bodies: JSON (whose \\ud800 escapes carry lone surrogates through) and a form
        for value in HOSTILE[1::6]:
            body = json.dumps(dict(others, **{param.name: value}))  # ensure_ascii: surrogates as \\udXXX
            r = app_client.post(f"/api/queries/{name}", content=body.encode("ascii"),
                                headers=dict(accept, **{"Content-Type": "application/json"}))
            _check_answer(r, f"POST json {param.name}={value[:40]!r}", wrong)
        for value in HOSTILE[2::6]:
            form = "&".join(f"{k}={http_value(v)}" for k, v in dict(others, **{param.name: value}).items())
            r = app_client.post(f"/api/queries/{name}", content=form.encode("ascii"),
                                headers=dict(accept, **{"Content-Type": "application/x-www-form-urlencoded"}))
            _check_answer(r, f"POST form {param.name}={value[:40]!r}", wrong)
    assert not wrong, "\n".join(wrong)


def test_a_hostile_lang_or_control_argument_over_http_is_ignored_or_refused(app_client, baseline):
    for query in ('lang=fr"@en', "lang=en-", "lang=x%3Bdrop", "page=1%20}%20DROP%20ALL", "per_page=%ED%A0%80",
                  "format=json%22", "lang=%00"):
        r = app_client.get(f"/api/queries/poles?{query}", headers={"Accept": "application/sparql-results+json"})
        assert r.status_code in (200, 400, 413, 414, 422, 431), (query, r.status_code, r.text[:200])


# ---- (b) the CLI ------------------------------------------------------------------------------------

def test_hostile_values_through_the_cli_in_process(catalogue, private, baseline):
    """A tenth of the corpus (no NUL: no argv can carry it) for one parameter of each type: exit 0, or
    exit 2 with an ``error:`` line."""
    wrong = []
    for name, param in [("poles", "region"), ("poles", "theme"), ("roles", "date"), ("events", "year"),
                        ("support-actors", "kind")]:
        for value in HOSTILE[::10]:
            if "\x00" in value:
                continue
            out, err = io.StringIO(), io.StringIO()
            code = main(["query", name, f"{param}={value}", "--store", str(private), "--format", "json"], stdout=out, stderr=err)
            if code == 0:
                json.loads(out.getvalue())
            elif code != 2 or not err.getvalue().startswith("error: "):
                wrong.append(f"{name} {param}={value[:40]!r}: exit {code} {err.getvalue()[:200]}")
    assert not wrong, "\n".join(wrong)


CLI_CASES = [  # (query, parameter, raw argv bytes of the value): a representative subset, one process each
    ("pole", "pole", '" } ; INSERT DATA { <a> <b> <c> } #'.encode()),
    ("sources", "resource", f"{POLE}> }} ; DROP ALL ; <x".encode()),
    ("poles", "theme", b"x\n# } ; DROP ALL"),
    ("roles", "date", b"2013-06-17\r} ; DROP ALL #"),
    ("events", "year", "\\u0022 } ; DROP ALL ; \\u0022".encode()),
    ("support-actors", "kind", b"\xed\xa0\x80"),  # a lone surrogate's bytes: not UTF-8
    ("partnerships", "country", b"\xff\xfe } DROP ALL"),
    ("lineage", "organisation", b"http://a\x7f/" + b"a" * 10_000),
]


def test_hostile_values_through_the_cli_in_a_subprocess(private, baseline):
    procs = [(case, subprocess.Popen([sys.executable, "-m", "pole_graph", "query", case[0],
                                      case[1].encode() + b"=" + case[2], "--store", str(private)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)) for case in CLI_CASES[:4]]
    procs += [(case, subprocess.Popen([sys.executable, "-m", "pole_graph", "query", case[0],
                                       case[1].encode() + b"=" + case[2], "--store", str(private)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)) for case in CLI_CASES[4:]]
    wrong = []
    for case, proc in procs:
        out, err = proc.communicate(timeout=60)
        text = err.decode("utf-8", "replace")
        if proc.returncode not in (0, 2) or "Traceback" in text or (proc.returncode == 2 and "error: " not in text):
            wrong.append(f"{case[0]} {case[1]}={case[2][:40]!r}: exit {proc.returncode}: {text[:300]}")
    assert not wrong, "\n".join(wrong)


# ---- the property: one constant in place of one variable ---------------------------------------------

_CODEPOINT = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.S)


def expand_codepoints(sparql: str) -> str:
    r"""SPARQL §19.2: ``\uXXXX`` / ``\UXXXXXXXX`` stand for their code point before parsing — but an
    escaped backslash (``\\u0022``) is a backslash and ``u0022``, as Oxigraph reads it. rdflib's own
    ``expandUnicodeEscapes`` gets that wrong (and reads ``\u0011`` followed by ``0000`` as one 8-digit
    escape), so the test expands them itself and hands rdflib's grammar the result."""
    def one(m: re.Match) -> str:
        if m.group(3) is not None:
            return m.group(0)
        return chr(int(m.group(1) or m.group(2), 16))
    return _CODEPOINT.sub(one, sparql)


def algebra(sparql: str):
    return translateQuery(QUERY_GRAMMAR.parse_string(expand_codepoints(sparql), parse_all=True)).algebra


def to_rdflib(term):
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    datatype = term.datatype.value
    return rdflib.Literal(term.value, datatype=None if datatype == XSD + "string" else rdflib.URIRef(datatype))


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b and (not isinstance(a, rdflib.Literal) or
                                               (a.language, a.datatype, str(a)) == (b.language, b.datatype, str(b)))


def substituted(reference, bound, sentinel, path="") -> list:
    """The constants of ``bound`` where ``reference`` holds ``sentinel``; AssertionError at the first
    other difference. Blank nodes and generated variables are compared by kind (rdflib names them
    afresh on every parse)."""
    if isinstance(reference, (rdflib.URIRef, rdflib.Literal)) and _same(reference, sentinel):
        assert isinstance(bound, (rdflib.URIRef, rdflib.Literal)), f"{path}: {bound!r} where the sentinel was"
        return [bound]
    if isinstance(reference, rdflib.BNode):
        assert isinstance(bound, rdflib.BNode), path
        return []
    assert type(reference) is type(bound), f"{path}: {type(reference).__name__} vs {type(bound).__name__}"
    if isinstance(reference, dict):
        assert list(reference) == list(bound), f"{path}: keys {list(reference)} vs {list(bound)}"
        assert getattr(reference, "name", None) == getattr(bound, "name", None), path
        return [c for k in reference for c in substituted(reference[k], bound[k], sentinel, f"{path}/{k}")]
    if isinstance(reference, (list, tuple)) or type(reference).__name__ == "ParseResults":
        assert len(reference) == len(bound), f"{path}: {len(reference)} vs {len(bound)} items"
        return [c for i, (x, y) in enumerate(zip(reference, bound)) for c in substituted(x, y, sentinel, f"{path}[{i}]")]
    if isinstance(reference, (set, frozenset)):
        assert reference == bound, path
        return []
    assert _same(reference, bound) if isinstance(reference, rdflib.term.Node) else reference == bound, \
        f"{path}: {reference!r} vs {bound!r}"
    return []


SENTINEL_IRI = ox.NamedNode("urn:x-injection-sentinel:0")
SENTINEL_LITERAL = ox.Literal("x-injection-sentinel")
_references: dict = {}


def check_bound(template: str, variable: str, term) -> None:
    """The property: bound with ``term``, the template parses, its algebra is the one it has bound with a
    sentinel of the same kind except that each sentinel is ``term``; and the engine reads ``term``'s
    text back as ``term`` exactly."""
    if isinstance(term, ox.NamedNode):
        sentinel = SENTINEL_IRI
    elif term.language:
        sentinel = ox.Literal(SENTINEL_LITERAL.value, language="x-sentinel")
    else:
        sentinel = ox.Literal(SENTINEL_LITERAL.value, datatype=term.datatype)
    lang = {"_lang": ox.Literal("fr")}
    key = (template, variable, str(sentinel))
    if key not in _references:
        _references[key] = algebra(bind_values(template, dict(lang, **{variable: sentinel})))
    bound = bind_values(template, dict(lang, **{variable: term}))
    ox.Store().query(bound)  # the engine parses it
    constants = substituted(_references[key], algebra(bound), to_rdflib(sentinel))
    assert constants, "the sentinel appears nowhere in the algebra"
    expected = to_rdflib(term)
    assert all(_same(c, expected) for c in constants), (constants[0], expected)
    echoed = next(iter(ox.Store().query(f"SELECT ?x WHERE {{ VALUES ?x {{ {term_to_sparql(term)} }} }}")))["x"]
    assert echoed == term, (echoed, term)


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)
HOSTILE_PIECES = st.sampled_from(['"', "'", '"""', "\\", "\\u0022", "\\U00000022", "}", "{", "#", "\n", "\r", "\x00",
                                  "> } ; DROP ALL", "?_x", "@en", "^^<http://x>", "\u2028", "\x85", "<", ">"])
HOSTILE_TEXT = st.one_of(TEXT, st.lists(st.one_of(HOSTILE_PIECES, TEXT), max_size=8).map("".join))
PROPERTY = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _valid_prefix(kind: str) -> st.SearchStrategy[str]:
    return {
        "thing": st.sampled_from(["aerospace-valley", POLE, "Bretagne", "2013-2018", "pole-europeen-de-la-ceramique"]),
        "text": st.sampled_from(["santé", "Aéronautique", "numérique"]),
        "date": st.dates().map(lambda d: d.isoformat()),
        "year": st.integers(1000, 9999).map(str),
        "integer": st.integers(-10**17, 10**17).map(str),
        "enum": st.sampled_from(["ministry", "agency", "eu-body"]),
    }[kind]


def raw_values(kind: str) -> st.SearchStrategy[str]:
    valid = _valid_prefix(kind)
    return st.one_of(valid, HOSTILE_TEXT, st.tuples(valid, HOSTILE_TEXT).map("".join),
                     st.tuples(HOSTILE_TEXT, valid).map("".join))


# one stored parameter per type, on its template; integer (used by no stored query) on events' ?_year
TYPED = {"thing": ("sources", "resource"), "text": ("poles", "theme"), "date": ("roles", "date"),
         "year": ("events", "year"), "enum": ("support-actors", "kind"), "integer": ("events", "year")}


@pytest.mark.parametrize("kind", list(TYPED))
def test_a_converted_value_is_one_constant_in_the_templates_algebra(kind, catalogue, pstore):
    name, pname = TYPED[kind]
    query = catalogue.get(name)
    param = query.param(pname)
    if kind != param.type:
        param = Param(pname, kind)
    resolver = Resolver(pstore.query)
    outcomes = {"refused": 0, "bound": 0}

    @PROPERTY
    @given(raw_values(kind))
    def bound_or_refused(value):
        try:
            term = convert(param, value, resolver)
        except ParameterError:
            outcomes["refused"] += 1
            return
        check_bound(query.text, param.variable, term)
        outcomes["bound"] += 1

    bound_or_refused()
    assert outcomes["bound"] > 0 and outcomes["refused"] > 0, outcomes


IRI_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
LANGUAGE = st.from_regex(r"\A[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8}){0,3}\Z")
DATATYPE = st.sampled_from([XSD + "string", XSD + "date", XSD + "integer", XSD + "gYear", "http://example.org/dt#x"])


@st.composite
def terms(draw):
    """Any term a parameter could be bound to: IRIs with arbitrary text, literals with arbitrary lexical
    forms, language tags and datatypes (invalid ones are refused when the term is made)."""
    kind = draw(st.sampled_from(["iri", "plain", "lang", "typed"]))
    text = draw(HOSTILE_TEXT)
    if kind == "iri":
        return ("iri", "http://example.org/" + draw(IRI_TEXT))
    if kind == "lang":
        return ("lang", text, draw(st.one_of(LANGUAGE, st.sampled_from(['fr"@en', "en-", "x;drop", "", "fr fr", "é"]))))
    if kind == "typed":
        return ("typed", text, draw(st.one_of(DATATYPE, st.sampled_from(["http://x> } DROP ALL {", "http://a b", "x"]))))
    return ("plain", text)


def make_term(spec):
    if spec[0] == "iri":
        return ox.NamedNode(spec[1])
    if spec[0] == "lang":
        return ox.Literal(spec[1], language=spec[2])
    if spec[0] == "typed":
        return ox.Literal(spec[1], datatype=ox.NamedNode(spec[2]))
    return ox.Literal(spec[1])


def test_any_term_is_one_constant_in_the_templates_algebra(catalogue):
    """Below ``convert``: whatever term reaches ``bind_values`` is written as exactly that one term, or
    refused (pyoxigraph refuses invalid IRIs, language tags and datatypes; term_to_sparql the rest) —
    in subject position, inside EXISTS and OPTIONAL (sources' ?_resource) and in expressions (events'
    ?_year)."""
    places = [(catalogue.get("sources").text, "_resource"), (catalogue.get("events").text, "_year")]
    outcomes = {"refused": 0, "bound": 0}

    @settings(PROPERTY, max_examples=80)
    @given(terms(), st.sampled_from(places))
    def bound_or_refused(spec, place):
        try:
            term = make_term(spec)
            term_to_sparql(term)
        except (ValueError, ParameterError):
            outcomes["refused"] += 1
            return
        check_bound(place[0], place[1], term)
        outcomes["bound"] += 1

    bound_or_refused()
    assert outcomes["bound"] > 0 and outcomes["refused"] > 0, outcomes


def test_the_property_catches_a_pasted_value():
    """The check has teeth: a value pasted into the query as text (grlc's way) breaks it."""
    template = 'SELECT ?s WHERE { ?s ?p ?o FILTER(?o = ?_x) }'
    sentinel = algebra(template.replace("?_x", '"x-injection-sentinel"'))
    pasted = algebra(template.replace("?_x", '"a" || true || "b"'))
    with pytest.raises(AssertionError):
        substituted(sentinel, pasted, rdflib.Literal("x-injection-sentinel"))


def test_the_store_never_changed(private, baseline):
    """Last: every attack above ran on this copy; it holds exactly the quads it held before."""
    assert fingerprint(private) == baseline
