"""The build's own N-Triples writer and the fast path of ``fold``, against the references they replace.

``store.graph_to_ntriples`` writes what pyoxigraph's bulk loader reads, instead of rdflib's
serializer; ``terms.fold`` skips Unicode normalisation for ASCII text. Both are checked on generated
input against the slower code they stand for: pyoxigraph must read back exactly the terms given, and
``fold`` must give what the general path gives.
"""

from __future__ import annotations

import re
import unicodedata

import pyoxigraph as ox
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic

from pole_graph.store import graph_to_ntriples
from pole_graph.terms import fold, to_ox

XSD_NS = "http://www.w3.org/2001/XMLSchema#"  # not rdflib's XSD namespace object: pytest's collection probes it and warns
# characters that need care in N-Triples: quotes, backslashes, line ends, controls, non-BMP
text = st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from('"\\\n\r\t\x00\x7f\u2028é😀'), max_size=30)
iris = st.builds(lambda path: URIRef("https://example.org/" + path),
                 st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd")) | st.sampled_from("-._~/#é"), max_size=20))
literals = st.one_of(
    st.builds(Literal, text),
    st.builds(lambda t, lang: Literal(t, lang=lang), text, st.sampled_from(["fr", "en", "en-GB", "fr-CA"])),
    st.builds(lambda t, dt: Literal(t, datatype=dt), text,
              st.sampled_from([URIRef(XSD_NS + name) for name in ("integer", "date", "gYear", "string")]
                              + [URIRef("https://example.org/dt")])),
)
subjects = st.one_of(iris, st.builds(BNode, st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,10}", fullmatch=True)))
triples = st.lists(st.tuples(subjects, iris, st.one_of(iris, literals, subjects)), max_size=20)


@settings(max_examples=300, deadline=None)
@given(triples, st.booleans())
def test_the_n_triples_writer_gives_pyoxigraph_exactly_the_terms_given(generated, in_a_graph):
    name = URIRef("https://example.org/graph") if in_a_graph else None
    data = graph_to_ntriples(generated, name)
    fmt = ox.RdfFormat.N_QUADS if in_a_graph else ox.RdfFormat.N_TRIPLES
    read = [(q.subject, q.predicate, q.object) for q in ox.parse(data, fmt)]
    assert read == [tuple(to_ox(t) for t in triple) for triple in generated]
    if in_a_graph:
        assert {q.graph_name for q in ox.parse(data, fmt)} <= {ox.NamedNode(str(name))}


@settings(max_examples=100, deadline=None)
@given(triples)
def test_the_n_triples_writer_agrees_with_rdflibs_serializer(generated):
    ours, theirs = Graph(), Graph()
    for t in generated:
        theirs.add(t)
    ours.parse(data=graph_to_ntriples(theirs).decode("utf-8"), format="nt")
    assert isomorphic(ours, Graph().parse(data=theirs.serialize(format="nt"), format="nt"))  # blank nodes renamed


def _fold_reference(value: str) -> str:
    """``fold`` before its ASCII fast path."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    stripped = stripped.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", stripped.lower()).split())


@settings(max_examples=2000, deadline=None)
@given(st.text(st.characters(max_codepoint=0x7F), max_size=40) | st.text(max_size=40))
def test_fold_gives_what_its_general_path_gives(value):
    assert fold(value) == _fold_reference(value)
