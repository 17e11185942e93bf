"""The site in a real browser (headless Chromium through Playwright) against a real `pole-graph serve`.

Each test is something a new visitor does: read the home page, filter the pôles, follow links from a
pôle to its foreign partner, switch to English, run a query, search, use the API page, validate a
file, read an event. Expected answers come from the stored queries and the store, never from copies
pasted here. Every page visited must leave the console free of errors — a Content-Security-Policy
violation (inline script or style, a resource from elsewhere) is reported there — and must carry the
CSP header. A screenshot of each step is saved to tests/artifacts/browser/ for a person to review.

Needs Chromium and the playwright package (`apt-get install -y chromium`, `pip install playwright`);
without them the tests fail, they do not skip. `CHROMIUM=/path/to/chrome` chooses another binary.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError as exc:  # fail loudly at collection: these tests are part of the suite, not optional
    raise ImportError("the browser tests need Playwright: pip install playwright "
                      "(and Chromium: apt-get install -y chromium)") from exc

from pole_graph import run_stored
from pole_graph.describe import local_path
from pole_graph.terms import fold

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
INSTALL = "install Chromium and Playwright: apt-get install -y chromium && pip install playwright"
CORE = "https://w3id.org/pole-graph/def/core#"
EVENT_2013 = "https://w3id.org/pole-graph/id/event/2013-06-17-atelier-internationalisation"
CURRENT_PHASE = "2023-2026"  # the phase the home page's map counts


# ---- the browser, and a tab that watches what a page does ----------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: {INSTALL}", pytrace=False)
    with sync_playwright() as p:
        try:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        except PlaywrightError as exc:
            pytest.fail(f"Chromium ({CHROMIUM}) did not start: {exc}\n{INSTALL}", pytrace=False)
        yield chromium
        chromium.close()


class Tab:
    """A browser page on the live site that records console errors, uncaught exceptions and the
    security headers of every document it loads, and audits each step's DOM for inline code."""

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base
        self.errors: list[str] = []
        self.allowed: list[re.Pattern] = []
        self.documents: list[tuple[str, str | None]] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"{page.url}: console: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: uncaught: {e}"))
        page.on("response", lambda r: r.request.resource_type == "document"
                and self.documents.append((r.url, r.headers.get("content-security-policy"))))

    def open(self, path: str) -> Page:
        response = self.page.goto(self.base + path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        return self.page

    def allow(self, pattern: str) -> None:
        """A console error the step expects (Chromium logs every failed fetch, even a wanted 400)."""
        self.allowed.append(re.compile(pattern))

    def step(self, name: str) -> None:
        """Check the page runs no inline code (the CSP would block it), and screenshot it as
        ``{name}.png`` (names start with the scenario's number, so the folder reads in order)."""
        inline = self.page.evaluate("""() => ({
            scripts: document.querySelectorAll('script:not([src])').length,
            styles: document.querySelectorAll('style, [style]:not([style=""])').length,
            handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes])
                        .filter(a => a.name.startsWith('on')).map(a => a.name)})""")
        assert inline == {"scripts": 0, "styles": 0, "handlers": []}, f"{self.page.url}: inline code {inline}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)  # Playwright's screenshots leave style="" on inputs
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def check(self) -> None:
        errors = [e for e in self.errors if not any(p.search(e) for p in self.allowed)]
        assert not errors, "the browser reported errors:\n" + "\n".join(
            f"{n} × {e[:300]}" for e, n in Counter(errors).items())
        assert self.documents, "no page was loaded"
        for url, csp in self.documents:
            assert csp and "default-src 'self'" in csp, f"{url}: no Content-Security-Policy default-src 'self'"
            script_src = next((d for d in csp.split(";") if d.strip().startswith("script-src")), "")
            assert "unsafe-inline" not in script_src, f"{url}: the CSP allows inline scripts"


@pytest.fixture()
def browse(browser, live_url):
    """Open tabs (one browser context each, fresh cookies and cache) in a given locale."""
    tabs: list[Tab] = []

    def open_tab(locale: str = "fr-FR") -> Tab:
        context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        tab = Tab(context.new_page(), live_url)
        tabs.append(tab)
        return tab

    yield open_tab
    for tab in tabs:
        tab.page.context.close()
    for tab in tabs:
        tab.check()


# ---- what the store says, to compare the pages with -------------------------------------------------

def column(result, name: str) -> list[str | None]:
    i = result.columns.index(name)
    return [row[i].value if row[i] is not None else None for row in result.rows]


def links(page: Page, selector: str) -> list[tuple[str, str]]:
    """(path without query, text) of the links matching a selector."""
    pairs = page.locator(selector).evaluate_all("els => els.map(a => [a.getAttribute('href'), a.textContent.trim()])")
    return [(href.split("?")[0], text) for href, text in pairs]


def scalar(store, query: str) -> str:
    return next(iter(store.query(query)))[0].value


# ---- 1. the home page -----------------------------------------------------------------------------

def test_home_page_shows_title_numbers_and_charts(browse, store, catalogue):
    tab = browse()
    page = tab.open("/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page).to_have_title("Pôles de compétitivité — graphe de connaissances")
    expect(page.get_by_role("heading", level=1)).to_have_text("Pôles de compétitivité — graphe de connaissances")

    poles = int(scalar(store, f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ ?x a <{CORE}CompetitivenessCluster> }}"))
    partnerships = run_stored(store, catalogue, "partnerships")
    counts = page.locator("ul.counts li")
    expect(counts).to_have_count(7)
    expect(counts.filter(has_text="pôles")).to_have_text(f"{poles} pôles")
    expect(counts.filter(has_text="partenariats")).to_have_text(f"{len(partnerships.rows)} partenariats")

    # the map: one tile per metropolitan region, each counting the pôles of the current phase there
    tiles = page.locator("svg.tilemap rect title").all_text_contents()
    assert len(tiles) == 13, tiles
    for tile in tiles:
        region, n = tile.rsplit(": ", 1)
        expected = run_stored(store, catalogue, "poles", {"region": region, "phase": CURRENT_PHASE})
        assert int(n) == len(expected.rows), f"map tile {region}: {n}, the stored query finds {len(expected.rows)}"

    phase_chart, world_chart = page.locator("svg.chart").all()
    phases = sorted(r[0].value for r in store.query(
        f"SELECT ?c WHERE {{ ?p a <{CORE}PolicyPhase> ; <http://www.w3.org/2004/02/skos/core#notation> ?c }}"))
    expected_phases = [f"{c}: {len(run_stored(store, catalogue, 'poles', {'phase': c}).rows)}" for c in phases]
    assert phase_chart.locator("rect title").all_text_contents() == expected_phases
    by_world = Counter(label for _, label in set(zip(column(partnerships, "partnership"),
                                                     column(partnerships, "world_region_label"))))
    assert sorted(world_chart.locator("rect title").all_text_contents()) == sorted(f"{k}: {n}" for k, n in by_world.items())

    everything = run_stored(store, catalogue, "poles")
    expect(page.locator("#pole-list tbody tr")).to_have_count(len(everything.rows))
    tab.step("1-home")


def test_map_tiles_are_shaded_by_their_count_under_the_csp(browse):
    """Regression: the tiles' shade was an inline style attribute, which the CSP blocks: every tile
    came out the same colour (and the console showed one CSP error per tile)."""
    tab = browse()
    page = tab.open("/")
    shades = page.locator("svg.tilemap rect").evaluate_all("rs => rs.map(r => getComputedStyle(r).fillOpacity)")
    numbers = page.locator("svg.tilemap text.n").all_text_contents()
    by_number = {n: s for n, s in zip(numbers, shades)}
    assert len(set(numbers)) > 1 and len(set(by_number.values())) == len(by_number), (numbers, shades)
    tab.step("1-home-map")


# ---- 2. filtering the pôles ----------------------------------------------------------------------------

def test_filtering_by_region_lists_what_the_stored_query_finds(browse, store, catalogue):
    tab = browse()
    page = tab.open("/")
    page.select_option("#filter-region", label="Bretagne")
    page.locator("#filter-submit").click()
    page.wait_for_url(re.compile(r"region="))
    expect(page.locator("#filter-region option:checked")).to_have_text("Bretagne")

    expected = run_stored(store, catalogue, "poles", {"region": "Bretagne"}, "fr")
    assert expected.rows, "Bretagne has pôles"
    wanted = [(local_path(iri), label) for iri, label in zip(column(expected, "pole"), column(expected, "label"))]
    expect(page.locator("#pole-list tbody tr")).to_have_count(len(wanted))
    assert links(page, "#pole-list tbody td:first-child a") == wanted
    expect(page.locator("#pole-count")).to_have_text(f"{len(wanted)} résultat(s)")
    tab.step("2-filter-bretagne")


# ---- 3. from a pôle to its foreign partner -------------------------------------------------------------

def test_following_links_from_a_pole_to_its_partner(browse, store, catalogue):
    found = run_stored(store, catalogue, "partnerships", {}, "fr")
    assert found.rows, "the graph has partnerships"
    first = dict(zip(found.columns, (t.value if t is not None else None for t in found.rows[0])))
    partner_sources = sorted(r[0].value for r in store.query(
        f"SELECT ?s WHERE {{ <{first['partner']}> <http://purl.org/dc/terms/source> ?s }}"))
    assert partner_sources, f"{first['partner']} has a source"

    tab = browse()
    page = tab.open("/")
    page.locator("#pole-list").get_by_role("link", name=first["pole_label"], exact=True).click()
    expect(page.locator("h1")).to_have_text(first["pole_label"])
    tab.step("3a-pole")

    page.locator(f"#incoming a[href^='{local_path(first['partnership'])}']").first.click()
    expect(page).to_have_url(re.compile(re.escape(local_path(first["partnership"]))))
    expect(page.locator("#facts")).to_contain_text(first["partner_label"])
    tab.step("3b-partnership")

    partner_row = page.locator("#facts tbody tr").filter(has=page.locator(f"a[title='{CORE}partner']"))
    partner_row.locator("td").nth(1).get_by_role("link").click()
    expect(page.locator("h1")).to_have_text(first["partner_label"])
    assert [href for href, _ in links(page, "#sources a")] == partner_sources
    for source in partner_sources:
        expect(page.locator("#sources")).to_contain_text(source)
    tab.step("3c-partner")


# ---- 4. English ---------------------------------------------------------------------------------------

def test_switching_to_english_sticks_when_following_links(browse):
    tab = browse()
    page = tab.open("/")
    expect(page.locator("#lang-switch")).to_have_text("English")
    page.locator("#lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("French competitiveness clusters — knowledge graph")
    for heading in ("In numbers", "Clusters per phase", "Partnerships by world region", "Clusters"):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.locator("#lang-switch")).to_have_text("Français")
    tab.step("4a-english-home")

    page.locator("#pole-list tbody a").first.click()  # a pôle
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="What the graph says")).to_be_visible()
    tab.step("4b-english-pole")

    # regression: ?lang= was written after the #fragment, losing both the language and the anchor
    page.locator("p.kind a").first.click()  # its kind, defined in the ontology
    page.wait_for_url(re.compile(r"/def/core"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    fragment = urlparse(page.url).fragment
    assert fragment and page.locator(f"[id='{fragment}']").count() == 1, f"{page.url}: the anchor names no term"
    tab.step("4c-english-ontology")

    page.get_by_role("navigation").get_by_role("link", name="Home").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    # regression: the map's links had no ?lang=, so they led back to French
    page.locator("svg.tilemap a").first.click()  # a region on the map
    page.wait_for_url(re.compile(r"region="))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#filter-region option:checked")).not_to_have_text("all")
    tab.step("4d-english-region")

    page.get_by_role("searchbox").fill("lyon")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    tab.step("4e-english-search")


# ---- 5. the SPARQL page -----------------------------------------------------------------------------

def test_running_an_example_and_a_typed_query_on_the_sparql_page(browse, store, catalogue):
    tab = browse()
    page = tab.open("/sparql")
    expect(page.locator("#query")).not_to_be_empty()
    tab.step("5a-sparql")

    stored = catalogue.queries["poles"]
    expected = run_stored(store, catalogue, "poles", stored.examples[0] if stored.examples else {}, "fr")
    page.locator("a.example[data-name='poles']").click()
    expect(page.locator("#results tbody tr")).to_have_count(len(expected.rows))
    assert len(expected.rows) > 0
    expect(page.locator("#results thead th")).to_have_text(expected.columns)
    tab.step("5b-sparql-example")

    count = scalar(store, f"SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE {{ ?p a <{CORE}CompetitivenessCluster> }}")
    page.locator("#query").fill(f"PREFIX pg: <{CORE}>\nSELECT (COUNT(DISTINCT ?p) AS ?n) WHERE {{ ?p a pg:CompetitivenessCluster }}")
    page.locator("#run").click()
    expect(page.locator("#results thead th")).to_have_text(["n"])
    expect(page.locator("#results tbody td")).to_have_text([count])
    tab.step("5c-sparql-typed")

    page.locator("#query").fill("SELECT nonsense")
    page.locator("#run").click()
    expect(page.locator("#error")).to_contain_text("syntax")
    expect(page.locator("#query")).to_have_value("SELECT nonsense")  # kept, to be corrected
    tab.step("5d-sparql-error")


# ---- 6. search -----------------------------------------------------------------------------------

def test_searching_without_accents_finds_the_pole(browse, store, catalogue):
    everything = run_stored(store, catalogue, "poles", {}, "fr")
    wanted = sorted((local_path(iri), label) for iri, label in zip(column(everything, "pole"), column(everything, "label"))
                    if "pole mer" in fold(label))
    assert wanted, "some pôle is named Pôle Mer…"

    tab = browse()
    page = tab.open("/")
    page.get_by_role("searchbox").fill("pole mer")
    page.get_by_role("searchbox").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("pole mer")
    found = links(page, "#search-results a")
    assert sorted(found[:len(wanted)]) == wanted, "the pôles come first"
    tab.step("6a-search")

    path, label = found[0]
    page.locator("#search-results a").first.click()
    expect(page.locator("h1")).to_have_text(label)
    expect(page).to_have_url(re.compile(re.escape(path)))
    expect(page.locator("p.kind")).to_contain_text("pôle de compétitivité")
    tab.step("6b-search-pole")


# ---- 7. the API page -------------------------------------------------------------------------------

def test_running_a_stored_query_from_the_api_page(browse, store, catalogue):
    expected = run_stored(store, catalogue, "poles", {"region": "Occitanie"}, "fr")
    assert expected.rows

    tab = browse()
    page = tab.open("/api")
    section = page.locator("#q-poles")
    section.get_by_role("textbox", name="region").fill("Occitanie")
    section.get_by_role("button").click()
    table = section.locator("table.result-table")
    expect(table.locator("tr")).to_have_count(len(expected.rows) + 1)  # and the head row
    expect(table.locator("th")).to_have_text(expected.columns)
    label = expected.columns.index("label") + 1
    assert table.locator(f"tr td:nth-child({label})").all_text_contents() == column(expected, "label")
    tab.step("7a-api")

    # a required parameter left empty: the page says which, and keeps working
    tab.allow(r"status of 400")
    section = page.locator("#q-lineage")
    section.get_by_role("textbox").first.fill("")
    section.get_by_role("button").click()
    expect(section.locator(".error")).to_contain_text("required")
    tab.step("7b-api-missing-parameter")


# ---- 8. validation ---------------------------------------------------------------------------------

def test_validating_a_csv_reports_the_line_and_field(browse):
    bad = ("key,kind,name_fr,name_en,country,locality,website,source\n"
           "grappe-essai,foreign-cluster,Grappe d'essai,Test cluster,CAN,Québec,www.example,https://example.org/annonce\n")
    tab = browse()
    page = tab.open("/validate")
    page.locator("input[type=file]").set_input_files(
        {"name": "partenaires.csv", "mimeType": "text/csv", "buffer": bad.encode("utf-8")})
    tab.step("8a-validate")
    page.locator("#validate-form").get_by_role("button", name="Valider").click()
    report = page.locator("#report")
    expect(report).to_contain_text("partenaires.csv, ligne 2")
    expect(report).to_contain_text("website")
    expect(report).to_contain_text("www.example")
    expect(page.locator("#validate-form")).to_be_visible()  # to try again
    tab.step("8b-validate-report")


# ---- 9. an event, in English -----------------------------------------------------------------------

def test_the_2013_workshop_in_english_names_its_speakers_and_source(browse, store):
    sources = sorted(r[0].value for r in store.query(f"SELECT ?s WHERE {{ <{EVENT_2013}> <http://purl.org/dc/terms/source> ?s }}"))
    assert sources
    tab = browse("en-GB")  # English chosen by the browser's language, not by a link
    page = tab.open(EVENT_2013.removeprefix("https://w3id.org/pole-graph"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text(re.compile(r"^Workshop"))
    facts = page.locator("#facts")
    for person in ("Boris Vallaud", "Pascal Faure"):
        expect(facts.get_by_role("link", name=person, exact=True)).to_have_attribute("href", re.compile(r"^/doc/person/"))
    for source in sources:
        expect(page.locator(f"#sources a[href='{source}']")).to_be_visible()
    tab.step("9-event-2013")
