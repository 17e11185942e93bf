"""Project: where the content is. The one place that walks folders.

Content (ontology/, data/, queries/) is edited by domain experts; the engine only discovers it.
Installed from a wheel, the content ships inside the package (``pole_graph/_content``); in a source
checkout or an editable install, it is the repository's top-level folders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError

_PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Project:
    """Paths of every content file, sorted, found once.

    >>> p = Project.discover()
    >>> any(f.name == "core.ttl" for f in p.ontology_files)
    True
    """

    root: Path
    ontology_files: tuple[Path, ...]
    scheme_files: tuple[Path, ...]
    shape_files: tuple[Path, ...]
    data_csv_files: tuple[Path, ...]
    data_ttl_files: tuple[Path, ...]
    query_files: tuple[Path, ...]

    @classmethod
    def discover(cls, root: Path | str | None = None) -> "Project":
        """Find the content under ``root``, or the installed content, or the source tree."""
        base = Path(root) if root is not None else _default_root()
        if not (base / "ontology").is_dir():
            raise UsageError(
                f"{base}: no ontology/ folder here",
                hint="point --project (or POLE_GRAPH_PROJECT) at a folder holding ontology/, data/ and queries/",
            )

        def files(folder: str, pattern: str) -> tuple[Path, ...]:
            d = base / folder
            return tuple(sorted(d.glob(pattern))) if d.is_dir() else ()

        return cls(
            root=base,
            ontology_files=files("ontology", "*.ttl"),
            scheme_files=files("ontology/schemes", "*.ttl"),
            shape_files=files("ontology/shapes", "*.ttl"),
            data_csv_files=files("data", "*.csv"),
            data_ttl_files=files("data", "*.ttl"),
            query_files=files("queries", "*.rq"),
        )

    def relpath(self, path: Path) -> str:
        """A path as users see it in messages: relative to the project root."""
        try:
            return str(Path(path).resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    @property
    def all_files(self) -> tuple[Path, ...]:
        return (self.ontology_files + self.scheme_files + self.shape_files
                + self.data_csv_files + self.data_ttl_files + self.query_files)


def _default_root() -> Path:
    installed = _PACKAGE_DIR / "_content"
    if (installed / "ontology").is_dir():
        return installed
    return _PACKAGE_DIR.parent
