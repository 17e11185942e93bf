"""SHACL validation compiled to SPARQL: each constraint evaluated once over all focus nodes.

pySHACL (``validate.py``) checks every constraint once per focus node from Python: 56 s at 100k
data triples, more than 25 minutes at 1M. Here the shapes graph is compiled into SPARQL queries,
one per constraint component of each shape, that pyoxigraph evaluates *once* over every focus node
of the shape; each solution is a validation result. The report is the same ``ValidationReport``
of ``Violation`` objects as ``validate.validate`` (focus, path, value, severity, source shape,
component, messages per language with ``{?value}``/``{$this}`` filled in); pySHACL stays the
reference semantics and tests/test_shacl_sparql.py checks both engines agree result for result.

    program = compile_shapes(shapes)                  # UnsupportedShapeError on anything unknown
    report = validate_store(store, program, graphs)   # a pyoxigraph.Store, named graphs to union
    report = validate_graph(data, shapes)             # an rdflib.Graph, loaded into memory first

Only the SHACL features the project's shapes use are compiled (see SUPPORTED); any other one in
the shapes graph raises ``UnsupportedShapeError`` naming it and the shape, so no constraint is
ever dropped silently. What is compiled, and how:

- targets ``sh:targetClass`` (instances through ``rdf:type/rdfs:subClassOf*`` in the data),
  ``sh:targetSubjectsOf``, ``sh:targetObjectsOf``; ``sh:deactivated`` shapes are skipped;
- ``sh:path`` an IRI or ``[ sh:alternativePath ( IRIs ) ]``;
- value tests (``sh:datatype``, ``sh:nodeKind``, ``sh:pattern``, ``sh:languageIn``, ``sh:or`` of
  shapes made of those) become one boolean SPARQL expression on the value node, the violations a
  ``FILTER(!…)``; ``sh:class`` a ``MINUS { ?v rdf:type/rdfs:subClassOf* C }``;
- ``sh:minCount 1`` and ``sh:qualifiedMinCount 1`` a ``MINUS`` (``FILTER NOT EXISTS`` for few focus
  nodes), other counts ``GROUP BY … HAVING (COUNT(DISTINCT ?v) …)``; ``sh:uniqueLang`` one group per
  focus node and lower-cased language. Each check has two plans, a scan of the path's predicate
  joined with the focus nodes and a lookup per focus node (OPTIONAL, NOT EXISTS), and the focus
  nodes are counted to choose (pyoxigraph picks neither itself): 212 queries take 17 s at 1M;
- ``sh:sparql`` SELECT constraints: the query, unchanged, as a sub-select joined on ``?this`` with
  the shape's focus nodes instead of pre-bound per focus node. That means the same only where
  ``$this`` is bound by the query's own mandatory triple patterns wherever a FILTER, BIND or
  OPTIONAL uses it, and the query has no LIMIT, aggregate or sub-select: checked on rdflib's
  algebra of each query, and refused otherwise.

Details kept from pySHACL: a literal of the right datatype that rdflib finds ill-typed fails
``sh:datatype`` (the distinct literals of each such datatype are checked with rdflib once); blank
nodes fail ``sh:pattern``; minCount, maxCount, qualified counts and uniqueLang results have no
``sh:value`` (uniqueLang gives one result per duplicated language); a SPARQL result on a node shape
has the focus node as value. Known differences, all outside the project's data: ``sh:pattern`` is
Rust's regex dialect (Python's ``$`` also matches before a final newline), and pyoxigraph stores
numbers and dates in canonical form ("1.50"^^xsd:decimal comes back "1.5"; ``validate_graph``
maps such values back to the data's own literal).
"""

from __future__ import annotations

import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal
from typing import Iterator, Sequence

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from .errors import ContentError, Problem
from .namespaces import OWL, RDF, RDFS, SH, XSD
from .terms import from_ox, to_ox
from .validate import ValidationReport, Violation

__all__ = ["UnsupportedShapeError", "ShapesProgram", "compile_shapes", "validate_store", "validate_graph",
           "SUPPORTED"]

# sh: predicates the compiler understands (anywhere in the shapes graph); any other is refused.
SUPPORTED = frozenset(SH[n] for n in (
    "targetClass", "targetSubjectsOf", "targetObjectsOf", "property", "path", "alternativePath",
    "class", "minCount", "maxCount", "datatype", "nodeKind", "or", "pattern", "languageIn", "uniqueLang",
    "qualifiedValueShape", "qualifiedMinCount", "sparql", "select", "prefixes", "declare", "prefix",
    "namespace", "message", "severity", "deactivated", "name", "description", "order", "group",
))
_TYPES = frozenset(SH[n] for n in ("NodeShape", "PropertyShape", "Shape", "SPARQLConstraint",
                                   "PrefixDeclaration", "PropertyGroup"))
_ANNOTATIONS = frozenset({RDF.type, RDFS.label, RDFS.comment, SH.name, SH.description, SH.order, SH.group})
_TARGETS = (SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf)
# what each kind of shape may carry (beyond annotations)
_NODE_SHAPE = frozenset({*_TARGETS, SH.property, SH.sparql, SH.message, SH.severity, SH.deactivated,
                         SH.nodeKind, SH.pattern})
