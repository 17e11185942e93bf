"""Steward: validate new records in the context of the stored graph; add or retract them atomically.

Part of *stewardship*. A submission (``ingest``) is checked against the store: references must
resolve, nothing may duplicate an existing record (same key, same official identifier, same name
once accents and case are folded), the OWL 2 RL closure of graph + records must stay consistent, and
the records' nodes must satisfy the shapes. Only what the records touch is looked at: their own
triples, the description of what they refer to (two hops along the properties rules chain through),
and the other records that point at the same pôle — so a record is checked in milliseconds whatever
the size of the store. ``add`` writes the records, their new inferences, their names in the index
and a PROV-O account of the change in one transaction; ``retract`` takes a record back the same way.
One writer at a time (the store's writer lock).
"""

from __future__ import annotations

import getpass
import hashlib
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pyoxigraph as ox
from pyshacl import validate as pyshacl_validate
from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from .errors import StoreLockedError, UsageError
from .ingest import SubmittedRecord, Submission, read_files
from .load import cited_sources
from .namespaces import (
    BASE, DCT, FOAF, GRAPH_DATA, GRAPH_HISTORY, GRAPH_INDEX, GRAPH_INFERRED, GRAPH_ONTOLOGY, GRAPH_SCHEMES,
    GRAPH_SHAPES, OWL, PG, PROV, RDF, RDFS, SCHEMA, SH, SKOS, XSD, shorten,
)
from .reason import is_noise
from .records import REF_TYPES, Index
from .report import Item, StewardReport
from .rules import Rules, closure, compile_rules
from .store import DB_DIR, GraphStore, writer_lock
from .terms import fold, from_ox, graph_of, to_ox

Triple = tuple[Node, Node, Node]
ID = BASE + "id/"
DEF = BASE + "def/"
READ_GRAPHS = (GRAPH_ONTOLOGY, GRAPH_SCHEMES, GRAPH_DATA, GRAPH_INFERRED)
NAME_PROPERTIES = (SKOS.prefLabel, SKOS.altLabel, SKOS.notation, PG.inseeCode, FOAF.name)
IDENTIFIERS = (FOAF.homepage, SCHEMA.sameAs, PG.inseeCode)
REVERSE = (PG.pole, PG.labelledCluster, PG.partner)
NAMED_TYPES = ("pole", "org", "person", "programme", "event")

FIELD_LABELS = {
    SKOS.prefLabel: ("nom", "name"), SKOS.altLabel: ("autre nom", "other name"),
    FOAF.homepage: ("site web", "website"), FOAF.name: ("nom complet", "full name"),
    DCT.source: ("source", "source"), PROV.wasDerivedFrom: ("source", "source"), DCT.date: ("date", "date"),
    DCT.description: ("description", "description"), RDF.type: ("type", "type"),
    SKOS.inScheme: ("schéma", "scheme"), SCHEMA.startDate: ("date", "date"),
}
FIXES = {
    "MinCountConstraintComponent": ("ajouter une valeur à ce champ", "add a value to this field"),
    "MaxCountConstraintComponent": ("ne garder que le nombre de valeurs permis", "keep only the number of values allowed"),
    "ClassConstraintComponent": ("donner la clé d'une chose existante du type attendu", "give the key of an existing thing of the expected type"),
    "DatatypeConstraintComponent": ("écrire la valeur au format attendu", "write the value in the expected format"),
    "OrConstraintComponent": ("écrire la valeur dans l'un des formats attendus", "write the value in one of the expected formats"),
    "PatternConstraintComponent": ("écrire une valeur de la forme attendue", "write a value of the expected form"),
    "NodeKindConstraintComponent": ("donner une adresse (IRI) plutôt qu'un texte", "give an address (IRI) rather than text"),
    "QualifiedMinCountConstraintComponent": ("ajouter le nom dans la langue demandée (colonne name_fr ou name_en)", "add the name in the language asked for (column name_fr or name_en)"),
    "UniqueLangConstraintComponent": ("ne garder qu'un nom par langue", "keep one name per language"),
    "SPARQLConstraintComponent": ("corriger la valeur signalée", "correct the value reported"),
}


# ---- a lazy view of the store for the CSV mapping ----------------------------------------------

