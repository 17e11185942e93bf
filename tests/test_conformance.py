"""Conformance: the W3C RDF 1.1 test suites (pinned in ../shared/w3c-tests/) at the ingest boundary.

For every RDF format a steward may submit and the pinned corpus covers — Turtle, N-Triples,
RDF/XML — every test of the manifest goes through ``Steward.read`` (what ``pole-graph validate``,
``add`` and ``POST /api/validate`` call, so the DOCTYPE refusal and the no-base policy apply):

* negative syntax (and negative evaluation) tests are refused as syntax errors naming line and
  column, ``check`` answers exit 2 and plans no write; the parser refuses them even given the test's
  base IRI, so none is refused only because we parse without a base. All of them also over HTTP,
  a few through the real CLI (subprocess), and none changes the store;
* positive syntax tests parse (the records may then fail SHACL: not a syntax matter);
* evaluation tests parse to a graph isomorphic to the expected N-Triples.

Known failures are listed with their reasons in tests/conformance_expected.py; a failure not listed
and a listed test that passes both fail the suite. ``SUMMARY`` pins the figures per manifest.

Not covered: JSON-LD is accepted but the pinned corpus holds no JSON-LD suite; TriG and N-Quads are
not accepted at all (a record file has no named graphs), which ``test_the_formats_covered`` pins.
The SPARQL 1.1 protocol suite runs in tests/test_sparql_protocol.py.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from unittest import mock

import pyoxigraph as ox
import pytest
from rdflib import Graph, Namespace
from rdflib.collection import Collection
from rdflib.compare import graph_diff, isomorphic, to_isomorphic
from rdflib.namespace import RDF
from starlette.testclient import TestClient

from pole_graph import ingest
from pole_graph.cli import main
from pole_graph.server import create_app
from pole_graph.settings import Settings
from pole_graph.steward import Steward
from pole_graph.store import DB_DIR
from pole_graph.terms import from_ox
from tests.conformance_expected import EXPECTED_FAILURES, NO_BASE, NOT_ISOMORPHIC, REFUSED

W3C = Path(__file__).resolve().parent.parent.parent / "shared" / "w3c-tests" / "rdf" / "rdf11"
SUITE_BASE = "https://w3c.github.io/rdf-tests/rdf/rdf11/"
SUITES = {"rdf-turtle": "ttl", "rdf-n-triples": "nt", "rdf-xml": "rdf"}  # folder -> ingest format
SUITE_NAMES = {"rdf-turtle": "Turtle", "rdf-n-triples": "N-Triples", "rdf-xml": "RDF/XML"}
MEDIA = {"ttl": "text/turtle", "nt": "application/n-triples", "rdf": "application/rdf+xml"}
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
RDFT = Namespace("http://www.w3.org/ns/rdftest#")
ROLES = {"TestTurtleNegativeSyntax": "negative", "TestTurtleNegativeEval": "negative",
         "TestNTriplesNegativeSyntax": "negative", "TestXMLNegativeSyntax": "negative",
         "TestTurtlePositiveSyntax": "positive", "TestNTriplesPositiveSyntax": "positive",
         "TestTurtleEval": "eval", "TestXMLEval": "eval"}
# What a syntax error answers over HTTP: 400 (the CLI's exit 2: unreadable input) with the JSON
# report of `validate --format json`, which names the line and column (docs/web.md).
HTTP_STATUS_OF_A_SYNTAX_ERROR = 400

# The figures, pinned: a change in the corpus or in the parser's behaviour shows here first.
SUMMARY = {
    "Turtle negative syntax": "94/94 rejected, 94 naming line and column",
    "Turtle positive syntax": "59/74 parsed, 15 expected failures",
    "Turtle evaluation": "143/145 isomorphic (143 parsed), 2 expected failures",
    "N-Triples negative syntax": "29/29 rejected, 29 naming line and column",
    "N-Triples positive syntax": "41/41 parsed, 0 expected failures",
    "RDF/XML negative syntax": "40/40 rejected, 40 naming line and column",
    "RDF/XML evaluation": "105/126 isomorphic (107 parsed), 21 expected failures",
}


@dataclass(frozen=True)
class Case:
    """One entry of a W3C manifest."""

    id: str  # the test's IRI relative to SUITE_BASE, as in EXPECTED_FAILURES
    suite: str
    type: str  # rdft:Test… local name
    action: Path
    result: Path | None
    iri: str  # the action's IRI: the base the W3C runners parse with

    @property
    def fmt(self) -> str:
        return SUITES[self.suite]

    @property
    def role(self) -> str:
        return ROLES.get(self.type, "unknown")


def load_cases() -> list[Case]:
    cases = []
    for suite in SUITES:
        base = f"{SUITE_BASE}{suite}/"
        g = Graph().parse(W3C / suite / "manifest.ttl", format="turtle", publicID=base + "manifest")
        manifest = g.value(None, RDF.type, MF.Manifest)
        for test in Collection(g, g.value(manifest, MF.entries)):
            action, result = g.value(test, MF.action), g.value(test, MF.result)
            cases.append(Case(str(test).removeprefix(SUITE_BASE), suite, str(g.value(test, RDF.type)).removeprefix(str(RDFT)),
                              W3C / suite / str(action).removeprefix(base),
                              W3C / suite / str(result).removeprefix(base) if result is not None else None, str(action)))
    return cases


CASES = load_cases() if W3C.exists() else []
BY_ROLE = {role: [c for c in CASES if c.role == role] for role in ("negative", "positive", "eval")}


def ids(case: Case) -> str:
    return case.id.replace("/manifest#", ":")


# ---- running one test at the boundary -----------------------------------------------------------

@dataclass
class Outcome:
    """What the ingest boundary made of one file: its problems, and the triples the parser handed
    to the record grouping (None when the file was refused before that)."""

    problems: list
    triples: list | None

    @property
    def first(self):
        return self.problems[0][0] if self.problems else None


def read(steward: Steward, case: Case):
    """``Steward.read`` on the test's file, catching the parsed triples where ingest hands them on."""
    handed: list[list] = []
    group = ingest._group_rdf

    def spy(triples, *rest):
        handed.append(list(triples))
        return group(triples, *rest)

    with mock.patch.object(ingest, "_group_rdf", spy):
        sub = steward.read([case.action])
    return sub, Outcome([(p, kind) for p, kind, _ in sub.problems], handed[0] if handed else None)