_PROPERTY_SHAPE = frozenset({SH.path, SH["class"], SH.minCount, SH.maxCount, SH.datatype, SH.nodeKind, SH["or"],
                             SH.pattern, SH.languageIn, SH.uniqueLang, SH.qualifiedValueShape,
                             SH.qualifiedMinCount, SH.message, SH.severity, SH.deactivated})
_VALUE_SHAPE = frozenset({SH.datatype, SH.nodeKind, SH.pattern, SH.languageIn})  # in sh:or, qualifiedValueShape
_SPARQL_CONSTRAINT = frozenset({SH.select, SH.prefixes, SH.message, SH.deactivated})

SMALL = 5000  # focus nodes up to which a shape's checks look each one up rather than scan (measured at 1M)
_TYPE_PATH = f"<{RDF.type}>/<{RDFS.subClassOf}>*"
# datatypes whose well-formedness pySHACL judges from rdflib's Python value (others: IRI equality only)
_PYTHON_TYPES = {XSD.integer: int, XSD.decimal: Decimal, XSD.float: float, XSD.boolean: bool, XSD.date: date,
                 XSD.time: dtime, XSD.dateTime: datetime, XSD.string: str}


class UnsupportedShapeError(ContentError):
    """The shapes use a SHACL feature the SPARQL compiler does not implement (validate with pySHACL)."""

    def __init__(self, what: str, where: str) -> None:
        super().__init__(Problem("ontology/shapes", where, f"{what} is not supported by the SPARQL validator",
                                 expected="the SHACL features listed in pole_graph/shacl_sparql.py"),
                         hint="validate with pole_graph.validate.validate (pySHACL), or extend the compiler")


# ---- the compiled program -----------------------------------------------------------------------

@dataclass(frozen=True)
class _Check:
    """One SPARQL query: its solutions are validation results of one constraint of one shape."""

    shape: Node
    component: str                  # e.g. "MinCountConstraintComponent"
    query: str                      # may hold __BAD_<n>__ markers, filled at run time
    path: Node | None               # sh:resultPath (property shapes)
    severity: Node
    messages: tuple[Literal, ...]   # the shape's sh:message
    value: str                      # "v": ?v is sh:value; "none"; "focus": the focus node; "sparql"
    generic: str = ""               # message when the shape has none (pySHACL's wording)
    constraint: Node | None = None  # the sh:sparql node
    templates: tuple[Literal, ...] = ()
    targets: str = ""               # the focus-node subquery, counted at run time
    small: str = ""                 # the same check for few focus nodes: index lookups per focus node


@dataclass
class ShapesProgram:
    """The shapes graph compiled: the queries, and which datatypes need rdflib's well-formedness test."""

    shapes: Graph
    checks: list[_Check] = field(default_factory=list)
    datatypes: dict[URIRef, set[URIRef]] = field(default_factory=dict)   # datatype -> predicates
    markers: dict[URIRef, str] = field(default_factory=dict)              # datatype -> __BAD_n__

    def queries(self) -> list[str]:
        return [c.query for c in self.checks]


def compile_shapes(shapes: Graph) -> ShapesProgram:
    """Compile ``shapes`` into SPARQL; raises UnsupportedShapeError on any feature not implemented."""
    compiler = _Compiler(shapes)
    compiler.scan()
    for shape in compiler.node_shapes():
        compiler.node_shape(shape)
    return compiler.program


