"""Records: the CSV record types stewards edit, and their mapping to RDF.

Stage: part of *load*. Reads CSV rows, checks each cell (syntax, references to other records and
to concepts of the SKOS schemes), and yields triples. It reports every problem it finds with file,
line and column, and builds nothing when there is one. It does not reason, validate shapes or
write anything.

A record asserts triples only about its own nodes (its IRI and ``{IRI}#…`` sub-nodes), so the
source of any asserted triple is the source of the record whose node is its subject.
"""

from __future__ import annotations

import csv
import difflib
import functools
import heapq
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Callable, Iterable, Iterator

from rdflib import Literal, URIRef
from rdflib.term import Node

from .errors import ContentError, Problem
from .namespaces import (
    DCT, FOAF, ORG, PG, PROV, QB, RDF, RDFS, SCHEMA, SKOS, TIME, XSD, BASE, concept, thing,
)
from .terms import check_web_iri, date_literal, fold, is_slug

Triple = tuple[Node, Node, Node]

FIGURES_DATASET = URIRef(BASE + "data/figures")

# Where each kind of reference points: id/{type}/{key} for records, def/{scheme}/{code} for concepts.
REF_TYPES: dict[str, tuple[str, str]] = {
    "pole": ("id", "pole"), "org": ("id", "org"), "person": ("id", "person"),
    "programme": ("id", "programme"), "event": ("id", "event"),
    "partnership": ("id", "partnership"), "change": ("id", "change"),
    "phase": ("def", "policy-phase"), "region": ("def", "region"),
    "country": ("def", "country"), "theme": ("def", "theme"),
    "world-region": ("def", "world-region"), "axis": ("id", "axis"),
    "observation": ("id", "observation"),
}

ORG_KINDS = {
    "ministry": PG.Ministry, "directorate": PG.Directorate,
    "interministerial-body": PG.InterministerialBody, "agency": PG.PublicAgency,
    "public-bank": PG.PublicBank, "eu-body": PG.EUBody, "foreign-cluster": PG.ForeignCluster,
    "organisation": ORG.FormalOrganization,
}
PROGRAMME_KINDS = {"policy": PG.Policy, "scheme": PG.SupportScheme, "agreement": PG.Agreement,
                   "strategy": PG.Strategy}
EVENT_KINDS = {"workshop": PG.Workshop, "session": PG.Session,
               "labelling-decision": PG.LabellingDecision, "event": SCHEMA.Event}
CHANGE_KINDS = {"merger": PG.Merger, "absorption": PG.Absorption, "renaming": PG.Renaming,
                "restructuring": PG.Restructuring, "dissolution": PG.Dissolution}
INSTANT_PROPERTY = {XSD.date: TIME.inXSDDate, XSD.gYearMonth: TIME.inXSDgYearMonth,
                    XSD.gYear: TIME.inXSDgYear}


@dataclass(frozen=True)
class Column:
    """One CSV column: how a cell is read and what it means (fr/en, for templates and reports)."""

    name: str
    kind: str
    required: bool = False
    multi: bool = False
    target: str | None = None
    help_fr: str = ""
    help_en: str = ""


@dataclass(frozen=True)
class RecordType:
    name: str
    file: str
    id_type: str | None
    label_fr: str
    label_en: str
    columns: tuple[Column, ...]
    build: Callable[["Record"], Iterator[Triple]]
    key_columns: tuple[str, ...] = ("key",)
    rdf_classes: tuple[URIRef, ...] = ()

    def key_of(self, values: dict[str, object]) -> str:
        return "-".join(str(values[c]) for c in self.key_columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass
class Record:
    """A parsed row: its values by column, where it came from, and its IRI."""

    type: RecordType
    file: str
    line: int
    values: dict[str, object]
    iri: URIRef
    key: str
    index: "Index" = field(repr=False, default=None)  # type: ignore[assignment]

    def get(self, name: str, default: object = None) -> object:
        value = self.values.get(name)
        return default if value in (None, "", []) else value


@dataclass
class Index:
    """What exists: record keys per type, concept codes per scheme, and their labels."""

    keys: dict[str, dict[str, tuple[str, int]]] = field(default_factory=dict)
    concepts: dict[str, set[str]] = field(default_factory=dict)
    labels: dict[URIRef, dict[str, str]] = field(default_factory=dict)

    def label(self, iri: URIRef, lang: str) -> str:
        names = self.labels.get(iri, {})
        return names.get(lang) or names.get("fr") or names.get("") or str(iri).rsplit("/", 1)[-1]


# ---- cell readers --------------------------------------------------------------------------

class CellError(ValueError):
    """A cell that cannot be read, with its message and expectation in English and French."""

    def __init__(self, message: str, expected: str | None = None, *, fr: str | None = None,
                 expected_fr: str | None = None, fix: str | None = None, fix_fr: str | None = None) -> None:
        super().__init__(message)
        self.expected = expected
        self.fr = fr
        self.expected_fr = expected_fr
        self.fix = fix
        self.fix_fr = fix_fr


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split("|") if part.strip()]


def _read_key(cell: str, col: Column, index: Index) -> str:
    if not is_slug(cell):
        raise CellError(f"{cell!r} is not a valid key", "lowercase ASCII letters, digits and hyphens, e.g. aerospace-valley",
                        fr=f"« {cell} » n'est pas une clé valide",
                        expected_fr="des minuscules ASCII, des chiffres et des tirets, par exemple aerospace-valley",
                        fix="write the name without accents, spaces or capitals, words joined by hyphens",
                        fix_fr="écrire le nom sans accents, espaces ni majuscules, mots reliés par des tirets")
    return cell


def _read_text(cell: str, col: Column, index: Index) -> str:
    return " ".join(cell.split())


def _read_date(cell: str, col: Column, index: Index) -> Literal:
    try:
        return date_literal(cell)
    except ValueError as exc:
        raise CellError(f"{cell!r}: {exc}", "YYYY, YYYY-MM or YYYY-MM-DD",
                        fr=f"« {cell} » n'est pas une date de la forme AAAA, AAAA-MM ou AAAA-MM-JJ",
                        expected_fr="AAAA, AAAA-MM ou AAAA-MM-JJ",
                        fix="write the date as the source gives it, e.g. 2013, 2013-06 or 2013-06-17",
                        fix_fr="écrire la date avec la précision de la source, par exemple 2013, 2013-06 ou 2013-06-17") from None