class _StoreKeys(dict):
    """Keys of one record type: those of the submission, plus any already in the store."""

    def __init__(self, steward: "Steward", kind: str) -> None:
        super().__init__()
        self.steward, self.kind = steward, kind

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or self.steward.exists(URIRef(f"{ID}{self.kind}/{key}"))

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return dict.get(self, key)
        return ("the graph", None) if self.__contains__(key) else default

    def __getitem__(self, key):
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self):
        yield from dict.keys(self)
        yield from self.steward.keys_of(self.kind)


class _StoreKeyMap(dict):
    def __init__(self, steward: "Steward") -> None:
        super().__init__()
        self.steward = steward

    def get(self, kind, default=None):
        return self.setdefault(kind, _StoreKeys(self.steward, kind))

    def setdefault(self, kind, default=None):
        if kind not in self:
            dict.__setitem__(self, kind, _StoreKeys(self.steward, kind))
        return dict.__getitem__(self, kind)


class _StoreLabels(dict):
    def __init__(self, steward: "Steward") -> None:
        super().__init__()
        self.steward = steward

    def get(self, iri, default=None):
        if iri not in self:
            dict.__setitem__(self, iri, self.steward.names_of(iri))
        return dict.__getitem__(self, iri)

    def setdefault(self, iri, default=None):
        if iri not in self:
            dict.__setitem__(self, iri, dict(default or {}))
        return dict.__getitem__(self, iri)


class StoreIndex(Index):
    def __init__(self, steward: "Steward") -> None:
        super().__init__()
        self.keys = _StoreKeyMap(steward)  # type: ignore[assignment]
        self.labels = _StoreLabels(steward)  # type: ignore[assignment]
        self.concepts = steward.concept_codes()


# ---- the plan of a change ------------------------------------------------------------------------

@dataclass
class Plan:
    """What a change writes (or removes): asserted and inferred triples, index entries, history."""

    records: list[URIRef] = field(default_factory=list)
    asserted: set[Triple] = field(default_factory=set)
    inferred: set[Triple] = field(default_factory=set)
    names: set[Triple] = field(default_factory=set)
    removed_asserted: set[Triple] = field(default_factory=set)
    removed_inferred: set[Triple] = field(default_factory=set)
    removed_names: set[Triple] = field(default_factory=set)
    touched: set[URIRef] = field(default_factory=set)

    def diff(self) -> str:
        """The change as a diff of N-Triples: + added, - removed, grouped by graph."""
        out = []
        for title, triples, sign in (("graph/data", self.asserted, "+"), ("graph/inferred", self.inferred, "+"),
                                     ("graph/data", self.removed_asserted, "-"),
                                     ("graph/inferred", self.removed_inferred, "-")):
            if triples:
                out.append(f"# {title}: {sign}{len(triples)}")
                out += [f"{sign} {_nt(t)}" for t in sorted(triples, key=lambda t: tuple(map(str, t)))]
        if self.touched:
            out.append(f"# existing records touched: {len(self.touched)}")
            out += [f"  {shorten(str(t))}" for t in sorted(self.touched)]
        return "\n".join(out)


def _nt(t: Triple) -> str:
    return " ".join(term.n3() for term in t) + " ."


# ---- the steward ---------------------------------------------------------------------------------

