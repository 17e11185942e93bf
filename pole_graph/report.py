"""Report: what record validation found, in words a data steward can act on.

Part of *stewardship*. Grouped by record, then by field: the record (with its file and line), the
field's label in the chosen language, what was found, what was expected, how to fix it, and the
engine's own message beside it. Serialised as text, JSON, CSV, HTML, or Turtle (an
``sh:ValidationReport``). No I/O besides returning strings.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass, field as dc_field

from rdflib import BNode, Graph, Literal, URIRef

from .namespaces import PG, RDF, SH, shorten

# Problems that make the input unreadable or unusable as given: exit status 2 (the list:
# syntax, oversize, DOCTYPE, remote context, invalid IRIs, wrong datatypes, unknown references).
UNREADABLE = {"syntax", "limit", "security", "iri", "datatype", "reference"}

KIND_LABELS = {
    "syntax": ("syntaxe", "syntax"), "limit": ("taille", "size"), "security": ("sécurité", "security"),
    "iri": ("adresse", "address"), "datatype": ("type de valeur", "value type"),
    "reference": ("référence", "reference"), "duplicate": ("doublon", "duplicate"),
    "shape": ("règle", "rule"), "consistency": ("cohérence", "consistency"),
}


@dataclass
class Item:
    """One problem with one field of one record."""

    kind: str
    message: dict[str, str]
    field: str | None = None
    field_label: dict[str, str] = dc_field(default_factory=dict)
    found: str | None = None
    expected: dict[str, str] = dc_field(default_factory=dict)
    fix: dict[str, str] = dc_field(default_factory=dict)
    engine: str = ""
    severity: str = "Violation"
    path: str | None = None
    component: str | None = None

    def text(self, key: str, lang: str) -> str:
        values = getattr(self, key)
        return values.get(lang) or values.get("en") or values.get("fr") or next(iter(values.values()), "")


@dataclass
class RecordReport:
    record: str | None
    file: str | None
    line: int | None
    type: str | None
    items: list[Item] = dc_field(default_factory=list)


@dataclass
class StewardReport:
    records: list[RecordReport] = dc_field(default_factory=list)
    seconds: float = 0.0

    @property
    def problems(self) -> list[Item]:
        return [i for r in self.records for i in r.items]

    @property
    def conforms(self) -> bool:
        return not any(i.severity == "Violation" for i in self.problems)

    @property
    def exit_code(self) -> int:
        if any(i.kind in UNREADABLE for i in self.problems):
            return 2
        return 0 if self.conforms else 1

    def for_record(self, record: str | None, file: str | None, line: int | None, rtype: str | None) -> RecordReport:
        for r in self.records:
            if r.record == record and r.file == file:
                return r
        r = RecordReport(record, file, line, rtype)
        self.records.append(r)
        return r

    # ---- serialisations ----------------------------------------------------------------------

    def text(self, lang: str = "fr") -> str:
        fr = lang == "fr"
        if self.conforms and not self.problems:
            n = len(self.records)
            return (f"conforme : {n} enregistrement(s) valide(s)" if fr else f"conforms: {n} valid record(s)")
        lines = []
        total = len(self.problems)
        lines.append((f"{total} problème(s) dans {sum(1 for r in self.records if r.items)} enregistrement(s)"
                      if fr else f"{total} problem(s) in {sum(1 for r in self.records if r.items)} record(s)"))
        for r in self.records:
            if not r.items:
                continue
            where = r.file or ""
            if r.line:
                where += (f", ligne {r.line}" if fr else f", line {r.line}")
            name = shorten(r.record) if r.record else ("(fichier)" if fr else "(file)")
            lines.append("")
            lines.append(f"■ {name}" + (f"  — {where}" if where else "") + (f"  [{r.type}]" if r.type else ""))
            for item in r.items:
                label = item.text("field_label", lang) if item.field_label else (item.field or "")
                head = f"  • {label}" + (f" ({item.field})" if item.field and label != item.field else "") if label else "  •"
                lines.append(f"{head} : {item.text('message', lang)}" if fr else f"{head}: {item.text('message', lang)}")
                if item.found is not None:
                    lines.append(f"      {'trouvé' if fr else 'found'} : {item.found}" if fr else f"      found: {item.found}")
                if item.expected:
                    lines.append(f"      attendu : {item.text('expected', lang)}" if fr else f"      expected: {item.text('expected', lang)}")
                if item.fix:
                    lines.append(f"      correction : {item.text('fix', lang)}" if fr else f"      fix: {item.text('fix', lang)}")
                if item.engine:
                    lines.append(f"      [{item.engine}]")
        return "\n".join(lines)

    def as_dict(self, lang: str = "fr") -> dict:
        return {
            "conforms": self.conforms,
            "exit_code": self.exit_code,
            "records": [{
                "record": r.record, "file": r.file, "line": r.line, "type": r.type,
                "problems": [{
                    "kind": i.kind, "severity": i.severity, "field": i.field,
                    "field_label": i.text("field_label", lang) if i.field_label else i.field,
                    "found": i.found, "expected": i.text("expected", lang) if i.expected else None,
                    "fix": i.text("fix", lang) if i.fix else None, "message": i.text("message", lang),
                    "engine_message": i.engine, "path": i.path,
                } for i in r.items],
            } for r in self.records],
        }

    def json(self, lang: str = "fr") -> str:
        return json.dumps(self.as_dict(lang), ensure_ascii=False, indent=1)

    def csv(self, lang: str = "fr") -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(["record", "file", "line", "kind", "severity", "field", "field_label", "found", "expected",
                    "fix", "message", "engine_message"])
        for r in self.records:
            for i in r.items:
                w.writerow([r.record or "", r.file or "", r.line or "", i.kind, i.severity, i.field or "",
                            i.text("field_label", lang) if i.field_label else (i.field or ""), i.found or "",
                            i.text("expected", lang) if i.expected else "", i.text("fix", lang) if i.fix else "",
                            i.text("message", lang), i.engine])
        return buf.getvalue()

    def html(self, lang: str = "fr") -> str:
        e = html.escape
        fr = lang == "fr"
        heads = (["champ", "problème", "trouvé", "attendu", "correction", "moteur"] if fr else
                 ["field", "problem", "found", "expected", "fix", "engine"])
        out = [f'<!doctype html><html lang="{e(lang)}"><head><meta charset="utf-8">',
               f"<title>{'Rapport de validation' if fr else 'Validation report'}</title>",
               "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
               "td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top}th{background:#eee}"
               ".ok{color:#060}.ko{color:#a00}</style></head><body>",
               f"<h1>{'Rapport de validation' if fr else 'Validation report'}</h1>",
               f'<p class="{"ok" if self.conforms else "ko"}">{e(self.text(lang).splitlines()[0])}</p>']
        for r in self.records:
            if not r.items:
                continue
            where = e(r.file or "") + (f", {'ligne' if fr else 'line'} {r.line}" if r.line else "")
            out.append(f"<h2>{e(shorten(r.record) if r.record else '—')} <small>{where}</small></h2>")
            out.append("<table><tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr>")
            for i in r.items:
                cells = [i.text("field_label", lang) if i.field_label else (i.field or ""), i.text("message", lang),
                         i.found or "", i.text("expected", lang) if i.expected else "",
                         i.text("fix", lang) if i.fix else "", i.engine]
                out.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
            out.append("</table>")
        out.append("</body></html>")
        return "\n".join(out)

    def graph(self) -> Graph:
        """The report as a SHACL ``sh:ValidationReport`` (every problem, not only the SHACL ones)."""
        g = Graph()
        g.bind("sh", SH)
        g.bind("pg", PG)
        report = BNode()
        g.add((report, RDF.type, SH.ValidationReport))
        g.add((report, SH.conforms, Literal(self.conforms)))
        for r in self.records:
            for i in r.items:
                result = BNode()
                g.add((report, SH.result, result))
                g.add((result, RDF.type, SH.ValidationResult))
                g.add((result, SH.resultSeverity, SH[i.severity]))
                if r.record:
                    g.add((result, SH.focusNode, URIRef(r.record)))
                if i.path:
                    g.add((result, SH.resultPath, URIRef(i.path)))
                if i.found is not None:
                    g.add((result, SH.value, Literal(i.found)))
                for lang, text in i.message.items():
                    g.add((result, SH.resultMessage, Literal(text, lang=lang or None)))
                component = i.component or f"https://w3id.org/pole-graph/def/core#{i.kind.capitalize()}Check"
                g.add((result, SH.sourceConstraintComponent, URIRef(component)))
        return g

    def render(self, fmt: str, lang: str = "fr") -> str:
        if fmt == "text":
            return self.text(lang) + "\n"
        if fmt == "json":
            return self.json(lang) + "\n"
        if fmt == "csv":
            return self.csv(lang)
        if fmt == "html":
            return self.html(lang) + "\n"
        if fmt == "ttl":
            return self.graph().serialize(format="turtle")
        raise ValueError(f"unknown report format {fmt!r}")
