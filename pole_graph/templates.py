"""Templates: empty CSV files for stewards, documented from the shapes so they never drift.

Part of *stewardship*. Which property each column writes is found by building a sample record and
removing one column at a time (the mapping of ``records`` is the only place it is written). What a
column requires — whether it may be empty, how many values, what kind of value — is read from the
SHACL property shapes of the record's class, with their bilingual labels. tests/test_templates.py
fails when a shape requires a property that no required column writes.
"""

from __future__ import annotations

import io
import csv
from dataclasses import dataclass

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from .namespaces import RDF, RDFS, SH, SKOS, XSD, concept, shorten, thing
from .records import (
    BY_NAME, ENUMS, REF_TYPES, RECORD_TYPES, Column, Index, Record, RecordType, record_iri,
)
from .terms import date_literal


class _Everything(Index):
    """An index in which every key and code exists: for building sample records."""

    class _All(dict):
        def __contains__(self, key):
            return True

        def get(self, key, default=None):
            return ("sample", 1)

    def __init__(self) -> None:
        super().__init__()
        self.keys = {kind: self._All() for kind in REF_TYPES}  # type: ignore[assignment]
        self.concepts = {segment: self._All() for _, segment in REF_TYPES.values()}  # type: ignore[assignment]
        for rt in RECORD_TYPES:
            for c in rt.columns:
                if c.target and c.kind == "concept":
                    self.concepts[c.target] = self._All()  # type: ignore[index]


EXTERNAL_LABELS = {
    "http://www.w3.org/ns/org#Organization": ("organisation", "organisation"),
    "http://www.w3.org/ns/org#Role": ("rôle", "role"),
    "http://xmlns.com/foaf/0.1/Person": ("personne", "person"),
    "http://xmlns.com/foaf/0.1/Agent": ("organisation ou personne", "organisation or person"),
    "http://schema.org/Event": ("événement", "event"),
    "http://www.w3.org/2006/time#Interval": ("intervalle de temps", "time interval"),
    "http://www.w3.org/2006/time#Instant": ("instant", "instant"),
    "http://www.w3.org/2006/time#TemporalEntity": ("période ou date", "period or date"),
}


def class_label(ontology: Graph, cls: Node, lang: str) -> str:
    if str(cls) in EXTERNAL_LABELS:
        return EXTERNAL_LABELS[str(cls)][0 if lang == "fr" else 1]
    return next((str(l) for l in ontology.objects(cls, RDFS.label) if l.language == lang), shorten(str(cls)))


def _sample(col: Column) -> object:
    if col.kind == "key":
        return "sample"
    if col.kind == "date":
        return date_literal("2013")
    if col.kind == "url":
        return URIRef("https://example.org/sample")
    if col.kind == "number":
        return Literal("1", datatype=XSD.integer)
    if col.kind == "duration":
        return Literal("P1Y", datatype=XSD.duration)
    if col.kind == "enum":
        return sorted(ENUMS[col.target or ""])[0]
    if col.kind == "ref":
        return thing(REF_TYPES[col.target or ""][1], "sample")
    if col.kind == "anyref":
        return thing("org", "sample")
    if col.kind == "concept":
        return concept(col.target or "", "sample")
    return "sample"


def constant_properties(rtype: RecordType) -> set[Node]:
    """Properties the mapping writes on the record's node whatever the columns hold."""
    props = column_properties(rtype)
    return props.pop("*", set())


def column_properties(rtype: RecordType) -> dict[str, set[Node]]:
    """The properties each column writes on the record's own node (key ``*``: written whatever)."""
    values = {c.name: ([_sample(c)] if c.multi else _sample(c)) for c in rtype.columns}
    index = _Everything()
    iri = record_iri(rtype, "https://example.org/sample" if rtype.id_type is None else "sample")
    record = Record(rtype, "template", 1, values, iri, "sample", index)
    full = set(rtype.build(record))
    out: dict[str, set[Node]] = {}
    for col in rtype.columns:
        reduced = dict(values)
        reduced[col.name] = [] if col.multi else None
        try:
            without = set(rtype.build(Record(rtype, "template", 1, reduced, iri, "sample", index)))
        except (KeyError, TypeError, AttributeError):
            without = {t for t in full if t[0] != iri}  # a required column: everything of the record hangs on it
        out[col.name] = {p for s, p, o in full - without if s == iri or str(s).startswith(f"{iri}#")}
    empty = {c.name: ([] if c.multi else None) for c in rtype.columns if not c.required}
    try:
        minimal = set(rtype.build(Record(rtype, "template", 1, dict(values, **empty), iri, "sample", index)))
    except (KeyError, TypeError, AttributeError):
        minimal = set()
    by_columns = set().union(*out.values()) if out else set()
    out["*"] = {p for s, p, o in minimal if s == iri} - by_columns
    return out


