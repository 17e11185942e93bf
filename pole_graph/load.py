"""Load: read every content file into graphs, reporting all problems with file, line and column.

Stage 1 of the build. Turtle is parsed by pyoxigraph (exact positions in its errors), then handed
to rdflib graphs, which SHACL and owlrl take. CSV records are mapped by ``records``. Nothing is
reasoned, validated or written here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from pathlib import Path
from typing import Iterable

import pyoxigraph as ox
from rdflib import Graph, URIRef

from .errors import ContentError, Problem
from .namespaces import BASE, DCT, PG, PROV, RDF, SKOS
from .project import Project
from .records import Index, Record, load_records
from .terms import Triple, graph_of, triples_from_ox

_POSITION = re.compile(r"line (\d+) column (\d+)")


@dataclass
class Content:
    """The asserted content, plus the record index (for locating facts).

    ``data`` is a plain set of triples: at a million triples, an rdflib graph costs about 10 µs per
    triple added and again per triple read, which was most of the build. ``data_graph`` is the same
    triples as an rdflib graph, made on first use.
    """

    ontology: Graph
    schemes: Graph
    shapes: Graph
    data: set[Triple]
    records: list[Record]
    index: Index

    @cached_property
    def data_graph(self) -> Graph:
        return graph_of(self.data)

    @property
    def asserted(self) -> Graph:
        """Ontology + schemes + data in one graph (a copy: callers may change it)."""
        return graph_of(chain(self.ontology, self.schemes, self.data))

    def record_at(self, iri: URIRef) -> Record | None:
        base = URIRef(str(iri).split("#", 1)[0])
        return self._by_iri().get(base)

    def _by_iri(self) -> dict[URIRef, Record]:
        cache = getattr(self, "_iri_cache", None)
        if cache is None:
            cache = {r.iri: r for r in self.records}
            self._iri_cache = cache
        return cache


def parse_rdf_file(path: Path, shown: str, fmt: ox.RdfFormat = ox.RdfFormat.TURTLE) -> Graph:
    """Parse one RDF file; a syntax error becomes a ContentError with line and column."""
    graph = Graph()
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        for t in triples_from_ox(ox.parse(data, format=fmt, base_iri=BASE)):
            graph.add(t)
    except SyntaxError as exc:
        raise ContentError(rdf_syntax_problem(exc, shown)) from None
    except UnicodeDecodeError as exc:
        raise ContentError(Problem(shown, None, f"not UTF-8 text ({exc.reason})", expected="UTF-8")) from None
    return graph


def rdf_syntax_problem(exc: SyntaxError, shown: str, syntax: str = "Turtle") -> Problem:
    message = str(exc.msg if hasattr(exc, "msg") else exc)
    line, column = getattr(exc, "lineno", None), getattr(exc, "offset", None)
    if line is None:
        m = _POSITION.search(message)
        if m:
            line, column = int(m.group(1)), int(m.group(2))
    message = re.sub(r"^Parser error (at|between) .*?: ", "", message)
    return Problem(shown, None, message, line=line, column=column, expected=f"valid {syntax} (RDF 1.1)",
                   expected_fr=f"du {syntax} valide (RDF 1.1)")


def _parse_all(project: Project, paths: tuple[Path, ...], problems: list[Problem]) -> Graph:
    graph = Graph()
    for path in paths:
        try:
            for t in parse_rdf_file(path, project.relpath(path)):
                graph.add(t)
        except ContentError as exc:
            problems.extend(exc.problems)
    return graph


def index_vocabularies(schemes: Graph, data_ttl: Graph, index: Index) -> None:
    """Concept codes per scheme and their labels; keys of records written in Turtle."""
    prefix = BASE + "def/"
    for concept, scheme in schemes.subject_objects(SKOS.inScheme):
        c, s = str(concept), str(scheme)
        if s.startswith(prefix) and c.startswith(s + "/"):
            index.concepts.setdefault(s[len(prefix):], set()).add(c[len(s) + 1:])
    for graph in (schemes, data_ttl):
        for subject, label in graph.subject_objects(SKOS.prefLabel):
            if isinstance(subject, URIRef):
                index.labels.setdefault(subject, {}).setdefault(getattr(label, "language", None) or "", str(label))
    id_prefix = BASE + "id/"
    for subject in set(data_ttl.subjects(RDF.type, None)):
        text = str(subject)
        if text.startswith(id_prefix) and "#" not in text:
            kind, _, key = text[len(id_prefix):].partition("/")
            index.keys.setdefault(kind, {}).setdefault(key, ("data (Turtle)", 0))


def load_content(project: Project) -> Content:
    """Every content file of the project as graphs; ContentError lists all problems found."""
    problems: list[Problem] = []
    ontology = _parse_all(project, project.ontology_files, problems)
    schemes = _parse_all(project, project.scheme_files, problems)
    shapes = _parse_all(project, project.shape_files, problems)
    data = _parse_all(project, project.data_ttl_files, problems)
    if problems:
        raise ContentError(problems)
    index = Index()
    index_vocabularies(schemes, data, index)
    files = {}
    for path in project.data_csv_files:
        try:
            files[project.relpath(path)] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(project.relpath(path), None, f"not UTF-8 text ({exc.reason})", expected="UTF-8"))
    if problems:
        raise ContentError(problems)
    records, triples = load_records(files, index)
    asserted = set(data)
    asserted.update(triples)
    asserted.update(cited_sources(schemes, asserted))
    return Content(ontology, schemes, shapes, asserted, records, index)


def cited_sources(*graphs: Iterable[Triple]) -> set[Triple]:
    """Type every address cited as a source (dct:source, prov:wasDerivedFrom) as a SourceDocument."""
    citing = {DCT.source, PROV.wasDerivedFrom}
    document = PG.SourceDocument
    rdf_type = RDF.type
    return {(o, rdf_type, document) for graph in graphs for _, p, o in graph if p in citing and isinstance(o, URIRef)}