def graph(triples) -> Graph:
    g = Graph()
    for t in triples:
        g.add(t)
    return g


@cache
def expected_graph(result: Path) -> Graph:
    # read with the same parser and term conversion as the boundary, so a normalisation both sides
    # share (pyoxigraph lower-cases language tags, as RDF 1.1 allows) is no difference
    return graph((from_ox(q.subject), from_ox(q.predicate), from_ox(q.object))
                 for q in ox.parse(result.read_bytes(), format=ox.RdfFormat.N_TRIPLES))


def diff(expected: Graph, got: Graph) -> str:
    _, only_expected, only_got = graph_diff(to_isomorphic(expected), to_isomorphic(got))
    show = lambda g: "\n".join(sorted(f"    {s.n3()} {p.n3()} {o.n3()} ." for s, p, o in g)) or "    (none)"  # noqa: E731
    return f"\n  only expected:\n{show(only_expected)}\n  only parsed:\n{show(only_got)}"


def verdict(case: Case, outcome: Outcome) -> tuple[bool, str]:
    """Whether the boundary did what the test asks, and if not, what it did."""
    if case.role == "negative":
        return outcome.triples is None, "accepted"
    if outcome.triples is None:
        return False, f"refused: {outcome.first}"
    if case.role == "eval":
        got, expected = graph(outcome.triples), expected_graph(case.result)
        if not isomorphic(expected, got):
            return False, "not the expected graph:" + diff(expected, got)
    return True, ""


def judge(case: Case, outcome: Outcome) -> None:
    """Pass, or fail exactly as tests/conformance_expected.py says; anything else fails."""
    passed, why = verdict(case, outcome)
    reason = EXPECTED_FAILURES.get(case.id)
    if reason is None:
        assert passed, f"{case.id}: {why}"
        return
    assert not passed, f"{case.id} now passes: remove it from tests/conformance_expected.py"
    if reason in REFUSED:
        assert outcome.triples is None and REFUSED[reason] in outcome.first.message, why
        if reason == NO_BASE:
            # the parser accepts it once given the base the W3C runners use: only the base is missing
            quads = list(ox.parse(case.action.read_bytes(), format=ingest.FORMATS[case.fmt], base_iri=case.iri))
            if case.role == "eval":
                got = graph((from_ox(q.subject), from_ox(q.predicate), from_ox(q.object)) for q in quads)
                assert isomorphic(expected_graph(case.result), got), diff(expected_graph(case.result), got)
    else:
        assert reason in NOT_ISOMORPHIC, f"unknown reason for {case.id}: {reason}"
        assert outcome.triples is not None and case.role == "eval", why


