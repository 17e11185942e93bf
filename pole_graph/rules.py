"""Rules: a fast OWL 2 RL forward chainer for the vocabulary pole-graph uses.

Stage 2 of the build, alternative engine. owlrl stays the reference semantics: this engine applies
the same OWL 2 RL rules (tests/test_reasoning.py shows it derives exactly owlrl's triples on the
whole graph), compiled once from the ontology, with a worklist over indexed sets instead of
repeated passes over every triple. It must not be used on an ontology with constructs it does not
compile (class expressions, cardinalities…): ``compile_rules`` raises rather than silently ignoring
them.

Schema-level rules (subclass and subproperty closure, inherited domains and ranges…) are computed
by owlrl on the ontology alone, which is small; instance-level rules run here:

    cax-sco, cax-eqc   types through the subclass closure
    prp-dom, prp-rng   types from domains and ranges (of the property and its super-properties)
    prp-spo1, prp-eqp  super-properties
    prp-inv            inverse properties
    prp-symp, prp-trp  symmetric and transitive properties
    prp-spo2           property chains
    prp-key            owl:hasKey  ─┐
    prp-fp, prp-ifp    functional   ├─ produce owl:sameAs, which the build treats as an error
    cax-dw, prp-irp…   disjointness ┘  (reported as inconsistencies, like owlrl's error nodes)
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

import owlrl
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from .errors import InconsistencyError
from .namespaces import OWL, RDF, RDFS

Triple = tuple[Node, Node, Node]
# rdflib's Namespace makes a new URIRef at each attribute access: the hot loops use these constants.
_TYPE, _SAME_AS = RDF.type, OWL.sameAs
_SCHEMA_PREDICATES = {RDFS.subClassOf, RDFS.subPropertyOf, RDFS.domain, RDFS.range, OWL.inverseOf,
                      OWL.equivalentClass, OWL.equivalentProperty, OWL.propertyChainAxiom, OWL.disjointWith,
                      OWL.hasKey, OWL.propertyDisjointWith}
_UNSUPPORTED = {OWL.intersectionOf, OWL.unionOf, OWL.someValuesFrom, OWL.allValuesFrom, OWL.hasValue,
                OWL.maxCardinality, OWL.maxQualifiedCardinality, OWL.oneOf, OWL.complementOf,
                OWL.AllDisjointClasses, OWL.AllDifferent, OWL.hasSelf}


@dataclass
class Rules:
    """The instance-level OWL 2 RL rules of one ontology, precompiled."""

    super_classes: dict[Node, set[Node]] = field(default_factory=dict)
    super_properties: dict[Node, set[Node]] = field(default_factory=dict)
    domains: dict[Node, set[Node]] = field(default_factory=dict)
    ranges: dict[Node, set[Node]] = field(default_factory=dict)
    inverses: dict[Node, set[Node]] = field(default_factory=dict)
    symmetric: set[Node] = field(default_factory=set)
    transitive: set[Node] = field(default_factory=set)
    functional: set[Node] = field(default_factory=set)
    inverse_functional: set[Node] = field(default_factory=set)
    chains: list[tuple[Node, tuple[Node, ...]]] = field(default_factory=list)
    keys: dict[Node, list[tuple[Node, ...]]] = field(default_factory=dict)
    disjoint: set[frozenset] = field(default_factory=set)
    schema_closure: Graph = field(default_factory=Graph)

    def supers_of_class(self, cls: Node) -> set[Node]:
        return self.super_classes.get(cls, {cls})

    def supers_of_property(self, prop: Node) -> set[Node]:
        return self.super_properties.get(prop, {prop})


def compile_rules(ontology: Graph) -> Rules:
    """Compile the ontology's axioms (after owlrl's schema-level closure) into rule tables."""
    unsupported = sorted({str(p) for p in ontology.predicates() if p in _UNSUPPORTED}
                         | {str(o) for o in ontology.objects(None, RDF.type) if o in _UNSUPPORTED})
    if unsupported:
        raise ValueError("the fast engine does not compile these OWL constructs: " + ", ".join(unsupported)
                         + " (use the owlrl reasoner)")
    closure = Graph()
    for t in ontology:
        closure.add(t)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(closure)
    rules = Rules(schema_closure=closure)
    for c, d in closure.subject_objects(RDFS.subClassOf):
        rules.super_classes.setdefault(c, {c}).add(d)
    for c, d in closure.subject_objects(OWL.equivalentClass):
        rules.super_classes.setdefault(c, {c}).add(d)
        rules.super_classes.setdefault(d, {d}).add(c)
    for p, q in closure.subject_objects(RDFS.subPropertyOf):
        rules.super_properties.setdefault(p, {p}).add(q)
    for p, q in closure.subject_objects(OWL.equivalentProperty):
        rules.super_properties.setdefault(p, {p}).add(q)
        rules.super_properties.setdefault(q, {q}).add(p)
    for p, c in closure.subject_objects(RDFS.domain):
        rules.domains.setdefault(p, set()).add(c)
    for p, c in closure.subject_objects(RDFS.range):
        rules.ranges.setdefault(p, set()).add(c)
    for p, q in closure.subject_objects(OWL.inverseOf):
        rules.inverses.setdefault(p, set()).add(q)
        rules.inverses.setdefault(q, set()).add(p)
    rules.symmetric = set(closure.subjects(RDF.type, OWL.SymmetricProperty))
    rules.transitive = set(closure.subjects(RDF.type, OWL.TransitiveProperty))
    rules.functional = set(closure.subjects(RDF.type, OWL.FunctionalProperty))
    rules.inverse_functional = set(closure.subjects(RDF.type, OWL.InverseFunctionalProperty))
    for p, head in closure.subject_objects(OWL.propertyChainAxiom):
        rules.chains.append((p, tuple(closure.items(head))))
    for c, head in closure.subject_objects(OWL.hasKey):
        rules.keys.setdefault(c, []).append(tuple(closure.items(head)))
    for c, d in closure.subject_objects(OWL.disjointWith):
        rules.disjoint.add(frozenset((c, d)))
    return rules


class _Index:
    """Triples in a set, and indexed by (subject, property), (property, object) and property for
    only the properties (and classes) some rule looks up: most triples are only ever matched by
    their own property, and indexing them all three ways cost more than the rules themselves.
    ``add`` returns whether the triple is new.
    """

    def __init__(self, rules: Rules) -> None:
        self.all: set[Triple] = set()
        self.sp: dict[tuple[Node, Node], set[Node]] = defaultdict(set)
        self.po: dict[tuple[Node, Node], set[Node]] = defaultdict(set)
        self.p: dict[Node, set[tuple[Node, Node]]] = defaultdict(set)
        steps = {step for _, chain in rules.chains for step in chain}
        keyed = {k for key_lists in rules.keys.values() for keys in key_lists for k in keys}
        self.by_sp = rules.transitive | steps | keyed
        self.by_po = rules.transitive | steps
        self.by_p = rules.functional | {_SAME_AS}
        self.typed = {c for pair in rules.disjoint for c in pair} | set(rules.keys)

    def add(self, t: Triple) -> bool:
        if t in self.all:
            return False
        self.all.add(t)
        s, p, o = t
        if p in self.by_sp:
            self.sp[(s, p)].add(o)
        if p in self.by_po or (o in self.typed and p == _TYPE):
            self.po[(p, o)].add(s)
        if p in self.by_p:
            self.p[p].add((s, o))
        return True


def closure(rules: Rules, triples: Iterable[Triple], include_schema: bool = True) -> tuple[set[Triple], list[str]]:
    """All triples of the OWL 2 RL closure of ``triples`` under ``rules``, and any contradictions.

    ``include_schema=False`` leaves out the ontology's own closure: for an incremental step on a
    store that already holds it.
    """
    index = _Index(rules)
    queue: list[Triple] = []
    for t in triples:
        if index.add(t):
            queue.append(t)
    if include_schema:
        for t in rules.schema_closure:
            if index.add(t):
                queue.append(t)

    chain_steps: dict[Node, list[tuple[Node, tuple[Node, ...], int]]] = defaultdict(list)
    for head, chain in rules.chains:
        for i, step in enumerate(chain):
            chain_steps[step].append((head, chain, i))

    def emit(t: Triple) -> None:
        if index.add(t):
            queue.append(t)

    while queue:
        s, p, o = queue.pop()
        if p == _TYPE:
            for sup in rules.supers_of_class(o):
                emit((s, _TYPE, sup))
            continue
        for q in rules.supers_of_property(p):
            if q != p:
                emit((s, q, o))
        for c in rules.domains.get(p, ()):
            emit((s, _TYPE, c))
        for c in rules.ranges.get(p, ()):
            emit((o, _TYPE, c))
        if isinstance(o, Literal):
            continue
        for q in rules.inverses.get(p, ()):
            emit((o, q, s))
        if p in rules.symmetric:
            emit((o, p, s))
        if p in rules.transitive:
            for o2 in list(index.sp.get((o, p), ())):
                emit((s, p, o2))
            for s0 in list(index.po.get((p, s), ())):
                emit((s0, p, o))
        for head, chain, i in chain_steps.get(p, ()):
            # extend the new link both ways along the chain
            lefts = [s]
            for step in reversed(chain[:i]):
                lefts = [x for y in lefts for x in index.po.get((step, y), ())]
            rights = [o]
            for step in chain[i + 1:]:
                rights = [z for y in rights for z in index.sp.get((y, step), ())]
            for x in lefts:
                for z in rights:
                    emit((x, head, z))
    return index.all, _contradictions(rules, index)


def _contradictions(rules: Rules, index: _Index) -> list[str]:
    problems = []
    for pair in rules.disjoint:
        a, b = tuple(pair) if len(pair) == 2 else (next(iter(pair)),) * 2
        for s in index.po.get((_TYPE, a), set()) & index.po.get((_TYPE, b), set()):
            problems.append(f"Disjoint classes {a} and {b} have a common individual {s}")
    for p in rules.functional:
        by_subject: dict[Node, set[Node]] = defaultdict(set)
        for s, o in index.p.get(p, ()):  # the property's own triples, not every (subject, property) key
            by_subject[s].add(o)
        for s, objects in by_subject.items():
            named = sorted(str(o) for o in objects if isinstance(o, URIRef))
            if len(named) > 1:
                problems.append(f"<{named[0]}> and <{named[1]}> were merged (owl:sameAs): functional property {p} on {s}")
    for cls, key_lists in rules.keys.items():
        for keys in key_lists:
            seen: dict[tuple, Node] = {}
            for x in index.po.get((_TYPE, cls), ()):
                values = []
                for k in keys:
                    vals = index.sp.get((x, k))
                    if not vals:
                        break
                    values.append(frozenset(vals))
                else:
                    for combo in _product(values):
                        other = seen.setdefault(combo, x)
                        if other != x:
                            a, b = sorted((str(other), str(x)))
                            problems.append(f"<{a}> and <{b}> were merged (owl:sameAs): they share the key {keys}")
    for s, o in index.p.get(_SAME_AS, ()):
        if s != o and isinstance(s, URIRef) and isinstance(o, URIRef) and str(s) < str(o):
            problems.append(f"<{s}> and <{o}> were merged (owl:sameAs): two things share a key, "
                            "a functional property value or an explicit sameAs")
    return sorted(set(problems))


def _product(values: list[frozenset]) -> Iterable[tuple]:
    if not values:
        yield ()
        return
    for v in values[0]:
        for rest in _product(values[1:]):
            yield (v,) + rest


def is_schema_triple(t: Triple) -> bool:
    return t[1] in _SCHEMA_PREDICATES


def reason_fast(asserted: Graph, ontology: Graph, rules: Rules | None = None):
    """Inferred triples of ``asserted`` with the fast engine; same contract as reason.reason()."""
    from .reason import Inference, drop_noise

    started = time.perf_counter()
    rules = rules or compile_rules(ontology)
    given = set(asserted)  # membership in a set, not rdflib's index walk, for each derived triple
    everything, problems = closure(rules, given)
    if problems:
        raise InconsistencyError(problems)
    inferred = drop_noise(everything - given)
    return Inference(inferred, "pole-graph rules (OWL 2 RL)", time.perf_counter() - started, len(everything))
