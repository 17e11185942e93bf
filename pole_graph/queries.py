"""Queries: the stored-query catalogue, typed parameters, safe binding and execution.

Stage *query*. Each ``queries/NAME.rq`` carries its metadata in ``#+`` YAML comment lines (grlc's
keys where grlc has one: summary, description, tags, defaults, pagination, plus ``params`` with
types). Every query is parsed when the catalogue loads, so a broken file is an error at start-up,
not on first use.

Parameters are never pasted into the query text as strings. Each value is checked against its
declared type and turned into one RDF term (an IRI found in the graph, a typed literal); that term,
N-Triples-escaped, is substituted for the parameter's variable (``?_name``) wherever it occurs in
the query's code, and ``BOUND(?_name)`` becomes ``true``. An absent optional parameter leaves its
variable unbound, and the query's ``!BOUND(?_x) || …`` filters make it match everything. The same
text runs on the embedded store and on any SPARQL 1.1 server.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import pyoxigraph as ox
import yaml

from .errors import ContentError, ParameterError, Problem, QueryError, UnknownQueryError
from .namespaces import BASE, PREFIXES
from .project import Project
from .terms import date_literal, fold

PARAM_TYPES = ("thing", "text", "date", "year", "integer", "enum")
ALLOWED_KEYS = {"summary", "summary_en", "description", "description_en", "tags", "params",
                "examples", "pagination", "defaults", "enumerate", "endpoint", "method", "columns"}


@dataclass(frozen=True)
class Param:
    """A declared parameter: its type, whether it is required, and its description (fr/en)."""

    name: str
    type: str
    required: bool = False
    default: str | None = None
    cls: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    description: Mapping[str, str] = field(default_factory=dict)

    @property
    def variable(self) -> str:
        return "_" + self.name


@dataclass(frozen=True)
class StoredQuery:
    name: str
    path: Path
    text: str
    summary: Mapping[str, str]
    description: Mapping[str, str]
    tags: tuple[str, ...]
    params: tuple[Param, ...]
    examples: tuple[Mapping[str, str], ...]
    lists: Mapping[str, str] = field(default_factory=dict)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


@dataclass
class QueryResult:
    """A table of RDF terms (pyoxigraph terms, None where unbound), or a boolean, or triples."""

    columns: list[str]
    rows: list[list[Any]]
    boolean: bool | None = None
    triples: list[Any] | None = None

    @property
    def kind(self) -> str:
        if self.boolean is not None:
            return "boolean"
        return "graph" if self.triples is not None else "table"

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def values(self, name: str) -> list[str | None]:
        """The plain string values of a column (IRI, lexical form), handy in scripts and tests."""
        return [None if t is None else t.value for t in self.column(name)]


# ---- catalogue -------------------------------------------------------------------------------

def parse_metadata(text: str, shown: str) -> dict[str, Any]:
    numbered = [(i, line[2:].removeprefix(" ")) for i, line in enumerate(text.splitlines(), 1) if line.startswith("#+")]
    try:
        meta = yaml.safe_load("\n".join(line for _, line in numbered)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = numbered[min(mark.line, len(numbered) - 1)][0] if mark and numbered else None
        raise ContentError(Problem(shown, "#+ metadata", f"unreadable YAML: {getattr(exc, 'problem', exc)}",
                                   line=line, expected="YAML in `#+ ` comment lines (quote values that contain ': ')")) from None
    if not isinstance(meta, dict):
        raise ContentError(Problem(shown, "#+ metadata", "the metadata must be a mapping", expected="key: value lines"))
    return meta


def _bilingual(meta: dict[str, Any], key: str) -> dict[str, str]:
    out = {}
    if meta.get(key):
        out["fr"] = str(meta[key]).strip()
    if meta.get(key + "_en"):
        out["en"] = str(meta[key + "_en"]).strip()
    return out


def _parse_param(name: str, spec: Any, shown: str) -> Param:
    if not isinstance(spec, dict):
        raise ContentError(Problem(shown, f"params.{name}", "a parameter needs a mapping with at least `type`"))
    ptype = spec.get("type")
    if ptype not in PARAM_TYPES:
        raise ContentError(Problem(shown, f"params.{name}", f"unknown type {ptype!r}", expected="one of " + ", ".join(PARAM_TYPES)))
    if not re.match(r"^[a-z][a-z0-9_]*$", name):
        raise ContentError(Problem(shown, f"params.{name}", "invalid parameter name", expected="lowercase letters, digits and _"))
    desc = spec.get("description", {})
    if isinstance(desc, str):
        desc = {"fr": desc}
    values = spec.get("values", {}) or {}
    if ptype == "enum" and not values:
        raise ContentError(Problem(shown, f"params.{name}", "an enum parameter needs `values`"))
    return Param(name, ptype, bool(spec.get("required", False)),
                 None if spec.get("default") is None else str(spec["default"]),
                 spec.get("class"), {str(k): str(v) for k, v in values.items()}, dict(desc))


def load_query(path: Path, shown: str) -> StoredQuery:
    text = path.read_text(encoding="utf-8")
    meta = parse_metadata(text, shown)
    unknown = set(meta) - ALLOWED_KEYS
    if unknown:
        raise ContentError(Problem(shown, "#+ metadata", f"unknown key(s) {', '.join(sorted(unknown))}",
                                   expected="keys " + ", ".join(sorted(ALLOWED_KEYS))))
    if not meta.get("summary"):
        raise ContentError(Problem(shown, "#+ summary", "every stored query needs a summary"))
    params = tuple(_parse_param(n, s, shown) for n, s in (meta.get("params") or {}).items())
    query = StoredQuery(path.stem, path, text, _bilingual(meta, "summary"), _bilingual(meta, "description"),
                        tuple(meta.get("tags") or ()), params,
                        tuple({str(k): str(v) for k, v in e.items()} for e in (meta.get("examples") or ())),
                        {str(k): str(v) for k, v in (meta.get("columns") or {}).items()})
    check_syntax(query.text, shown)
    check_syntax(bind_values(query.text, dict({"_lang": ox.Literal("fr")}, **{p.variable: _sample(p) for p in params})), shown)
    for p in params:
        if f"?{p.variable}" not in text and f"${p.variable}" not in text:
            raise ContentError(Problem(shown, f"params.{p.name}", f"the query never uses ?{p.variable}",
                                       expected=f"a variable ?{p.variable} in the query"))
    return query


def _sample(param: Param) -> Any:
    """A value of the parameter's type, to check that the query still parses once it is bound."""
    if param.type == "thing":
        return ox.NamedNode("urn:pole-graph:sample")
    if param.type == "date":
        return ox.Literal("2000-01-01", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#date"))
    if param.type == "integer":
        return ox.Literal("1", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer"))
    if param.type == "enum":
        target = next(iter(param.values.values()))
        return ox.NamedNode(_expand(target)) if ":" in target else ox.Literal(target)
    return ox.Literal("sample")


def check_syntax(sparql: str, shown: str) -> None:
    """Parse (and run on an empty store, which is instant) to report syntax errors with position."""
    try:
        ox.Store().query(sparql)
    except SyntaxError as exc:
        m = re.search(r"(\d+):(\d+)", str(exc))
        raise ContentError(Problem(shown, None, f"SPARQL syntax error: {exc}",
                                   line=int(m.group(1)) if m else None, column=int(m.group(2)) if m else None,
                                   expected="SPARQL 1.1")) from None


@dataclass
class Catalogue:
    """All stored queries of a project, parsed and checked."""

    queries: dict[str, StoredQuery]

    @classmethod
    def load(cls, project: Project) -> "Catalogue":
        queries, problems = {}, []
        for path in project.query_files:
            try:
                q = load_query(path, project.relpath(path))
                queries[q.name] = q
            except ContentError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ContentError(problems)
        return cls(queries)

    def get(self, name: str) -> StoredQuery:
        if name not in self.queries:
            close = difflib.get_close_matches(name, list(self.queries), n=3)
            raise UnknownQueryError(f"no stored query named {name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""),
                                    hint="`pole-graph query --list` shows them all")
        return self.queries[name]

    def names(self) -> list[str]:
        return sorted(self.queries)


# ---- binding ---------------------------------------------------------------------------------

def term_to_sparql(term: Any) -> str:
    """A pyoxigraph term in SPARQL/N-Triples syntax, escaped so it stays one term."""
    if isinstance(term, ox.NamedNode):
        if re.search(r'[\x00-\x20<>"{}|^`\\]', term.value):
            raise ParameterError(f"not a valid IRI: {term.value!r}")
        return f"<{term.value}>"
    if isinstance(term, ox.Literal):
        return str(term)  # pyoxigraph prints N-Triples: quotes, backslashes and controls escaped
    raise ParameterError(f"cannot bind {term!r}")


# As the SPARQL grammar (and Oxigraph) splits a query: a comment ends at \n or \r; an IRI holds any
# character but <>"{}|^`\ and #x00-#x20; in code, a backslash escapes the next character of a prefixed
# name (ex:a\#b, ex:a\'b). Reading any of these otherwise would hide code, e.g. a SERVICE, from the
# checks that look for it (server.check_query), or bind a variable inside a prefixed name.
_OPAQUE = re.compile(r"""
    \#[^\r\n]*                           # comment
  | \"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"    # long strings
  | '\'\'(?:[^'\\]|\\.|'(?!''))*'\'\'
  | "(?:[^"\\\n]|\\.)*"                 # strings
  | '(?:[^'\\\n]|\\.)*'
  | <[^<>"{}|^`\\\x00-\x20]*>              # IRIs
  | \\.                                 # an escaped character of a prefixed name
""", re.X)


def _segments(sparql: str) -> tuple[tuple[bool, str], ...]:
    """Split a query into (is_code, text) parts: comments, strings and IRIs are not code.

    Remembered for texts up to 64 kB (the stored queries' templates are split on every request:
    0.6 ms of a 12 ms answer)."""
    return _segments_cached(sparql) if len(sparql) <= 65536 else _split(sparql)


def _split(sparql: str) -> tuple[tuple[bool, str], ...]:
    parts, at = [], 0
    for m in _OPAQUE.finditer(sparql):
        if m.start() > at:
            parts.append((True, sparql[at:m.start()]))
        parts.append((False, m.group()))
        at = m.end()
    if at < len(sparql):
        parts.append((True, sparql[at:]))
    return tuple(parts)


_segments_cached = lru_cache(maxsize=256)(_split)


# Names inside code: variables, blank-node labels, language tags and what follows a prefix's colon.
_NAMES = re.compile(r"(?:[?$]|_:|@|:)\w*")


def reaches_outside(sparql: str) -> str | None:
    """``SERVICE`` or ``LOAD`` if the query or update could make the engine fetch something, else None.

    The keyword is looked for in the code (not in strings, IRIs or comments) with every name
    removed, and needs no boundary on either side, because the SPARQL grammar needs none:
    pyoxigraph reads ``SERVICESILENT<…>``, ``1SERVICE<…>`` and ``SERVICE:`` (a prefixed name
    right after the keyword) as a SERVICE. The price: a prefix *label* containing those letters
    (``service:x``) is refused too.

    >>> reaches_outside("SELECT * { ?service <p> ?load }") is None
    True
    >>> reaches_outside("SELECT * { trueSERVICE<http://x/> { ?s ?p ?o } }")
    'SERVICE'
    """
    for is_code, part in _segments(sparql):
        if is_code:
            letters = _NAMES.sub(" ", part).upper()
            for keyword in ("SERVICE", "LOAD"):
                if keyword in letters:
                    return keyword
    return None


def bind_values(sparql: str, bindings: Mapping[str, Any]) -> str:
    """Substitute each bound parameter variable by its RDF term, everywhere in the query.

    This is substitution semantics (SPARQL-dev SEP-0007, as pyoxigraph documents it): the value is
    seen in every group, sub-select and OPTIONAL, unlike a VALUES block, which only joins with the
    group it sits in. ``BOUND(?_x)`` becomes ``true``. Only variable tokens in code are replaced,
    never text inside strings, IRIs or comments; the term is N-Triples-escaped, so it stays one term.
    An absent optional parameter stays an unbound variable.

    >>> bind_values('SELECT ?s WHERE { ?s ?p ?_o FILTER(!BOUND(?_o)) } # ?_o', {'_o': ox.Literal('x"y')})
    'SELECT ?s WHERE { ?s ?p "x\\\\"y" FILTER(!true) } # ?_o'
    """
    if not bindings:
        return sparql
    patterns = []
    for name, term in bindings.items():
        text = term_to_sparql(term)
        patterns.append((re.compile(r"\bBOUND\s*\(\s*[?$]" + re.escape(name) + r"\s*\)", re.I), "true"))
        patterns.append((re.compile(r"[?$]" + re.escape(name) + r"(?![A-Za-z0-9_\u00B7\u00C0-\uFFFF])"), text))
    out = []
    for is_code, part in _segments(sparql):
        if is_code:
            for pattern, replacement in patterns:
                part = pattern.sub(lambda _m, r=replacement: r, part)
        out.append(part)
    return "".join(out)


# ---- parameter values ------------------------------------------------------------------------

class Resolver:
    """Finds the thing a user names: by key, full IRI, name, acronym or code, ignoring accents and case.

    Names are looked up in the folded-name index (``graph/index``, written by the build), keys by
    probing the IRI patterns a key can take (``id/{type}/{key}``, ``def/{scheme}/{key}``): a few
    lookups whatever the size of the graph. Everything goes through ``run(sparql)``, so it works the
    same on any SPARQL 1.1 store.
    """

    INDEX = "https://w3id.org/pole-graph/graph/index"
    FOLDED = "https://w3id.org/pole-graph/def/core#foldedName"

    MEMO = 4096  # resolutions kept (the server and resolver_for make one resolver per version of the data)

    def __init__(self, run: Any) -> None:
        self._run = run
        self._prefixes: list[str] | None = None
        self._memo: dict[tuple[str | None, str], ox.NamedNode] = {}

    def _iris(self, sparql: str) -> list[str]:
        return [row["s"].value for row in self._run(sparql) if isinstance(row["s"], ox.NamedNode)]

    def _key_prefixes(self) -> list[str]:
        if self._prefixes is None:
            from .records import REF_TYPES
            ids = sorted({f"{BASE}id/{seg}/" for space, seg in REF_TYPES.values() if space == "id"}
                         | {f"{BASE}id/{seg}/" for seg in ("labelling", "membership", "contribution")})
            schemes = self._iris(f"""SELECT DISTINCT ?s WHERE {{ ?c <http://www.w3.org/2004/02/skos/core#inScheme> ?s
                                    FILTER(STRSTARTS(STR(?s), "{BASE}def/")) }}""")
            self._prefixes = ids + sorted(s + "/" for s in schemes)
        return self._prefixes

    def by_name(self, text: str) -> list[str]:
        folded = fold(text)
        if not folded:
            return []
        literal = term_to_sparql(ox.Literal(folded))
        return self._iris(f"SELECT DISTINCT ?s WHERE {{ GRAPH <{self.INDEX}> {{ ?s <{self.FOLDED}> {literal} }} }}")

    def _found(self, iris: list[str], folded: str, cls: str | None) -> tuple[set[str], set[str]]:
        """Which of ``iris`` are in the graph (as a ``cls``), and which things (of that class) have
        the folded name: one query, however many IRI patterns a key can take."""
        pattern = f"?s a <{cls}> ." if cls else "?s ?p ?o ."
        branches = []
        if iris:
            values = " ".join(f"<{iri}>" for iri in iris)
            branches.append(f'{{ VALUES ?s {{ {values} }} {pattern} BIND("iri" AS ?how) }}')
        if folded:
            literal = term_to_sparql(ox.Literal(folded))
            branches.append(f'{{ GRAPH <{self.INDEX}> {{ ?s <{self.FOLDED}> {literal} }} {pattern} BIND("name" AS ?how) }}')
        if not branches:
            return set(), set()
        found: tuple[set[str], set[str]] = (set(), set())
        for row in self._run("SELECT DISTINCT ?s ?how WHERE { " + " UNION ".join(branches) + " }"):
            if isinstance(row["s"], ox.NamedNode):
                found[0 if row["how"].value == "iri" else 1].add(row["s"].value)
        return found

    def resolve(self, param: Param, value: str) -> ox.NamedNode:
        cls = _expand(param.cls) if param.cls else None
        text = value.strip()
        known = self._memo.get((cls, text))
        if known is not None:
            return known
        found = self._resolve(param, value, cls, text)
        if len(self._memo) >= self.MEMO:
            self._memo.clear()
        self._memo[(cls, text)] = found
        return found

    def _resolve(self, param: Param, value: str, cls: str | None, text: str) -> ox.NamedNode:
        given = re.match(r"^https?://\S+$", text) is not None and not re.search(r'[<>"{}|^`\\]', text)
        keys = [p + text for p in self._key_prefixes()] if re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", text) else []
        existing, named = self._found(([text] if given else []) + keys, fold(text), cls)
        if given and text in existing:
            return ox.NamedNode(text)
        by_key = [iri for iri in keys if iri in existing]
        if len(by_key) == 1:
            return ox.NamedNode(by_key[0])
        by_name = sorted(named)
        if len(by_name) == 1 and not by_key:
            return ox.NamedNode(by_name[0])
        if len(set(by_key) | set(by_name)) > 1:
            found = ", ".join(sorted(set(by_key) | set(by_name)))
            raise ParameterError(f"{param.name}={value!r} is ambiguous: it names {found}",
                                 hint="give the key (last part of the IRI) or the full IRI")
        what = f"a {param.cls}" if param.cls else "anything"
        raise ParameterError(f"{param.name}={value!r} does not name {what} in the graph", hint=self._suggest(text, cls))

    def _suggest(self, text: str, cls: str | None) -> str | None:
        """Close names, for the error message only (it reads the names of that class)."""
        type_pattern = f"?s a <{cls}> ." if cls else ""
        rows = self._run(f"""SELECT ?s ?name ?label WHERE {{ {type_pattern}
                               GRAPH <{self.INDEX}> {{ ?s <{self.FOLDED}> ?name }}
                               OPTIONAL {{ ?s <http://www.w3.org/2004/02/skos/core#prefLabel> ?label }} }}""")
        names: dict[str, str] = {}
        for row in rows:
            names.setdefault(row["name"].value, (row["label"] or row["name"]).value)
        close = difflib.get_close_matches(fold(text), list(names), n=3, cutoff=0.6)
        return ("did you mean " + ", ".join(repr(names[c]) for c in close) + "?") if close else None


def _expand(curie: str) -> str:
    prefix, _, local = curie.partition(":")
    if prefix in PREFIXES and not curie.startswith("http"):
        return PREFIXES[prefix] + local
    return curie


def convert(param: Param, value: str, resolver: Resolver) -> Any:
    """Check a raw value against its parameter type; return one RDF term."""
    text = value.strip()
    if re.search(r"[\ud800-\udfff]", text):  # from the Python API, a JSON body or non-UTF-8 argv bytes
        raise ParameterError(f"{param.name}={value!r} is not text: it holds a lone surrogate", hint="send UTF-8")
    if param.type == "thing":
        if re.match(r"^https?://\S+$", text):
            try:
                ox.NamedNode(text)  # the engine would refuse the query the resolver writes with it
            except ValueError as exc:
                raise ParameterError(f"{param.name}={value!r} is not a valid IRI: {exc}",
                                     hint="give the key, the name, or the full IRI of the thing") from None
        return resolver.resolve(param, text)
    if param.type == "text":
        folded = fold(text)
        if not folded:
            raise ParameterError(f"{param.name}: give some letters or digits to search for")
        return ox.Literal(folded)
    if param.type == "date":
        if not re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", text):
            raise ParameterError(f"{param.name}={value!r} is not a date", hint="use YYYY-MM-DD, e.g. 2013-06-17")
        try:
            lit = date_literal(text)
        except ValueError as exc:
            raise ParameterError(f"{param.name}={value!r}: {exc}") from None
        return ox.Literal(str(lit), datatype=ox.NamedNode(str(lit.datatype)))
    if param.type == "year":
        if not re.match(r"^[0-9]{4}$", text):
            raise ParameterError(f"{param.name}={value!r} is not a year", hint="use four digits, e.g. 2013")
        return ox.Literal(text)
    if param.type == "integer":
        if not re.match(r"^-?[0-9]{1,18}$", text):
            raise ParameterError(f"{param.name}={value!r} is not an integer")
        return ox.Literal(text, datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer"))
    if param.type == "enum":
        if text not in param.values:
            raise ParameterError(f"{param.name}={value!r} is not one of the accepted values",
                                 hint="use one of " + ", ".join(sorted(param.values)))
        target = param.values[text]
        return ox.NamedNode(_expand(target)) if ":" in target else ox.Literal(target)
    raise ParameterError(f"{param.name}: unsupported type {param.type}")


def bindings_for(query: StoredQuery, args: Mapping[str, str], lang: str, resolver: Resolver) -> dict[str, Any]:
    unknown = set(args) - {p.name for p in query.params}
    if unknown:
        names = ", ".join(p.name for p in query.params) or "none"
        raise ParameterError(f"{query.name}: unknown parameter(s) {', '.join(sorted(unknown))}",
                             hint=f"this query takes: {names}")
    out: dict[str, Any] = {"_lang": ox.Literal(lang)}
    for p in query.params:
        raw = args.get(p.name, p.default)
        if raw is None or str(raw).strip() == "":
            if p.required:
                raise ParameterError(f"{query.name}: parameter {p.name} is required",
                                     hint=p.description.get("en") or p.description.get("fr"))
            continue
        out[p.variable] = convert(p, str(raw), resolver)
    return out


# ---- execution -------------------------------------------------------------------------------

def to_result(solutions: Any) -> QueryResult:
    if isinstance(solutions, ox.QueryBoolean):
        return QueryResult([], [], boolean=bool(solutions))
    if isinstance(solutions, ox.QueryTriples):
        return QueryResult([], [], triples=list(solutions))
    columns = [v.value for v in solutions.variables]
    rows = [[s[c] for c in columns] for s in solutions]
    return QueryResult(columns, rows)


def resolver_for(store: Any) -> Resolver:
    """The store's resolver, made once per handle of an embedded store (a snapshot: what it resolved
    stays true); a remote store, whose data may change under the handle, gets a fresh one each time."""
    if hasattr(store, "version"):  # a RemoteStore
        return Resolver(store.query)
    resolver = getattr(store, "_resolver", None)
    if resolver is None:
        resolver = Resolver(store.query)
        try:
            store._resolver = resolver
        except AttributeError:  # a store that takes no attributes: a fresh resolver each time
            pass
    return resolver


def run_stored(store: Any, catalogue: Catalogue, name: str, args: Mapping[str, str] | None = None,
               lang: str = "fr", resolver: Resolver | None = None) -> QueryResult:
    """Run a stored query with its parameters bound as RDF terms.

    Args:
        store: a GraphStore (anything with ``query(sparql)``).
        catalogue: the stored queries.
        name: the query's name, e.g. ``"poles"``.
        args: parameter values as given by a user (strings).
        lang: language of the labels in the result (``fr`` or ``en``).
    Raises:
        UnknownQueryError, ParameterError, QueryError.
    """
    query = catalogue.get(name)
    resolver = resolver or resolver_for(store)
    bound = bind_values(query.text, bindings_for(query, args or {}, lang, resolver))
    return sort_lists(_execute(store, bound, name), query.lists)


def sort_lists(result: QueryResult, lists: Mapping[str, str]) -> QueryResult:
    """Sort the items of GROUP_CONCAT columns: SPARQL leaves their order undefined."""
    for column, separator in lists.items():
        if column not in result.columns:
            continue
        i = result.columns.index(column)
        for row in result.rows:
            term = row[i]
            if isinstance(term, ox.Literal) and separator in term.value:
                items = sorted(set(term.value.split(separator)))
                row[i] = ox.Literal(separator.join(items), language=term.language) if term.language else ox.Literal(separator.join(items))
    return result


def run_sparql(store: Any, sparql: str) -> QueryResult:
    """Run an ad-hoc read-only query (SELECT, ASK, CONSTRUCT, DESCRIBE); SERVICE is refused."""
    if re.search(r"^\s*(INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE|ADD)\b", _strip_prologue(sparql), re.I):
        raise QueryError("updates are not allowed: this endpoint is read-only", hint="use SELECT, ASK, CONSTRUCT or DESCRIBE")
    if reaches_outside(sparql):
        raise QueryError("SERVICE is not allowed: pole-graph makes no outgoing requests",
                         hint="query the remote endpoint yourself")
    return _execute(store, sparql, "query")


def _strip_prologue(sparql: str) -> str:
    text = re.sub(r"#[^\n]*", "", sparql)
    return re.sub(r"^\s*((PREFIX\s+\S*\s*<[^>]*>|BASE\s*<[^>]*>)\s*)*", "", text, flags=re.I)


def _execute(store: Any, sparql: str, label: str) -> QueryResult:
    try:
        return to_result(store.query(sparql))
    except SyntaxError as exc:
        raise QueryError(f"{label}: SPARQL syntax error: {exc}") from None
    except (OSError, RuntimeError, ValueError) as exc:
        raise QueryError(f"{label}: the query engine failed: {exc}") from None


def describe(catalogue: Catalogue, lang: str = "fr") -> Iterable[tuple[str, str, str]]:
    for name in catalogue.names():
        q = catalogue.queries[name]
        params = " ".join((p.name + ("*" if p.required else "")) for p in q.params)
        yield name, params, q.summary.get(lang) or q.summary.get("fr", "")