class _Compiler:
    def __init__(self, shapes: Graph) -> None:
        self.g = shapes
        self.program = ShapesProgram(shapes)

    # -- naming, refusing --
    def name(self, node: Node) -> str:
        if isinstance(node, BNode):
            parent = self.g.value(predicate=SH.property, object=node)
            path = self.g.value(node, SH.path)
            shown = self.show(path) if isinstance(path, URIRef) else "[…]"
            if parent is not None:
                return f"property shape (sh:path {shown}) of {self.name(parent)}"
            if path is not None:
                return f"property shape (sh:path {shown})"
            for p in (SH["or"], SH.qualifiedValueShape, SH.sparql, SH.path):
                owner = self.g.value(predicate=p, object=node)
                if owner is None and p == SH["or"]:
                    owner = self._list_owner(node, SH["or"])
                if owner is not None:
                    return f"{self.g.qname(p)} of {self.name(owner)}"
            return f"blank node {node.n3()}"
        return self.show(node)

    def _list_owner(self, member: Node, predicate: URIRef) -> Node | None:
        head = self.g.value(predicate=RDF.first, object=member)
        while head is not None:
            owner = self.g.value(predicate=predicate, object=head)
            if owner is not None:
                return owner
            head = self.g.value(predicate=RDF.rest, object=head)
        return None

    def refuse(self, what: str, node: Node) -> None:
        raise UnsupportedShapeError(what, self.name(node))

    def scan(self) -> None:
        """Refuse any sh: term the compiler does not know, wherever it is in the shapes graph."""
        for s, p, o in self.g:
            if p in SUPPORTED or p in _ANNOTATIONS and p != RDF.type:
                continue
            if p == RDF.type:
                if isinstance(o, URIRef) and str(o).startswith(str(SH)) and o not in _TYPES:
                    self.refuse(f"rdf:type {self.g.qname(o)}", s)
                if o in (RDFS.Class, OWL.Class) and (s, RDF.type, SH.NodeShape) in self.g:
                    self.refuse("an implicit class target (a shape that is also a class)", s)
                continue
            if str(p).startswith(str(SH)):
                self.refuse(self.g.qname(p), s)

    def allowed(self, node: Node, allowed: frozenset, kind: str) -> None:
        for p in set(self.g.predicates(node)):
            if p in allowed or p in _ANNOTATIONS:
                continue
            if str(p).startswith(str(SH)):
                self.refuse(f"{self.g.qname(p)} on a {kind}", node)

    def one(self, node: Node, p: URIRef) -> Node | None:
        values = list(self.g.objects(node, p))
        if len(values) > 1:
            self.refuse(f"several values of {self.g.qname(p)}", node)
        return values[0] if values else None

    def deactivated(self, node: Node) -> bool:
        value = self.one(node, SH.deactivated)
        return isinstance(value, Literal) and value.value is True

    def integer(self, node: Node, p: URIRef) -> int | None:
        value = self.one(node, p)
        if value is None:
            return None
        if not isinstance(value, Literal) or not isinstance(value.value, int) or isinstance(value.value, bool):
            self.refuse(f"a {self.g.qname(p)} that is not an integer", node)
        return int(value.value)

    # -- shapes --
    def node_shapes(self) -> list[Node]:
        found = {s for t in _TARGETS for s in self.g.subjects(t, None)}
        return sorted(found, key=lambda n: (isinstance(n, BNode), str(n)))

    def node_shape(self, shape: Node) -> None:
        if (shape, SH.path, None) in self.g:
            self.refuse("targets on a property shape", shape)
        self.allowed(shape, _NODE_SHAPE, "node shape")
        if self.deactivated(shape):
            return
        targets = self.targets(shape)
        severity = self.one(shape, SH.severity) or SH.Violation
        messages = tuple(sorted(self.g.objects(shape, SH.message), key=str))
        test = self.value_test(shape, "?this", node_level=True)
        if test:
            for component, expr, generic in test:
                query = f"SELECT ?this WHERE {{ {targets} FILTER(!COALESCE({expr}, false)) }}"
                self.add(_Check(shape, component, query, None, severity, messages, "focus", generic))
        for prop in sorted(self.g.objects(shape, SH.property), key=str):
            self.property_shape(prop, targets)
        for constraint in sorted(self.g.objects(shape, SH.sparql), key=str):
            self.sparql(shape, constraint, targets, severity, messages)

    def targets(self, shape: Node) -> str:
        parts = []
        for c in sorted(self.g.objects(shape, SH.targetClass), key=str):
            parts.append(f"?this {_TYPE_PATH} {_iri(c, self, shape)} .")
        for p in sorted(self.g.objects(shape, SH.targetSubjectsOf), key=str):
            parts.append(f"?this {_iri(p, self, shape)} ?_to .")
        for p in sorted(self.g.objects(shape, SH.targetObjectsOf), key=str):
            parts.append(f"?_ts {_iri(p, self, shape)} ?this .")
        union = " UNION ".join("{ " + p + " }" for p in parts)
        return f"{{ SELECT DISTINCT ?this WHERE {{ {union} }} }}"

    def path(self, prop: Node) -> tuple[str, Node]:
        path = self.one(prop, SH.path)
        if path is None:
            self.refuse("a property shape without sh:path", prop)
        if isinstance(path, URIRef):
            return f"<{path}>", path
        if isinstance(path, BNode):
            alternatives = self.one(path, SH.alternativePath)
            if alternatives is not None and set(self.g.predicates(path)) == {SH.alternativePath}:
                members = list(Collection(self.g, alternatives))
                if members and all(isinstance(m, URIRef) for m in members):
                    return "(" + "|".join(f"<{m}>" for m in members) + ")", path
            self.refuse("a sh:path other than an IRI or a sh:alternativePath of IRIs", prop)
        self.refuse("a literal sh:path", prop)
        raise AssertionError  # unreachable

    def property_shape(self, prop: Node, targets: str) -> None:
        self.allowed(prop, _PROPERTY_SHAPE, "property shape")
        if self.deactivated(prop):
            return
        path_sparql, path = self.path(prop)
        severity = self.one(prop, SH.severity) or SH.Violation
        messages = tuple(sorted(self.g.objects(prop, SH.message), key=str))
        # Two plans: pyoxigraph joins the focus-node subquery with a triple pattern by scanning every
        # triple of the predicate (best for many focus nodes), and evaluates OPTIONAL and NOT EXISTS
        # once per focus node by index (best for few); validate_store picks one by counting them.
        base = f"{targets} ?this {path_sparql} ?v ."
        each = f"{targets} OPTIONAL {{ ?this {path_sparql} ?v }} FILTER(BOUND(?v))"

        def check(component: str, query: str, value: str, generic: str = "", small: str = "") -> None:
            self.add(_Check(prop, component, query, path, severity, messages, value, generic,
                            targets=targets, small=small))

        cls = list(self.g.objects(prop, SH["class"]))
        for c in sorted(cls, key=str):
            check("ClassConstraintComponent",
                  f"SELECT DISTINCT ?this ?v WHERE {{ {base} MINUS {{ ?v {_TYPE_PATH} {_iri(c, self, prop)} }} }}",
                  "v", f"Value does not have class {self.show(c)}" if len(cls) == 1 else
                  "Value class is not in classes ({})".format(", ".join(self.show(x) for x in cls)))
        for component, expr, generic in self.value_test(prop, "?v"):
            check(component, f"SELECT DISTINCT ?this ?v WHERE {{ {base} FILTER(!COALESCE({expr}, false)) }}", "v",
                  generic, f"SELECT DISTINCT ?this ?v WHERE {{ {each} FILTER(!COALESCE({expr}, false)) }}")
        p_text = self.show(path)
        n = self.integer(prop, SH.minCount)
        if n:
            check("MinCountConstraintComponent", self.at_least(targets, path_sparql, n, ""), "none",
                  f"Less than {n} values on {{focus}}->{p_text}", self.at_least(targets, path_sparql, n, "", True))
        n = self.integer(prop, SH.maxCount)
        if n is not None:
            check("MaxCountConstraintComponent",
                  f"SELECT ?this WHERE {{ {base} }} GROUP BY ?this HAVING (COUNT(DISTINCT ?v) > {n})", "none",
                  f"More than {n} values on {{focus}}->{p_text}",
                  f"SELECT ?this WHERE {{ {each} }} GROUP BY ?this HAVING (COUNT(DISTINCT ?v) > {n})")
        unique = self.one(prop, SH.uniqueLang)
        if unique is not None:
            if not (isinstance(unique, Literal) and isinstance(unique.value, bool)):
                self.refuse("a sh:uniqueLang that is not a boolean", prop)
            if unique.value:
                unique_lang = ("SELECT ?this ?lang WHERE {{ {} FILTER(isLiteral(?v) && LANG(?v) != \"\") "
                               "BIND(LCASE(LANG(?v)) AS ?lang) }} GROUP BY ?this ?lang HAVING (COUNT(DISTINCT ?v) > 1)")
                check("UniqueLangConstraintComponent", unique_lang.format(base), "none",
                      "More than one String shares the same Language", unique_lang.format(each))
        qualified = list(self.g.objects(prop, SH.qualifiedValueShape))
        n = self.integer(prop, SH.qualifiedMinCount)
        if qualified and n is None:
            self.refuse("sh:qualifiedValueShape without sh:qualifiedMinCount", prop)
        if n is not None and not qualified:
            self.refuse("sh:qualifiedMinCount without sh:qualifiedValueShape", prop)
        for q in sorted(qualified, key=str):
            self.allowed(q, _VALUE_SHAPE, "qualified value shape")
            if self.deactivated(q) or (q, SH.property, None) in self.g:
                self.refuse("a deactivated or nested qualified value shape", q)
            expr = self.conjunction(q, "?v")
            if n:
                check("QualifiedMinCountConstraintComponent", self.at_least(targets, path_sparql, n, expr), "none",
                      f"Focus node does not conform to shape{'' if n == 1 else 's'}",
                      self.at_least(targets, path_sparql, n, expr, True))

    def at_least(self, targets: str, path: str, n: int, expr: str, small: bool = False) -> str:
        filt = f" FILTER(COALESCE({expr}, false))" if expr else ""
        if n == 1 and small and not path.startswith("("):
            return f"SELECT ?this WHERE {{ {targets} FILTER NOT EXISTS {{ ?this {path} ?v .{filt} }} }}"
        if n == 1:
            return f"SELECT ?this WHERE {{ {targets} MINUS {{ ?this {path} ?v .{filt} }} }}"
        return (f"SELECT ?this WHERE {{ {targets} OPTIONAL {{ ?this {path} ?v .{filt} }} }} "
                f"GROUP BY ?this HAVING (COUNT(DISTINCT ?v) < {n})")

    # -- value tests: boolean SPARQL expressions on one term, never an error --
    def value_test(self, shape: Node, var: str, node_level: bool = False) -> list[tuple[str, str, str]]:
        out = []
        kind = self.one(shape, SH.nodeKind)
        if kind is not None:
            out.append(("NodeKindConstraintComponent", self.node_kind(kind, var, shape),
                        f"Value is not of Node Kind {self.show(kind)}"))
        patterns = sorted(self.g.objects(shape, SH.pattern), key=str)
        for pattern in patterns:  # pySHACL: one result per failed pattern
            out.append(("PatternConstraintComponent", self.pattern(pattern, var, shape),
                        f"Value does not match pattern '{pattern}'" if len(patterns) == 1 else
                        "Value does not match every pattern in ('{}')".format("', '".join(map(str, patterns)))))
        if node_level:
            return out
        datatype = self.one(shape, SH.datatype)
        if datatype is not None:
            out.append(("DatatypeConstraintComponent", self.datatype(datatype, var, shape),
                        f"Value is not Literal with datatype {self.show(datatype)}"))
        languages = self.one(shape, SH.languageIn)
        if languages is not None:
            out.append(("LanguageInConstraintComponent", self.language_in(languages, var, shape),
                        "String language is not in {}".format(self.show(languages))))
        for alternatives in sorted(self.g.objects(shape, SH["or"]), key=str):
            members = list(Collection(self.g, alternatives))
            if not members:
                self.refuse("an empty sh:or", shape)
            exprs = []
            for m in members:
                self.allowed(m, _VALUE_SHAPE | {SH.message, SH.severity}, "member of sh:or")
                if self.deactivated(m):
                    self.refuse("a deactivated member of sh:or", m)
                exprs.append(self.conjunction(m, var))
            out.append(("OrConstraintComponent", "(" + " || ".join(exprs) + ")",
                        f"Node {{value}} must conform to one or more shapes in {self.show(alternatives)}"))
        return out

    def conjunction(self, shape: Node, var: str) -> str:
        tests = self.value_test(shape, var)
        return "(" + " && ".join(e for _, e, _ in tests) + ")" if tests else "true"

    def node_kind(self, kind: Node, var: str, shape: Node) -> str:
        kinds = {SH.IRI: f"isIRI({var})", SH.Literal: f"isLiteral({var})", SH.BlankNode: f"isBlank({var})",
                 SH.BlankNodeOrIRI: f"!isLiteral({var})", SH.BlankNodeOrLiteral: f"!isIRI({var})",
                 SH.IRIOrLiteral: f"!isBlank({var})"}
        if kind not in kinds:
            self.refuse(f"sh:nodeKind {kind}", shape)
        return kinds[kind]

    def pattern(self, pattern: Node, var: str, shape: Node) -> str:
        if not isinstance(pattern, Literal):
            self.refuse("a sh:pattern that is not a literal", shape)
        re.compile(str(pattern))
        return f"(!isBlank({var}) && REGEX(STR({var}), {_string(str(pattern))}))"

    def datatype(self, datatype: Node, var: str, shape: Node) -> str:
        if not isinstance(datatype, URIRef) or datatype in (RDFS.Literal, RDFS.Datatype):
            self.refuse(f"sh:datatype {datatype}", shape)
        test = f"(isLiteral({var}) && sameTerm(DATATYPE({var}), <{datatype}>)"
        if _may_be_ill_typed(datatype):
            marker = self.program.markers.setdefault(datatype, f"__BAD_{len(self.program.markers)}__")
            if var != "?v":
                self.refuse("sh:datatype outside a property shape", shape)
            test += f" && !({marker})"
            preds = self.program.datatypes.setdefault(datatype, set())
            preds.update(self.predicates_reaching(shape))
        return test + ")"

    def predicates_reaching(self, shape: Node) -> set[URIRef]:
        """The predicates whose objects a value test of ``shape`` (or of a shape inside it) sees."""
        seen, todo, preds = set(), [shape], set()
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            path = self.g.value(node, SH.path)
            if path is not None:
                preds.update(_path_iris(self.g, path))
                continue
            for p in (SH["or"], SH.qualifiedValueShape):
                for owner in self.g.subjects(p, node):
                    todo.append(owner)
            owner = self._list_owner(node, SH["or"])
            if owner is not None:
                todo.append(owner)
        if not preds:
            self.refuse("sh:datatype outside a property shape", shape)
        return preds

    def language_in(self, languages: Node, var: str, shape: Node) -> str:
        tags = []
        for tag in Collection(self.g, languages):
            if not isinstance(tag, Literal) or not isinstance(tag.value, str):
                self.refuse("a sh:languageIn member that is not a string", shape)
            tags.append(str(tag).lower())
        if "*" in tags:
            return f"(isLiteral({var}) && LANG({var}) != \"\")"
        # pySHACL: the tag, or its part before the first "-", equals a listed tag (case-insensitive)
        tests = [f"langMatches(LANG({var}), {_string(t)})" if "-" not in t else f"LCASE(LANG({var})) = {_string(t)}"
                 for t in sorted(set(tags))]
        if not tests:
            return "false"
        return f"(isLiteral({var}) && ({' || '.join(tests)}))"

    # -- SHACL-SPARQL --
    def sparql(self, shape: Node, constraint: Node, targets: str, severity: Node,
               messages: tuple[Literal, ...]) -> None:
        self.allowed(constraint, _SPARQL_CONSTRAINT, "SPARQL constraint")
        if self.deactivated(constraint):
            return
        select = self.one(constraint, SH.select)
        if not isinstance(select, Literal):
            self.refuse("a sh:sparql without a sh:select string", constraint)
        text = str(select)
        prefixes = self.prefixes(constraint)
        header = "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in sorted(prefixes.items()))
        _check_select(text, header, lambda what: self.refuse(what, constraint))
        query = (f"{header}SELECT DISTINCT * WHERE {{ {targets}\n{{ {text}\n}} }}")
        templates = tuple(sorted(self.g.objects(constraint, SH.message), key=str))
        self.add(_Check(shape, "SPARQLConstraintComponent", query, None, severity, messages, "sparql",
                        constraint=constraint, templates=templates))

    def prefixes(self, constraint: Node) -> dict[str, str]:
        """sh:prefixes as pySHACL collects them (sh:declare of the value, else of every ontology)."""
        out: dict[str, str] = {}
        ontologies = set(self.g.subjects(RDF.type, OWL.Ontology))
        everywhere = {d for o in ontologies for d in self.g.objects(o, SH.declare)}
        for value in self.g.objects(constraint, SH.prefixes):
            own = set(self.g.objects(value, SH.declare))
            for d in (own if own and value in ontologies else own | everywhere):
                prefix, namespace = self.one(d, SH.prefix), self.one(d, SH.namespace)
                if prefix is None or namespace is None:
                    self.refuse("a sh:declare without sh:prefix and sh:namespace", d)
                out[str(prefix)] = str(namespace)
        return out

    def show(self, node: Node) -> str:
        if isinstance(node, URIRef):
            try:
                return node.n3(self.g.namespace_manager)
            except Exception:
                return str(node)
        return str(node)

    def add(self, check: _Check) -> None:
        self.program.checks.append(check)


