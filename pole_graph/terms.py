"""Terms: small pure helpers on RDF terms and text, shared by every stage.

Date literals of variable precision, accent/case folding, IRI checks, and the conversion between
rdflib terms (used where rdflib is the reference: SHACL, owlrl) and pyoxigraph terms (the store
and the query engine). No I/O here.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Iterator

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from .namespaces import XSD

Triple = tuple[Node, Node, Node]

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# RFC 3987 forbids these in IRIs; rdflib would accept them silently.
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|\\^`\x7f]')


def date_literal(text: str) -> Literal:
    """A literal typed by the precision written: ``xsd:gYear``, ``xsd:gYearMonth`` or ``xsd:date``.

    >>> date_literal("2013-06-17").datatype.endswith("#date")
    True
    >>> date_literal("2009").datatype.endswith("#gYear")
    True
    >>> date_literal("17/06/2013")
    Traceback (most recent call last):
    ...
    ValueError: not a date in the form YYYY, YYYY-MM or YYYY-MM-DD
    """
    m = _DATE_RE.match(text.strip())
    if not m:
        raise ValueError("not a date in the form YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = m.groups()
    if month and not 1 <= int(month) <= 12:
        raise ValueError(f"month {month} out of range")
    if day:
        import datetime

        try:
            datetime.date(int(year), int(month), int(day))
        except ValueError as exc:
            raise ValueError(f"not a valid calendar date ({exc})") from None
        return Literal(text.strip(), datatype=XSD.date)
    if month:
        return Literal(text.strip(), datatype=XSD.gYearMonth)
    return Literal(text.strip(), datatype=XSD.gYear)


def is_slug(text: str) -> bool:
    """Frozen keys are lowercase ASCII words joined by hyphens.

    >>> is_slug("aerospace-valley"), is_slug("Aerospace Valley"), is_slug("pôle")
    (True, False, False)
    """
    return bool(_SLUG_RE.match(text))


def check_web_iri(text: str) -> str:
    """Return ``text`` if it is an absolute http(s) IRI, else raise ValueError saying why."""
    value = text.strip()
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("not a web address")
    bad = _IRI_FORBIDDEN.search(value)
    if bad:
        raise ValueError(f"character {bad.group()!r} is not allowed in an IRI (percent-encode it)")
    return value


def fold(text: str) -> str:
    """Fold text for matching: no accents, lowercase, punctuation as single spaces.

    >>> fold("  Pôle Européen de la Céramique ")
    'pole europeen de la ceramique'
    >>> fold("Images & Réseaux") == fold("images et reseaux")
    False
    >>> fold("Q@limed")
    'q limed'
    """
    if text.isascii():  # NFKD leaves ASCII as it is: the common case skips it
        stripped = text
    else:
        decomposed = unicodedata.normalize("NFKD", text)
        stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
        stripped = stripped.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    return " ".join(_NOT_ALNUM.sub(" ", stripped.lower()).split())


def slugify(text: str) -> str:
    """A slug from a name (used to propose keys, never to regenerate existing ones).

    >>> slugify("Pôle Mer Bretagne Atlantique")
    'pole-mer-bretagne-atlantique'
    """
    return "-".join(fold(text).split())


# ---- rdflib <-> pyoxigraph -------------------------------------------------------------------

def to_ox(term: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"not an RDF term: {term!r}")


def from_ox(term: object) -> Node:
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        dt = term.datatype.value
        if dt == str(XSD.string):
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(dt))
    raise TypeError(f"not an RDF term: {term!r}")


_NT_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


def nt_term(term: Node) -> str:
    """One rdflib term in N-Triples syntax.

    >>> nt_term(Literal('dit "oui"\\n', lang="fr")), nt_term(URIRef("http://x.org/a"))
    ('"dit \\\\"oui\\\\"\\\\n"@fr', '<http://x.org/a>')
    """
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, Literal):
        text = '"' + str.translate(term, _NT_ESCAPES) + '"'
        if term.language:
            return f"{text}@{term.language}"
        if term.datatype is not None:
            return f"{text}^^<{term.datatype}>"
        return text
    if isinstance(term, BNode):
        return f"_:{term}"
    raise TypeError(f"not an RDF term: {term!r}")


def graph_of(triples: Iterable[tuple[Node, Node, Node]]) -> Graph:
    """An rdflib graph holding ``triples`` (for the callers that want rdflib's API on a set)."""
    graph = Graph()
    for t in triples:
        graph.add(t)
    return graph


def triples_from_ox(triples: Iterable[ox.Triple]) -> Iterator[tuple[Node, Node, Node]]:
    for t in triples:
        yield from_ox(t.subject), from_ox(t.predicate), from_ox(t.object)