@dataclass(frozen=True)
class ColumnRule:
    column: Column
    properties: frozenset
    min_count: int
    max_count: int | None
    expects: dict[str, str]
    messages: dict[str, str]


def property_shapes(shapes: Graph, classes: set[Node]) -> dict[Node, list[Node]]:
    """Property shapes by path, for the node shapes targeting any of ``classes``."""
    out: dict[Node, list[Node]] = {}
    for node in shapes.subjects(RDF.type, SH.NodeShape):
        if not set(shapes.objects(node, SH.targetClass)) & classes:
            continue
        for ps in shapes.objects(node, SH.property):
            path = shapes.value(ps, SH.path)
            if isinstance(path, URIRef):
                out.setdefault(path, []).append(ps)
    return out


def rules_for(rtype: RecordType, shapes: Graph, ontology: Graph) -> list[ColumnRule]:
    classes = set(rtype.rdf_classes)
    for c in list(classes):
        classes |= set(ontology.transitive_objects(c, RDFS.subClassOf))
    by_path = property_shapes(shapes, classes)
    props = column_properties(rtype)
    props.pop("*", None)
    rules = []
    for col in rtype.columns:
        mins, maxs, expects, messages = [0], [], {}, {}
        for p in props.get(col.name, ()):
            for ps in by_path.get(p, []):
                if shapes.value(ps, SH.minCount) is not None:
                    mins.append(int(shapes.value(ps, SH.minCount)))
                if shapes.value(ps, SH.maxCount) is not None:
                    maxs.append(int(shapes.value(ps, SH.maxCount)))
                cls = shapes.value(ps, SH["class"])
                if cls is not None:
                    for lang in ("fr", "en"):
                        expects[lang] = class_label(ontology, cls, lang)
                dt = shapes.value(ps, SH.datatype)
                if dt is not None:
                    expects.setdefault("fr", shorten(str(dt)))
                    expects.setdefault("en", shorten(str(dt)))
                for m in shapes.objects(ps, SH.message):
                    if isinstance(m, Literal) and m.language:
                        messages.setdefault(m.language, str(m))
        rules.append(ColumnRule(col, frozenset(props.get(col.name, ())), max(mins), min(maxs) if maxs else None,
                                expects, messages))
    return rules


def template(name: str, shapes: Graph, ontology: Graph, lang: str = "fr") -> str:
    """An empty CSV for one record type: comment lines explaining each column, then the header."""
    rtype = BY_NAME.get(name) or next((rt for rt in RECORD_TYPES if rt.file in (name, name + ".csv")), None)
    if rtype is None:
        from .errors import UsageError
        raise UsageError(f"unknown record type {name!r}",
                         hint="one of " + ", ".join(rt.file.removesuffix(".csv") for rt in RECORD_TYPES))
    fr = lang == "fr"
    lines = [f"# {'Modèle' if fr else 'Template'} : {rtype.file} — {rtype.label_fr if fr else rtype.label_en}"
             if fr else f"# Template: {rtype.file} — {rtype.label_en}",
             "# " + ("Une ligne par enregistrement. Les lignes commençant par # sont ignorées. Plusieurs valeurs "
                     "dans une cellule : séparées par |. Dates : AAAA, AAAA-MM ou AAAA-MM-JJ."
                     if fr else "One row per record. Lines starting with # are ignored. Several values in one cell: "
                                "separated by |. Dates: YYYY, YYYY-MM or YYYY-MM-DD."),
             "#"]
    for rule in rules_for(rtype, shapes, ontology):
        col = rule.column
        required = col.required or rule.min_count > 0
        need = ("obligatoire" if fr else "required") if required else ("facultatif" if fr else "optional")
        many = ("plusieurs valeurs possibles" if fr else "several values allowed") if col.multi and rule.max_count != 1 else ""
        expects = rule.expects.get(lang)
        parts = [need] + ([many] if many else []) + ([f"{'attendu' if fr else 'expected'} : {expects}" if fr
                                                      else f"expected: {expects}"] if expects else [])
        lines.append(f"# {col.name} — {(col.help_fr if fr else col.help_en) or col.name} ({', '.join(parts)})")
        if rule.messages.get(lang):
            lines.append(f"#     {rule.messages[lang]}")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([c.name for c in rtype.columns])
    return "\n".join(lines) + "\n" + buf.getvalue()