def _may_be_ill_typed(datatype: URIRef) -> bool:
    from rdflib.term import XSDToPython

    return datatype in _PYTHON_TYPES or XSDToPython.get(datatype) is not None


def _path_iris(g: Graph, path: Node) -> list[URIRef]:
    if isinstance(path, URIRef):
        return [path]
    alternatives = g.value(path, SH.alternativePath)
    return [m for m in Collection(g, alternatives) if isinstance(m, URIRef)] if alternatives is not None else []


def _iri(node: Node, compiler: _Compiler, shape: Node) -> str:
    if not isinstance(node, URIRef):
        compiler.refuse(f"a non-IRI target or class {node!r}", shape)
    return f"<{node}>"


def _string(text: str) -> str:
    return '"' + (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")) + '"'


_PREBOUND = re.compile(r"[\$\?](PATH|currentShape|shapesGraph|failure)\b")
_THIS = re.compile(r"[\$\?]this\b")


def _check_select(text: str, header: str, refuse) -> None:
    """Refuse a SELECT whose meaning would change when ``$this`` is joined instead of pre-bound."""
    from rdflib.plugins.sparql import prepareQuery
    from rdflib.plugins.sparql.parserutils import CompValue
    from rdflib.term import Variable

    if re.search(r"^\s*(PREFIX|BASE)\b", text, re.I | re.M):
        refuse("a PREFIX or BASE inside sh:select (declare prefixes with sh:prefixes)")
    m = _PREBOUND.search(text)
    if m:
        refuse(f"the pre-bound variable ${m.group(1)} in sh:select")
    if not _THIS.search(text):
        refuse("a sh:select that does not mention $this")
    try:
        algebra = prepareQuery(header + text).algebra
    except Exception as exc:
        refuse(f"a sh:select that does not parse ({exc})")
        return
    this = Variable("this")
    if algebra.name != "SelectQuery" or (algebra.PV and this not in algebra.PV):
        refuse("a sh:select that does not return $this")
    names = set()

    def walk(node):
        if isinstance(node, CompValue):
            names.add(node.name)
            for v in node.values():
                walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)

    def mentions(node) -> bool:
        if node is this:
            return True
        if isinstance(node, Variable):
            return node == this
        if isinstance(node, CompValue):
            return any(mentions(v) for v in node.values())
        if isinstance(node, (list, tuple, set)):
            return any(mentions(v) for v in node)
        return False

    def binds(node) -> bool:
        if not isinstance(node, CompValue):
            return False
        if node.name == "BGP":
            return any(this in t for t in node.triples)
        if node.name == "Join":
            return binds(node.p1) or binds(node.p2)
        if node.name == "Union":
            return binds(node.p1) and binds(node.p2)
        if node.name in ("LeftJoin",):
            return binds(node.p1)
        if node.name in ("Filter", "Extend", "Project", "Distinct", "Reduced", "OrderBy", "ToMultiSet"):
            return binds(node.p)
        return False

    def check(node) -> None:
        if not isinstance(node, CompValue):
            return
        name = node.name
        if name in ("Slice", "Group", "AggregateJoin", "Minus", "values", "ServiceGraphPattern", "Graph"):
            refuse(f"{name} in sh:select")
        if name == "ToMultiSet" and isinstance(node.p, CompValue) and node.p.name in ("Project", "Distinct"):
            refuse("a sub-select in sh:select")
        if name == "Extend" and node.var == this:
            refuse("AS $this in sh:select")
        if name in ("Filter", "Extend") and mentions(node.expr) and not binds(node.p):
            used_in = "FILTER" if name == "Filter" else "BIND"
            refuse(f"$this used in a {used_in} where the query itself does not bind it")
        if name == "LeftJoin" and (mentions(node.p2) or mentions(node.expr)) and not binds(node.p1):
            refuse("$this used in an OPTIONAL before the query binds it")
        for v in node.values():
            if isinstance(v, CompValue):
                check(v)
            elif isinstance(v, (list, tuple)):
                for x in v:
                    check(x)

    top = algebra.p
    while isinstance(top, CompValue) and top.name in ("Project", "Distinct", "Reduced", "OrderBy"):
        top = top.p
    check(top)
    if not binds(top):
        refuse("a sh:select whose mandatory triple patterns do not bind $this")


