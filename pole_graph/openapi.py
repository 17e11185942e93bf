"""OpenAPI: the HTTP API described as an OpenAPI 3.1 document, generated from the stored queries.

Part of *publish*. Each stored query becomes two operations (GET with query parameters, POST with a
JSON or form body) whose parameters carry the types, required flags, enumerations, descriptions
and examples written in the query's ``#+`` header, so the document cannot drift from the queries.
The fixed routes (``/sparql``, ``/api/validate``, the catalogue, linked-data documents) are
described by hand here. Nothing in this module touches the store.
"""

from __future__ import annotations

from typing import Any

from .queries import Catalogue, Param, StoredQuery

OPENAPI_VERSION = "3.1.0"

TEXT = {"schema": {"type": "string"}}
RESULT_MEDIA = {
    "application/sparql-results+json": {"schema": {"$ref": "#/components/schemas/SparqlResults"}},
    "application/sparql-results+xml": TEXT,
    "text/csv": TEXT,
    "text/tab-separated-values": TEXT,
}
RDF_MEDIA = ["text/turtle", "application/ld+json", "application/rdf+xml", "application/n-triples"]


def param_schema(param: Param) -> dict[str, Any]:
    """The JSON Schema of one parameter's value (always sent as a string on the wire)."""
    if param.type == "date":
        return {"type": "string", "format": "date"}
    if param.type == "year":
        return {"type": "string", "pattern": r"^\d{4}$"}
    if param.type == "integer":
        return {"type": "string", "pattern": r"^-?\d{1,18}$"}
    if param.type == "enum":
        return {"type": "string", "enum": sorted(param.values)}
    if param.type == "thing":
        schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if param.cls:
            schema["x-pole-graph-class"] = param.cls
        return schema
    return {"type": "string", "minLength": 1}


def _describe(param: Param, lang: str) -> str:
    text = param.description.get(lang) or param.description.get("fr", "")
    if param.type == "thing":
        extra = {"fr": "Une clé, une IRI, un nom, un sigle ou un code ; accents et casse ignorés.",
                 "en": "A key, an IRI, a name, an acronym or a code; accents and case ignored."}[lang]
        text = f"{text}. {extra}" if text else extra
    return text


def _parameters(query: StoredQuery, lang: str) -> list[dict[str, Any]]:
    out = []
    for p in query.params:
        entry: dict[str, Any] = {"name": p.name, "in": "query", "required": p.required,
                                 "description": _describe(p, lang), "schema": param_schema(p)}
        example = next((e[p.name] for e in query.examples if p.name in e), None)
        if example is not None:
            entry["example"] = str(example)
        out.append(entry)
    return out


def _query_operations(query: StoredQuery, lang: str) -> dict[str, Any]:
    summary = query.summary.get(lang) or query.summary.get("fr", query.name)
    description = (query.description.get(lang) or query.description.get("fr", "")).strip()
    control = [{"$ref": "#/components/parameters/lang"}, {"$ref": "#/components/parameters/page"},
               {"$ref": "#/components/parameters/per_page"}, {"$ref": "#/components/parameters/format"}]
    responses = {
        "200": {"description": "Résultats" if lang == "fr" else "Results",
                "headers": {"Link": {"$ref": "#/components/headers/Link"},
                            "X-Total-Count": {"$ref": "#/components/headers/X-Total-Count"}},
                "content": {**RESULT_MEDIA, "text/html": TEXT}},
        "400": {"$ref": "#/components/responses/Problem"},
        "404": {"$ref": "#/components/responses/Problem"},
        "406": {"$ref": "#/components/responses/Problem"},
    }
    properties = {p.name: {**param_schema(p), "description": _describe(p, lang)} for p in query.params}
    body_schema = {"type": "object", "properties": properties, "additionalProperties": False,
                   "required": [p.name for p in query.params if p.required]}
    if not body_schema["required"]:
        del body_schema["required"]
    tags = list(query.tags) or ["queries"]
    return {
        "get": {"operationId": f"{query.name}", "summary": summary, "description": description, "tags": tags,
                "parameters": _parameters(query, lang) + control, "responses": responses},
        "post": {"operationId": f"{query.name}_post", "summary": summary, "description": description, "tags": tags,
                 "parameters": control,
                 "requestBody": {"content": {"application/json": {"schema": body_schema},
                                             "application/x-www-form-urlencoded": {"schema": body_schema}}},
                 "responses": responses},
    }