class Steward:
    """Validation, addition and retraction of records against one store."""

    def __init__(self, store: GraphStore, rules: Rules | None = None) -> None:
        self.store = store
        self.db = store.db
        self.ontology = self._graph(GRAPH_ONTOLOGY)
        self.shapes = self._graph(GRAPH_SHAPES)
        self.rules = rules or compile_rules(self.ontology)
        chain_properties = {p for _, chain in self.rules.chains for p in chain} | self.rules.transitive
        self.hop_properties = chain_properties | {q for p in chain_properties for q in self.rules.inverses.get(p, ())}
        self.key_properties = ({p for keys in self.rules.keys.values() for ks in keys for p in ks}
                               | self.rules.functional | self.rules.inverse_functional)
        self._concepts: dict[str, set[str]] | None = None
        self._keys: dict[str, list[str]] = {}
        for prop, label in self.ontology.subject_objects(RDFS.label):
            if isinstance(label, Literal) and label.language in ("fr", "en"):
                _ONTOLOGY_LABELS.setdefault(prop, {})[label.language] = str(label)

    @classmethod
    def open(cls, path: Path | str) -> "Steward":
        return cls(GraphStore.open(path))

    def _graph(self, name: URIRef) -> Graph:
        g = Graph()
        for q in self.db.quads_for_pattern(None, None, None, ox.NamedNode(str(name))):
            g.add((from_ox(q.subject), from_ox(q.predicate), from_ox(q.object)))
        return g

    # ---- store lookups -------------------------------------------------------------------------

    def exists(self, iri: URIRef) -> bool:
        try:
            node = ox.NamedNode(str(iri))
        except ValueError:  # not a valid IRI: certainly not in the store
            return False
        return any(True for _ in self.db.quads_for_pattern(node, None, None, None))

    def in_data(self, iri: URIRef) -> bool:
        try:
            node = ox.NamedNode(str(iri))
        except ValueError:
            return False
        return any(True for _ in self.db.quads_for_pattern(node, None, None, ox.NamedNode(str(GRAPH_DATA))))

    def keys_of(self, kind: str) -> list[str]:
        if kind not in self._keys:
            prefix = f"{ID}{kind}/"
            q = f'SELECT DISTINCT ?s WHERE {{ GRAPH <{GRAPH_DATA}> {{ ?s a ?t }} FILTER(STRSTARTS(STR(?s), "{prefix}")) }}'
            self._keys[kind] = sorted(r["s"].value[len(prefix):] for r in self.db.query(q) if "#" not in r["s"].value)
        return self._keys[kind]

    def concept_codes(self) -> dict[str, set[str]]:
        if self._concepts is None:
            codes: dict[str, set[str]] = {}
            for q in self.db.quads_for_pattern(None, ox.NamedNode(str(SKOS.inScheme)), None, None):
                c, s = q.subject.value, q.object.value
                if s.startswith(DEF) and c.startswith(s + "/"):
                    codes.setdefault(s[len(DEF):], set()).add(c[len(s) + 1:])
            self._concepts = codes
        return self._concepts

    def names_of(self, iri: URIRef) -> dict[str, str]:
        names: dict[str, str] = {}
        for q in self.db.quads_for_pattern(ox.NamedNode(str(iri)), ox.NamedNode(str(SKOS.prefLabel)), None, None):
            names.setdefault(q.object.language or "", q.object.value)
        return names

    def describe(self, nodes: Iterable[Node]) -> set[Triple]:
        """Every stored triple (asserted, inferred, schemes) about these nodes."""
        out: set[Triple] = set()
        for node in nodes:
            if not isinstance(node, URIRef):
                continue
            for graph in READ_GRAPHS:
                for q in self.db.quads_for_pattern(ox.NamedNode(str(node)), None, None, ox.NamedNode(str(graph))):
                    out.add((node, from_ox(q.predicate), from_ox(q.object)))
        return out

    def subjects_with(self, prop: Node, value: Node, graph: URIRef = GRAPH_DATA) -> set[URIRef]:
        return {from_ox(q.subject) for q in self.db.quads_for_pattern(None, to_ox(prop), to_ox(value),
                                                                      ox.NamedNode(str(graph)))}

    def types_of(self, iri: Node) -> set[Node]:
        return {from_ox(q.object) for q in self.db.quads_for_pattern(to_ox(iri), ox.NamedNode(str(RDF.type)), None, None)}

    # ---- reading -------------------------------------------------------------------------------

    def read(self, paths: list[Path], fmt: str | None = None, record_type: str | None = None) -> Submission:
        return read_files([Path(p) for p in paths], StoreIndex(self), fmt=fmt, record_type=record_type)

    # ---- checking ------------------------------------------------------------------------------

    def check(self, sub: Submission, lang: str = "fr") -> tuple[StewardReport, Plan]:
        """Validate a submission in the context of the store; return the report and what add would write."""
        started = time.perf_counter()
        report = StewardReport()
        plan = Plan()
        for problem, kind, record in sub.problems:
            r = report.for_record(str(record) if record else None, problem.file, problem.line, None)
            at_fr = f" (colonne {problem.column})" if problem.column else ""
            at_en = f" (column {problem.column})" if problem.column else ""
            r.items.append(Item(kind, {"fr": problem.text("message", "fr") + at_fr, "en": problem.message + at_en},
                                field=problem.field, field_label=_column_label(problem.field), found=None,
                                expected=_both(problem, "expected"), fix=_both(problem, "fix"),
                                engine=problem.message))
        records = sub.records
        if not records:
            report.seconds = time.perf_counter() - started
            return report, plan
        ours = {r.iri for r in records}
        R: set[Triple] = set()
        for rec in records:
            R.update(rec.triples)
            report.for_record(str(rec.iri), rec.file, rec.line, rec.type.name if rec.type else None)
        for t in cited_sources(R):
            if not self.exists(t[0]):
                R.add(t)
        own_nodes = {t[0] for t in R}
        taken = self._check_identity(records, report)
        self._check_references(records, R, own_nodes, report)
        context = self._context(R, own_nodes)
        everything, contradictions = closure(self.rules, R | context, include_schema=False)
        inferred = {t for t in everything - R - context if not is_noise(*t) and not isinstance(t[0], Literal)
                    and not self._stored(t)}
        for message in contradictions:
            rec = next((r for r in records if str(r.iri) in message), records[0])
            item = Item("consistency", {"fr": "contradiction logique (OWL 2 RL) : " + _fr_contradiction(message),
                                        "en": "logical contradiction (OWL 2 RL): " + message},
                        fix={"fr": "vérifier les types et les références de l'enregistrement",
                             "en": "check the record's types and references"}, engine=message)
            report.for_record(str(rec.iri), rec.file, rec.line, None).items.append(item)
        checked = {n for n in own_nodes if URIRef(str(n).split("#", 1)[0]) not in taken}
        self._check_shapes(records, R | context | inferred, checked, report)
        plan.records = sorted(ours)
        plan.asserted = R
        plan.inferred = inferred
        plan.names = name_index(R | inferred)
        plan.touched = {URIRef(str(s).split("#", 1)[0]) for s, _, _ in inferred} - ours
        report.seconds = time.perf_counter() - started
        return report, plan

    def _stored(self, t: Triple) -> bool:
        try:
            return any(True for _ in self.db.quads_for_pattern(to_ox(t[0]), to_ox(t[1]), to_ox(t[2]), None))
        except TypeError:
            return False

    def _check_identity(self, records: list[SubmittedRecord], report: StewardReport) -> set[URIRef]:
        """Duplicates of stored records or of each other; returns the records whose key is taken."""
        seen_names: dict[tuple[str, str], URIRef] = {}
        taken: set[URIRef] = set()
        for rec in records:
            r = report.for_record(str(rec.iri), rec.file, rec.line, rec.type.name if rec.type else None)
            twins: set[URIRef] = set()
            if self.in_data(rec.iri):
                taken.add(rec.iri)
                r.items.append(Item("duplicate", {"fr": f"un enregistrement de clé « {rec.key} » existe déjà dans le graphe",
                                                  "en": f"a record with key {rec.key!r} already exists in the graph"},
                                    field="key", field_label={"fr": "clé", "en": "key"}, found=rec.key,
                                    expected={"fr": "une clé nouvelle", "en": "a new key"},
                                    fix={"fr": "choisir une autre clé, ou retirer d'abord l'existant (pole-graph retract "
                                               + rec.key + ")", "en": "choose another key, or retract the existing record first "
                                                                      "(pole-graph retract " + rec.key + ")"},
                                    engine=f"<{rec.iri}> has triples in graph/data"))
            kind = str(rec.iri)[len(ID):].split("/", 1)[0]
            if kind not in NAMED_TYPES:
                continue
            my_types = {o for s, p, o in rec.triples if s == rec.iri and p == RDF.type}
            for s, p, o in rec.triples:
                if s != rec.iri:
                    continue
                if p in (SKOS.prefLabel, FOAF.name) and isinstance(o, Literal):
                    folded = fold(str(o))
                    twin = seen_names.get((kind, folded))
                    candidates = {twin} if twin is not None else set()
                    seen_names[(kind, folded)] = rec.iri
                    for other in self.subjects_with(PG.foldedName, Literal(folded), GRAPH_INDEX):
                        if str(other).startswith(f"{ID}{kind}/") and self.types_of(other) & my_types:
                            candidates.add(other)
                    for other in sorted(candidates - twins - {rec.iri}):
                        twins.add(other)
                        r.items.append(_name_twin(rec, o, other))
                if p in IDENTIFIERS:
                    for other in self.subjects_with(p, o):
                        if other != rec.iri and self.types_of(other) & my_types:
                            label = _field_label(p, rec)
                            r.items.append(Item("duplicate",
                                                {"fr": f"{other} a déjà cet identifiant", "en": f"{other} already has this identifier"},
                                                field=rec.column_of.get(p, shorten(str(p))), field_label=label, found=str(o),
                                                expected={"fr": "un identifiant propre à cet enregistrement",
                                                          "en": "an identifier of this record only"},
                                                fix={"fr": f"vérifier qu'il ne s'agit pas de {shorten(str(other))}",
                                                     "en": f"check that this is not {shorten(str(other))}"},
                                                engine=f"<{other}> {p.n3()} {o.n3()}", path=str(p)))
        return taken

    def _check_references(self, records: list[SubmittedRecord], R: set[Triple], own: set[Node],
                          report: StewardReport) -> None:
        for rec in records:
            r = report.for_record(str(rec.iri), rec.file, rec.line, None)
            for s, p, o in rec.triples:
                if not isinstance(o, URIRef) or o in own or p == RDF.type:
                    continue
                text = str(o)
                if not (text.startswith(ID) or text.startswith(DEF)) or "#" in text:
                    continue
                if self.exists(o):
                    continue
                kind = text[len(ID):].split("/", 1)[0] if text.startswith(ID) else None
                key = text.rsplit("/", 1)[-1]
                close = []
                if kind:
                    from .records import _close
                    close = _close(key, self.keys_of(kind))
                hint_fr = f" (vouliez-vous dire {', '.join(close)} ?)" if close else ""
                hint_en = f" (did you mean {', '.join(close)}?)" if close else ""
                r.items.append(Item("reference", {"fr": f"« {shorten(text)} » ne désigne rien dans le graphe{hint_fr}",
                                                  "en": f"{shorten(text)} names nothing in the graph{hint_en}"},
                                    field=rec.column_of.get(p, shorten(str(p))), field_label=_field_label(p, rec),
                                    found=text, expected={"fr": "l'adresse ou la clé d'une chose existante",
                                                          "en": "the address or key of an existing thing"},
                                    fix={"fr": f"écrire {close[0]}" if close else "vérifier la clé",
                                         "en": f"use {close[0]}" if close else "check the key"},
                                    engine=f"no triple has subject <{text}>", path=str(p)))

    def _context(self, R: set[Triple], own: set[Node]) -> set[Triple]:
        """What the records touch: descriptions of what they refer to, two hops along the properties
        the rules chain through, the other records pointing at the same pôle, and holders of the
        same key values."""
        first = {o for s, p, o in R if isinstance(o, URIRef)} - own
        context = self.describe(first)
        second = {o for s, p, o in context if isinstance(o, URIRef) and ("#" in str(o) or p in self.hop_properties)}
        context |= self.describe(second - first - own)
        for p in REVERSE:
            for node in first:
                context |= self.describe(self.subjects_with(p, node) - own)
        for s, p, o in R:
            if p in self.key_properties:
                context |= self.describe(self.subjects_with(p, o) - own)
        return context

    def _check_shapes(self, records: list[SubmittedRecord], graph_triples: set[Triple], own: set[Node],
                      report: StewardReport) -> None:
        data = graph_of(graph_triples)
        focus = sorted(n for n in own if isinstance(n, URIRef))
        conforms, results, text = self._validator_run(data, focus)
        if not isinstance(results, Graph):
            raise UsageError(f"the stored shapes cannot be used: {text}")
        from .validate import _render_templates

        by_iri = {str(r.iri): r for r in records}
        for result in results.subjects(RDF.type, SH.ValidationResult):
            focus_node = results.value(result, SH.focusNode)
            base = str(focus_node).split("#", 1)[0]
            rec = by_iri.get(base)
            path = results.value(result, SH.resultPath)
            value = results.value(result, SH.value)
            component = str(results.value(result, SH.sourceConstraintComponent) or "").rsplit("#", 1)[-1]
            messages: dict[str, str] = {}
            for m in results.objects(result, SH.resultMessage):
                messages.setdefault(getattr(m, "language", None) or "", str(m))
            if set(messages) <= {""}:
                messages.update(_render_templates(self.shapes, results, result))
            if rec and rec.type and path is None and component == "SPARQLConstraintComponent":
                path = None
            kind = "datatype" if component in ("DatatypeConstraintComponent", "OrConstraintComponent") else "shape"
            field_name = rec.column_of.get(path, shorten(str(path))) if (rec and path is not None) else (shorten(str(path)) if path is not None else None)
            item = Item(kind, {"fr": messages.get("fr", messages.get("", "")), "en": messages.get("en", messages.get("", ""))},
                        field=field_name, field_label=_field_label(path, rec) if path is not None else {},
                        found=None if value is None else str(value),
                        expected={"fr": messages.get("fr", ""), "en": messages.get("en", "")},
                        fix=dict(zip(("fr", "en"), FIXES.get(component, ("corriger la valeur", "correct the value")))),
                        engine=", ".join(x for x in (component, f"path {shorten(str(path))}" if path is not None else "",
                                                     f"value {value}" if value is not None else "",
                                                     f"focus {shorten(str(focus_node))}") if x),
                        path=str(path) if path is not None else None,
                        component=str(results.value(result, SH.sourceConstraintComponent) or ""))
            item.expected = {}
            target = report.for_record(base if rec else str(focus_node), rec.file if rec else None,
                                       rec.line if rec else None, rec.type.name if rec and rec.type else None)
            target.items.append(item)

    def _validator_run(self, data: Graph, focus: list[URIRef]):
        """pySHACL on a small graph, reusing a prepared shapes graph (its shape cache is the costly
        part of a run on a few hundred triples); falls back to the public entry point."""
        from .validate import cache_sparql_parsing

        cache_sparql_parsing()
        options = {"advanced": True, "inference": "none", "allow_warnings": True, "inplace": True,
                   "focus_nodes": focus}
        try:
            from pyshacl import Validator
            from pyshacl.graph_abstraction import DataGraph
            from pyshacl.shapes_graph import ShapesGraph

            if getattr(self, "_prepared", None) is None:
                self._prepared = ShapesGraph(self.shapes)
                self._prepared.shapes  # builds the node-shape cache once
            validator = Validator(DataGraph.from_rdflib(data), shacl_graph=self.shapes, options=dict(options))
            validator.shacl_graph = self._prepared
            return validator.run()
        except (ImportError, AttributeError, TypeError):
            return pyshacl_validate(data, shacl_graph=self.shapes, **options)

    def close(self) -> None:
        """Drop the store handle now (a writer closes before it releases the writers' lock, so no
        reader snapshots a database whose writer is still compacting it)."""
        import gc

        self.db = None
        self.store.db = None
        gc.collect()

    # ---- writing -------------------------------------------------------------------------------

    def commit(self, plan: Plan, action: URIRef, files: dict[str, str], by: str) -> URIRef:
        """Write a plan in one transaction, with its PROV-O account in graph/history."""
        activity = URIRef(f"{ID}activity/{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}")
        agent = URIRef(f"{ID}steward/{_slug(by)}")
        now = Literal(time.strftime("%Y-%m-%dT%H:%M:%S%z").replace("+0000", "Z"), datatype=XSD.dateTime)
        history = {(activity, RDF.type, action), (activity, RDF.type, PROV.Activity),
                   (activity, PROV.startedAtTime, now), (activity, PROV.wasAssociatedWith, agent),
                   (agent, RDF.type, PROV.Agent), (agent, RDFS.label, Literal(by))}
        for name, checksum in files.items():
            history.add((activity, PG.submittedFile, Literal(Path(name).name)))
            if checksum:
                history.add((activity, PG.fileChecksum, Literal(checksum)))
        verb = PROV.generated if action == PG.RecordAddition else PROV.invalidated
        for record in plan.records:
            history.add((activity, verb, record))
        parts = []
        for graph, triples in ((GRAPH_DATA, plan.removed_asserted), (GRAPH_INFERRED, plan.removed_inferred),
                               (GRAPH_INDEX, plan.removed_names)):
            if triples:
                parts.append("DELETE DATA { GRAPH <%s> {\n%s\n} }" % (graph, "\n".join(_nt(t) for t in triples)))
        for graph, triples in ((GRAPH_DATA, plan.asserted), (GRAPH_INFERRED, plan.inferred),
                               (GRAPH_INDEX, plan.names), (GRAPH_HISTORY, history)):
            if triples:
                parts.append("INSERT DATA { GRAPH <%s> {\n%s\n} }" % (graph, "\n".join(_nt(t) for t in triples)))
        from .store import mark_updated, write_error

        path = self.store.path
        try:
            # build.json first: servers reopen the store when it changes, after this writer lets go
            # of the lock (their snapshot waits for it); marked after the transaction, a crash in
            # between would leave a change that no running server ever sees.
            if path is not None and (Path(path) / "build.json").exists():
                self.store.info = mark_updated(path, "steward")
            self.db.update(";\n".join(parts))  # one update request: one transaction, all or nothing
        except OSError as exc:
            if path is None:  # a remote store: its own errors
                raise
            raise write_error(path, exc, "nothing was written") from exc
        try:
            self.db.flush()
        except OSError as exc:
            if path is None:
                raise
            raise write_error(path, exc, "the change is committed to the store's log; the store opens with it "
                                         "once the disk has room") from exc
        return activity

    # ---- retraction ----------------------------------------------------------------------------

    def retraction_plan(self, ref: str) -> tuple[Plan, list[str]]:
        """What retracting a record removes; problems (unknown record, still referred to) if any."""
        iri = self._record_iri(ref)
        plan = Plan(records=[iri])
        problems = []
        if iri is None or not self.in_data(iri):
            return plan, [f"no record {ref!r} in graph/data"]
        prefix = str(iri) + "#"
        data = self._graph(GRAPH_DATA)
        mine = {t for t in data if t[0] == iri or str(t[0]).startswith(prefix)}
        referrers = {s for s, p, o in data if (o == iri or str(o).startswith(prefix))
                     and not (s == iri or str(s).startswith(prefix))}
        if referrers:
            names = ", ".join(shorten(str(s)) for s in sorted(referrers)[:5])
            problems.append(f"{shorten(str(iri))} is still referred to by {len(referrers)} record(s): {names}; "
                            "retract those first")
            return plan, problems
        remaining = set(data) - mine
        for g in (GRAPH_ONTOLOGY, GRAPH_SCHEMES):
            remaining |= set(self._graph(g))
        # addresses cited only by this record were typed pg:SourceDocument for it: they go too
        cited = {o for s, p, o in mine if p in (DCT.source, PROV.wasDerivedFrom)}
        still_cited = {o for s, p, o in remaining if p in (DCT.source, PROV.wasDerivedFrom)}
        for url in cited - still_cited:
            own = {t for t in data if t[0] == url}
            if own == {(url, RDF.type, PG.SourceDocument)}:
                mine |= own
                remaining -= own
        # full recomputation with the fast engine: exact, whatever the rule that derived a triple
        everything, _ = closure(self.rules, remaining)
        new_inferred = {t for t in everything - remaining if not is_noise(*t) and not isinstance(t[0], Literal)}
        old_inferred = set(self._graph(GRAPH_INFERRED))
        plan.removed_asserted = mine
        plan.removed_inferred = old_inferred - new_inferred
        plan.inferred = new_inferred - old_inferred
        old_names = set(self._graph(GRAPH_INDEX))
        new_names = name_index(remaining | new_inferred)
        plan.removed_names = old_names - new_names
        plan.names = new_names - old_names
        plan.touched = {URIRef(str(s).split("#", 1)[0]) for s, _, _ in plan.removed_inferred} - {iri}
        return plan, problems

    def _record_iri(self, ref: str) -> URIRef | None:
        if ref.startswith("http"):
            return URIRef(ref)
        if "/" in ref:
            kind, key = ref.split("/", 1)
            return URIRef(f"{ID}{kind}/{key}")
        candidates = [URIRef(f"{ID}{kind}/{ref}") for kind in sorted({v[1] for v in REF_TYPES.values() if v[0] == "id"}
                                                                     | {"labelling", "membership", "contribution"})]
        found = [c for c in candidates if self.in_data(c)]
        return found[0] if len(found) == 1 else (None if not found else found[0])

    def history(self) -> list[dict[str, object]]:
        q = f"""PREFIX prov: <http://www.w3.org/ns/prov#> PREFIX pg: <{PG._NS}>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT ?a ?kind ?when ?who (GROUP_CONCAT(DISTINCT STR(?file); separator=" ") AS ?files)
               (GROUP_CONCAT(DISTINCT STR(?rec); separator=" ") AS ?records)
        WHERE {{ GRAPH <{GRAPH_HISTORY}> {{
          ?a a ?kind ; prov:startedAtTime ?when ; prov:wasAssociatedWith/rdfs:label ?who .
          FILTER(?kind IN (pg:RecordAddition, pg:RecordRetraction))
          OPTIONAL {{ ?a pg:submittedFile ?file }}
          OPTIONAL {{ ?a prov:generated|prov:invalidated ?rec }} }} }}
        GROUP BY ?a ?kind ?when ?who ORDER BY ?when ?a"""
        out = []
        for row in self.db.query(q):
            out.append({"activity": row["a"].value, "action": "add" if row["kind"].value.endswith("Addition") else "retract",
                        "when": row["when"].value, "by": row["who"].value,
                        "files": row["files"].value.split() if row["files"] else [],
                        "records": row["records"].value.split() if row["records"] else []})
        return out