# ---- running ------------------------------------------------------------------------------------

def validate_store(store: ox.Store, shapes: Graph | ShapesProgram, graphs: Sequence[str] | None = None,
                   workers: int | None = None) -> ValidationReport:
    """Validate the union of the named ``graphs`` of ``store`` (all its graphs when None) against ``shapes``.

    Same report as ``validate.validate`` (pySHACL, ``allow_warnings``): conforms unless some result has
    a severity other than sh:Warning or sh:Info. The checks run in ``workers`` threads (default: one
    per core).
    """
    started = time.perf_counter()
    program = shapes if isinstance(shapes, ShapesProgram) else compile_shapes(shapes)
    if graphs is None:
        options = {"use_default_graph_as_union": True}
    else:
        options = {"default_graph": [g if isinstance(g, (ox.NamedNode, ox.DefaultGraph)) else ox.NamedNode(str(g))
                                     for g in graphs]}

    def run(query: str):
        return store.query(query, **options)

    def results_of(item: tuple[_Check, str]) -> list[Violation]:
        check, query = item
        solutions = run(query)
        variables = [v.value for v in solutions.variables]
        return [_violation(check, row, variables) for row in solutions]

    results = []
    with _quiet_rdflib():
        plan = list(_plan(program, run))
        # pyoxigraph lets go of the GIL while it evaluates: the checks run side by side, one per
        # core (at 1M triples, 14 s on one core, 7 s on two); results come back in plan order
        with ThreadPoolExecutor(max(1, min(workers or os.cpu_count() or 1, len(plan)))) as pool:
            for found in pool.map(results_of, plan):
                results.extend(found)
    results.sort(key=lambda v: (str(v.focus), str(v.path), str(v.value)))
    conforms = all(v.severity in ("Warning", "Info") for v in results)
    graph = _report_graph(program, results, conforms)
    return ValidationReport(conforms, graph, results, time.perf_counter() - started)


