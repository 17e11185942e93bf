"""A deterministic generator of pôle-like synthetic projects, scaled to a target number of triples.

The project it writes has the real ``ontology/`` (core, schemes, shapes) and ``queries/``, copied
unchanged, and synthetic ``data/*.csv`` only, in the record formats of ``data/README.md``:

- N pôles (``syn-pole-00001``…), regions drawn from the INSEE codes of ``regions.ttl``, themes
  from ``themes.ttl``, 1–5 labellings each over consecutive phases of ``policy-phases.ttl``, with
  category, decision and in-phase dates on some;
- member companies (kind ``organisation``, ``member_of`` 1–3 pôles, country FRA), foreign
  clusters (countries of ``world.ttl`` other than France) and partnerships between pôles and them
  (never the same pôle, partner and year twice);
- public bodies and programmes (operator, funder, parties), workshops with sessions and
  contributions, a few people and memberships, mergers between synthetic pôles (the merged pôles
  labelled up to a phase, the result from the next one), and figures (``indicators.csv``) about
  pôles and programmes with indicator and unit codes of ``indicators.ttl``.

Every row cites ``https://example.org/synthetic/{n}`` (a few rows per address, some rows two).

**Anchors.** The stored queries' ``#+ examples`` name real things (``lyonbiopole``,
``ubifrance``, ``dgcis``, "Images et Réseaux", "Boris Vallaud"…). So that every example runs
unchanged, the generator also writes a handful of *synthetic* records carrying those keys or
names (with synthetic facts); they take part in the random draws like any other record.

The number of pôles for a target size is calibrated, not guessed: :func:`calibrate` generates two
small probes, counts their data triples with ``pole_graph.load.load_content`` (the ``data``
graph: CSV records plus the ``pg:SourceDocument`` typing of cited addresses) and fits a line.

    python -m bench.generate --size 10k --out /tmp/syn10k       # writes the project, prints its size
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SEED = 20240611

# ---- vocabularies read from the real schemes ------------------------------------------------


@dataclass
class Vocab:
    regions: list[str]
    themes: list[str]
    theme_labels: dict[str, tuple[str, str]]
    phases: list[str]                      # sorted codes, e.g. "2005-2008"
    countries: list[str]                   # without FRA
    world_regions: list[str]
    categories: list[str]
    indicators: set[str]
    units: set[str]
    qualifiers: list[str]
    sizes: list[str]
    roles: list[str]

    def phase_years(self, code: str) -> tuple[int, int]:
        a, b = code.split("-")
        return int(a), int(b)


def read_vocab(ontology: Path = REPO / "ontology") -> Vocab:
    """Concept codes per scheme, read the way the loader reads them (``index_vocabularies``)."""
    from rdflib import Graph

    from pole_graph.load import index_vocabularies, parse_rdf_file
    from pole_graph.namespaces import BASE
    from pole_graph.records import Index

    schemes = Graph()
    for path in sorted((ontology / "schemes").glob("*.ttl")):
        for t in parse_rdf_file(path, path.name):
            schemes.add(t)
    index = Index()
    index_vocabularies(schemes, Graph(), index)
    c = index.concepts

    def labels(scheme: str, code: str) -> tuple[str, str]:
        from rdflib import URIRef
        names = index.labels.get(URIRef(f"{BASE}def/{scheme}/{code}"), {})
        return names.get("fr", code), names.get("en", names.get("fr", code))

    return Vocab(
        regions=sorted(c["region"]), themes=sorted(c["theme"]),
        theme_labels={t: labels("theme", t) for t in c["theme"]},
        phases=sorted(c["policy-phase"]),
        countries=sorted(x for x in c["country"] if x != "FRA"),
        world_regions=sorted(c["world-region"]), categories=sorted(c["pole-category"]),
        indicators=set(c["indicator"]), units=set(c["unit"]),
        qualifiers=sorted(q for q in c["value-qualifier"] if q != "exact"),
        sizes=sorted(c["enterprise-size"]), roles=sorted(c["role"]),
    )


# ---- word lists (synthetic names) ---------------------------------------------------------------

_POLE_WORDS_1 = ["Aqua", "Agri", "Aéro", "Bio", "Cap", "Cosmetic", "Cyber", "Digi", "Éco", "Énergie",
                 "Fibre", "Hydro", "Images", "Indus", "Luminis", "Mer", "Méca", "Micro", "Nano", "Nova",
                 "Optic", "Plasti", "Route", "Santé", "Silver", "Systema", "Terra", "Textil", "Valor",
                 "Végé", "Vitagora", "Xylo"]
_POLE_WORDS_2 = ["Valley", "Cluster", "Innov", "Tech", "Pôle", "Atlantique", "Alpes", "Méditerranée",
                 "Normandie", "Grand Est", "Sud", "Nord", "Ouest", "Centre", "Lab", "Hub", "Avenir",
                 "Synergie", "Campus", "Factory"]
_COMPANY_FORMS = ["SAS", "SA", "SARL", "SCOP", "GIE", "Association", "Université", "Laboratoire"]
_COMPANY_WORDS = ["Ateliers", "Industries", "Solutions", "Technologies", "Systèmes", "Conseil",
                  "Innovations", "Matériaux", "Composants", "Biotech", "Logiciels", "Énergies",
                  "Mécanique", "Robotique", "Optique", "Capteurs", "Données", "Réseaux"]
_FOREIGN_WORDS = ["Cluster", "Innovation Network", "Technology Park", "Industry Alliance", "Hub",
                  "Competence Center", "Valley Association", "Tech Council"]
_CITIES = ["Toulouse", "Lyon", "Rennes", "Grenoble", "Nantes", "Bordeaux", "Lille", "Strasbourg",
           "Montpellier", "Marseille", "Nice", "Dijon", "Brest", "Caen", "Rouen", "Tours", "Orléans",
           "Limoges", "Clermont-Ferrand", "Besançon", "Metz", "Nancy", "Reims", "Amiens", "Poitiers",
           "Angers", "Le Mans", "Pau", "Perpignan", "Saint-Étienne", "Paris", "Évry", "Compiègne"]
_FOREIGN_CITIES = ["Montréal", "Québec", "Toronto", "Boston", "Munich", "Stuttgart", "Barcelona",
                   "Milano", "Tokyo", "Osaka", "Seoul", "Shanghai", "São Paulo", "Santiago", "Sydney",
                   "Tel Aviv", "Dubai", "Casablanca", "Tunis", "Bangalore", "Singapore", "Helsinki"]
_GIVEN = ["Camille", "Claire", "Julien", "Nicolas", "Sophie", "Thomas", "Isabelle", "Laurent",
          "Nathalie", "Pierre", "Marie", "François", "Hélène", "Olivier", "Céline", "Antoine",
          "Valérie", "Mathieu", "Émilie", "Sébastien", "Aurélie", "Guillaume", "Sandrine", "Éric"]
_FAMILY = ["Martin", "Bernard", "Dubois", "Durand", "Lefèvre", "Moreau", "Laurent", "Simon",
           "Michel", "Garcia", "Roux", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert",
           "Fontaine", "Rousseau", "Vincent", "Muller", "Faure", "Mercier", "Blanc", "Guérin",
           "Boyer", "Garnier", "Chevalier", "Legrand", "Gauthier", "Perrin", "Robin", "Clément"]

# indicator code -> (unit code, value range, decimal?) for figures about a pôle or programme
_POLE_FIGURES = [
    ("members", "member", (40, 900), False), ("member-companies", "company", (20, 600), False),
    ("member-establishments", "establishment", (20, 700), False),
    ("projects-launched", "project", (5, 400), False), ("projects-labelled", "project", (5, 300), False),
    ("projects-funded", "project", (1, 150), False), ("researchers-involved", "researcher", (10, 2000), False),
    ("budget", "eur-million", (1, 900), True), ("public-funding", "eur-million", (1, 300), True),
    ("partnerships-initiated", "partnership", (1, 80), False), ("average-team-size", "fte", (3, 40), True),
    ("share-by-enterprise-size", "percent", (5, 90), True),
]
_PROGRAMME_FIGURES = [
    ("entities-supported-abroad", "entity", (50, 2000), False), ("agreements-signed", "agreement", (1, 60), False),
    ("public-funding", "eur-million", (1, 500), True), ("projects-funded", "project", (5, 900), False),
]

FILES = {
    "poles.csv": "key,name_fr,name_en,acronym,former_names,regions,themes,theme_fr,theme_en,hq_city,website,wikidata,note,source",
    "labellings.csv": "pole,phase,category,decision,from,until,label_name,duration,note,source",
    "organisations.csv": "key,kind,name_fr,name_en,acronym,former_names,parent,member_of,country,locality,founded,dissolved,website,legal_basis,note,source",
    "people.csv": "key,name,given_name,family_name,note,source",
    "memberships.csv": "key,person,role,organisation,superior,start,end,attested,note,source",
    "programmes.csv": "key,kind,name_fr,name_en,acronym,operator,funder,steered_by,parties,phase,start,end,legal_basis,part_of,spatial,description_fr,description_en,note,source",
    "events.csv": "key,kind,name_fr,name_en,start,end,place,organiser,part_of,about,description_fr,description_en,note,source",
    "contributions.csv": "key,event,contributors,role,summary_fr,summary_en,mentions,source",
    "partnerships.csv": "key,pole,partner,year,description_fr,description_en,note,source",
    "changes.csv": "key,kind,original,resulting,date,legal_basis,description_fr,description_en,note,source",
    "indicators.csv": "key,subject,indicator,value,qualifier,unit,enterprise_size,period_start,period_end,date,note,source",
}


class _Writer:
    """Rows per file, with the header of FILES; cells given by column name."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, str]]] = {name: [] for name in FILES}

    def add(self, file: str, **cells: object) -> None:
        known = FILES[file].split(",")
        unknown = set(cells) - set(known)
        if unknown:
            raise KeyError(f"{file}: unknown column(s) {sorted(unknown)}")
        self.rows[file].append({k: "" if v is None else str(v) for k, v in cells.items()})

    def write(self, folder: Path) -> dict[str, int]:
        folder.mkdir(parents=True, exist_ok=True)
        counts = {}
        for name, header in FILES.items():
            columns = header.split(",")
            with open(folder / name, "w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(columns)
                for row in self.rows[name]:
                    w.writerow([row.get(c, "") for c in columns])
            counts[name] = len(self.rows[name])
        return counts


@dataclass
class _State:
    rng: random.Random
    vocab: Vocab
    out: _Writer = field(default_factory=_Writer)
    rows: int = 0

    def source(self) -> str:
        """A few rows per address; about one row in seven cites a second, earlier address."""
        self.rows += 1
        n = self.rows // 3 + 1
        urls = [f"https://example.org/synthetic/{n}"]
        if self.rng.random() < 0.15 and n > 2:
            urls.append(f"https://example.org/synthetic/{self.rng.randint(1, n - 1)}")
        return "|".join(urls)

    def year_in(self, phase: str) -> int:
        y0, y1 = self.vocab.phase_years(phase)
        return self.rng.randint(y0, y1)


# ---- the generator ------------------------------------------------------------------------------

def write_project(root: Path, n_poles: int, seed: int = DEFAULT_SEED, vocab: Vocab | None = None) -> dict:
    """Write a synthetic project with ``n_poles`` synthetic pôles (plus the anchors) under ``root``."""
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copytree(REPO / "ontology", root / "ontology")
    shutil.copytree(REPO / "queries", root / "queries")
    vocab = vocab or read_vocab(root / "ontology")
    st = _State(random.Random(seed), vocab)
    counts = _generate(st, n_poles)
    counts.update(st.out.write(root / "data"))
    (root / "generated.json").write_text(json.dumps({"n_poles": n_poles, "seed": seed, "counts": counts},
                                                    indent=2), encoding="utf-8")
    return counts


def _generate(st: _State, n: int) -> dict:
    rng, v, out = st.rng, st.vocab, st.out
    phases = v.phases
    last = len(phases) - 1

    # -- public bodies (anchors first: the stored queries' examples name them) --
    anchors_org = [
        ("gti-poles", "interministerial-body", "Groupe de travail interministériel (synthétique)", "GTI"),
        ("minefi", "ministry", "Ministère de l'économie (synthétique)", "MINEFI"),
        ("dge-2005", "directorate", "Direction générale des entreprises 2005 (synthétique)", "DGE"),
        ("dgcis", "directorate", "Direction générale de la compétitivité (synthétique)", "DGCIS"),
        ("dge", "directorate", "Direction générale des entreprises (synthétique)", "DGE"),
        ("ubifrance", "agency", "Ubifrance (synthétique)", "UBIFRANCE"),
        ("afii", "agency", "Agence française pour les investissements internationaux (synthétique)", "AFII"),
        ("business-france", "agency", "Business France (synthétique)", ""),
        ("datar", "agency", "Délégation à l'aménagement du territoire (synthétique)", "DATAR"),
        ("cget", "agency", "Commissariat général à l'égalité des territoires (synthétique)", "CGET"),
        ("anct", "agency", "Agence nationale de la cohésion des territoires (synthétique)", "ANCT"),
    ]
    bodies = []
    for key, kind, name, acro in anchors_org:
        out.add("organisations.csv", key=key, kind=kind, name_fr=name, name_en=name.replace("(synthétique)", "(synthetic)"),
                acronym=acro, country="FRA", source=st.source())
        bodies.append(key)
    body_kinds = ["ministry", "directorate", "agency", "agency", "public-bank", "eu-body", "interministerial-body"]
    for i in range(1, 6 + n // 40):
        key = f"syn-body-{i:04d}"
        kind = rng.choice(body_kinds)
        out.add("organisations.csv", key=key, kind=kind, name_fr=f"Organisme public synthétique {i:04d}",
                name_en=f"Synthetic public body {i:04d}", country="" if kind == "eu-body" else "FRA",
                founded=rng.randint(1950, 2015), source=st.source())
        bodies.append(key)

    # -- pôles: anchors, then syn-pole-NNNNN --
    poles: list[tuple[str, str]] = [("aerospace-valley", "Aerospace Valley"), ("lyonbiopole", "Lyonbiopôle"),
                                    ("images-et-reseaux", "Images et Réseaux")]
    anchor_poles = {k for k, _ in poles}
    for i in range(1, n + 1):
        poles.append((f"syn-pole-{i:05d}", f"{rng.choice(_POLE_WORDS_1)} {rng.choice(_POLE_WORDS_2)} {i:05d}"))
    pole_keys = [k for k, _ in poles]
    for key, name in poles:
        themes = rng.sample(v.themes, rng.choice([1, 1, 1, 2, 2, 3]))
        regions = rng.sample(v.regions, rng.choice([1, 1, 1, 1, 2, 2, 3]))
        t_fr = ", ".join(v.theme_labels[t][0] for t in themes)
        t_en = ", ".join(v.theme_labels[t][1] for t in themes)
        out.add("poles.csv", key=key, name_fr=name, name_en=name if rng.random() < 0.3 else "",
                acronym=name.split()[0].upper()[:6] if rng.random() < 0.2 else "",
                former_names=f"{name} (ancien nom)" if rng.random() < 0.15 else "",
                regions="|".join(regions), themes="|".join(themes), theme_fr=t_fr, theme_en=t_en,
                hq_city=rng.choice(_CITIES), website=f"https://{key}.example.org/" if rng.random() < 0.7 else "",
                note="synthetic" if rng.random() < 0.1 else "", source=st.source())

    # -- labelling plans: mergers first (two pôles labelled up to phase k, the result from k+1) --
    plans: dict[str, tuple[int, int]] = {}
    mergers = []
    pool = [k for k in pole_keys if k not in anchor_poles]
    rng.shuffle(pool)
    n_mergers = max(1, n // 30) if n >= 3 else 0
    for m in range(n_mergers):
        if len(pool) < 3:
            break
        a, b, c = pool.pop(), pool.pop(), pool.pop()
        k = rng.randint(0, last - 1)
        for orig in (a, b):
            plans[orig] = (rng.randint(0, k), k)
        plans[c] = (k + 1, rng.randint(k + 1, last))
        mergers.append((a, b, c, k + 1))
    for key in pole_keys:
        if key not in plans:
            start = 0 if rng.random() < 0.55 else rng.randint(0, last)
            plans[key] = (start, rng.randint(start, last))

    decisions = {}
    for p in phases:
        y0, _ = v.phase_years(p)
        key = f"syn-decision-{p}"
        decisions[p] = key
        out.add("events.csv", key=key, kind="labelling-decision", name_fr=f"Décision de labellisation {p} (synthétique)",
                name_en=f"Labelling decision {p} (synthetic)", start=f"{y0}-07-12", place="Paris",
                organiser="org/gti-poles", about="programme/politique-des-poles", source=st.source())

    merged_away = {a for a, b, c, _ in mergers} | {b for a, b, c, _ in mergers}
    for key in pole_keys:
        s, e = plans[key]
        for i in range(s, e + 1):
            phase = phases[i]
            y0, y1 = v.phase_years(phase)
            frm = until = ""
            if i == s and s > 0 and key not in merged_away and rng.random() < 0.2:
                frm = str(rng.randint(y0, y1))
            if i == e and e < last and key not in merged_away and rng.random() < 0.25:
                until = f"{rng.randint(max(y0, int(frm or y0)), y1)}-{rng.randint(1, 12):02d}"
                if frm and until[:4] == frm:
                    until = frm  # same year: keep the year precision so the order stays clear
            out.add("labellings.csv", pole=key, phase=phase,
                    category=rng.choice(v.categories) if rng.random() < 0.3 else "",
                    decision=decisions[phase] if rng.random() < 0.7 else "", **{"from": frm}, until=until,
                    label_name=f"Nom labellisé {key}" if rng.random() < 0.05 else "",
                    duration="P4Y" if rng.random() < 0.2 else "", source=st.source())

    for j, (a, b, c, k) in enumerate(mergers, 1):
        y0, _ = v.phase_years(phases[k])
        out.add("changes.csv", key=f"syn-merger-{j:04d}", kind="merger", original=f"pole/{a}|pole/{b}",
                resulting=f"pole/{c}", date=f"{y0}-01-{rng.randint(1, 28):02d}",
                description_fr=f"Fusion synthétique de {a} et {b} dans {c}.",
                description_en=f"Synthetic merger of {a} and {b} into {c}.", source=st.source())
    # anchors' lineage (the lineage examples: ubifrance, datar)
    for key, kind, orig, res, date in [
        ("syn-2009-dge-dgcis", "merger", "org/dge-2005", "org/dgcis", "2009-01"),
        ("syn-2014-dgcis-dge", "renaming", "org/dgcis", "org/dge", "2014-09-16"),
        ("syn-2015-business-france", "merger", "org/ubifrance|org/afii", "org/business-france", "2015-01-01"),
        ("syn-2014-datar-cget", "merger", "org/datar", "org/cget", "2014-03-31"),
        ("syn-2020-cget-anct", "merger", "org/cget", "org/anct", "2020-01-01"),
    ]:
        out.add("changes.csv", key=key, kind=kind, original=orig, resulting=res, date=date,
                description_fr="Changement synthétique.", description_en="Synthetic change.", source=st.source())

    # -- member companies --
    n_companies = round(n * 12) + 20
    companies = []
    for i in range(1, n_companies + 1):
        key = f"syn-org-{i:07d}"
        companies.append(key)
        member_of = rng.sample(pole_keys, min(len(pole_keys), rng.choices([1, 2, 3], [65, 25, 10])[0]))
        out.add("organisations.csv", key=key, kind="organisation",
                name_fr=f"{rng.choice(_COMPANY_WORDS)} {rng.choice(_COMPANY_WORDS)} {i:07d} {rng.choice(_COMPANY_FORMS)}",
                member_of="|".join(member_of), country="FRA", locality=rng.choice(_CITIES),
                founded=rng.randint(1900, 2022) if rng.random() < 0.6 else "",
                website=f"https://{key}.example.org/" if rng.random() < 0.3 else "", source=st.source())

    # -- foreign clusters and partnerships --
    n_foreign = max(10, round(n * 0.6))
    foreign = []
    for i in range(1, n_foreign + 1):
        key = f"syn-fc-{i:05d}"
        foreign.append(key)
        name = f"{rng.choice(_FOREIGN_CITIES)} {rng.choice(_FOREIGN_WORDS)} {i:05d}"
        out.add("organisations.csv", key=key, kind="foreign-cluster", name_fr=name, name_en=name,
                country=rng.choice(v.countries if rng.random() < 0.8 else ["CAN", "USA", "DEU", "JPN"]),
                locality=rng.choice(_FOREIGN_CITIES), source=st.source())
    for key in pole_keys:
        k = rng.randint(0, 5)
        if key in anchor_poles:
            k = max(k, 3)
        for j, partner in enumerate(rng.sample(foreign, min(k, len(foreign))), 1):
            desc = rng.random() < 0.5
            out.add("partnerships.csv", key=f"{key}-p{j}", pole=key, partner=partner,
                    year=rng.randint(2006, 2025) if rng.random() < 0.85 else "",
                    description_fr="Partenariat technologique synthétique." if desc else "",
                    description_en="Synthetic technological partnership." if desc else "", source=st.source())

    # -- programmes (anchors: the indicators and sources examples name them) --
    all_phases = "|".join(phases)
    out.add("programmes.csv", key="politique-des-poles", kind="policy", name_fr="Politique des pôles (synthétique)",
            name_en="Cluster policy (synthetic)", steered_by="gti-poles", phase=all_phases, start=2005, source=st.source())
    out.add("programmes.csv", key="convention-dgcis-ubifrance", kind="agreement",
            name_fr="Convention DGCIS-Ubifrance (synthétique)", name_en="DGCIS-Ubifrance agreement (synthetic)",
            operator="ubifrance", funder="dgcis", parties="dgcis|ubifrance", start=2009,
            part_of="politique-des-poles", source=st.source())
    out.add("programmes.csv", key="vie", kind="scheme", name_fr="Volontariat international en entreprise (synthétique)",
            name_en="International volunteering in companies (synthetic)", acronym="VIE", operator="ubifrance",
            funder="minefi", start=2001, spatial="world-region/europe|world-region/asie", source=st.source())
    programmes = ["politique-des-poles", "convention-dgcis-ubifrance", "vie"]
    for i in range(1, 3 + n // 25):
        key = f"syn-programme-{i:04d}"
        programmes.append(key)
        kind = rng.choice(["scheme", "scheme", "agreement", "strategy"])
        start = rng.randint(2005, 2022)
        parties = "|".join(rng.sample(bodies, 2)) if kind == "agreement" else ""
        out.add("programmes.csv", key=key, kind=kind, name_fr=f"Programme synthétique {i:04d}",
                name_en=f"Synthetic programme {i:04d}" if rng.random() < 0.6 else "",
                operator=rng.choice(bodies), funder=rng.choice(bodies) if rng.random() < 0.7 else "",
                steered_by=rng.choice(bodies) if rng.random() < 0.3 else "", parties=parties,
                phase=rng.choice(phases) if rng.random() < 0.5 else "", start=start,
                end=start + rng.randint(1, 6) if rng.random() < 0.5 else "",
                part_of="politique-des-poles" if rng.random() < 0.5 else "",
                spatial=f"world-region/{rng.choice(v.world_regions)}" if rng.random() < 0.3 else "",
                description_fr="Programme de soutien synthétique." if rng.random() < 0.5 else "",
                source=st.source())

    # -- people and memberships (anchors: the roles examples) --
    people = [("pascal-faure", "Pascal Faure"), ("arnaud-montebourg", "Arnaud Montebourg"), ("boris-vallaud", "Boris Vallaud")]
    for i in range(1, 1 + max(5, n // 4)):
        given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
        people.append((f"syn-person-{i:05d}", f"{given} {family}"))
    for key, name in people:
        given, _, family = name.partition(" ")
        out.add("people.csv", key=key, name=name, given_name=given, family_name=family, source=st.source())
    out.add("memberships.csv", key="pascal-faure-dgcis", person="pascal-faure", role="directeur-general",
            organisation="dgcis", start="2012", end="2014-09", attested="2013-06-17", source=st.source())
    out.add("memberships.csv", key="arnaud-montebourg-minefi", person="arnaud-montebourg", role="ministre",
            organisation="minefi", start="2012-05-16", end="2014-08-26", source=st.source())
    out.add("memberships.csv", key="boris-vallaud-minefi", person="boris-vallaud", role="directeur-de-cabinet",
            organisation="minefi", superior="arnaud-montebourg", start="2012-05", end="2014-08", source=st.source())
    orgs_for_roles = bodies + companies
    for key, _ in people[3:]:
        for j in range(1, rng.choice([1, 1, 1, 2]) + 1):
            start = rng.randint(2000, 2022)
            end = f"{start + rng.randint(0, 8)}-{rng.randint(1, 12):02d}" if rng.random() < 0.6 else ""
            out.add("memberships.csv", key=f"{key}-m{j}", person=key,
                    role=rng.choice(["directeur-general", "president", "directeur-general"]),
                    organisation=rng.choice(orgs_for_roles), start=str(start) if rng.random() < 0.9 else "",
                    end=end, attested=f"{start}-06-17" if rng.random() < 0.2 else "", source=st.source())

    # -- workshops, sessions and contributions (anchor: ubifrance at a 2013 workshop) --
    agents = [f"pole/{k}" for k in pole_keys] + [f"org/{k}" for k in bodies] + [f"person/{k}" for k, _ in people]
    n_events = 1 + max(2, n // 15)
    for i in range(1, n_events + 1):
        key = f"syn-event-{i:05d}"
        year = 2013 if i == 1 else rng.randint(2005, 2025)
        date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        out.add("events.csv", key=key, kind=rng.choice(["workshop", "event"]), name_fr=f"Atelier synthétique {i:05d}",
                name_en=f"Synthetic workshop {i:05d}" if rng.random() < 0.5 else "", start=date,
                place=rng.choice(_CITIES), organiser=f"org/{rng.choice(bodies)}",
                about=f"programme/{rng.choice(programmes)}" if rng.random() < 0.6 else "", source=st.source())
        for s in range(1, rng.randint(1, 3) + 1):
            session = f"{key}-s{s}"
            out.add("events.csv", key=session, kind="session", name_fr=f"Séquence {s}", start=date, part_of=key,
                    source=st.source())
            for c in range(1, rng.randint(1, 3) + 1):
                who = rng.sample(agents, rng.choice([1, 1, 2]))
                if i == 1 and s == 1 and c == 1:
                    who = ["org/ubifrance"] + [w for w in who if w != "org/ubifrance"]
                out.add("contributions.csv", key=f"{session}-c{c}", event=session, contributors="|".join(who),
                        role=rng.choice(["ouverture", "intervenant-table-ronde", "cloture"]),
                        summary_fr="Intervention synthétique." if rng.random() < 0.5 else "",
                        mentions=f"programme/{rng.choice(programmes)}" if rng.random() < 0.3 else "",
                        source=st.source())

    # -- figures (anchors: the indicators and sources examples) --
    out.add("indicators.csv", key="convention-dgcis-ubifrance-entities-2009-2013",
            subject="programme/convention-dgcis-ubifrance", indicator="entities-supported-abroad", value=1100,
            qualifier="more-than", unit="entity", period_start="2009", period_end="2013-06-17", source=st.source())
    out.add("indicators.csv", key="vie-in-post-2013", subject="programme/vie", indicator="vie-in-post", value=7500,
            qualifier="about", unit="volunteer", date="2013", source=st.source())
    out.add("indicators.csv", key="vie-departures-2012", subject="programme/vie", indicator="vie-departures",
            value=4000, unit="volunteer", period_start="2012", period_end="2012", source=st.source())
    figures_pole = [f for f in _POLE_FIGURES if f[0] in v.indicators and f[1] in v.units]
    figures_prog = [f for f in _PROGRAMME_FIGURES if f[0] in v.indicators and f[1] in v.units]
    obs = 0

    def figure(subject: str, spec: tuple) -> None:
        nonlocal obs
        obs += 1
        code, unit, (lo, hi), decimal = spec
        value = f"{rng.uniform(lo, hi):.1f}" if decimal else str(rng.randint(lo, hi))
        year = rng.randint(2006, 2025)
        cells = {}
        if rng.random() < 0.6:
            cells["date"] = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" if rng.random() < 0.5 else str(year)
        else:
            cells["period_start"] = str(year - rng.randint(0, 4))
            cells["period_end"] = str(year) if rng.random() < 0.8 else ""
        out.add("indicators.csv", key=f"syn-obs-{obs:07d}", subject=subject, indicator=code, value=value,
                qualifier=rng.choice(v.qualifiers) if rng.random() < 0.2 else "", unit=unit,
                enterprise_size=rng.choice(v.sizes) if code == "share-by-enterprise-size" else "",
                source=st.source(), **cells)

    for key in pole_keys:
        for spec in rng.sample(figures_pole, rng.randint(1, 6)):
            figure(f"pole/{key}", spec)
    for key in programmes:
        for spec in rng.sample(figures_prog, rng.randint(1, 3)):
            figure(f"programme/{key}", spec)

    return {"poles": len(pole_keys), "synthetic_poles": n, "mergers": len(mergers), "companies": len(companies),
            "foreign_clusters": len(foreign), "public_bodies": len(bodies), "programmes": len(programmes),
            "people": len(people), "events": n_events, "observations": obs + 3}


# ---- sizes and calibration ------------------------------------------------------------------------

def parse_size(text: str) -> int:
    """``10k`` → 10000, ``1m`` → 1000000, ``250000`` → 250000."""
    t = text.strip().lower().replace("_", "")
    mult = 1
    if t.endswith("k"):
        mult, t = 1_000, t[:-1]
    elif t.endswith("m"):
        mult, t = 1_000_000, t[:-1]
    return int(float(t) * mult)


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def count_data_triples(root: Path) -> int:
    """Triples of the data graph as the loader builds it (CSV records + cited sources)."""
    from pole_graph import Project
    from pole_graph.load import load_content

    return len(load_content(Project.discover(root)).data)


@dataclass(frozen=True)
class Calibration:
    """data triples ≈ intercept + slope × synthetic pôles (fitted on two probes)."""

    slope: float
    intercept: float
    probes: tuple[tuple[int, int], ...]

    def poles_for(self, target: int) -> int:
        return max(1, round((target - self.intercept) / self.slope))


def calibrate(seed: int = DEFAULT_SEED, probes: tuple[int, int] = (60, 240)) -> Calibration:
    vocab = read_vocab()
    points = []
    with tempfile.TemporaryDirectory(prefix="pole-graph-calibrate-") as tmp:
        for n in probes:
            root = Path(tmp) / f"p{n}"
            write_project(root, n, seed, vocab)
            points.append((n, count_data_triples(root)))
    (n1, t1), (n2, t2) = points
    slope = (t2 - t1) / (n2 - n1)
    return Calibration(slope, t1 - slope * n1, tuple(points))


def generate(root: Path, target_triples: int, seed: int = DEFAULT_SEED,
             calibration: Calibration | None = None) -> dict:
    """Write a synthetic project of about ``target_triples`` data triples; return what was written."""
    calibration = calibration or calibrate(seed)
    n = calibration.poles_for(target_triples)
    counts = write_project(root, n, seed)
    return {"target_triples": target_triples, "n_poles": n, "seed": seed, "counts": counts,
            "calibration": {"slope": round(calibration.slope, 2), "intercept": round(calibration.intercept, 1),
                            "probes": calibration.probes}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="10k", help="target number of data triples (10k, 100k, 1m…)")
    ap.add_argument("--out", required=True, type=Path, help="project folder to write (replaced)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--check", action="store_true", help="count the data triples of the result")
    args = ap.parse_args(argv)
    info = generate(args.out, parse_size(args.size), args.seed)
    if args.check:
        info["data_triples"] = count_data_triples(args.out)
    json.dump(info, sys.stdout, indent=2, default=str)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