@pytest.fixture(scope="module")
def steward(built):
    return Steward(built[1])


# ---- the corpus ------------------------------------------------------------------------------------

def test_the_formats_covered():
    assert set(ingest.FORMATS) == {"csv", "ttl", "nt", "jsonld", "rdf"}, \
        "a new input format: add its W3C suite here (TriG and N-Quads are pinned in ../shared/w3c-tests/)"
    assert {ingest.FORMATS[f] for f in SUITES.values()} == {ox.RdfFormat.TURTLE, ox.RdfFormat.N_TRIPLES,
                                                             ox.RdfFormat.RDF_XML}


def test_the_corpus_is_there_and_every_test_type_is_known():
    assert CASES, f"the W3C suites are missing: {W3C}"
    assert all(c.action.exists() for c in CASES)
    assert all(c.result.exists() for c in CASES if c.result)
    assert all(c.result for c in BY_ROLE["eval"])
    assert {c.type for c in CASES if c.role == "unknown"} == set()
    counts = Counter((c.suite, c.type) for c in CASES)
    # the shared README counts 41 RDF/XML negative and 132 evaluation tests: it counts commented-out
    # entries; mf:entries lists 40 and 126
    assert counts == {("rdf-turtle", "TestTurtleNegativeSyntax"): 94, ("rdf-turtle", "TestTurtlePositiveSyntax"): 74,
                      ("rdf-turtle", "TestTurtleEval"): 145, ("rdf-n-triples", "TestNTriplesNegativeSyntax"): 29,
                      ("rdf-n-triples", "TestNTriplesPositiveSyntax"): 41, ("rdf-xml", "TestXMLNegativeSyntax"): 40,
                      ("rdf-xml", "TestXMLEval"): 126}, counts


def test_every_expected_failure_names_a_test_of_the_corpus():
    known = {c.id for c in CASES}
    assert set(EXPECTED_FAILURES) - known == set()


# ---- every test, in-process ------------------------------------------------------------------------

@pytest.mark.parametrize("case", BY_ROLE["negative"], ids=ids)
def test_negative_syntax_is_refused_naming_line_and_column(steward, case):
    sub, outcome = read(steward, case)
    judge(case, outcome)
    problem, kind = outcome.problems[0]
    assert kind == "syntax" and len(outcome.problems) == 1, outcome.problems
    assert problem.line is not None and problem.column is not None, problem
    report, plan = steward.check(sub, "en")
    assert report.exit_code == 2 and not plan.records and not plan.asserted
    text = report.text("en")
    assert f", line {problem.line}\n" in text and f"(column {problem.column})" in text, text
    # refused for its own fault, not only because ingest parses without a base IRI
    with pytest.raises(SyntaxError):
        list(ox.parse(case.action.read_bytes(), format=ingest.FORMATS[case.fmt], base_iri=case.iri))


@pytest.mark.parametrize("case", BY_ROLE["positive"], ids=ids)
def test_positive_syntax_parses(steward, case):
    judge(case, read(steward, case)[1])


@pytest.mark.parametrize("case", BY_ROLE["eval"], ids=ids)
def test_evaluation_gives_the_expected_graph(steward, case):
    judge(case, read(steward, case)[1])


def test_an_rdf_xml_syntax_error_names_its_line_and_column(steward, tmp_path):
    # pyoxigraph's RDF/XML errors carry no position: ingest finds it (column in characters, not bytes)
    path = tmp_path / "record.rdf"
    path.write_text('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:eg="http://example.org/">\n'
                    '  <rdf:Description rdf:about="http://example.org/é">\n'
                    '    <eg:p>é</eg:p> <eg:q rdf:ID="333"/>\n'
                    '  </rdf:Description>\n</rdf:RDF>\n', encoding="utf-8")
    [(problem, kind, _)] = steward.read([path]).problems
    assert (kind, problem.line, problem.column) == ("syntax", 3, 20), problem
    assert problem.message == "333 is not a valid rdf:ID value"