def _plan(program: ShapesProgram, run) -> Iterator[tuple[_Check, str]]:
    """Each check with the query to run: ill-typed literals filled in, the plan chosen by focus-node count."""
    bad = _ill_typed(program, run)
    sizes: dict[str, int] = {}
    for check in program.checks:
        query = check.query
        if check.small:
            if check.targets not in sizes:
                count = f"SELECT (COUNT(*) AS ?n) WHERE {{ {check.targets} }}"
                sizes[check.targets] = int(next(iter(run(count)))["n"].value)
            if sizes[check.targets] <= SMALL:
                query = check.small
        for datatype, marker in program.markers.items():
            query = query.replace(marker, bad[datatype])
        yield check, query


def validate_graph(data: Graph, shapes: Graph | ShapesProgram) -> ValidationReport:
    """Validate an rdflib graph: loaded into an in-memory pyoxigraph store, then ``validate_store``."""
    started = time.perf_counter()
    program = shapes if isinstance(shapes, ShapesProgram) else compile_shapes(shapes)
    store = ox.Store()
    store.bulk_extend(_quads(data))
    report = validate_store(store, program)
    restored = [_restore_value(program.shapes, data, v) for v in report.results]
    if restored != report.results:
        report.results = restored
        report.graph = _report_graph(program, restored, report.conforms)
    report.seconds = time.perf_counter() - started
    return report


