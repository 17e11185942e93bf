"""Validate: SHACL validation of a data graph against the shapes, as a named report.

Stage 3 of the build. pySHACL is the engine (it is the reference in Python); it runs with no
inference of its own because the caller passes asserted + inferred triples. The report keeps the
shapes' bilingual messages and, beside them, the engine's own wording (constraint component, path,
value), so stewards read plain words and developers can still see what fired.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from pyshacl import validate as pyshacl_validate
from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

from .errors import ContentError, Problem
from .namespaces import RDF, SH, shorten


@dataclass(frozen=True)
class Violation:
    """One SHACL result, with its messages in each language the shapes give."""

    focus: Node
    path: Node | None
    value: Node | None
    severity: str
    messages: dict[str, str]
    shape: Node | None
    component: str

    def message(self, lang: str = "fr") -> str:
        return self.messages.get(lang) or self.messages.get("en") or self.messages.get("") or self.engine_message

    @property
    def engine_message(self) -> str:
        parts = [self.component]
        if self.path is not None:
            parts.append(f"path {_show(self.path)}")
        if self.value is not None:
            parts.append(f"value {_show(self.value)}")
        return ", ".join(parts)

    def as_dict(self, lang: str = "fr") -> dict[str, object]:
        return {
            "focus": str(self.focus), "path": _show(self.path) if self.path is not None else None,
            "value": str(self.value) if self.value is not None else None, "severity": self.severity,
            "message": self.message(lang), "engine_message": self.engine_message,
            "shape": str(self.shape) if self.shape is not None else None,
        }


@dataclass
class ValidationReport:
    """What validation found: ``conforms``, the ``sh:ValidationReport`` graph, the violations."""

    conforms: bool
    graph: Graph
    results: list[Violation] = field(default_factory=list)
    seconds: float = 0.0

    def violations(self) -> list[Violation]:
        return [r for r in self.results if r.severity == "Violation"]

    def text(self, lang: str = "fr", locate: Callable[[Node], str | None] | None = None, limit: int = 50) -> str:
        """A report grouped by focus node (a record), one line per problem."""
        if self.conforms:
            return "conforme aux formes SHACL" if lang == "fr" else "conforms to the SHACL shapes"
        groups: dict[str, list[Violation]] = {}
        for v in self.results:
            key = str(v.focus)
            groups.setdefault(key, []).append(v)
        lines = [("{} problème(s) sur {} chose(s) :" if lang == "fr" else "{} problem(s) on {} thing(s):")
                 .format(len(self.results), len(groups))]
        for i, (focus, items) in enumerate(sorted(groups.items())):
            if i >= limit:
                lines.append(f"… ({len(groups) - limit} more)")
                break
            where = locate(items[0].focus) if locate else None
            lines.append(f"- {shorten(focus)}" + (f" ({where})" if where else ""))
            for v in items:
                field_name = _show(v.path) if v.path is not None else ""
                lines.append(f"    {field_name + ': ' if field_name else ''}{v.message(lang)}"
                             f"  [{v.engine_message}]")
        return "\n".join(lines)


_PREPARED: dict[tuple, object] = {}


def cache_sparql_parsing() -> None:
    """Parse each SHACL-SPARQL constraint once, not once per focus node.

    pySHACL hands rdflib the constraint's query text for every focus node, and rdflib parses it
    again each time (≈ 30-50 ms with pyparsing, most of the cost of a SPARQL constraint here). The
    translated query is what rdflib's own ``prepareQuery`` returns for repeated evaluation, so it is
    kept per (text, base, namespaces). Installed once; idempotent.
    """
    from rdflib.plugins.sparql import processor

    if getattr(processor.SPARQLProcessor.query, "_pole_graph_cached", False):
        return
    original = processor.SPARQLProcessor.query

    def query(self, strOrQuery, initBindings=None, initNs=None, base=None, DEBUG=False):  # noqa: N803
        if isinstance(strOrQuery, str):
            key = (strOrQuery, base, tuple(sorted((k, str(v)) for k, v in (initNs or {}).items())))
            prepared = _PREPARED.get(key)
            if prepared is None:
                prepared = _PREPARED[key] = processor.prepareQuery(strOrQuery, initNs=initNs, base=base)
            strOrQuery = prepared
        return original(self, strOrQuery, initBindings, initNs, base, DEBUG)

    query._pole_graph_cached = True  # type: ignore[attr-defined]
    processor.SPARQLProcessor.query = query  # type: ignore[method-assign]


def _show(node: Node | None) -> str:
    if node is None:
        return ""
    if isinstance(node, URIRef):
        return shorten(str(node))
    return str(node)


def _render_templates(shapes: Graph, report: Graph, result: Node) -> dict[str, str]:
    """pySHACL fills ``{?var}`` in SPARQL-constraint messages but drops their language tags: render
    the shape's templates again, one per language."""
    constraint = report.value(result, SH.sourceConstraint)
    if constraint is None:
        return {}
    values = {"value": report.value(result, SH.value), "this": report.value(result, SH.focusNode),
              "path": report.value(result, SH.resultPath)}
    out = {}
    for template in shapes.objects(constraint, SH.message):
        if isinstance(template, Literal) and template.language:
            text = str(template)
            for name, term in values.items():
                if term is not None:
                    text = text.replace("{?" + name + "}", str(term)).replace("{$" + name + "}", str(term))
            out[template.language] = text
    return out


def validate(data: Graph, shapes: Graph) -> ValidationReport:
    """Validate ``data`` (asserted + inferred) against ``shapes``; never modifies either graph."""
    started = time.perf_counter()
    cache_sparql_parsing()
    conforms, report_graph, text = pyshacl_validate(
        data, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True,
        abort_on_first=False, inplace=True,  # nothing is inferred, so nothing is written into ``data``
    )
    if not isinstance(report_graph, Graph):
        # pySHACL returns (False, ValidationFailure, text) when the shapes themselves are broken
        raise ContentError(Problem("ontology/shapes", None, f"the shapes cannot be used: {text}",
                                   expected="valid SHACL (SHACL-SPARQL constraints without VALUES)"))
    results = []
    for result in report_graph.subjects(RDF.type, SH.ValidationResult):
        messages: dict[str, str] = {}
        for m in report_graph.objects(result, SH.resultMessage):
            lang = m.language if isinstance(m, Literal) and m.language else ""
            messages.setdefault(lang, str(m))
        if set(messages) <= {""}:
            messages.update(_render_templates(shapes, report_graph, result))
        severity = report_graph.value(result, SH.resultSeverity)
        component = report_graph.value(result, SH.sourceConstraintComponent)
        results.append(Violation(
            focus=report_graph.value(result, SH.focusNode),
            path=report_graph.value(result, SH.resultPath),
            value=report_graph.value(result, SH.value),
            severity=str(severity).rsplit("#", 1)[-1] if severity else "Violation",
            messages=messages,
            shape=report_graph.value(result, SH.sourceShape),
            component=str(component).rsplit("#", 1)[-1] if component else "",
        ))
    results.sort(key=lambda v: (str(v.focus), str(v.path), str(v.value)))
    return ValidationReport(bool(conforms), report_graph, results, time.perf_counter() - started)
