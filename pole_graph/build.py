"""Build: load → reason → validate → store, timing each stage and counting what was built.

The orchestration only; each stage lives in its own module. Any error leaves the previous store
untouched: nothing is written until every stage has succeeded.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections import Counter
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Iterable, Iterator

import pyoxigraph as ox
from rdflib import URIRef

from . import __version__
from .errors import NotConformantError
from .load import Content, load_content
from .namespaces import (
    GRAPH_DATA, GRAPH_INDEX, GRAPH_INFERRED, GRAPH_ONTOLOGY, GRAPH_SCHEMES, GRAPH_SHAPES, RDF, shorten,
)
from .project import Project
from .reason import reason
from .rules import reason_fast
from .steward import name_index
from .shacl_sparql import compile_shapes, validate_store
from .store import StoreWriter, graph_to_ntriples
from .terms import graph_of
from .validate import ValidationReport, validate


@dataclass
class BuildReport:
    """What a build did: seconds per stage, triples per graph, instances per class."""

    stages: dict[str, float] = field(default_factory=dict)
    graphs: dict[str, int] = field(default_factory=dict)
    classes: dict[str, int] = field(default_factory=dict)
    records: int = 0
    validation: ValidationReport | None = None
    store: Path | None = None

    def text(self) -> str:
        lines = [f"records: {self.records}"]
        lines.append("triples per graph:")
        lines += [f"  {shorten(g) if g.startswith('http') else g:<28} {n:>8}" for g, n in self.graphs.items()]
        lines.append("instances per class (asserted + inferred):")
        lines += [f"  {c:<40} {n:>6}" for c, n in self.classes.items()]
        lines.append("seconds per stage:")
        lines += [f"  {s:<10} {t:8.2f}" for s, t in self.stages.items()]
        if self.store:
            lines.append(f"store: {self.store}")
        return "\n".join(lines)


COUNTED_CLASSES = (
    "pg:CompetitivenessCluster", "pg:Labelling", "pg:ForeignCluster", "pg:PublicBody", "pg:Programme",
    "pg:PolicyPhase", "pg:ClusterPartnership", "org:ChangeEvent", "schema:Event", "pg:Contribution",
    "foaf:Person", "org:Membership", "qb:Observation", "pg:SourceDocument", "skos:Concept",
)


def content_hash(project: Project) -> str:
    digest = hashlib.sha256()
    for path in project.all_files:
        digest.update(project.relpath(path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def count_classes(triples: Iterable[tuple]) -> dict[str, int]:
    from .namespaces import PREFIXES

    rdf_type = RDF.type
    counts = Counter(o for _, p, o in triples if p == rdf_type)
    out = {}
    for curie in COUNTED_CLASSES:
        prefix, local = curie.split(":")
        out[curie] = counts.get(URIRef(PREFIXES[prefix] + local), 0)
    return out


VALIDATORS = ("sparql", "pyshacl")


def build(project: Project, store_path: Path | None, *, write: bool = True, reasoner: str = "rules",
          validator: str = "sparql") -> BuildReport:
    """Build the graph of ``project`` into the store at ``store_path``.

    ``reasoner`` is ``rules`` (the fast engine, tested equal to owlrl on this vocabulary) or
    ``owlrl`` (the reference). ``validator`` is ``sparql`` (the shapes compiled to SPARQL and run by
    pyoxigraph on the new store before it replaces the old one; tested equal to pySHACL) or
    ``pyshacl`` (the reference, on an rdflib union of the graphs). Raises ContentError (bad
    input), InconsistencyError (OWL RL contradiction) or NotConformantError (SHACL violations);
    in each case nothing is written.
    """
    if validator not in VALIDATORS:
        raise ValueError(f"unknown validator {validator!r}: use one of {', '.join(VALIDATORS)}")
    with _cycle_collector_paused():
        return _build(project, store_path, write, reasoner, validator)


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Python's cycle collector off for the build, back as it was after.

    A build allocates millions of tuples and terms and makes no cycles of note; each full
    collection walked all of them (about 5 s of a 1M-triple build).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build(project: Project, store_path: Path | None, write: bool, reasoner: str, validator: str) -> BuildReport:
    report = BuildReport()
    t = time.perf_counter()
    content: Content = load_content(project)
    report.stages["load"] = time.perf_counter() - t
    report.records = len(content.records)
    # compiled here, not inside the store stage: rdflib's SPARQL parser leaves cyclic garbage that
    # holds the frames it ran under, and those of the store stage hold every graph
    program = compile_shapes(content.shapes) if validator == "sparql" else None

    def knowledge() -> Iterator[tuple]:
        """Asserted and inferred triples, without copying them into one graph (1.8M adds at 1M)."""
        return chain(content.ontology, content.schemes, content.data, inference.triples)

    asserted = {GRAPH_ONTOLOGY: content.ontology, GRAPH_SCHEMES: content.schemes, GRAPH_DATA: content.data,
                GRAPH_SHAPES: content.shapes}
    writer = StoreWriter(store_path) if write and store_path is not None else None
    storing = 0.0  # seconds this thread spends on the store (its loads run in the background)
    with writer or nullcontext():
        if writer is not None:  # the asserted graphs load into the new store while the rules run
            t = time.perf_counter()
            writer.load(asserted)
            storing += time.perf_counter() - t

        t = time.perf_counter()
        if reasoner == "owlrl":
            inference = reason(content.asserted)
        else:
            inference = reason_fast(chain(content.ontology, content.schemes, content.data), content.ontology)
        report.stages["reason"] = time.perf_counter() - t
        if writer is not None:  # the inferred graph loads while the name index is made
            t = time.perf_counter()
            writer.load({GRAPH_INFERRED: inference.triples})
            storing += time.perf_counter() - t

        if validator == "pyshacl":
            t = time.perf_counter()
            _conforms_or_raise(validate(graph_of(knowledge()), content.shapes), report, content)
            report.stages["validate"] = time.perf_counter() - t
        report.classes = count_classes(knowledge())

        t = time.perf_counter()
        index = name_index(knowledge())
        report.stages["index"] = time.perf_counter() - t
        derived = {GRAPH_INFERRED: inference.triples, GRAPH_INDEX: index}
        knowledge_graphs = [str(g) for g in (GRAPH_ONTOLOGY, GRAPH_SCHEMES, GRAPH_DATA, GRAPH_INFERRED)]

        info = {"pole_graph": __version__, "reasoner": inference.engine, "validator": validator,
                "content_sha256": content_hash(project), "records": report.records,
                "stages": {k: round(v, 3) for k, v in report.stages.items()}}

        def check(store: ox.Store) -> None:
            """SHACL on the new store, before it replaces the previous one (which a failure leaves alone)."""
            if validator != "sparql":
                return
            started = time.perf_counter()
            _conforms_or_raise(validate_store(store, program, knowledge_graphs), report, content)
            report.stages["validate"] = time.perf_counter() - started
            info["stages"]["validate"] = round(report.stages["validate"], 3)

        if writer is not None:
            t = time.perf_counter()
            writer.load({GRAPH_INDEX: index})
            report.graphs = writer.commit(info, check)
            storing += time.perf_counter() - t - report.stages.get("validate", 0.0) * (validator == "sparql")
            report.stages["store"] = storing
            report.store = Path(store_path)
        else:
            graphs = {**asserted, **derived}
            if validator == "sparql":  # no store to write: the shapes run on one held in memory
                memory = ox.Store()
                memory.bulk_load(b"".join(graph_to_ntriples(graph, name) for name, graph in graphs.items()),
                                 ox.RdfFormat.N_QUADS)
                check(memory)
            report.graphs = {str(g): len(graph) for g, graph in graphs.items()}
    report.stages = {k: report.stages[k] for k in ("load", "reason", "validate", "index", "store") if k in report.stages}
    # the shapes compiler's cyclic garbage holds this frame (see above): without this, the graphs
    # would live until the next full collection (10 s at 1M triples, at exit)
    content = inference = asserted = derived = graphs = index = None  # noqa: F841
    return report


def _conforms_or_raise(validation: ValidationReport, report: BuildReport, content: Content) -> None:
    report.validation = validation
    if not validation.conforms:
        raise NotConformantError(validation, "the graph does not conform to the shapes:\n" + validation.text(
            "en", locate=lambda node: _locate(content, node)))


def _locate(content: Content, node: object) -> str | None:
    record = content.record_at(node) if isinstance(node, URIRef) else None
    return f"{record.file} line {record.line}" if record else None
