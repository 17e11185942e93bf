"""Bad input in the records: every problem is reported with file, line and column and what was
expected, the exit status is 2, and the store is exactly as it was before."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from pole_graph import ContentError, GraphStore, Project, build
from pole_graph.cli import main
from pole_graph.formats import rdf_format
from pole_graph.records import Index, build_records
from pole_graph.store import GRAPH_SELECTIONS


def rewrite(path: Path, edit) -> None:
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    fields = list(rows[0].keys())
    rows = edit(rows, fields) or rows
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def problems_of(project_dir: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        build(Project.discover(project_dir), None, write=False)
    return [str(p) for p in info.value.problems]


def set_cell(file: str, row: int, column: str, value: str):
    def edit(rows, fields):
        rows[row][column] = value
    return file, edit


CASES = [
    (set_cell("labellings.csv", 4, "from", "17/06/2013"),
     "data/labellings.csv line 6, column from: '17/06/2013': not a date in the form YYYY, YYYY-MM or YYYY-MM-DD (expected YYYY, YYYY-MM or YYYY-MM-DD)"),
    (set_cell("labellings.csv", 0, "pole", "aerospace-vally"),
     "data/labellings.csv line 2, column pole: no pole record with key 'aerospace-vally' (did you mean aerospace-valley"),
    (set_cell("poles.csv", 1, "website", "lyonbiopole.com"),
     "data/poles.csv line 3, column website: 'lyonbiopole.com': not a web address (expected an absolute http(s) address)"),
    (set_cell("poles.csv", 2, "regions", "Bretagne"),
     "data/poles.csv line 4, column regions: 'Bretagne' is not a code of the region scheme"),
    (set_cell("poles.csv", 0, "source", ""),
     "data/poles.csv line 2, column source: required value is empty"),
    (set_cell("indicators.csv", 0, "value", "mille"),
     "data/indicators.csv line 2, column value: 'mille' is not a number"),
    (set_cell("organisations.csv", 0, "kind", "agence"),
     "data/organisations.csv line 2, column kind: 'agence' is not a known kind (expected one of agency, "),
    (set_cell("poles.csv", 3, "key", "Pôle Mer"),
     "data/poles.csv line 5, column key: 'Pôle Mer' is not a valid key"),
    (set_cell("poles.csv", 4, "key", "aerospace-valley"),
     "data/poles.csv line 6, column key: key 'aerospace-valley' is already used by data/poles.csv line 2"),
    (set_cell("changes.csv", 0, "original", "dge-2005"),
     "data/changes.csv line 2, column original: 'dge-2005' does not say what it refers to (expected {type}/{key}"),
    (set_cell("poles.csv", 0, "source", "https://example.org/a b"),
     "data/poles.csv line 2, column source: 'https://example.org/a b': character ' ' is not allowed in an IRI"),
]


@pytest.mark.parametrize("case,expected", CASES, ids=[c[1].split(": ")[0] for c in CASES])
def test_a_bad_cell_is_reported_with_file_line_and_column(project_copy, case, expected):
    file, edit = case
    rewrite(project_copy / "data" / file, edit)
    problems = problems_of(project_copy)
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_not_just_the_first(project_copy):
    for file, edit in (CASES[0][0], CASES[1][0], CASES[2][0]):
        rewrite(project_copy / "data" / file, edit)
    assert len(problems_of(project_copy)) >= 3


def test_a_malformed_csv_row_and_unknown_column_are_reported(project_copy):
    path = project_copy / "data" / "people.csv"
    text = path.read_text(encoding="utf-8").splitlines()
    text[0] = text[0].replace("family_name", "familyname")
    text.append('broken-row,"unterminated')
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    problems = problems_of(project_copy)
    assert any("data/people.csv line 1:" in p and "unknown column 'familyname' (did you mean family_name?)" in p for p in problems), problems


def test_a_turtle_syntax_error_names_line_and_column(project_copy):
    (project_copy / "data" / "extra.ttl").write_text(
        '@prefix ex: <http://example.org/> .\nex:a ex:b ex:c .\nex:a ex:b "unterminated .\n', encoding="utf-8")
    problems = problems_of(project_copy)
    assert any(p.startswith("data/extra.ttl line 3:11") for p in problems), problems


def test_a_csv_with_no_record_type_is_refused(project_copy):
    (project_copy / "data" / "misc.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    assert any("data/misc.csv: no record type for this file name" in p for p in problems_of(project_copy))


def test_rows_map_to_triples_about_their_own_nodes_only(content):
    """The provenance rule: a record asserts only about its IRI and its #sub-nodes."""
    subjects_by_record = {}
    for s in {t[0] for t in content.data}:
        base = str(s).split("#", 1)[0]
        subjects_by_record.setdefault(base, 0)
    ids = {str(r.iri) for r in content.records}
    for s in subjects_by_record:
        if s.startswith("https://w3id.org/pole-graph/id/"):
            assert s in ids or s.startswith("https://w3id.org/pole-graph/id/axis/"), s


