"""CSV templates are generated from the record mapping and the shapes: what a shape requires, a
required column provides — the two cannot drift apart."""

from __future__ import annotations

import csv
import io

import pytest
from rdflib import URIRef

from pole_graph.cli import main
from pole_graph.namespaces import PG, PROV, DCT, RDF, RDFS, SKOS
from pole_graph.records import RECORD_TYPES
from pole_graph.templates import column_properties, constant_properties, property_shapes, rules_for, template
from pole_graph.namespaces import SH

# required by shapes but never written by a column: derived by reasoning, or written by the mapping
# itself whatever the columns say
DERIVED = {PG.labelling, RDF.type}


@pytest.mark.parametrize("rtype", RECORD_TYPES, ids=lambda r: r.name)
def test_what_the_shapes_require_a_required_column_writes(content, rtype):
    rules = rules_for(rtype, content.shapes, content.ontology)
    required_props = set()
    for rule in rules:
        if rule.column.required or rule.min_count > 0:
            required_props |= rule.properties
    # written whatever the optional columns hold
    always = set().union(*(r.properties for r in rules if r.column.required)) if rules else set()
    classes = set(rtype.rdf_classes)
    for c in list(classes):
        classes |= set(content.ontology.transitive_objects(c, RDFS.subClassOf))
    by_path = property_shapes(content.shapes, classes)
    sample = {p for props in column_properties(rtype).values() for p in props}
    always |= constant_properties(rtype)
    for path, shapes in by_path.items():
        needed = max(int(content.shapes.value(ps, SH.minCount) or 0) for ps in shapes)
        qualified = any(content.shapes.value(ps, SH.qualifiedMinCount) for ps in shapes)
        if (needed or qualified) and path not in DERIVED:
            generated = path in (SKOS.prefLabel,) and rtype.name in ("labelling", "membership", "contribution",
                                                                    "partnership", "change", "observation")
            assert path in required_props or generated or (path in sample and path in always), \
                f"{rtype.file}: the shapes require {path} but no required column writes it"


@pytest.mark.parametrize("rtype", RECORD_TYPES, ids=lambda r: r.name)
def test_a_required_column_is_marked_required_in_the_template(content, rtype):
    text = template(rtype.name, content.shapes, content.ontology, "en")
    for col in rtype.columns:
        line = next(l for l in text.splitlines() if l.startswith(f"# {col.name} — "))
        assert ("(required" in line) == (col.required or any(
            r.min_count > 0 for r in rules_for(rtype, content.shapes, content.ontology) if r.column is col)), line


def test_the_template_command_writes_a_csv_a_steward_can_fill(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert main(["template", "partnerships"], stdout=out, stderr=err) == 0
    text = out.getvalue()
    assert text.startswith("# Modèle : partnerships.csv")
    assert "# pole — clé du pôle (obligatoire, attendu : pôle de compétitivité)" in text
    header = next(csv.reader(io.StringIO("\n".join(l for l in text.splitlines() if not l.startswith("#")))))
    assert header == [c.name for c in next(r for r in RECORD_TYPES if r.name == "partnership").columns]
    out = io.StringIO()
    assert main(["template", "labellings", "--lang", "en"], stdout=out, stderr=err) == 0
    assert "# phase — phase (e.g. 2013-2018) (required, expected: cluster policy phase)" in out.getvalue()
    assert main(["template", "nothing"], stdout=io.StringIO(), stderr=err) == 2