def _quads(data: Graph) -> Iterator[ox.Quad]:
    cache: dict[Node, object] = {}

    def term(t):
        found = cache.get(t)
        if found is None:
            found = cache[t] = to_ox(t)
        return found

    graph = ox.DefaultGraph()
    for s, p, o in data:
        yield ox.Quad(term(s), term(p), term(o), graph)


def _to_rdflib(t) -> Node | None:
    return None if t is None else from_ox(t)


@contextmanager
def _quiet_rdflib() -> Iterator[None]:
    """rdflib logs a traceback for every ill-typed literal it builds: they are expected here."""
    logger = logging.getLogger("rdflib.term")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _ill_typed(program: ShapesProgram, run) -> dict[URIRef, str]:
    """For each datatype tested, a SPARQL expression true of its literals pySHACL finds ill-typed.

    pySHACL asks rdflib: the literal is ill-typed, or its Python value is not of the datatype's type.
    Each distinct literal of the datatype under the tested predicates is checked once here.
    """
    out = {}
    for datatype, predicates in program.datatypes.items():
        union = " UNION ".join(f"{{ ?s <{p}> ?o }}" for p in sorted(predicates))
        query = (f"SELECT DISTINCT ?o WHERE {{ {union} "
                 f"FILTER(isLiteral(?o) && sameTerm(DATATYPE(?o), <{datatype}>)) }}")
        bad = []
        for row in run(query):
            lexical = row["o"].value
            if _is_ill_typed(lexical, datatype):
                bad.append(f"{_string(lexical)}^^<{datatype}>")
        out[datatype] = " || ".join(f"sameTerm(?v, {b})" for b in bad) if bad else "false"
    return {d: e for d, e in out.items()}


def _is_ill_typed(lexical: str, datatype: URIRef) -> bool:
    lit = Literal(lexical, datatype=datatype)
    if getattr(lit, "ill_typed", None) is True:
        return True
    expected = _PYTHON_TYPES.get(datatype)
    if expected is None:
        return False
    if expected is int:
        return not isinstance(lit.value, int)
    return not isinstance(lit.value, expected)


def _violation(check: _Check, row, variables: list[str]) -> Violation:
    focus = _to_rdflib(row["this"])
    path, value = check.path, None
    if check.value == "v":
        value = _to_rdflib(row["v"])
    elif check.value == "focus":
        value = focus
    messages: dict[str, str] = {}
    if check.value == "sparql":
        bound = {var: _to_rdflib(row[var]) for var in variables if row[var] is not None}
        if bound.get("path") is not None:
            path = bound["path"]
        value = bound.get("value")
        if value is None and check.path is None:
            value = focus  # a node shape: pySHACL reports the focus node as the value
        names = {"this": focus, "path": path, "value": value}
        every = dict(bound, **{k: v for k, v in names.items() if v is not None})
        for m in check.templates:
            messages.setdefault("", _fill(str(m), every))
        for m in check.messages:
            messages.setdefault(m.language or "", _fill(str(m), every))
        if set(messages) <= {""}:  # as validate.py: the constraint's templates again, one per language
            for m in check.templates:
                if m.language:
                    text = str(m)
                    for name, term in names.items():
                        if term is not None:
                            text = text.replace("{?" + name + "}", str(term)).replace("{$" + name + "}", str(term))
                    messages[m.language] = text
    else:
        for m in check.messages:
            messages.setdefault(m.language or "", str(m))
        if not messages:
            messages[""] = check.generic.replace("{focus}", _show_term(focus)).replace("{value}", _show_term(value))
    return Violation(focus=focus, path=path, value=value, severity=str(check.severity).rsplit("#", 1)[-1],
                     messages=messages, shape=check.shape, component=check.component)