def _read_url(cell: str, col: Column, index: Index) -> URIRef:
    try:
        return URIRef(check_web_iri(cell))
    except ValueError as exc:
        raise CellError(f"{cell!r}: {exc}", "an absolute http(s) address",
                        fr=f"« {cell} » n'est pas une adresse web valable ({_fr_iri_reason(str(exc))})",
                        expected_fr="une adresse complète commençant par http:// ou https://",
                        fix="copy the full address from the browser, e.g. https://www.example.fr/",
                        fix_fr="copier l'adresse complète depuis le navigateur, par exemple https://www.exemple.fr/") from None


def _read_number(cell: str, col: Column, index: Index) -> Literal:
    text = cell.replace(" ", "").replace("\u202f", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CellError(f"{cell!r} is not a number", "digits with an optional decimal point, e.g. 1100 or 2.35",
                        fr=f"« {cell} » n'est pas un nombre",
                        expected_fr="des chiffres, avec un point décimal si besoin, par exemple 1100 ou 2.35",
                        fix="write the figure in digits; put 'more than', 'about'… in the qualifier column",
                        fix_fr="écrire le chiffre en chiffres ; « plus de », « environ »… vont dans la colonne qualifier") from None
    if value == value.to_integral_value() and "." not in text:
        return Literal(text, datatype=XSD.integer)
    return Literal(text, datatype=XSD.decimal)


def _read_duration(cell: str, col: Column, index: Index) -> Literal:
    if not re.match(r"^P(\d+Y)?(\d+M)?(\d+D)?$", cell) or cell == "P":
        raise CellError(f"{cell!r} is not a duration", "an ISO 8601 duration such as P4Y or P1Y",
                        fr=f"« {cell} » n'est pas une durée", expected_fr="une durée ISO 8601 comme P4Y ou P1Y")
    return Literal(cell, datatype=XSD.duration)


def _read_enum(cell: str, col: Column, index: Index) -> str:
    allowed = ENUMS[col.target or ""]
    if cell not in allowed:
        raise CellError(f"{cell!r} is not a known {col.name}", "one of " + ", ".join(sorted(allowed)),
                        fr=f"« {cell} » n'est pas une valeur connue pour {col.name}",
                        expected_fr="l'une de " + ", ".join(sorted(allowed)))
    return cell


SHORTLIST = 300  # above this many candidates, difflib only compares the ones sharing most trigrams


def _trigrams(text: str) -> frozenset[str]:
    padded = f"  {fold(text)} "
    return frozenset(padded[i:i + 3] for i in range(len(padded) - 2))


@functools.lru_cache(maxsize=16)
def _trigram_table(pool: tuple[str, ...]) -> tuple[frozenset[str], ...]:
    return tuple(_trigrams(c) for c in pool)


def _shortlist(value: str, pool: list[str], keep: int = 60) -> list[str]:
    """The candidates sharing most character trigrams with ``value`` (folded): difflib costs about
    10 µs a comparison, 40 ms for the 4,000 pôle keys of a 1M-triple graph; this costs 2 ms."""
    mine = _trigrams(value)
    table = _trigram_table(tuple(pool))
    ranked = heapq.nlargest(keep, range(len(pool)), key=lambda i: len(mine & table[i]))
    return [pool[i] for i in sorted(ranked)]


def _close(value: str, candidates: Iterable[str]) -> list[str]:
    pool = list(candidates)
    if len(pool) > SHORTLIST:
        pool = _shortlist(value, pool)
    close = difflib.get_close_matches(value, pool, n=3, cutoff=0.6)
    if not close:
        folded = {fold(c): c for c in pool}
        close = [folded[c] for c in difflib.get_close_matches(fold(value), list(folded), n=3, cutoff=0.6)]
    return close


def _suggest(value: str, candidates: Iterable[str]) -> str:
    close = _close(value, candidates)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _fr_iri_reason(reason: str) -> str:
    if reason == "not a web address":
        return "elle ne commence pas par http:// ou https://"
    if "is not allowed in an IRI" in reason:
        return "elle contient un caractère interdit, à encoder en %xx"
    return reason


KIND_FR = {"pole": "pôle", "org": "organisation", "person": "personne", "programme": "programme",
           "event": "événement", "partnership": "partenariat", "change": "changement", "axis": "axe",
           "observation": "chiffre"}


def _resolve(kind: str, key: str, index: Index) -> URIRef:
    space, segment = REF_TYPES[kind]
    if space == "id":
        if not is_slug(key):
            raise CellError(f"{key!r} is not a valid key", "lowercase ASCII letters, digits and hyphens, e.g. aerospace-valley",
                            fr=f"« {key} » n'est pas une clé valide",
                            expected_fr="des minuscules ASCII, des chiffres et des tirets, par exemple aerospace-valley",
                            fix="give the key of an existing record", fix_fr="donner la clé d'un enregistrement existant")
        known = index.keys.get(kind, {})
        if key not in known:
            close = _close(key, known)
            hint_en = f" (did you mean {', '.join(close)}?)" if close else ""
            hint_fr = f" (vouliez-vous dire {', '.join(close)} ?)" if close else ""
            raise CellError(f"no {kind} record with key {key!r}{hint_en}",
                            f"the key of a record in {RECORD_FILES.get(kind, kind)}",
                            fr=f"aucun enregistrement {KIND_FR.get(kind, kind)} n'a la clé « {key} »{hint_fr}",
                            expected_fr=f"la clé d'un enregistrement de {RECORD_FILES.get(kind, kind)}",
                            fix=(f"use {close[0]!r}" if close else "check the key with pole-graph query") ,
                            fix_fr=(f"écrire « {close[0]} »" if close else "vérifier la clé avec pole-graph query"))
        return thing(segment, key)
    codes = index.concepts.get(segment, set())
    if key not in codes:
        raise _not_a_code(key, segment, codes)
    return concept(segment, key)


def _not_a_code(key: str, segment: str, codes: Iterable[str]) -> CellError:
    close = _close(key, codes)
    return CellError(f"{key!r} is not a code of the {segment} scheme" + (f" (did you mean {', '.join(close)}?)" if close else ""),
                     f"a code of https://w3id.org/pole-graph/def/{segment}",
                     fr=f"« {key} » n'est pas un code du schéma {segment}" + (f" (vouliez-vous dire {', '.join(close)} ?)" if close else ""),
                     expected_fr=f"un code de https://w3id.org/pole-graph/def/{segment}",
                     fix=(f"use {close[0]!r}" if close else f"see the codes of https://w3id.org/pole-graph/def/{segment}"),
                     fix_fr=(f"écrire « {close[0]} »" if close else f"voir les codes de https://w3id.org/pole-graph/def/{segment}"))


def _read_ref(cell: str, col: Column, index: Index) -> URIRef:
    return _resolve(col.target or "", cell, index)


def _read_anyref(cell: str, col: Column, index: Index) -> URIRef:
    kind, sep, key = cell.partition("/")
    if not sep or kind not in REF_TYPES:
        raise CellError(f"{cell!r} does not say what it refers to",
                        "{type}/{key} with type one of " + ", ".join(REF_TYPES),
                        fr=f"« {cell} » ne dit pas à quoi il renvoie",
                        expected_fr="{type}/{clé}, le type étant l'un de " + ", ".join(REF_TYPES),
                        fix="prefix the key with its type, e.g. org/dgcis or pole/lyonbiopole",
                        fix_fr="faire précéder la clé de son type, par exemple org/dgcis ou pole/lyonbiopole")
    return _resolve(kind, key, index)


def _read_concept(cell: str, col: Column, index: Index) -> URIRef:
    codes = index.concepts.get(col.target or "", set())
    if cell not in codes:
        raise _not_a_code(cell, col.target or "", codes)
    return concept(col.target or "", cell)


READERS: dict[str, Callable[[str, Column, Index], object]] = {
    "key": _read_key, "text": _read_text, "date": _read_date, "url": _read_url,
    "number": _read_number, "duration": _read_duration, "enum": _read_enum,
    "ref": _read_ref, "anyref": _read_anyref, "concept": _read_concept,
}

ENUMS: dict[str, set[str]] = {
    "org-kind": set(ORG_KINDS), "programme-kind": set(PROGRAMME_KINDS),
    "event-kind": set(EVENT_KINDS), "change-kind": set(CHANGE_KINDS),
}


# ---- builders: one per record type -----------------------------------------------------------

def _names(r: Record, fr: str = "name_fr", en: str = "name_en") -> Iterator[Triple]:
    if r.get(fr):
        yield r.iri, SKOS.prefLabel, Literal(r.get(fr), lang="fr")
    if r.get(en):
        yield r.iri, SKOS.prefLabel, Literal(r.get(en), lang="en")
    for acronym in r.get("acronym", []):
        yield r.iri, PG.acronym, Literal(acronym)
    for former in r.get("former_names", []):
        yield r.iri, PG.formerName, Literal(former, lang="fr")


def _texts(r: Record, prop: URIRef, fr: str, en: str) -> Iterator[Triple]:
    if r.get(fr):
        yield r.iri, prop, Literal(r.get(fr), lang="fr")
    if r.get(en):
        yield r.iri, prop, Literal(r.get(en), lang="en")


def _common(r: Record, source_property: URIRef = DCT.source) -> Iterator[Triple]:
    for url in r.get("source", []):
        yield r.iri, source_property, url
    if r.get("note"):
        yield r.iri, SKOS.editorialNote, Literal(r.get("note"))


def _generated_labels(r: Record, fr: str, en: str) -> Iterator[Triple]:
    yield r.iri, SKOS.prefLabel, Literal(fr, lang="fr")
    yield r.iri, SKOS.prefLabel, Literal(en, lang="en")


def _instant(r: Record, node: URIRef, when: Literal) -> Iterator[Triple]:
    yield node, RDF.type, TIME.Instant
    yield node, INSTANT_PROPERTY[when.datatype], when


def _interval(r: Record, prop: URIRef, start: object, end: object,
              attested: Iterable[Literal] = ()) -> Iterator[Triple]:
    node = URIRef(f"{r.iri}#interval")
    yield r.iri, prop, node
    yield node, RDF.type, TIME.ProperInterval if start and end else TIME.Interval
    if start:
        yield node, TIME.hasBeginning, URIRef(f"{r.iri}#start")
        yield from _instant(r, URIRef(f"{r.iri}#start"), start)  # type: ignore[arg-type]
    if end:
        yield node, TIME.hasEnd, URIRef(f"{r.iri}#end")
        yield from _instant(r, URIRef(f"{r.iri}#end"), end)  # type: ignore[arg-type]
    for when in attested:
        instant = URIRef(f"{r.iri}#attested-{when}")
        yield node, TIME.inside, instant
        yield from _instant(r, instant, when)


def build_source(r: Record) -> Iterator[Triple]:
    yield r.iri, RDF.type, PG.SourceDocument
    if r.get("title"):
        yield r.iri, DCT.title, Literal(r.get("title"), lang=r.get("language") or None)
    if r.get("publisher"):
        yield r.iri, DCT.publisher, Literal(r.get("publisher"))
    for org in r.get("creators", []):
        yield r.iri, DCT.creator, org
    if r.get("issued"):
        yield r.iri, DCT.issued, r.get("issued")  # type: ignore[misc]
    if r.get("language"):
        yield r.iri, DCT.language, Literal(r.get("language"))
    if r.get("note"):
        yield r.iri, SKOS.editorialNote, Literal(r.get("note"))


def build_pole(r: Record) -> Iterator[Triple]:
    yield r.iri, RDF.type, PG.CompetitivenessCluster
    yield from _names(r)
    for region in r.get("regions", []):
        yield r.iri, PG.region, region
    for theme in r.get("themes", []):
        yield r.iri, PG.theme, theme
    yield from _texts(r, PG.themeDescription, "theme_fr", "theme_en")
    if r.get("hq_city"):
        site = URIRef(f"{r.iri}#site")
        yield r.iri, ORG.hasPrimarySite, site
        yield site, RDF.type, ORG.Site
        yield site, PG.city, Literal(r.get("hq_city"))
        yield site, RDFS.label, Literal(r.get("hq_city"))
    if r.get("website"):
        yield r.iri, FOAF.homepage, r.get("website")  # type: ignore[misc]
    if r.get("wikidata"):
        yield r.iri, SCHEMA.sameAs, r.get("wikidata")  # type: ignore[misc]
    yield from _common(r)


def build_labelling(r: Record) -> Iterator[Triple]:
    pole, phase = r.values["pole"], r.values["phase"]
    yield r.iri, RDF.type, PG.Labelling
    yield r.iri, PG.labelledCluster, pole  # type: ignore[misc]
    yield r.iri, PG.phase, phase  # type: ignore[misc]
    for col, prop in (("category", PG.category), ("decision", PG.decision),
                      ("from", PG.labelledFrom), ("until", PG.labelledUntil),
                      ("duration", PG.labelDuration)):
        if r.get(col):
            yield r.iri, prop, r.get(col)  # type: ignore[misc]
    if r.get("label_name"):
        yield r.iri, PG.labelName, Literal(r.get("label_name"), lang="fr")
    code = str(phase).rsplit("/", 1)[-1]
    yield from _generated_labels(
        r, f"{r.index.label(pole, 'fr')} — labellisation {code}",  # type: ignore[arg-type]
        f"{r.index.label(pole, 'en')} — labelling {code}")  # type: ignore[arg-type]
    yield from _common(r, PROV.wasDerivedFrom)


def build_organisation(r: Record) -> Iterator[Triple]:
    yield r.iri, RDF.type, ORG_KINDS[str(r.values["kind"])]
    yield from _names(r)
    if r.get("parent"):
        yield r.iri, ORG.subOrganizationOf, r.get("parent")  # type: ignore[misc]
    for pole in r.get("member_of", []):
        yield r.iri, ORG.memberOf, pole
    if r.get("country"):
        yield r.iri, PG.country, r.get("country")  # type: ignore[misc]
    if r.get("locality"):
        yield r.iri, PG.locality, Literal(r.get("locality"))
    for col, prop in (("founded", SCHEMA.foundingDate), ("dissolved", SCHEMA.dissolutionDate),
                      ("website", FOAF.homepage), ("legal_basis", PG.legalBasis)):
        if r.get(col):
            yield r.iri, prop, r.get(col)  # type: ignore[misc]
    yield from _common(r)


def build_person(r: Record) -> Iterator[Triple]:
    yield r.iri, RDF.type, FOAF.Person
    yield r.iri, SKOS.prefLabel, Literal(r.get("name"))
    yield r.iri, FOAF.name, Literal(r.get("name"))
    if r.get("given_name"):
        yield r.iri, FOAF.givenName, Literal(r.get("given_name"))
    if r.get("family_name"):
        yield r.iri, FOAF.familyName, Literal(r.get("family_name"))
    yield from _common(r)


def build_membership(r: Record) -> Iterator[Triple]:
    person, role, org = r.values["person"], r.values["role"], r.values["organisation"]
    yield r.iri, RDF.type, ORG.Membership
    yield r.iri, ORG.member, person  # type: ignore[misc]
    yield r.iri, ORG.organization, org  # type: ignore[misc]
    yield r.iri, ORG.role, role  # type: ignore[misc]
    if r.get("superior"):
        yield r.iri, PG.superior, r.get("superior")  # type: ignore[misc]
    if r.get("start") or r.get("end") or r.get("attested"):
        yield from _interval(r, ORG.memberDuring, r.get("start"), r.get("end"), r.get("attested", []))  # type: ignore[arg-type]
    yield from _generated_labels(
        r, f"{r.index.label(person, 'fr')} — {r.index.label(role, 'fr')}, {r.index.label(org, 'fr')}",  # type: ignore[arg-type]
        f"{r.index.label(person, 'en')} — {r.index.label(role, 'en')}, {r.index.label(org, 'en')}")  # type: ignore[arg-type]
    yield from _common(r, PROV.wasDerivedFrom)


def build_programme(r: Record) -> Iterator[Triple]:
    yield r.iri, RDF.type, PROGRAMME_KINDS[str(r.values["kind"])]
    yield from _names(r)
    for col, prop in (("operator", PG.operator), ("funder", PG.funder),
                      ("steered_by", PG.steeredBy), ("parties", PG.party), ("phase", PG.phase)):
        for value in r.get(col, []):
            yield r.iri, prop, value
    for col, prop in (("start", SCHEMA.startDate), ("end", SCHEMA.endDate),
                      ("legal_basis", PG.legalBasis), ("part_of", DCT.isPartOf)):
        if r.get(col):
            yield r.iri, prop, r.get(col)  # type: ignore[misc]
    for place in r.get("spatial", []):
        yield r.iri, DCT.spatial, place
    yield from _texts(r, DCT.description, "description_fr", "description_en")
    yield from _common(r)


def build_event(r: Record) -> Iterator[Triple]:
    yield r.iri, RDF.type, EVENT_KINDS[str(r.values["kind"])]
    yield from _names(r)
    yield r.iri, SCHEMA.startDate, r.values["start"]  # type: ignore[misc]
    if r.get("end"):
        yield r.iri, SCHEMA.endDate, r.get("end")  # type: ignore[misc]
    if r.get("place"):
        yield r.iri, SCHEMA.location, Literal(r.get("place"), lang="fr")
    for organiser in r.get("organiser", []):
        yield r.iri, SCHEMA.organizer, organiser
    if r.get("part_of"):
        yield r.iri, SCHEMA.superEvent, r.get("part_of")  # type: ignore[misc]
    for subject in r.get("about", []):
        yield r.iri, SCHEMA.about, subject
    yield from _texts(r, DCT.description, "description_fr", "description_en")
    yield from _common(r)


def build_contribution(r: Record) -> Iterator[Triple]:
    event = r.values["event"]
    yield r.iri, RDF.type, PG.Contribution
    yield r.iri, PG.event, event  # type: ignore[misc]
    contributors = r.get("contributors", [])
    for agent in contributors:
        yield r.iri, PG.contributor, agent
    if r.get("role"):
        yield r.iri, PG.contributionRole, r.get("role")  # type: ignore[misc]
    for mention in r.get("mentions", []):
        yield r.iri, PG.mentions, mention
    yield from _texts(r, DCT.description, "summary_fr", "summary_en")
    who = {lang: ", ".join(r.index.label(a, lang) for a in contributors) for lang in ("fr", "en")}  # type: ignore[union-attr]
    yield from _generated_labels(
        r, f"Intervention de {who['fr']} — {r.index.label(event, 'fr')}",  # type: ignore[arg-type]
        f"Contribution by {who['en']} — {r.index.label(event, 'en')}")  # type: ignore[arg-type]
    yield from _common(r, PROV.wasDerivedFrom)


def build_partnership(r: Record) -> Iterator[Triple]:
    pole, partner = r.values["pole"], r.values["partner"]
    yield r.iri, RDF.type, PG.ClusterPartnership
    yield r.iri, PG.pole, pole  # type: ignore[misc]
    yield r.iri, PG.partner, partner  # type: ignore[misc]
    if r.get("year"):
        yield r.iri, DCT.date, r.get("year")  # type: ignore[misc]
    yield from _texts(r, DCT.description, "description_fr", "description_en")
    yield from _generated_labels(
        r, f"Partenariat {r.index.label(pole, 'fr')} – {r.index.label(partner, 'fr')}",  # type: ignore[arg-type]
        f"Partnership {r.index.label(pole, 'en')} – {r.index.label(partner, 'en')}")  # type: ignore[arg-type]
    yield from _common(r, PROV.wasDerivedFrom)


CHANGE_LABELS = {"merger": ("Fusion", "Merger"), "absorption": ("Absorption", "Absorption"),
                 "renaming": ("Changement de nom", "Renaming"),
                 "restructuring": ("Réorganisation", "Restructuring"),
                 "dissolution": ("Dissolution", "Dissolution")}


def build_change(r: Record) -> Iterator[Triple]:
    kind = str(r.values["kind"])
    yield r.iri, RDF.type, CHANGE_KINDS[kind]
    originals, results = r.get("original", []), r.get("resulting", [])
    for org in originals:
        yield r.iri, ORG.originalOrganization, org
    for org in results:
        yield r.iri, ORG.resultingOrganization, org
    yield r.iri, DCT.date, r.values["date"]  # type: ignore[misc]
    if r.get("legal_basis"):
        yield r.iri, PG.legalBasis, r.get("legal_basis")  # type: ignore[misc]
    yield from _texts(r, DCT.description, "description_fr", "description_en")
    labels = {}
    for i, lang in enumerate(("fr", "en")):
        before = " + ".join(r.index.label(o, lang) for o in originals)  # type: ignore[union-attr]
        after = " + ".join(r.index.label(o, lang) for o in results)  # type: ignore[union-attr]
        labels[lang] = f"{CHANGE_LABELS[kind][i]} : {before}" + (f" → {after}" if after else "") + f" ({r.values['date']})"
    yield from _generated_labels(r, labels["fr"], labels["en"].replace(" : ", ": "))
    yield from _common(r)  # an activity: dct:source, never prov:wasDerivedFrom (pitfall P4)


def build_observation(r: Record) -> Iterator[Triple]:
    subject, indicator, value = r.values["subject"], r.values["indicator"], r.values["value"]
    yield r.iri, RDF.type, QB.Observation
    yield r.iri, QB.dataSet, FIGURES_DATASET
    yield r.iri, PG.subject, subject  # type: ignore[misc]
    yield r.iri, PG.indicator, indicator  # type: ignore[misc]
    yield r.iri, PG.value, value  # type: ignore[misc]
    yield r.iri, PG.unit, r.values["unit"]  # type: ignore[misc]
    yield r.iri, PG.valueQualifier, r.get("qualifier") or concept("value-qualifier", "exact")
    if r.get("enterprise_size"):
        yield r.iri, PG.enterpriseSize, r.get("enterprise_size")  # type: ignore[misc]
    start, end, date = r.get("period_start"), r.get("period_end"), r.get("date")
    if date:
        node = URIRef(f"{r.iri}#date")
        yield r.iri, PG.refPeriod, node
        yield from _instant(r, node, date)  # type: ignore[arg-type]
        period = str(date)
    else:
        yield from _interval(r, PG.refPeriod, start, end)
        period = f"{start or '…'} – {end or '…'}"
    yield URIRef(f"{r.iri}#{'date' if date else 'interval'}"), RDFS.label, Literal(period)
    yield from _generated_labels(
        r, f"{r.index.label(indicator, 'fr')} — {r.index.label(subject, 'fr')} ({period})",  # type: ignore[arg-type]
        f"{r.index.label(indicator, 'en')} — {r.index.label(subject, 'en')} ({period})")  # type: ignore[arg-type]
    yield from _common(r, PROV.wasDerivedFrom)


# ---- the record types ------------------------------------------------------------------------

def C(name: str, kind: str = "text", required: bool = False, multi: bool = False,
      target: str | None = None, fr: str = "", en: str = "") -> Column:
    return Column(name, kind, required, multi, target, fr, en)


SOURCE = C("source", "url", True, True, fr="adresse(s) des pages où les faits ont été lus, séparées par |",
           en="address(es) of the pages the facts were read in, separated by |")
NOTE = C("note", fr="remarque pour les gestionnaires (par exemple « déduit : … »)",
         en="note for stewards (e.g. 'derived: …')")
KEY = C("key", "key", True, fr="identifiant figé (minuscules ASCII et tirets)",
        en="frozen identifier (lowercase ASCII and hyphens)")
NAME_FR = C("name_fr", required=True, fr="nom en français", en="name in French")
NAME_EN = C("name_en", fr="nom en anglais, s'il en existe un", en="name in English, where one exists")
ACRONYM = C("acronym", multi=True, fr="sigle(s)", en="acronym(s)")
FORMER = C("former_names", multi=True, fr="ancien(s) nom(s)", en="former name(s)")

RECORD_TYPES: tuple[RecordType, ...] = (
    RecordType("source", "sources.csv", None, "document source", "source document", (
        C("url", "url", True, fr="adresse de la page", en="address of the page"),
        C("title", fr="titre", en="title"), C("publisher", fr="éditeur", en="publisher"),
        C("creators", "ref", multi=True, target="org", fr="organisations auteurs (clés)", en="authoring organisations (keys)"),
        C("issued", "date", fr="date de publication", en="publication date"),
        C("language", fr="langue (fr, en…)", en="language (fr, en…)"), NOTE,
    ), build_source, key_columns=("url",), rdf_classes=(PG.SourceDocument,)),
    RecordType("pole", "poles.csv", "pole", "pôle de compétitivité", "competitiveness cluster", (
        KEY, NAME_FR, NAME_EN, ACRONYM, FORMER,
        C("regions", "concept", True, True, "region", "code(s) INSEE des régions, avant ou après 2016", "INSEE code(s) of the regions, before or after 2016"),
        C("themes", "concept", False, True, "theme", "code(s) de thématique", "theme code(s)"),
        C("theme_fr", fr="thématique, dans les mots de la source", en="theme in French, in the source's words"),
        C("theme_en", fr="thématique en anglais", en="theme in English"),
        C("hq_city", fr="ville du siège", en="headquarters city"),
        C("website", "url", fr="site web", en="website"),
        C("wikidata", "url", fr="entité Wikidata (http://www.wikidata.org/entity/Q…)", en="Wikidata entity (http://www.wikidata.org/entity/Q…)"),
        NOTE, SOURCE,
    ), build_pole, rdf_classes=(PG.CompetitivenessCluster,)),
    RecordType("labelling", "labellings.csv", "labelling", "labellisation", "labelling", (
        C("pole", "ref", True, target="pole", fr="clé du pôle", en="key of the pôle"),
        C("phase", "concept", True, target="policy-phase", fr="phase (par exemple 2013-2018)", en="phase (e.g. 2013-2018)"),
        C("category", "concept", target="pole-category", fr="catégorie attribuée", en="category given"),
        C("decision", "ref", target="event", fr="clé de l'événement de décision", en="key of the decision event"),
        C("from", "date", fr="début si la labellisation ne couvre pas toute la phase", en="start if the labelling does not cover the whole phase"),
        C("until", "date", fr="fin si la labellisation s'arrête avant la fin de la phase", en="end if the labelling stops before the end of the phase"),
        C("label_name", fr="nom sous lequel le pôle a été labellisé", en="name under which the pôle was labelled"),
        C("duration", "duration", fr="durée du label (P4Y, P1Y…)", en="label duration (P4Y, P1Y…)"),
        NOTE, SOURCE,
    ), build_labelling, key_columns=("pole", "phase"), rdf_classes=(PG.Labelling,)),
    RecordType("org", "organisations.csv", "org", "organisation", "organisation", (
        KEY, C("kind", "enum", True, target="org-kind", fr="nature de l'organisation", en="kind of organisation"),
        NAME_FR, NAME_EN, ACRONYM, FORMER,
        C("parent", "ref", target="org", fr="clé de l'organisation mère", en="key of the parent organisation"),
        C("member_of", "ref", multi=True, target="pole", fr="pôle(s) dont l'organisation est membre", en="pôle(s) the organisation is a member of"),
        C("country", "concept", target="country", fr="pays (ISO 3166-1 alpha-3)", en="country (ISO 3166-1 alpha-3)"),
        C("locality", fr="territoire infranational (Québec…)", en="sub-national territory (Québec…)"),
        C("founded", "date", fr="date de création", en="founding date"),
        C("dissolved", "date", fr="date de disparition", en="dissolution date"),
        C("website", "url", fr="site web", en="website"),
        C("legal_basis", "url", fr="adresse du texte fondateur", en="address of the founding text"),
        NOTE, SOURCE,
    ), build_organisation, rdf_classes=tuple(ORG_KINDS.values())),
    RecordType("person", "people.csv", "person", "personne", "person", (
        KEY, C("name", required=True, fr="nom complet", en="full name"),
        C("given_name", fr="prénom", en="given name"), C("family_name", fr="nom de famille", en="family name"),
        NOTE, SOURCE,
    ), build_person, rdf_classes=(FOAF.Person,)),
    RecordType("membership", "memberships.csv", "membership", "fonction", "role held", (
        KEY, C("person", "ref", True, target="person", fr="clé de la personne", en="key of the person"),
        C("role", "concept", True, target="role", fr="code du rôle", en="role code"),
        C("organisation", "ref", True, target="org", fr="clé de l'organisation", en="key of the organisation"),
        C("superior", "ref", target="person", fr="personne auprès de qui la fonction est exercée", en="person the role serves"),
        C("start", "date", fr="début de la fonction", en="start of the role"),
        C("end", "date", fr="fin de la fonction", en="end of the role"),
        C("attested", "date", multi=True, fr="dates où la source montre la personne dans la fonction", en="dates the source shows the person in the role"),
        NOTE, SOURCE,
    ), build_membership, rdf_classes=(ORG.Membership,)),
    RecordType("programme", "programmes.csv", "programme", "programme", "programme", (
        KEY, C("kind", "enum", True, target="programme-kind", fr="nature du programme", en="kind of programme"),
        NAME_FR, NAME_EN, ACRONYM,
        C("operator", "ref", multi=True, target="org", fr="opérateur(s)", en="operator(s)"),
        C("funder", "ref", multi=True, target="org", fr="financeur(s)", en="funder(s)"),
        C("steered_by", "ref", multi=True, target="org", fr="pilote(s)", en="steering body(ies)"),
        C("parties", "ref", multi=True, target="org", fr="signataires (convention)", en="parties (agreement)"),
        C("phase", "concept", multi=True, target="policy-phase", fr="phase(s) de la politique des pôles", en="cluster-policy phase(s)"),
        C("start", "date", fr="début", en="start"), C("end", "date", fr="fin", en="end"),
        C("legal_basis", "url", fr="adresse du texte fondateur", en="address of the founding text"),
        C("part_of", "ref", target="programme", fr="programme englobant", en="enclosing programme"),
        C("spatial", "anyref", multi=True, fr="territoires visés (world-region/…, country/…, region/…)", en="territories covered (world-region/…, country/…, region/…)"),
        C("description_fr", fr="description en français", en="description in French"),
        C("description_en", fr="description en anglais", en="description in English"),
        NOTE, SOURCE,
    ), build_programme, rdf_classes=tuple(PROGRAMME_KINDS.values())),
    RecordType("event", "events.csv", "event", "événement", "event", (
        KEY, C("kind", "enum", True, target="event-kind", fr="nature de l'événement", en="kind of event"),
        NAME_FR, NAME_EN,
        C("start", "date", True, fr="date (de début)", en="(start) date"), C("end", "date", fr="date de fin", en="end date"),
        C("place", fr="lieu", en="place"),
        C("organiser", "anyref", multi=True, fr="organisateur(s) ({type}/{clé})", en="organiser(s) ({type}/{key})"),
        C("part_of", "ref", target="event", fr="événement englobant", en="enclosing event"),
        C("about", "anyref", multi=True, fr="sujets traités ({type}/{clé})", en="subjects discussed ({type}/{key})"),
        C("description_fr", fr="description en français", en="description in French"),
        C("description_en", fr="description en anglais", en="description in English"),
        NOTE, SOURCE,
    ), build_event, rdf_classes=tuple(EVENT_KINDS.values())),
    RecordType("contribution", "contributions.csv", "contribution", "intervention", "contribution", (
        KEY, C("event", "ref", True, target="event", fr="clé de l'événement", en="key of the event"),
        C("contributors", "anyref", True, True, fr="intervenant(s) ({type}/{clé})", en="contributor(s) ({type}/{key})"),
        C("role", "concept", target="role", fr="rôle de l'intervention", en="role of the contribution"),
        C("summary_fr", fr="résumé en français", en="summary in French"),
        C("summary_en", fr="résumé en anglais", en="summary in English"),
        C("mentions", "anyref", multi=True, fr="programmes ou acteurs évoqués", en="programmes or actors mentioned"),
        SOURCE,
    ), build_contribution, rdf_classes=(PG.Contribution,)),
    RecordType("partnership", "partnerships.csv", "partnership", "partenariat", "partnership", (
        KEY, C("pole", "ref", True, target="pole", fr="clé du pôle", en="key of the pôle"),
        C("partner", "ref", True, target="org", fr="clé de l'organisation partenaire", en="key of the partner organisation"),
        C("year", "date", fr="année", en="year"),
        C("description_fr", fr="description en français", en="description in French"),
        C("description_en", fr="description en anglais", en="description in English"),
        NOTE, SOURCE,
    ), build_partnership, rdf_classes=(PG.ClusterPartnership,)),
    RecordType("change", "changes.csv", "change", "changement d'organisation", "organisational change", (
        KEY, C("kind", "enum", True, target="change-kind", fr="nature du changement", en="kind of change"),
        C("original", "anyref", True, True, fr="organisation(s) d'avant ({type}/{clé})", en="organisation(s) before ({type}/{key})"),
        C("resulting", "anyref", False, True, fr="organisation(s) d'après ({type}/{clé})", en="organisation(s) after ({type}/{key})"),
        C("date", "date", True, fr="date du changement", en="date of the change"),
        C("legal_basis", "url", fr="adresse du texte", en="address of the text"),
        C("description_fr", fr="description en français", en="description in French"),
        C("description_en", fr="description en anglais", en="description in English"),
        NOTE, SOURCE,
    ), build_change, rdf_classes=tuple(CHANGE_KINDS.values())),
    RecordType("observation", "indicators.csv", "observation", "chiffre", "figure", (
        KEY, C("subject", "anyref", True, fr="ce dont parle le chiffre ({type}/{clé})", en="what the figure is about ({type}/{key})"),
        C("indicator", "concept", True, target="indicator", fr="code de l'indicateur", en="indicator code"),
        C("value", "number", True, fr="valeur", en="value"),
        C("qualifier", "concept", target="value-qualifier", fr="exact, more-than, at-least, about, less-than", en="exact, more-than, at-least, about, less-than"),
        C("unit", "concept", True, target="unit", fr="code de l'unité", en="unit code"),
        C("enterprise_size", "concept", target="enterprise-size", fr="catégorie d'entreprises comptées", en="class of enterprises counted"),
        C("period_start", "date", fr="début de la période", en="start of the period"),
        C("period_end", "date", fr="fin de la période", en="end of the period"),
        C("date", "date", fr="date, si le chiffre est à une date", en="date, if the figure is at an instant"),
        NOTE, SOURCE,
    ), build_observation, rdf_classes=(QB.Observation,)),
)

RECORD_FILES = {rt.id_type or rt.name: rt.file for rt in RECORD_TYPES}
BY_FILE = {rt.file: rt for rt in RECORD_TYPES}
BY_NAME = {rt.name: rt for rt in RECORD_TYPES}


# ---- reading ---------------------------------------------------------------------------------

@dataclass
class RawRow:
    file: str
    line: int
    cells: dict[str, str]


def read_csv(text: str, file: str, rtype: RecordType) -> tuple[list[RawRow], list[Problem]]:
    """Rows of a CSV text with the line each starts on; header problems are reported."""
    problems: list[Problem] = []
    lines = text.splitlines(keepends=True)
    skip = 0
    while skip < len(lines) and (lines[skip].startswith("#") or not lines[skip].strip()):
        skip += 1
    reader = csv.reader(io.StringIO("".join(lines[skip:])), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return [], [Problem(file, None, "the file is empty", expected="a header row: " + ", ".join(c.name for c in rtype.columns))]
    except csv.Error as exc:
        return [], [Problem(file, None, f"unreadable CSV header: {exc}", line=skip + 1)]
    known = {c.name for c in rtype.columns}
    header = [h.strip() for h in header]
    for i, name in enumerate(header, 1):
        if name not in known:
            problems.append(Problem(file, name, f"unknown column {name!r}{_suggest(name, known)}", line=skip + 1, column=i,
                                    expected="columns " + ", ".join(c.name for c in rtype.columns)))
    for col in rtype.columns:
        if col.required and col.name not in header:
            problems.append(Problem(file, col.name, "required column is missing", line=skip + 1))
    if len(set(header)) != len(header):
        problems.append(Problem(file, None, "a column name appears twice in the header", line=skip + 1))
    rows: list[RawRow] = []
    start = skip + 2
    try:
        for cells in reader:
            line = start
            start = skip + reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                problems.append(Problem(file, None, f"{len(cells)} cells where the header has {len(header)}", line=line,
                                        expected="one cell per column (quote cells that contain commas)"))
                continue
            rows.append(RawRow(file, line, dict(zip(header, cells))))
    except csv.Error as exc:
        problems.append(Problem(file, None, f"unreadable CSV: {exc}", line=skip + reader.line_num,
                                expected="RFC 4180 quoting"))
    return rows, problems


def _row_iri(raw: RawRow, rtype: RecordType) -> str | None:
    """The IRI a row would have, if its key cells are readable (to name it in reports)."""
    parts = [raw.cells.get(c, "").strip() for c in rtype.key_columns]
    if not all(parts):
        return None
    key = "-".join(parts)
    if rtype.id_type is None:
        return key
    return str(thing(rtype.id_type, key)) if is_slug(key) else None


def parse_row(raw: RawRow, rtype: RecordType, index: Index) -> tuple[dict[str, object], list[Problem]]:
    values: dict[str, object] = {}
    problems: list[Problem] = []
    iri = _row_iri(raw, rtype)
    for col in rtype.columns:
        cell = raw.cells.get(col.name, "").strip()
        if not cell:
            if col.required:
                problems.append(Problem(raw.file, col.name, "required value is empty", line=raw.line,
                                        expected=col.help_en or None, message_fr="valeur obligatoire vide",
                                        expected_fr=col.help_fr or None,
                                        fix="fill in this column", fix_fr="remplir cette colonne", record=iri))
            values[col.name] = [] if col.multi else None
            continue
        reader = READERS[col.kind]
        parts = _split(cell) if col.multi else [cell]
        parsed = []
        for part in parts:
            try:
                parsed.append(reader(part, col, index))
            except CellError as exc:
                problems.append(Problem(raw.file, col.name, str(exc), line=raw.line, expected=exc.expected,
                                        message_fr=exc.fr, expected_fr=exc.expected_fr, fix=exc.fix, fix_fr=exc.fix_fr,
                                        record=iri))
        values[col.name] = parsed if col.multi else (parsed[0] if parsed else None)
    return values, problems


def _key_part(value: object) -> object:
    """The code of a referenced record or concept, used to compose keys such as {pole}-{phase}."""
    return str(value).rsplit("/", 1)[-1] if isinstance(value, URIRef) else value


def record_iri(rtype: RecordType, key: str) -> URIRef:
    if rtype.id_type is None:
        return URIRef(key)
    return thing(rtype.id_type, key)


def first_pass(files: dict[str, str], index: Index,
               types: dict[str, RecordType] | None = None) -> tuple[dict[str, list[RawRow]], list[Problem]]:
    """Read every CSV, collect record keys and names so references can be checked."""
    problems: list[Problem] = []
    rows_by_file: dict[str, list[RawRow]] = {}
    for path, text in files.items():
        name = Path(path).name
        rtype = (types or {}).get(path) or BY_FILE.get(name)
        if rtype is None:
            problems.append(Problem(path, None, "no record type for this file name",
                                    expected="one of " + ", ".join(sorted(BY_FILE))))
            continue
        rows, found = read_csv(text, path, rtype)
        problems += found
        rows_by_file[path] = rows
        if rtype.id_type is None or rtype.name == "labelling":
            continue
        known = index.keys.setdefault(rtype.id_type, {})
        for row in rows:
            key = row.cells.get("key", "").strip()
            if not key:
                continue
            # duplicates within the files (and, at build time, with Turtle records); a store-backed
            # index leaves duplicates with stored records to the steward's context checks
            if key in (known if type(known) is dict else dict(known)):
                other_file, other_line = known[key]
                where = f"{other_file} line {other_line}" if other_line else f"<{thing(rtype.id_type, key)}>, already in the graph"
                problems.append(Problem(path, "key", f"key {key!r} is already used by {where}",
                                        line=row.line, expected="a key unique within its record type"))
                continue
            known[key] = (path, row.line)
            iri = thing(rtype.id_type, key)
            names = index.labels.setdefault(iri, {})
            if rtype.name == "person":
                names[""] = row.cells.get("name", "").strip()
            else:
                if row.cells.get("name_fr", "").strip():
                    names["fr"] = " ".join(row.cells["name_fr"].split())
                if row.cells.get("name_en", "").strip():
                    names["en"] = " ".join(row.cells["name_en"].split())
    return rows_by_file, problems


def build_records(files: dict[str, str], index: Index, types: dict[str, RecordType] | None = None
                  ) -> tuple[list[Record], list[Triple], list[Problem]]:
    """Map every CSV row to triples. Returns records, triples and every problem found.

    The record type of a file is ``types[path]`` if given, else the one named by its file name.
    """
    rows_by_file, problems = first_pass(files, index, types)
    records: list[Record] = []
    triples: list[Triple] = []
    seen_keys: dict[tuple[str, str], tuple[str, int]] = {}
    for path, rows in rows_by_file.items():
        rtype = (types or {}).get(path) or BY_FILE[Path(path).name]
        for raw in rows:
            values, found = parse_row(raw, rtype, index)
            problems += found
            if found:
                continue
            key = rtype.key_of({c: (_key_part(v) if rtype.id_type else v)
                                for c, v in values.items() if c in rtype.key_columns})
            if rtype.name == "labelling" or rtype.id_type is None:
                where = seen_keys.get((rtype.name, key))
                if where:
                    problems.append(Problem(path, None, f"duplicate record {key!r}, already at {where[0]} line {where[1]}", line=raw.line))
                    continue
                seen_keys[(rtype.name, key)] = (path, raw.line)
            record = Record(rtype, path, raw.line, values, record_iri(rtype, key), key, index)
            records.append(record)
            triples.extend(rtype.build(record))
    return records, triples, problems


def load_records(files: dict[str, str], index: Index) -> tuple[list[Record], list[Triple]]:
    """Records and their triples, or ContentError listing every problem."""
    records, triples, problems = build_records(files, index)
    if problems:
        raise ContentError(problems)
    return records, triples