# ---- helpers -------------------------------------------------------------------------------------

def name_index(triples: Iterable[Triple]) -> set[Triple]:
    """Folded names of things, for lookups by name and duplicate detection (graph/index)."""
    out = set()
    for s, p, o in triples:
        if p in NAME_PROPERTIES and isinstance(s, URIRef) and isinstance(o, Literal):
            folded = fold(str(o))
            if folded:
                out.add((s, PG.foldedName, Literal(folded)))
    return out


def _both(problem, what: str) -> dict[str, str]:
    en, fr = problem.text(what, "en"), problem.text(what, "fr")
    return {k: v for k, v in (("fr", fr), ("en", en)) if v}


def _column_label(column: str | None) -> dict[str, str]:
    if not column:
        return {}
    from .records import RECORD_TYPES

    for rt in RECORD_TYPES:
        for c in rt.columns:
            if c.name == column and c.help_fr:
                return {"fr": c.help_fr, "en": c.help_en}
    return {}


_ONTOLOGY_LABELS: dict[Node, dict[str, str]] = {}


def _field_label(prop: Node | None, rec: SubmittedRecord | None) -> dict[str, str]:
    if prop is None:
        return {}
    if rec is not None and prop in rec.column_of and rec.type is not None:
        column = next((c for c in rec.type.columns if c.name == rec.column_of[prop]), None)
        if column is not None and column.help_fr:
            return {"fr": column.help_fr, "en": column.help_en}
    if prop in FIELD_LABELS:
        fr, en = FIELD_LABELS[prop]
        return {"fr": fr, "en": en}
    return dict(_ONTOLOGY_LABELS.get(prop, {}))


