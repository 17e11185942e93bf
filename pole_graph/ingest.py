"""Ingest: read a steward's file (CSV, Turtle, N-Triples, JSON-LD, RDF/XML) into submitted records.

Part of *stewardship*. Reads and parses; checks what can be checked without the graph (size, syntax,
IRIs, datatypes of CSV cells); refuses what could make a parser reach outside or blow up — an
RDF/XML DOCTYPE (entities expand, pyoxigraph would expand them) or a JSON-LD remote ``@context`` —
before any parsing, so nothing is ever fetched. It does not look at the store and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from .errors import Problem
from .load import rdf_syntax_problem
from .namespaces import BASE, RDF
from .records import BY_FILE, RECORD_TYPES, RecordType, build_records
from .terms import from_ox

MAX_BYTES = 5_000_000
FORMATS = {
    "csv": None,
    "ttl": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "jsonld": ox.RdfFormat.JSON_LD,
    "rdf": ox.RdfFormat.RDF_XML,
}
SYNTAX_NAMES = {"ttl": "Turtle", "nt": "N-Triples", "jsonld": "JSON-LD", "rdf": "RDF/XML"}
EXTENSIONS = {".csv": "csv", ".ttl": "ttl", ".turtle": "ttl", ".nt": "nt", ".jsonld": "jsonld",
              ".json": "jsonld", ".rdf": "rdf", ".xml": "rdf", ".owl": "rdf"}
ID = BASE + "id/"
Triple = tuple[Node, Node, Node]


@dataclass
class SubmittedRecord:
    """One record of a submission: its IRI, type (if known), where it is, and its triples."""

    iri: URIRef
    type: RecordType | None
    file: str
    line: int | None
    triples: list[Triple] = field(default_factory=list)
    column_of: dict[Node, str] = field(default_factory=dict)  # predicate -> CSV column, for reports

    @property
    def key(self) -> str:
        return str(self.iri).rsplit("/", 1)[-1]


@dataclass
class Submission:
    """Everything read from the files, and every problem met while reading them."""

    files: list[str] = field(default_factory=list)
    records: list[SubmittedRecord] = field(default_factory=list)
    problems: list[tuple[Problem, str, URIRef | None]] = field(default_factory=list)  # (problem, kind, record)
    checksums: dict[str, str] = field(default_factory=dict)

    def add_problem(self, problem: Problem, kind: str, record: URIRef | None = None) -> None:
        self.problems.append((problem, kind, record))


def detect_format(path: Path, explicit: str | None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise ValueError(f"unknown format {explicit!r} (use one of {', '.join(FORMATS)})")
        return explicit
    return EXTENSIONS.get(path.suffix.lower(), "")


def read_files(paths: list[Path], index, *, fmt: str | None = None, record_type: str | None = None,
               max_bytes: int = MAX_BYTES) -> Submission:
    """Read every file into one submission. ``index`` resolves references (a StoreIndex)."""
    sub = Submission()
    csv_texts: dict[str, str] = {}
    csv_types: dict[str, RecordType] = {}
    for path in paths:
        shown = str(path)
        sub.files.append(shown)
        try:
            data = path.read_bytes() if path.stat().st_size <= max_bytes else None
        except OSError as exc:
            sub.add_problem(Problem(shown, None, f"cannot read the file: {exc.strerror}"), "syntax")
            continue
        if data is None:
            sub.add_problem(Problem(shown, None, f"the file is too large ({path.stat().st_size:,} bytes)",
                                    expected=f"at most {max_bytes:,} bytes; split it into several files"), "limit")
            continue
        sub.checksums[shown] = hashlib.sha256(data).hexdigest()
        try:
            kind = detect_format(path, fmt)
        except ValueError as exc:
            sub.add_problem(Problem(shown, None, str(exc)), "syntax")
            continue
        if not kind:
            sub.add_problem(Problem(shown, None, f"unknown file type {path.suffix!r}",
                                    expected="a .csv, .ttl, .nt, .jsonld or .rdf file, or --format"), "syntax")
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            sub.add_problem(Problem(shown, None, f"not UTF-8 text ({exc.reason})", line=line, expected="UTF-8"), "syntax")
            continue
        if kind == "csv":
            rtype = _csv_type(text, path, record_type, sub, shown)
            if rtype is not None:
                csv_texts[shown] = text
                csv_types[shown] = rtype
        else:
            _read_rdf(text, data, kind, shown, sub)
    if csv_texts:
        _read_csv(csv_texts, csv_types, index, sub)
    return sub


def _csv_type(text: str, path: Path, explicit: str | None, sub: Submission, shown: str) -> RecordType | None:
    if explicit:
        match = [rt for rt in RECORD_TYPES if explicit in (rt.name, rt.file, rt.file.removesuffix(".csv"))]
        if not match:
            sub.add_problem(Problem(shown, None, f"unknown record type {explicit!r}",
                                    expected="one of " + ", ".join(rt.file.removesuffix(".csv") for rt in RECORD_TYPES)), "syntax")
            return None
        return match[0]
    if path.name in BY_FILE:
        return BY_FILE[path.name]
    header_line = next((l for l in text.splitlines() if l.strip() and not l.startswith("#")), "")
    header = {h.strip() for h in header_line.split(",")}
    candidates = [rt for rt in RECORD_TYPES
                  if {c.name for c in rt.columns if c.required} <= header <= {c.name for c in rt.columns}]
    if len(candidates) == 1:
        return candidates[0]
    sub.add_problem(Problem(shown, None, "cannot tell which record type this CSV holds" +
                            (f" (it could be {', '.join(c.name for c in candidates)})" if candidates else
                             " from its header"),
                            expected="a header copied from a template (pole-graph template TYPE), or --type"), "syntax")
    return None


def _read_csv(texts: dict[str, str], types: dict[str, RecordType], index, sub: Submission) -> None:
    records, triples, problems = build_records(texts, index, types=types)
    for p in problems:
        sub.add_problem(p, _kind_of(p), URIRef(p.record) if p.record else None)
    by_subject: dict[str, list[Triple]] = {}
    for t in triples:
        by_subject.setdefault(str(t[0]).split("#", 1)[0], []).append(t)
    for r in records:
        columns = {}
        for col in r.type.columns:
            columns[col.name] = col.name
        sub.records.append(SubmittedRecord(r.iri, r.type, r.file, r.line, by_subject.get(str(r.iri), []),
                                           column_of=_columns_by_predicate(r)))


def _columns_by_predicate(record) -> dict[Node, str]:
    """Which CSV column produced which predicate: build one triple per column and compare."""
    from .records import Record

    out: dict[Node, str] = {}
    full = {t for t in record.type.build(record)}
    for col in record.type.columns:
        value = record.values.get(col.name)
        if value in (None, []):
            continue
        reduced = dict(record.values)
        reduced[col.name] = [] if col.multi else None
        try:
            without = set(record.type.build(Record(record.type, record.file, record.line, reduced, record.iri,
                                                   record.key, record.index)))
        except Exception:  # a required column cannot be removed: its triples are the difference anyway
            continue
        for s, p, o in full - without:
            if s == record.iri:
                out.setdefault(p, col.name)
    return out


def _kind_of(problem: Problem) -> str:
    text = problem.message
    if "no " in text and "record with key" in text or "is not a code of" in text or "does not say what it refers to" in text:
        return "reference"
    if "not a web address" in text or "not allowed in an IRI" in text:
        return "iri"
    if "not a date" in text or "not a number" in text or "not a duration" in text or "not a valid" in text \
            or "is not a known" in text:
        return "datatype"
    if "already used by" in text or "duplicate record" in text:
        return "duplicate"
    return "syntax"


def _read_rdf(text: str, data: bytes, kind: str, shown: str, sub: Submission) -> None:
    if kind == "rdf" and re.search(r"<!\s*(DOCTYPE|ENTITY)", text, re.I):
        line = text[: re.search(r"<!\s*(DOCTYPE|ENTITY)", text, re.I).start()].count("\n") + 1
        sub.add_problem(Problem(shown, "DOCTYPE", "RDF/XML with a DOCTYPE or ENTITY declaration is refused: entities "
                                "can expand without bound or point at local files", line=line,
                                expected="RDF/XML without <!DOCTYPE …> (write the values out)"), "security")
        return
    if kind == "jsonld":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            sub.add_problem(Problem(shown, None, f"not JSON: {exc.msg}", line=exc.lineno, column=exc.colno,
                                    expected="JSON-LD 1.1"), "syntax")
            return
        remote = _remote_contexts(doc)
        if remote:
            sub.add_problem(Problem(shown, "@context", f"remote JSON-LD context {remote[0]!r} is refused: nothing is "
                                    "fetched from the network", line=_line_of(text, remote[0]),
                                    expected="an inline @context object"), "security")
            return
    try:
        quads = list(ox.parse(data, format=FORMATS[kind]))
    except SyntaxError as exc:
        problem = rdf_syntax_problem(exc, shown, SYNTAX_NAMES[kind])
        if problem.line is None and kind == "rdf":
            problem = replace(problem, **_rdf_xml_error_position(data, problem.message))
        sub.add_problem(problem, "syntax")
        return
    triples: list[Triple] = []
    for q in quads:
        if not isinstance(q.graph_name, ox.DefaultGraph):
            sub.add_problem(Problem(shown, None, "named graphs are not accepted in a record file"), "syntax")
            return
        triples.append((from_ox(q.subject), from_ox(q.predicate), from_ox(q.object)))
    _group_rdf(triples, text, shown, sub)


def _rdf_xml_error_position(data: bytes, message: str) -> dict[str, int]:
    """Where an RDF/XML syntax error is: pyoxigraph's RDF/XML errors carry no position.

    The parser streams, so a prefix of the file raises the same error exactly when it holds the
    offending tag: bisect for the shortest such prefix (about log2(size) parses, on the error path
    only) and report the start of the tag it ends in, as a 1-based line and column (characters).
    """
    def same_error(size: int) -> bool:
        try:
            for _ in ox.parse(data[:size], format=ox.RdfFormat.RDF_XML):
                pass
        except SyntaxError as exc:
            return rdf_syntax_problem(exc, "").message == message
        return False

    low, high = 1, len(data)
    while low < high:
        middle = (low + high) // 2
        if same_error(middle):
            high = middle
        else:
            low = middle + 1
    start = data.rfind(b"<", 0, low)
    start = start if start >= 0 else max(low - 1, 0)
    line_start = data.rfind(b"\n", 0, start) + 1
    return {"line": data.count(b"\n", 0, start) + 1,
            "column": len(data[line_start:start].decode("utf-8", "replace")) + 1}


def _remote_contexts(node: object) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context":
                values = value if isinstance(value, list) else [value]
                found += [v for v in values if isinstance(v, str)]
                found += [v["@import"] for v in values if isinstance(v, dict) and isinstance(v.get("@import"), str)]
            found += _remote_contexts(value)
    elif isinstance(node, list):
        for item in node:
            found += _remote_contexts(item)
    return found


def _line_of(text: str, needle: str) -> int | None:
    at = text.find(needle)
    return text[:at].count("\n") + 1 if at >= 0 else None


def _find_line(text: str, iri: str) -> int | None:
    """Where a record starts in an RDF file: its full IRI, or a prefixed name ending with its key."""
    line = _line_of(text, f"<{iri}>") or _line_of(text, f'"{iri}"')
    if line:
        return line
    kind_key = iri[len(ID):] if iri.startswith(ID) else iri
    for pattern in (re.escape(kind_key.replace("/", "\\/")), re.escape(kind_key.rsplit("/", 1)[-1])):
        m = re.search(r"[\w-]*:" + pattern + r"(?![\w-])", text)
        if m:
            return text[: m.start()].count("\n") + 1
    return None


def _group_rdf(triples: list[Triple], text: str, shown: str, sub: Submission) -> None:
    """Records are the subjects under id/; blank nodes become {record}#b{n} so a record can be
    retracted whole; anything else is refused."""
    owner: dict[BNode, URIRef] = {}
    for s, p, o in triples:
        if isinstance(s, URIRef) and isinstance(o, BNode):
            owner.setdefault(o, URIRef(str(s).split("#", 1)[0]))
    changed = True
    while changed:
        changed = False
        for s, p, o in triples:
            if isinstance(s, BNode) and s in owner and isinstance(o, BNode) and o not in owner:
                owner[o] = owner[s]
                changed = True
    names: dict[BNode, URIRef] = {}

    def skolem(node: Node) -> Node:
        if not isinstance(node, BNode):
            return node
        if node not in owner:
            return node
        if node not in names:
            names[node] = URIRef(f"{owner[node]}#b{len(names) + 1}")
        return names[node]

    records: dict[str, SubmittedRecord] = {}
    for s, p, o in triples:
        s2, o2 = skolem(s), skolem(o)
        if isinstance(s2, BNode):
            sub.add_problem(Problem(shown, None, "a blank node that no record refers to", expected="give it an IRI under "
                                    + ID), "syntax")
            continue
        base = str(s2).split("#", 1)[0]
        if not base.startswith(ID) or base.count("/") != ID.count("/") + 1:
            sub.add_problem(Problem(shown, None, f"<{s2}> is not a record of this graph", line=_find_line(text, str(s2)),
                                    expected=f"subjects of the form {ID}{{type}}/{{key}}"), "iri")
            continue
        rec = records.get(base)
        if rec is None:
            rec = records[base] = SubmittedRecord(URIRef(base), None, shown, _find_line(text, base))
        rec.triples.append((s2, p, o2))
    for rec in records.values():
        types = {o for s, p, o in rec.triples if s == rec.iri and p == RDF.type}
        kind = str(rec.iri)[len(ID):].split("/", 1)[0]
        rec.type = next((rt for rt in RECORD_TYPES if types & set(rt.rdf_classes)), None) or \
            next((rt for rt in RECORD_TYPES if rt.id_type == kind), None)
        for s, p, o in rec.triples:
            if isinstance(o, Literal) and o.datatype is not None and getattr(o, "ill_typed", False):
                sub.add_problem(Problem(shown, str(p), f"{str(o)!r} is not a valid {o.datatype.rsplit('#', 1)[-1]}",
                                        line=rec.line, expected=f"a value of type {o.datatype}"), "datatype", rec.iri)
        sub.records.append(rec)
