"""The command line, in-process (main(argv) -> int), plus one real subprocess for the entry point."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.query import Result

from pole_graph.cli import main


def run(*argv: str):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def store_args(store):
    return ["--store", str(store.path)]


def test_query_list_names_every_query_with_its_parameters():
    code, out, _ = run("query", "--list")
    assert code == 0
    assert "poles" in out and "region theme phase" in out and "pole*" in out


@pytest.mark.parametrize("fmt,parse", [("json", "json"), ("xml", "xml"), ("csv", "csv"), ("tsv", "tsv")])
def test_query_output_formats_are_standard_sparql_results(store_args, fmt, parse):
    code, out, err = run("query", "poles", "region=Bretagne", "--format", fmt, *store_args)
    assert code == 0, err
    result = Result.parse(io.BytesIO(out.encode("utf-8")), format=parse)
    assert len(result.bindings) == 4
    labels = {str(b[next(v for v in b if str(v) == "label")]) for b in result.bindings}
    assert "Images & Réseaux" in labels


def test_table_output_is_readable(store_args):
    code, out, _ = run("query", "roles", "organisation=dgcis", "date=2013-06-17", *store_args)
    assert code == 0
    assert "Pascal Faure" in out and "directeur général" in out and "(1 row)" in out


def test_query_show_prints_the_bound_sparql_without_running_it(store_args):
    code, out, _ = run("query", "poles", "region=Bretagne", "--show", *store_args)
    assert code == 0
    assert "<https://w3id.org/pole-graph/def/region/53>" in out and "?_region" not in out


@pytest.mark.parametrize("argv,message", [
    (["query", "polls"], "no stored query named 'polls' (did you mean poles"),
    (["query", "poles", "region"], "'region' is not a parameter"),
    (["query", "poles", "region=Atlantide"], "region='Atlantide' does not name a pg:Region"),
    (["query", "pole"], "parameter pole is required"),
])
def test_bad_query_usage_exits_2_with_a_clear_message(store_args, argv, message):
    code, _, err = run(*argv, *store_args)
    assert code == 2
    assert message in err


def test_a_missing_store_says_how_to_build_it(tmp_path):
    code, _, err = run("query", "poles", "--store", str(tmp_path / "nowhere"))
    assert code == 2
    assert "no store here" in err and "pole-graph build" in err


def test_sparql_select_ask_construct_and_read_only(store_args, tmp_path):
    code, out, _ = run("sparql", "SELECT (COUNT(*) AS ?n) WHERE { ?p a <https://w3id.org/pole-graph/def/core#CompetitivenessCluster> }", "--format", "csv", *store_args)
    assert code == 0 and out.splitlines()[1] == "90"
    code, out, _ = run("sparql", "ASK { ?s ?p ?o }", "--format", "json", *store_args)
    assert json.loads(out)["boolean"] is True
    query = tmp_path / "q.rq"
    query.write_text("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o FILTER(?s = <https://w3id.org/pole-graph/id/org/dgcis>) }")
    code, out, _ = run("sparql", str(query), "--format", "ttl", *store_args)
    assert code == 0 and len(Graph().parse(data=out, format="turtle")) > 10
    code, _, err = run("sparql", "DELETE WHERE { ?s ?p ?o }", *store_args)
    assert code == 2 and "read-only" in err
    code, _, err = run("sparql", "SELECT * WHERE { ?s ?p }", *store_args)
    assert code == 2 and "syntax error" in err


@pytest.mark.parametrize("fmt,rdflib_format", [("nt", "nt"), ("ttl", "turtle"), ("jsonld", "json-ld"), ("nq", "nquads"), ("trig", "trig")])
def test_export_writes_parseable_rdf(store_args, tmp_path, fmt, rdflib_format):
    target = tmp_path / f"dump.{fmt}"
    code, _, err = run("export", "--format", fmt, "--graph", "asserted", "--output", str(target), *store_args)
    assert code == 0, err
    from rdflib import Dataset
    g = Dataset() if fmt in ("nq", "trig") else Graph()
    g.parse(target, format=rdflib_format)
    assert len(g) > 10000 if fmt not in ("nq", "trig") else sum(1 for _ in g.quads()) > 10000


def test_check_passes_on_the_project_and_fails_with_locations_on_a_broken_copy(project_copy):
    code, out, _ = run("check")
    assert code == 0 and "no problem" in out or "aucun problème" in out
    (project_copy / "queries" / "broken.rq").write_text("#+ summary: x\nSELECT * WHERE { ?s ?p }\n")
    (project_copy / "ontology" / "schemes" / "bad.ttl").write_text("@prefix ex: <http://e/> .\nex:a ex:b .\n")
    code, _, err = run("check", "--project", str(project_copy))
    assert code == 2
    assert "ontology/schemes/bad.ttl line 2" in err
    assert "queries/broken.rq line 3:1: SPARQL syntax error" in err  # the parser stops at the end of the text


def test_english_messages(store_args):
    code, out, _ = run("query", "--list", "--lang", "en")
    assert "(* = required)" in out


def test_the_console_script_and_python_dash_m_run():
    done = subprocess.run([sys.executable, "-m", "pole_graph", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("pole-graph ")
    exe = Path(sys.executable).parent / "pole-graph"
    if exe.exists():
        done = subprocess.run([str(exe), "query", "--list"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "lineage" in done.stdout
