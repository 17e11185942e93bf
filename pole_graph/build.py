"""Build: load → reason → validate → store, timing each stage and counting what was built.

The orchestration only; each stage lives in its own module. Any error leaves the previous store
untouched: nothing is written until every stage has succeeded.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph, URIRef

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
from .store import write_store
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


def count_classes(graph: Graph) -> dict[str, int]:
    from .namespaces import PREFIXES

    counts = Counter(o for o in graph.objects(None, RDF.type))
    out = {}
    for curie in COUNTED_CLASSES:
        prefix, local = curie.split(":")
        out[curie] = counts.get(URIRef(PREFIXES[prefix] + local), 0)
    return out


def build(project: Project, store_path: Path | None, *, write: bool = True, reasoner: str = "rules") -> BuildReport:
    """Build the graph of ``project`` into the store at ``store_path``.

    ``reasoner`` is ``rules`` (the fast engine, tested equal to owlrl on this vocabulary) or
    ``owlrl`` (the reference). Raises ContentError (bad input), InconsistencyError (OWL RL
    contradiction) or NotConformantError (SHACL violations); in each case nothing is written.
    """
    report = BuildReport()
    t = time.perf_counter()
    content: Content = load_content(project)
    asserted = content.asserted
    report.stages["load"] = time.perf_counter() - t
    report.records = len(content.records)

    t = time.perf_counter()
    inference = reason(asserted) if reasoner == "owlrl" else reason_fast(asserted, content.ontology)
    report.stages["reason"] = time.perf_counter() - t

    t = time.perf_counter()
    union = asserted + inference.graph
    validation = validate(union, content.shapes)
    report.stages["validate"] = time.perf_counter() - t
    report.validation = validation
    report.classes = count_classes(union)
    if not validation.conforms:
        raise NotConformantError(validation, "the graph does not conform to the shapes:\n" + validation.text(
            "en", locate=lambda node: _locate(content, node)))

    index = Graph()
    for t in name_index(union):
        index.add(t)
    graphs = {GRAPH_ONTOLOGY: content.ontology, GRAPH_SCHEMES: content.schemes, GRAPH_DATA: content.data,
              GRAPH_INFERRED: inference.graph, GRAPH_SHAPES: content.shapes, GRAPH_INDEX: index}
    if write and store_path is not None:
        t = time.perf_counter()
        info = {"pole_graph": __version__, "reasoner": inference.engine,
                "content_sha256": content_hash(project), "records": report.records,
                "stages": {k: round(v, 3) for k, v in report.stages.items()}}
        report.graphs = write_store(store_path, graphs, info)
        report.stages["store"] = time.perf_counter() - t
        report.store = Path(store_path)
    else:
        report.graphs = {str(g): len(graph) for g, graph in graphs.items()}
    return report


def _locate(content: Content, node: object) -> str | None:
    record = content.record_at(node) if isinstance(node, URIRef) else None
    return f"{record.file} line {record.line}" if record else None
