"""Formats: the one media-type table, content negotiation, and result serialisers.

Query results: SPARQL 1.1 Query Results JSON, XML, CSV and TSV (W3C), and a readable ``table``.
RDF: Turtle, N-Triples, N-Quads, TriG, JSON-LD, RDF/XML through pyoxigraph. Nothing here touches
the store or the network.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

from .errors import UsageError
from .namespaces import shorten
from .queries import QueryResult

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"

RESULT_FORMATS = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "table": "text/plain",
}
RDF_FORMATS = {
    "ttl": (ox.RdfFormat.TURTLE, "text/turtle"),
    "nt": (ox.RdfFormat.N_TRIPLES, "application/n-triples"),
    "nq": (ox.RdfFormat.N_QUADS, "application/n-quads"),
    "trig": (ox.RdfFormat.TRIG, "application/trig"),
    "jsonld": (ox.RdfFormat.JSON_LD, "application/ld+json"),
    "rdf": (ox.RdfFormat.RDF_XML, "application/rdf+xml"),
}


HTML = "text/html"


def parse_accept(header: str | None) -> list[tuple[str, float, int]]:
    """Media ranges of an Accept header with their q-values, most specific first on ties.

    >>> [m for m, q, _ in parse_accept("text/html;q=0.9, text/turtle, */*;q=0.1")]
    ['text/turtle', 'text/html', '*/*']
    """
    ranges = []
    for i, part in enumerate((header or "*/*").split(",")):
        items = [x.strip() for x in part.split(";")]
        media = items[0].lower()
        if not media:
            continue
        q = 1.0
        for param in items[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        specificity = 0 if media == "*/*" else (1 if media.endswith("/*") else 2)
        ranges.append((media, q, -i, specificity))
    ranges.sort(key=lambda r: (-r[1], -r[3], -r[2]))
    return [(m, q, s) for m, q, _, s in ranges]


def negotiate(accept: str | None, offered: list[str]) -> str | None:
    """The offered media type the client prefers (q-values, wildcards), or None (→ 406).

    >>> negotiate("text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", ["text/turtle", "text/html"])
    'text/html'
    >>> negotiate("application/ld+json;q=0.5, text/turtle", ["text/html", "application/ld+json", "text/turtle"])
    'text/turtle'
    >>> negotiate("image/png", ["text/turtle"]) is None
    True
    """
    best, best_score = None, (0.0, -1, 0)
    for index, media in enumerate(offered):
        quality, spec = 0.0, -1
        for rng, q, s in parse_accept(accept):
            if rng == media or rng == "*/*" or (rng.endswith("/*") and media.startswith(rng[:-1])):
                if s > spec:  # the most specific matching range decides
                    quality, spec = q, s
        score = (quality, spec, -index)
        if quality > 0 and score > best_score:
            best, best_score = media, score
    return best


RDF_BY_MEDIA = {media: fmt for fmt, media in RDF_FORMATS.values()}
EXTENSION_BY_MEDIA = {media: ext for ext, (fmt, media) in RDF_FORMATS.items()}


def rdf_format(name: str) -> ox.RdfFormat:
    """An RDF format by extension or media type."""
    for ext, (fmt, media) in RDF_FORMATS.items():
        if name in (ext, media):
            return fmt
    raise UsageError(f"unknown RDF format {name!r}", hint="use one of " + ", ".join(RDF_FORMATS))


def _json_term(term: object) -> dict[str, str]:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    raise TypeError(term)


def to_json(result: QueryResult) -> str:
    if result.boolean is not None:
        return json.dumps({"head": {}, "boolean": result.boolean})
    bindings = [{c: _json_term(t) for c, t in zip(result.columns, row) if t is not None} for row in result.rows]
    return json.dumps({"head": {"vars": result.columns}, "results": {"bindings": bindings}}, ensure_ascii=False, indent=1)


def to_xml(result: QueryResult) -> str:
    out = ['<?xml version="1.0"?>', '<sparql xmlns="http://www.w3.org/2005/sparql-results#">', "  <head>"]
    out += [f"    <variable name={quoteattr(c)}/>" for c in result.columns]
    out.append("  </head>")
    if result.boolean is not None:
        out.append(f"  <boolean>{'true' if result.boolean else 'false'}</boolean>")
    else:
        out.append("  <results>")
        for row in result.rows:
            out.append("    <result>")
            for c, t in zip(result.columns, row):
                if t is None:
                    continue
                if isinstance(t, ox.NamedNode):
                    body = f"<uri>{escape(t.value)}</uri>"
                elif isinstance(t, ox.BlankNode):
                    body = f"<bnode>{escape(t.value)}</bnode>"
                elif t.language:
                    body = f"<literal xml:lang={quoteattr(t.language)}>{escape(t.value)}</literal>"
                elif t.datatype.value != XSD_STRING:
                    body = f"<literal datatype={quoteattr(t.datatype.value)}>{escape(t.value)}</literal>"
                else:
                    body = f"<literal>{escape(t.value)}</literal>"
                out.append(f"      <binding name={quoteattr(c)}>{body}</binding>")
            out.append("    </result>")
        out.append("  </results>")
    out.append("</sparql>")
    return "\n".join(out) + "\n"


def to_csv(result: QueryResult) -> str:
    """SPARQL 1.1 CSV: plain values, CRLF line ends (the W3C note asks for them)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow(["" if t is None else (f"_:{t.value}" if isinstance(t, ox.BlankNode) else t.value) for t in row])
    return buf.getvalue()