def _fill(text: str, values: dict[str, Node]) -> str:
    for name, term in values.items():
        text = re.sub("{{[?$]{}}}".format(re.escape(name)), lambda _m, t=str(term): t, text)
    return text


def _show_term(node: Node | None) -> str:
    if node is None:
        return ""
    return node.n3() if isinstance(node, (URIRef, Literal)) else str(node)


def _restore_value(shapes: Graph, data: Graph, v: Violation) -> Violation:
    """pyoxigraph returns numbers and dates in canonical form: give back the data's own literal."""
    if not isinstance(v.value, Literal) or v.path is None:
        return v
    preds = _path_iris(shapes, v.path)
    if any((v.focus, p, v.value) in data for p in preds):
        return v
    for p in preds:
        for candidate in data.objects(v.focus, p):
            if (isinstance(candidate, Literal) and candidate.datatype == v.value.datatype
                    and candidate.language == v.value.language and candidate.eq(v.value)):
                return Violation(v.focus, v.path, candidate, v.severity, v.messages, v.shape, v.component)
    return v


def _report_graph(program: ShapesProgram, results: list[Violation], conforms: bool) -> Graph:
    """The sh:ValidationReport, in the standard SHACL vocabulary (as pySHACL writes it)."""
    g = Graph(bind_namespaces="core")
    for prefix, ns in program.shapes.namespace_manager.namespaces():
        g.namespace_manager.bind(prefix, ns)
    report = BNode()
    g.add((report, RDF.type, SH.ValidationReport))
    g.add((report, SH.conforms, Literal(conforms)))
    copied: set[Node] = set()
    for v in results:
        r = BNode()
        g.add((report, SH.result, r))
        g.add((r, RDF.type, SH.ValidationResult))
        g.add((r, SH.focusNode, v.focus))
        if v.path is not None:
            g.add((r, SH.resultPath, v.path))
            _copy(program.shapes, v.path, g, copied)
        if v.value is not None:
            g.add((r, SH.value, v.value))
        g.add((r, SH.resultSeverity, SH[v.severity]))
        g.add((r, SH.sourceShape, v.shape))
        _copy(program.shapes, v.shape, g, copied)
        g.add((r, SH.sourceConstraintComponent, SH[v.component]))
        for lang, text in v.messages.items():
            if lang or len(v.messages) == 1:
                g.add((r, SH.resultMessage, Literal(text, lang=lang or None)))
    return g


def _copy(source: Graph, node: Node, target: Graph, copied: set[Node]) -> None:
    """A blank node of the shapes graph with everything below it (its ids kept, as pySHACL does)."""
    if not isinstance(node, BNode) or node in copied:
        return
    copied.add(node)
    for p, o in source.predicate_objects(node):
        target.add((node, p, o))
        _copy(source, o, target, copied)


def main(argv: list[str] | None = None) -> int:
    """``python -m pole_graph.shacl_sparql STORE [--profile]``: time a validation of a built store
    (its knowledge graph against its own shapes graph): wall and CPU seconds, peak RSS, results."""
    import argparse
    import resource
    import sys
    from pathlib import Path

    from .namespaces import GRAPH_SHAPES
    from .store import DB_DIR, KNOWLEDGE_GRAPH
    from .terms import triples_from_ox

    ap = argparse.ArgumentParser(prog="python -m pole_graph.shacl_sparql", description=main.__doc__)
    ap.add_argument("store", type=Path)
    ap.add_argument("--profile", action="store_true", help="print the seconds of each query")
    args = ap.parse_args(argv)
    store = ox.Store.read_only(str(args.store / DB_DIR))
    shapes = Graph()
    for t in triples_from_ox(store.quads_for_pattern(None, None, None, ox.NamedNode(str(GRAPH_SHAPES)))):
        shapes.add(t)
    wall, cpu = time.perf_counter(), time.process_time()
    program = compile_shapes(shapes)
    compiled = time.perf_counter() - wall
    graphs = [g.value for g in KNOWLEDGE_GRAPH]
    if args.profile:
        options = {"default_graph": [ox.NamedNode(g) for g in graphs]}
        timed = []
        for check, query in _plan(program, lambda q: store.query(q, **options)):
            t = time.perf_counter()
            n = sum(1 for _ in store.query(query, **options))
            timed.append((time.perf_counter() - t, n, check.component, _Compiler(shapes).name(check.shape)))
        for seconds, n, component, name in sorted(timed, reverse=True)[:15]:
            print(f"{seconds:8.3f} s {n:6d}  {component:40s} {name}")
    wall, cpu = time.perf_counter(), time.process_time()
    report = validate_store(store, program, graphs)
    wall, cpu = time.perf_counter() - wall + compiled, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.store}: {len(program.checks)} queries (compiled in {compiled:.2f} s); "
          f"compile + validate_store: wall {wall:.2f} s, CPU {cpu:.2f} s, peak RSS {rss:.0f} MB; "
          f"conforms {report.conforms}, {len(report.results)} result(s)", file=sys.stdout)
    return 0 if report.conforms else 1


if __name__ == "__main__":
    raise SystemExit(main())