def dump(store_path: Path) -> bytes:
    store = GraphStore.open(store_path)
    data = store.dump(rdf_format("nq"), GRAPH_SELECTIONS["all"])
    del store
    return data


def test_bad_input_leaves_the_store_byte_identical_and_exits_2(project_copy, built, tmp_path, capsys):
    store_path = Path(built[1].path)
    before = dump(store_path)
    info_before = (store_path / "build.json").read_bytes()
    rewrite(project_copy / "data" / "labellings.csv", CASES[0][0][1])
    code = main(["build", "--project", str(project_copy), "--store", str(store_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "data/labellings.csv line 6, column from" in err
    assert dump(store_path) == before
    assert (store_path / "build.json").read_bytes() == info_before


def test_a_shape_violation_fails_the_build_with_exit_1_and_writes_nothing(project_copy, tmp_path, capsys):
    def edit(rows, fields):
        rows[0]["until"] = "2001"  # before its phase (2005-2008)
    rewrite(project_copy / "data" / "labellings.csv", edit)
    store_path = tmp_path / "store"
    code = main(["build", "--project", str(project_copy), "--store", str(store_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "id:labelling/aerospace-valley-2005-2008 (data/labellings.csv line 2)" in err
    assert "falls outside its phase" in err
    assert not store_path.exists()


@pytest.mark.parametrize("validator", ["sparql", "pyshacl"])
def test_a_shape_violation_leaves_the_previous_store_as_it_was(project_copy, tmp_path, validator):
    """The SPARQL validator runs on the new store before it replaces the old one; pySHACL before
    anything is written: either way a violation leaves the previous store byte for byte."""
    from pole_graph.errors import NotConformantError

    store_path = tmp_path / "store"
    report = build(Project.discover(project_copy), store_path, validator=validator)
    assert report.validation is not None and report.validation.conforms and "validate" in report.stages
    before, info = dump(store_path), (store_path / "build.json").read_bytes()

    def edit(rows, fields):
        rows[0]["until"] = "2001"  # before its phase (2005-2008)
    rewrite(project_copy / "data" / "labellings.csv", edit)
    with pytest.raises(NotConformantError, match="falls outside its phase"):
        build(Project.discover(project_copy), store_path, validator=validator)
    assert dump(store_path) == before
    assert (store_path / "build.json").read_bytes() == info
    assert not list(tmp_path.glob("store.new-*")), "a staging store was left behind"


def test_two_writers_cannot_build_at_once(built, project, tmp_path):
    from pole_graph.errors import StoreLockedError
    from pole_graph.store import writer_lock

    store_path = tmp_path / "store"
    with writer_lock(store_path):
        with pytest.raises(StoreLockedError, match="another process is writing"):
            build(project, store_path)


def test_suggestions_among_thousands_of_keys_still_find_the_typo():
    """Above 300 candidates the suggestion shortlists by shared trigrams before difflib (a 1M-triple
    graph has 4,000 pôle keys): the right key is still found, and the shortlist keeps it."""
    from pole_graph.records import SHORTLIST, _close, _shortlist

    keys = [f"syn-pole-{i:05d}" for i in range(4000)] + ["aerospace-valley", "aqua-valley", "cosmetic-valley"]
    assert len(keys) > SHORTLIST
    assert _close("aerospace-valey", keys)[0] == "aerospace-valley"
    assert "syn-pole-01234" in _shortlist("syn-pole-0123x", keys)
    assert _close("Aérospace Valley", keys)[0] == "aerospace-valley"
