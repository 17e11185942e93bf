"""Describe: what the graph says about one thing, for its RDF document and its page.

Part of *publish*. The RDF of a thing is its concise bounded description (its triples and those of
its ``#`` sub-nodes, asserted and inferred) plus the labels of what it links to. Its page model adds,
for each fact, the sources it comes from and whether it was inferred, and what links to the thing.
Everything is read through SPARQL (``store.query``), so it works on any store. No HTML here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from .namespaces import BASE, GRAPH_DATA, GRAPH_INFERRED, GRAPH_ONTOLOGY, GRAPH_SCHEMES
from .queries import term_to_sparql

LABEL_PROPS = ("http://www.w3.org/2004/02/skos/core#prefLabel", "http://www.w3.org/2000/01/rdf-schema#label",
               "http://xmlns.com/foaf/0.1/name")
SOURCE_PROPS = ("http://purl.org/dc/terms/source", "http://www.w3.org/ns/prov#wasDerivedFrom")
TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
HIDDEN = {"http://www.w3.org/2000/01/rdf-schema#label", "http://www.w3.org/2002/07/owl#sameAs"}
ASSERTED = {str(GRAPH_DATA), str(GRAPH_ONTOLOGY), str(GRAPH_SCHEMES)}


def _iri(text: str) -> str:
    return term_to_sparql(ox.NamedNode(text))


def cbd(store: Any, iri: str) -> list[ox.Triple]:
    """The thing's triples (and its #sub-nodes', two levels deep) plus labels of linked things."""
    i = _iri(iri)
    prefix = term_to_sparql(ox.Literal(iri + "#"))
    labels = " ".join(_iri(p) for p in LABEL_PROPS)
    query = f"""
    CONSTRUCT {{ ?s ?p ?o . ?o ?lp ?label }} WHERE {{
      {{ BIND({i} AS ?s) ?s ?p ?o }}
      UNION {{ {i} ?a ?s . FILTER(isIRI(?s) && STRSTARTS(STR(?s), {prefix})) ?s ?p ?o }}
      UNION {{ {i} ?a ?m . ?m ?b ?s . FILTER(isIRI(?m) && STRSTARTS(STR(?m), {prefix})
                                            && isIRI(?s) && STRSTARTS(STR(?s), {prefix})) ?s ?p ?o }}
      OPTIONAL {{ FILTER(isIRI(?o)) VALUES ?lp {{ {labels} }} ?o ?lp ?label }}
    }}"""
    return list(store.query(query))


@dataclass
class Fact:
    property: str
    property_label: str
    value: Any
    value_label: str | None
    inferred: bool
    sources: list[str] = field(default_factory=list)
    children: list["Fact"] = field(default_factory=list)

    @property
    def is_iri(self) -> bool:
        return isinstance(self.value, ox.NamedNode)


@dataclass
class Page:
    iri: str
    title: str
    types: list[tuple[str, str]]
    facts: list[Fact]
    incoming: list[tuple[str, str, str, str]]  # (property, property label, subject, subject label)
    sources: dict[str, str]                    # url -> title (or the url)
    exists: bool


def _labels(store: Any, iris: set[str], lang: str) -> dict[str, str]:
    """Labels in the chosen language, French first after it, then any."""
    out: dict[str, tuple[int, str]] = {}
    todo = [i for i in iris if i]
    for start in range(0, len(todo), 400):
        chunk = " ".join(_iri(i) for i in todo[start:start + 400])
        props = " ".join(_iri(p) for p in LABEL_PROPS)
        q = f"SELECT ?x ?l WHERE {{ VALUES ?x {{ {chunk} }} VALUES ?p {{ {props} }} ?x ?p ?l }}"
        for row in store.query(q):
            label = row["l"]
            lang_tag = label.language or ""
            rank = 0 if lang_tag == lang else (1 if lang_tag in ("fr", "") else 2)
            key = row["x"].value
            if key not in out or rank < out[key][0]:
                out[key] = (rank, label.value)
    return {k: v for k, (_, v) in out.items()}


def page(store: Any, iri: str, lang: str = "fr", incoming_limit: int = 300) -> Page:
    """Facts (with sources and inferred flags), types and incoming links of one thing."""
    i = _iri(iri)
    rows = list(store.query(f"SELECT ?p ?o ?g WHERE {{ GRAPH ?g {{ {i} ?p ?o }} }}"))
    facts_by_key: dict[tuple[str, str], dict] = {}
    own_sources: list[str] = []
    for row in rows:
        p, o, g = row["p"].value, row["o"], row["g"].value
        if p in SOURCE_PROPS:
            if o.value not in own_sources:
                own_sources.append(o.value)
            continue
        if p in HIDDEN or g not in ASSERTED | {str(GRAPH_INFERRED)}:
            continue
        key = (p, str(o))
        entry = facts_by_key.setdefault(key, {"p": p, "o": o, "asserted": False})
        entry["asserted"] = entry["asserted"] or g in ASSERTED
    values = {e["o"].value for e in facts_by_key.values() if isinstance(e["o"], ox.NamedNode)}
    related_sources: dict[str, list[str]] = {}
    if values:
        chunk = " ".join(_iri(v) for v in sorted(values))
        props = " ".join(_iri(p) for p in SOURCE_PROPS)
        for row in store.query(f"SELECT ?x ?s WHERE {{ VALUES ?x {{ {chunk} }} VALUES ?p {{ {props} }} ?x ?p ?s }}"):
            related_sources.setdefault(row["x"].value, []).append(row["s"].value)
    incoming_rows = list(store.query(
        f"SELECT DISTINCT ?s ?p WHERE {{ ?s ?p {i} FILTER(isIRI(?s)) }} LIMIT {int(incoming_limit)}"))
    labels = _labels(store, {iri} | values | {e["p"] for e in facts_by_key.values()}
                     | {r["s"].value for r in incoming_rows} | {r["p"].value for r in incoming_rows}, lang)
    facts = []
    for (p, _), e in facts_by_key.items():
        o = e["o"]
        inferred = not e["asserted"]
        srcs = own_sources if not inferred else (related_sources.get(o.value, []) if isinstance(o, ox.NamedNode) else [])
        facts.append(Fact(p, labels.get(p, _short(p)), o, labels.get(o.value) if isinstance(o, ox.NamedNode) else None,
                          inferred, list(srcs or (own_sources if inferred else []))))
    for f in facts:  # sub-nodes (intervals, sites…) are shown inside the fact that points to them
        if f.is_iri and f.value.value.startswith(iri + "#"):
            f.children = page(store, f.value.value, lang, incoming_limit=0).facts
    facts.sort(key=lambda f: (f.property != TYPE, f.inferred, f.property_label.lower(), str(f.value_label or f.value.value)))
    types = [(f.value.value, f.value_label or _short(f.value.value)) for f in facts if f.property == TYPE and not f.inferred]
    incoming = sorted(((r["p"].value, labels.get(r["p"].value, _short(r["p"].value)), r["s"].value,
                        labels.get(r["s"].value, _short(r["s"].value))) for r in incoming_rows
                       if not r["s"].value.startswith(iri + "#")), key=lambda x: (x[1], x[3]))
    all_sources = {s for f in facts for s in f.sources} | set(own_sources)
    titles: dict[str, str] = {}
    if all_sources:
        chunk = " ".join(_iri(s) for s in sorted(all_sources))
        for row in store.query(f"SELECT ?s ?t WHERE {{ VALUES ?s {{ {chunk} }} ?s <http://purl.org/dc/terms/title> ?t }}"):
            titles[row["s"].value] = row["t"].value
    return Page(iri, labels.get(iri, _short(iri)), types, facts, incoming,
                {s: titles.get(s, s) for s in sorted(all_sources)}, exists=bool(rows or incoming_rows))


def _short(iri: str) -> str:
    from .namespaces import shorten

    return shorten(iri)


def local_path(iri: str) -> str | None:
    """Where the server shows a thing of the graph: its /doc/ page (or /def/ document)."""
    if iri.startswith(BASE + "id/"):
        return "/doc/" + iri[len(BASE + "id/"):]
    if iri.startswith(BASE + "def/"):
        rest = iri[len(BASE + "def/"):]
        return "/def/" + rest.replace("#", "#")
    if iri.startswith(BASE):
        return "/" + iri[len(BASE):]
    return None