def openapi_document(catalogue: Catalogue, version: str, lang: str = "en", server: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the stored-query API and the fixed routes.

    >>> from pole_graph.project import Project
    >>> doc = openapi_document(Catalogue.load(Project.discover()), "0")
    >>> doc["openapi"], "/api/queries/poles" in doc["paths"]
    ('3.1.0', True)
    """
    fr = lang == "fr"
    paths: dict[str, Any] = {
        "/api/queries": {"get": {
            "operationId": "list_queries", "tags": ["catalogue"],
            "summary": "Les requêtes enregistrées" if fr else "The stored queries",
            "responses": {"200": {"description": "name, summary, parameters, examples of each query",
                                  "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}}}},
    }
    for name in catalogue.names():
        paths[f"/api/queries/{name}"] = _query_operations(catalogue.queries[name], lang)
    paths["/sparql"] = {
        "get": {"operationId": "sparql_get", "tags": ["sparql"],
                "summary": "SPARQL 1.1 query (protocol, GET)" if not fr else "Requête SPARQL 1.1 (protocole, GET)",
                "description": "Without `query`: the SPARQL service description (Turtle). Read-only: SERVICE, LOAD and FROM of a remote graph are refused.",
                "parameters": [{"name": "query", "in": "query", "required": False, "schema": {"type": "string"}},
                               {"name": "default-graph-uri", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}, "explode": True},
                               {"name": "named-graph-uri", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}, "explode": True}],
                "responses": {"200": {"description": "results or RDF", "content": {**RESULT_MEDIA, **{m: TEXT for m in RDF_MEDIA}}},
                              "400": {"$ref": "#/components/responses/Problem"},
                              "503": {"$ref": "#/components/responses/Problem"}}},
        "post": {"operationId": "sparql_post", "tags": ["sparql"],
                 "summary": "SPARQL 1.1 query or update (protocol, POST)" if not fr else "Requête ou mise à jour SPARQL 1.1 (protocole, POST)",
                 "description": "Updates need `Authorization: Bearer <token>` and are off unless the operator sets POLE_GRAPH_UPDATE_TOKEN.",
                 "requestBody": {"content": {"application/sparql-query": {"schema": {"type": "string"}},
                                             "application/sparql-update": {"schema": {"type": "string"}},
                                             "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {
                                                 "query": {"type": "string"}, "update": {"type": "string"}}}}}},
                 "responses": {"200": {"description": "results or RDF", "content": {**RESULT_MEDIA, **{m: TEXT for m in RDF_MEDIA}}},
                               "204": {"description": "update applied"},
                               "400": {"$ref": "#/components/responses/Problem"},
                               "401": {"$ref": "#/components/responses/Problem"},
                               "403": {"$ref": "#/components/responses/Problem"},
                               "415": {"$ref": "#/components/responses/Problem"}}},
    }
    paths["/api/validate"] = {"post": {
        "operationId": "validate", "tags": ["stewardship"],
        "summary": "Validate records before they enter the graph (writes nothing)" if not fr else "Valider des enregistrements avant leur entrée dans le graphe (n'écrit rien)",
        "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "array", "items": {"type": "string", "format": "binary"}}}}},
            **{m: {"schema": {"type": "string"}} for m in ("text/csv", "text/turtle", "application/n-triples",
                                                            "application/ld+json", "application/rdf+xml")}}},
        "parameters": [{"name": "type", "in": "query", "description": "record type of a CSV file (default: from its name)", "schema": {"type": "string"}},
                       {"name": "name", "in": "query", "description": "file name to report", "schema": {"type": "string"}}],
        "responses": {"200": {"description": "valid: the report", "content": {"application/json": {"schema": {"type": "object"}}}},
                      "422": {"description": "invalid: the report, each problem with file, line, field, what was expected",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                      "413": {"$ref": "#/components/responses/Problem"},
                      "415": {"$ref": "#/components/responses/Problem"}}}}
    paths["/data/pole-graph"] = {"get": {
        "operationId": "catalogue", "tags": ["catalogue"], "summary": "DCAT-AP 3 catalogue with VoID statistics",
        "responses": {"200": {"description": "the catalogue", "content": {m: {"schema": {"type": "string"}} for m in RDF_MEDIA}}}}}
    paths["/doc/{type}/{key}"] = {"get": {
        "operationId": "document", "tags": ["linked data"], "summary": "The description of one thing (HTML or RDF by Accept)",
        "parameters": [{"name": "type", "in": "path", "required": True, "schema": {"type": "string"}},
                       {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "the page or its RDF",
                              "content": {"text/html": {"schema": {"type": "string"}}, **{m: {"schema": {"type": "string"}} for m in RDF_MEDIA}}},
                      "404": {"$ref": "#/components/responses/Problem"},
                      "406": {"$ref": "#/components/responses/Problem"}}}}
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "pole-graph API", "version": version,
                 "summary": "Pôles de compétitivité: stored SPARQL queries, SPARQL endpoint, validation" if not fr else
                 "Pôles de compétitivité : requêtes SPARQL enregistrées, point d'accès SPARQL, validation",
                 "license": {"name": "Licence Ouverte / Etalab 2.0 (data); code: see the repository",
                             "url": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"}},
        "paths": paths,
        "components": {
            "parameters": {
                "lang": {"name": "lang", "in": "query", "description": "language of labels: fr (default) or en",
                         "schema": {"type": "string", "enum": ["fr", "en"]}},
                "page": {"name": "page", "in": "query", "description": "page number, from 1",
                         "schema": {"type": "integer", "minimum": 1, "default": 1}},
                "per_page": {"name": "per_page", "in": "query", "description": "rows per page",
                             "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                "format": {"name": "format", "in": "query", "description": "result format, instead of Accept",
                           "schema": {"type": "string", "enum": ["json", "xml", "csv", "tsv", "html"]}},
            },
            "headers": {
                "Link": {"description": "RFC 8288 links to the first, previous, next and last pages", "schema": {"type": "string"}},
                "X-Total-Count": {"description": "rows in the whole result", "schema": {"type": "integer"}},
            },
            "responses": {"Problem": {"description": "RFC 9457 problem details",
                                      "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
            "schemas": {
                "Problem": {"type": "object", "required": ["title", "status", "detail"], "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                    "detail": {"type": "string", "description": "the message of the engine or of the check that failed"},
                    "hint": {"type": "string"}, "alternatives": {"type": "array", "items": {"type": "string"}}}},
                "SparqlResults": {"type": "object", "properties": {
                    "head": {"type": "object", "properties": {"vars": {"type": "array", "items": {"type": "string"}}}},
                    "results": {"type": "object", "properties": {"bindings": {"type": "array", "items": {"type": "object"}}}},
                    "boolean": {"type": "boolean"}}},
            },
        },
        "tags": [{"name": t} for t in sorted({t for q in catalogue.queries.values() for t in q.tags})],
    }
    if server:
        doc["servers"] = [{"url": server}]
    return doc