def to_tsv(result: QueryResult) -> str:
    """SPARQL 1.1 TSV: terms in their SPARQL/Turtle syntax."""
    lines = ["\t".join(f"?{c}" for c in result.columns)]
    for row in result.rows:
        lines.append("\t".join("" if t is None else str(t) for t in row))
    return "\n".join(lines) + "\n"


def _cell(term: object) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return shorten(term.value)
    return " ".join(str(term.value).split())


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _labelled_view(result: QueryResult) -> QueryResult:
    """For reading: where a column X has a sibling X_label, show X's label (or X itself when it has
    none, e.g. a literal) under the name X."""
    cols = result.columns
    pairs = {c: cols.index(f"{c}_label") for c in cols if f"{c}_label" in cols}
    keep = [i for i, c in enumerate(cols) if not (c.endswith("_label") and c.removesuffix("_label") in pairs)]
    rows = [[(row[pairs[cols[i]]] if row[pairs[cols[i]]] is not None else row[i]) if cols[i] in pairs else row[i]
             for i in keep] for row in result.rows]
    return QueryResult([cols[i] for i in keep], rows)


def _sources_cell(term: object) -> str:
    """Sources in a table: the first site's host name and how many more (the full list is in CSV/JSON)."""
    urls = str(term.value).split() if term is not None else []
    if not urls:
        return ""
    host = urls[0].split("/")[2].removeprefix("www.") if "://" in urls[0] else urls[0]
    return host + (f" (+{len(urls) - 1})" if len(urls) > 1 else "")


def to_table(result: QueryResult, max_width: int = 50) -> str:
    """A readable table: labels rather than IRIs, IRIs shortened, sources summarised, long cells cut."""
    if result.boolean is not None:
        return "true" if result.boolean else "false"
    result = _labelled_view(result)
    cells = [[_sources_cell(t) if c == "source" else _cell(t) for c, t in zip(result.columns, row)] for row in result.rows]
    cells = [[c if _width(c) <= max_width else c[: max_width - 1] + "…" for c in row] for row in cells]
    widths = [max([_width(c)] + [_width(r[i]) for r in cells]) for i, c in enumerate(result.columns)]
    def line(values: list[str]) -> str:
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths)).rstrip()
    out = [line(result.columns), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    out.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(out)


def serialize_result(result: QueryResult, fmt: str) -> str:
    if result.triples is not None:
        raise UsageError("a CONSTRUCT or DESCRIBE result is RDF", hint="use --format ttl, nt, jsonld or rdf")
    try:
        return {"json": to_json, "xml": to_xml, "csv": to_csv, "tsv": to_tsv, "table": to_table}[fmt](result)
    except KeyError:
        raise UsageError(f"unknown result format {fmt!r}", hint="use one of " + ", ".join(RESULT_FORMATS)) from None


def serialize_triples(triples: list[object], fmt: str) -> bytes:
    store = ox.Store()
    for t in triples:
        store.add(ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()))
    return store.dump(format=rdf_format(fmt), from_graph=ox.DefaultGraph())
