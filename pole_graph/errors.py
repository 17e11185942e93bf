"""Errors: one exception family, each class carrying its exit code and HTTP status.

Lower-level errors (pyoxigraph, rdflib, pySHACL, csv) are translated at the boundary into these,
so users read "data/poles.csv line 12, column website: not a web address", never a traceback.

    PoleGraphError                 exit 2, HTTP 500   anything we raise on purpose
    ├── UsageError                 exit 2, HTTP 400   wrong arguments or options
    ├── ContentError               exit 2, HTTP 400   unreadable or malformed input (file, line, column)
    ├── StoreMissingError          exit 2, HTTP 503   no built store at the given path
    ├── StoreLockedError           exit 2, HTTP 409   another writer holds the store
    ├── QueryError                 exit 2, HTTP 400   a query that cannot run (syntax, engine error)
    │   ├── UnknownQueryError      exit 2, HTTP 404   no stored query of that name
    │   └── ParameterError         exit 2, HTTP 400   a parameter value that is not acceptable
    ├── InconsistencyError         exit 1, HTTP 422   OWL 2 RL reasoning found a contradiction
    └── NotConformantError         exit 1, HTTP 422   SHACL validation failed (carries the report)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as we can.

    >>> str(Problem("data/poles.csv", "website", "not a web address", line=12, expected="http(s)://…"))
    'data/poles.csv line 12, column website: not a web address (expected http(s)://…)'
    """

    file: str
    field: str | None
    message: str
    line: int | None = None
    column: int | None = None
    expected: str | None = None
    message_fr: str | None = None
    expected_fr: str | None = None
    fix: str | None = None
    fix_fr: str | None = None
    record: str | None = None

    def text(self, what: str, lang: str) -> str | None:
        """``message``, ``expected`` or ``fix`` in French or English (English when no French)."""
        if lang == "fr":
            return getattr(self, f"{what}_fr") or getattr(self, what)
        return getattr(self, what)

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f" line {self.line}"
            if self.column is not None:
                where += f":{self.column}"
        if self.field:
            where += f", column {self.field}" if self.file.endswith(".csv") else f", {self.field}"
        text = f"{where}: {self.message}"
        if self.expected:
            text += f" (expected {self.expected})"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and not k.endswith("_fr")}


class PoleGraphError(Exception):
    """Base class: every error pole-graph raises on purpose."""

    exit_code = 2
    http_status = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message + (f"\n  hint: {self.hint}" if self.hint else "")


class UsageError(PoleGraphError):
    http_status = 400


class ContentError(PoleGraphError):
    """Malformed content; `problems` lists every one found, not just the first."""

    http_status = 400

    def __init__(self, problems: list[Problem] | Problem, *, hint: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        count = len(self.problems)
        head = str(self.problems[0]) if count == 1 else f"{count} problems in the content:"
        body = "" if count == 1 else "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(head + body, hint=hint)


class StoreMissingError(PoleGraphError):
    http_status = 503


class StoreLockedError(PoleGraphError):
    http_status = 409


class QueryError(PoleGraphError):
    http_status = 400


class UnknownQueryError(QueryError):
    http_status = 404


class ParameterError(QueryError):
    http_status = 400


class InconsistencyError(PoleGraphError):
    """The OWL 2 RL closure is inconsistent (disjoint classes share a member, a wrong sameAs…)."""

    exit_code = 1
    http_status = 422

    def __init__(self, messages: list[str]) -> None:
        self.messages = list(messages)
        super().__init__(
            "OWL 2 RL reasoning found the graph inconsistent:\n"
            + "\n".join(f"  - {m}" for m in self.messages)
        )


class NotConformantError(PoleGraphError):
    """SHACL validation failed; `report` is the ValidationReport."""

    exit_code = 1
    http_status = 422

    def __init__(self, report: Any, text: str) -> None:
        self.report = report
        super().__init__(text)
