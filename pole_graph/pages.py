"""Pages: the HTML side of *publish* — words in French and English, charts, and the page templates.

Templates are Jinja2 files in ``pole_graph/html/`` with autoescaping on: every literal from the
graph is escaped, and links are only made to local paths or http(s) addresses (``href`` filter).
Charts are SVG drawn here from numbers and escaped labels; no JavaScript is needed to read a page.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2

from .describe import local_path
from .namespaces import shorten

WORDS: dict[str, tuple[str, str]] = {
    "site": ("Pôles de compétitivité — graphe de connaissances", "French competitiveness clusters — knowledge graph"),
    "home": ("Accueil", "Home"), "queries": ("Requêtes", "Queries"), "sparql": ("SPARQL", "SPARQL"),
    "ontology": ("Ontologie", "Ontology"), "data": ("Données", "Data"), "validate": ("Valider", "Validate"),
    "search": ("Rechercher", "Search"), "search_placeholder": ("nom, sigle, ancien nom…", "name, acronym, former name…"),
    "other_lang": ("English", "Français"), "facts": ("Ce que dit le graphe", "What the graph says"),
    "incoming": ("Ce qui renvoie ici", "What links here"), "sources": ("Sources", "Sources"),
    "inferred": ("déduit", "inferred"), "also": ("Est aussi :", "Is also:"), "inferred_note": ("fait déduit par le raisonnement OWL 2 RL",
                                                           "fact derived by OWL 2 RL reasoning"),
    "source_of": ("source", "source"), "type": ("nature", "kind"), "property": ("propriété", "property"),
    "value": ("valeur", "value"), "download": ("Télécharger en", "Download as"),
    "poles": ("Pôles", "Clusters"), "region": ("Région", "Region"), "theme": ("Thématique", "Theme"),
    "phase": ("Phase", "Phase"), "all": ("toutes", "all"), "filter": ("Filtrer", "Filter"),
    "website": ("Site web", "Website"), "phases": ("Phases", "Phases"), "regions": ("Régions", "Regions"),
    "results": ("résultat(s)", "result(s)"), "no_result": ("Aucun résultat.", "No result."),
    "by_region": ("Pôles de la phase 2023-2026 par région", "Clusters of phase 2023-2026 by region"),
    "by_world": ("Partenariats par région du monde", "Partnerships by world region"),
    "by_phase": ("Pôles par phase", "Clusters per phase"),
    "map_note": ("Carte schématique : une case par région métropolitaine, plus la Corse ; un pôle compte dans chacune de ses régions.",
                 "Schematic map: one tile per metropolitan region, plus Corsica; a cluster counts in each of its regions."),
    "intro": ("Ce graphe décrit les pôles de compétitivité français labellisés depuis 2005, les clusters étrangers avec "
              "lesquels ils coopèrent, les administrations, agences et banques publiques qui les pilotent et les financent, "
              "les programmes, les événements, les personnes dans leurs fonctions et les chiffres publiés. Chaque fait "
              "renvoie à la page web où il a été lu.",
              "This graph describes the French competitiveness clusters (pôles de compétitivité) labelled since 2005, the "
              "foreign clusters they work with, the administrations, agencies and public banks that steer and fund them, "
              "programmes, events, people in their roles and published figures. Every fact points to the web page it was "
              "read in."),
    "for_whom": ("Pour les analystes : les requêtes enregistrées et SPARQL. Pour les réutilisateurs : des IRI qui "
                 "répondent, des téléchargements et un catalogue DCAT. Pour les gestionnaires : la validation des "
                 "nouveaux enregistrements.",
                 "For analysts: stored queries and SPARQL. For re-users: IRIs that answer, downloads and a DCAT "
                 "catalogue. For data stewards: validation of new records."),
    "counts": ("En chiffres", "In numbers"), "licence": ("Licence Ouverte / Etalab 2.0", "Licence Ouverte / Etalab 2.0"),
    "not_found": ("Rien ici", "Nothing here"), "error": ("Erreur", "Error"),
    "classes": ("Classes", "Classes"), "properties": ("Propriétés", "Properties"),
    "concepts": ("Concepts", "Concepts"), "definition": ("définition", "definition"),
    "run": ("Exécuter", "Run"), "examples": ("Exemples (requêtes enregistrées)", "Examples (stored queries)"),
    "query_page": ("Interroger le graphe en SPARQL", "Query the graph with SPARQL"),
    "api_page": ("Requêtes enregistrées — API", "Stored queries — API"),
    "validate_page": ("Valider de nouveaux enregistrements", "Validate new records"),
    "validate_help": ("Déposer un fichier CSV (modèles de data/), Turtle, N-Triples, JSON-LD ou RDF/XML : il est vérifié "
                      "dans le contexte du graphe, rien n'est écrit.",
                      "Upload a CSV (data/ templates), Turtle, N-Triples, JSON-LD or RDF/XML file: it is checked in the "
                      "context of the graph; nothing is written."),
    "catalogue": ("Catalogue et téléchargements", "Catalogue and downloads"),
    "licence_label": ("Licence", "Licence"), "coverage": ("Couverture", "Coverage"), "modified": ("Modifié le", "Modified"),
    "size": ("Taille", "Size"), "triples": ("triplets", "triples"), "entities": ("entités décrites", "described things"),
    "downloads": ("Téléchargements", "Downloads"), "file": ("Fichier", "File"), "format": ("Format", "Format"),
    "content": ("Contenu", "Content"), "quads": ("quadruplets", "quads"), "graphs": ("Graphes nommés", "Named graphs"),
    "graph": ("Graphe", "Graph"), "services": ("Services", "Services"),
    "subclass_of": ("sous-classe de", "subclass of"), "domain": ("domaine", "domain"), "range": ("co-domaine", "range"),
    "more": ("et d'autres…", "and more…"),
}


def word(key: str, lang: str) -> str:
    fr, en = WORDS.get(key, (key, key))
    return fr if lang == "fr" else en


def href(value: Any) -> str | None:
    """A link target for a graph IRI: the local page for our things, http(s) addresses as they are,
    nothing for anything else (javascript:, data:, file:…)."""
    text = getattr(value, "value", value)
    if not isinstance(text, str):
        return None
    local = local_path(text)
    if local:
        return local
    if text.startswith(("http://", "https://")):
        return text
    return None


def link(value: Any, lang: str) -> str | None:
    """``href``, keeping the reader's language on the site's own pages: ``?lang=`` goes before any
    ``#fragment`` (``/def/core?lang=en#Cluster``, not ``/def/core#Cluster?lang=en``, which loses both),
    and addresses elsewhere are left as they are.

    >>> link("https://w3id.org/pole-graph/def/core#Cluster", "en")
    '/def/core?lang=en#Cluster'
    >>> link("https://www.axelera.org/", "en")
    'https://www.axelera.org/'
    """
    target = href(value)
    if target is None or not target.startswith("/"):
        return target
    path, hash_, fragment = target.partition("#")
    return f"{path}?{urlencode({'lang': lang})}{hash_}{fragment}"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "html")),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["href"] = href
    env.filters["link"] = link
    env.filters["short"] = shorten
    env.globals["urlencode"] = urlencode
    return env


# ---- charts ----------------------------------------------------------------------------------

def bar_chart(rows: list[tuple[str, int, str | None]], width: int = 520, bar: int = 18) -> str:
    """A horizontal bar chart as SVG: (label, value, link)."""
    if not rows:
        return ""
    top = max(v for _, v, _ in rows) or 1
    label_w = 230
    height = len(rows) * (bar + 6) + 4
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    for i, (label, value, link) in enumerate(rows):
        y = 2 + i * (bar + 6)
        w = int((width - label_w - 50) * value / top)
        text = html.escape(label if len(label) <= 34 else label[:33] + "…")
        name = f'<text x="{label_w - 6}" y="{y + bar - 5}" text-anchor="end">{text}</text>'
        if link:
            name = f'<a href="{html.escape(link)}">{name}</a>'
        parts.append(name)
        parts.append(f'<rect x="{label_w}" y="{y}" width="{max(w, 1)}" height="{bar}" rx="2"><title>{text}: {value}</title></rect>')
        parts.append(f'<text x="{label_w + w + 5}" y="{y + bar - 5}">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)


# Positions (column, row) of the metropolitan regions on a schematic tile map of France.
TILES = {"32": (2, 0), "28": (1, 1), "11": (2, 1), "44": (3, 1), "53": (0, 2), "52": (1, 2), "24": (2, 2),
         "27": (3, 2), "75": (1, 3), "84": (3, 3), "76": (2, 4), "93": (3, 4), "94": (4, 5)}


def tile_map(counts: dict[str, tuple[str, int]], lang: str = "fr") -> str:
    """A schematic map: one square per region, darker with more pôles. counts: code -> (label, n).

    The shade is the ``fill-opacity`` presentation attribute, not a ``style`` attribute: the site's
    Content-Security-Policy (``style-src 'self'``) blocks inline styles."""
    size, gap = 92, 6
    top = max((n for _, n in counts.values()), default=1) or 1
    parts = [f'<svg class="tilemap" viewBox="0 0 {5 * (size + gap)} {6 * (size + gap)}" width="{5 * (size + gap)}" role="img">']
    for code, (col, row) in TILES.items():
        label, n = counts.get(code, (code, 0))
        shade = 0.15 + 0.85 * n / top
        x, y = col * (size + gap), row * (size + gap)
        words = html.escape(label)
        short = words if len(label) <= 14 else html.escape(label[:13]) + "…"
        tone = "tile" if shade >= 0.5 else "tile light"  # dark text on pale tiles
        parts.append(f'<a href="/?{html.escape(urlencode({"region": code, "lang": lang}))}#poles"><g class="{tone}"><rect x="{x}" y="{y}" '
                     f'width="{size}" height="{size}" rx="6" fill-opacity="{shade:.2f}"><title>{words}: {n}</title></rect>'
                     f'<text x="{x + size / 2}" y="{y + 38}" text-anchor="middle" class="n">{n}</text>'
                     f'<text x="{x + size / 2}" y="{y + 62}" text-anchor="middle" class="l">{short}</text></g></a>')
    parts.append("</svg>")
    return "".join(parts)