def _name_twin(rec: SubmittedRecord, name: Literal, other: URIRef) -> Item:
    return Item("duplicate", {"fr": f"le nom « {name} » est déjà celui de {shorten(str(other))} (sans tenir compte des "
                                    "accents ni de la casse)",
                              "en": f"the name {str(name)!r} is already the name of {shorten(str(other))} (ignoring "
                                    "accents and case)"},
                field=rec.column_of.get(SKOS.prefLabel, "name"), field_label={"fr": "nom", "en": "name"},
                found=str(name), expected={"fr": "un nom qui distingue cet enregistrement", "en": "a name that tells this record apart"},
                fix={"fr": f"vérifier qu'il ne s'agit pas de {shorten(str(other))} ; sinon préciser le nom",
                     "en": f"check that this is not {shorten(str(other))}; otherwise make the name more precise"},
                engine=f"pg:foldedName {fold(str(name))!r} also on <{other}>", path=str(SKOS.prefLabel))


def _fr_contradiction(message: str) -> str:
    m = re.match(r"Disjoint classes (\S+) and (\S+) have a common individual (\S+)", message)
    if m:
        return f"{shorten(m.group(3))} serait à la fois {shorten(m.group(1))} et {shorten(m.group(2))}, classes disjointes"
    if "were merged" in message:
        return message.replace("were merged", "seraient confondus") \
            .replace("they share the key", "ils partagent la clé")
    return message


def _slug(text: str) -> str:
    return "-".join(fold(text).split()) or "unknown"


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


def open_for_writing(path: Path) -> GraphStore:
    """A read-write handle on an existing store (the caller holds the writer lock)."""
    import json as _json

    from .store import INFO_FILE, _recover

    path = Path(path)
    _recover(path)
    if not (path / DB_DIR).is_dir():
        from .errors import StoreMissingError
        raise StoreMissingError(f"{path}: no store here", hint="run `pole-graph build` first, or pass --store PATH")
    info_path = path / INFO_FILE
    info = _json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
    try:
        db = ox.Store(str(path / DB_DIR))
    except OSError as exc:  # RocksDB writes as it opens (its manifest, options and log)
        from .store import write_error
        raise write_error(path, exc, "nothing was written") from exc
    return GraphStore(path, db, info)
