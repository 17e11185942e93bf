"""pole-graph: a knowledge graph of the French pôles de compétitivité and their international side.

The public API: build the graph, open the store, run stored or ad-hoc SPARQL queries.

>>> import pole_graph
>>> sorted(pole_graph.__all__)[:3]
['BuildReport', 'Catalogue', 'ContentError']
"""

__version__ = "0.2.0"

from .errors import (  # noqa: E402
    ContentError, InconsistencyError, NotConformantError, ParameterError, PoleGraphError, QueryError,
    StoreMissingError, UnknownQueryError,
)
from .project import Project  # noqa: E402
from .settings import Settings  # noqa: E402
from .build import BuildReport, build  # noqa: E402
from .store import GraphStore  # noqa: E402
from .queries import Catalogue, QueryResult, run_sparql, run_stored  # noqa: E402

__all__ = [
    "__version__", "build", "BuildReport", "Catalogue", "ContentError", "GraphStore",
    "InconsistencyError", "NotConformantError", "ParameterError", "PoleGraphError", "Project",
    "QueryError", "QueryResult", "Settings", "StoreMissingError", "UnknownQueryError", "run_sparql",
    "run_stored",
]