def summarise(steward: Steward) -> dict[str, str]:
    done: Counter = Counter()
    for case in CASES:
        outcome = read(steward, case)[1]
        key = (case.suite, case.role)
        done[key, "total"] += 1
        done[key, "passed"] += verdict(case, outcome)[0]
        done[key, "parsed"] += outcome.triples is not None
        done[key, "expected"] += case.id in EXPECTED_FAILURES
        first = outcome.first
        done[key, "located"] += bool(first and first.line is not None and first.column is not None)
    out = {}
    for suite, name in SUITE_NAMES.items():
        for role, label in (("negative", "negative syntax"), ("positive", "positive syntax"), ("eval", "evaluation")):
            n = lambda what: done[(suite, role), what]  # noqa: E731
            if not n("total"):
                continue
            if role == "negative":
                figure = f"{n('passed')}/{n('total')} rejected, {n('located')} naming line and column"
            elif role == "positive":
                figure = f"{n('passed')}/{n('total')} parsed, {n('expected')} expected failures"
            else:
                figure = (f"{n('passed')}/{n('total')} isomorphic ({n('parsed')} parsed), "
                          f"{n('expected')} expected failures")
            out[f"{name} {label}"] = figure
    return out


def test_the_figures_per_manifest(steward):
    figures = summarise(steward)
    print("\n" + "\n".join(f"{k}: {v}" for k, v in figures.items()))
    assert figures == SUMMARY


# ---- the same refusals through HTTP and the real CLI; the store unchanged -------------------------

def whole_dump(store_path: Path) -> bytes:
    return ox.Store.read_only(str(store_path / DB_DIR)).dump(format=ox.RdfFormat.N_QUADS)


@pytest.fixture()
def store_path(built, tmp_path) -> Path:
    """A private copy of the built store, which the test may change."""
    shutil.copytree(built[1].path, tmp_path / "store")
    return tmp_path / "store"


@pytest.fixture(scope="module")
def client(built):
    settings = Settings(store=built[1].path, query_workers=0)
    if "budget_errors" in {f.name for f in dataclasses.fields(Settings)}:
        # 160 refusals in a row from one client is this test's point, not abuse to throttle with 429
        settings = dataclasses.replace(settings, budget_errors=0)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as c:
        yield c


def test_every_negative_test_is_refused_over_http_naming_line_and_column(client, steward):
    for case in BY_ROLE["negative"]:
        problem = read(steward, case)[1].first
        r = client.post(f"/api/validate?name={case.action.name}", content=case.action.read_bytes(),
                        headers={"Content-Type": MEDIA[case.fmt], "Accept": "application/json", "Accept-Language": "en"})
        assert r.status_code == HTTP_STATUS_OF_A_SYNTAX_ERROR, (case.id, r.text)
        body = r.json()
        assert body["exit_code"] == 2 and not body["conforms"], case.id
        [record] = body["records"]
        [item] = record["problems"]
        assert item["kind"] == "syntax" and record["file"] == case.action.name, (case.id, body)
        assert record["line"] == problem.line and item["message"].endswith(f"(column {problem.column})"), (case.id, body)


# one per format: each costs a fresh interpreter (~1.5 s)
CLI_SAMPLE = ["rdf-turtle/manifest#turtle-syntax-bad-struct-02", "rdf-n-triples/manifest#nt-syntax-bad-uri-01",
              "rdf-xml/manifest#rdfms-rdf-id-error001"]


def test_the_real_cli_refuses_with_exit_2_naming_line_and_column(steward, store_path):
    by_id = {c.id: c for c in CASES}
    before = whole_dump(store_path)
    for case in (by_id[i] for i in CLI_SAMPLE):
        problem = read(steward, case)[1].first
        done = subprocess.run([sys.executable, "-m", "pole_graph", "validate", str(case.action), "--store", str(store_path),
                               "--lang", "en"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (case.id, done.stdout, done.stderr)
        assert f"{case.action}, line {problem.line}\n" in done.stdout, done.stdout
        assert f"(column {problem.column})" in done.stdout, done.stdout
    done = subprocess.run([sys.executable, "-m", "pole_graph", "add", *(str(by_id[i].action) for i in CLI_SAMPLE),
                           "--store", str(store_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert whole_dump(store_path) == before


def test_adding_the_whole_negative_corpus_changes_nothing(store_path):
    before = whole_dump(store_path)
    out, err = io.StringIO(), io.StringIO()
    code = main(["add", *(str(c.action) for c in BY_ROLE["negative"]), "--store", str(store_path), "--format", "json"],
                stdout=out, stderr=err)
    assert code == 2, err.getvalue()
    located = [r for r in json.loads(out.getvalue())["records"] if r["line"] is not None]
    assert len(located) == len(BY_ROLE["negative"])
    assert whole_dump(store_path) == before
