"""Store: the embedded on-disk store (pyoxigraph), written atomically, read concurrently.

Stage 4 of the build. A new store is written beside the old one and swapped in by renaming
folders, so a failed or interrupted build leaves the previous store exactly as it was. One writer
at a time (an exclusive lock file); any number of readers, each opening the store read-only.
A store folder holds ``oxigraph/`` (the database) and ``build.json`` (what was built, when, how).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import pyoxigraph as ox
from rdflib import Literal, URIRef
from rdflib.term import Node

from .errors import PoleGraphError, StoreLockedError, StoreMissingError
from .namespaces import ASSERTED_GRAPHS, GRAPH_INFERRED, GRAPH_SHAPES
from .terms import Triple, nt_term

DB_DIR = "oxigraph"
INFO_FILE = "build.json"


@contextlib.contextmanager
def writer_lock(path: Path, wait: float = 5.0) -> Iterator[None]:
    """Exclusive lock for writers of the store at ``path``.

    Readers taking a snapshot hold the same lock shared for a moment, so a writer waits up to
    ``wait`` seconds for them; another writer holding it is reported at once after that.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.parent / (path.name + ".lock")
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        _flock(fd, fcntl.LOCK_EX, wait, 0.05, lambda: StoreLockedError(
            f"{path}: another process is writing this store (locked by {lock_path})",
            hint="wait for it to finish, then run the command again"))
        held = (path.resolve(), threading.get_ident())
        _HELD.add(held)
        try:
            yield
        finally:
            _HELD.discard(held)
    finally:
        os.close(fd)


def _flock(fd: int, mode: int, wait: float, poll: float, locked: Callable[[], Exception]) -> None:
    """Take ``flock`` ``mode`` on ``fd``, retrying every ``poll`` s for ``wait`` s; then raise ``locked()``."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise locked() from None
            time.sleep(poll)


_HELD: set[tuple[Path, int]] = set()  # (store, thread) holding the writers' lock: its snapshots need no lock


@contextlib.contextmanager
def _shared_lock(path: Path, wait: float) -> Iterator[None]:
    if (path.resolve(), threading.get_ident()) in _HELD:  # this thread is the writer: nobody is half-way through
        yield
        return
    lock_path = path.parent / (path.name + ".lock")
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        _flock(fd, fcntl.LOCK_SH, wait, 0.1, lambda: StoreLockedError(
            f"{path}: a writer has held this store for more than {wait:g} s",
            hint="wait for the build or the steward's change to finish"))
        yield
    finally:
        os.close(fd)


SNAPSHOTS = ".snapshots"


def snapshot(path: Path, wait: float = 120.0) -> Path:
    """A private, frozen copy of the store at ``path`` for one long-lived reader (the server).

    pyoxigraph (RocksDB) says a read-only handle on a database another process writes is undefined
    behaviour; stewards write the store in place while a server runs. So the server reads a
    snapshot instead: the immutable table files hard-linked (no copy, no extra space until a
    writer compacts them away), the small mutable ones (manifest, write-ahead log, options)
    copied, taken under the writers' lock held shared, so no writer is half-way through. Returns
    the snapshot folder (laid out like a store); ``drop_snapshot`` removes it.
    """
    path = Path(path)
    _recover(path)
    if not (path / DB_DIR).is_dir():
        raise StoreMissingError(f"{path}: no store here", hint="run `pole-graph build` first, or pass --store PATH")
    root = path.parent / (path.name + SNAPSHOTS)
    root.mkdir(exist_ok=True)
    for stale in root.iterdir():  # left by readers that died
        pid = stale.name.split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    target = root / f"{os.getpid()}-{time.time_ns()}"
    with _shared_lock(path, wait):
        _recover(path)
        (target / DB_DIR).mkdir(parents=True)
        for f in (path / DB_DIR).iterdir():
            if f.name == "LOCK" or f.name.startswith("LOG"):
                continue
            if f.suffix == ".sst":
                os.link(f, target / DB_DIR / f.name)
            else:
                shutil.copy2(f, target / DB_DIR / f.name)
        if (path / INFO_FILE).exists():
            shutil.copy2(path / INFO_FILE, target / INFO_FILE)
    return target


def drop_snapshot(target: Path) -> None:
    if SNAPSHOTS in Path(target).parent.name:
        shutil.rmtree(target, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _recover(path: Path) -> None:
    """Finish or undo a swap that a crash interrupted: the store is old or new, never missing."""
    if path.exists():
        for stale in path.parent.glob(path.name + ".old-*"):
            shutil.rmtree(stale, ignore_errors=True)
        return
    olds = sorted(path.parent.glob(path.name + ".old-*"))
    if olds:
        olds[-1].rename(path)


def graph_to_ntriples(triples: Iterable[Triple], name: URIRef | str | None = None) -> bytes:
    """N-Triples of an rdflib graph or any iterable of rdflib triples, for pyoxigraph's bulk loader;
    N-Quads in the graph ``name`` if given.

    Written here rather than by rdflib's serializer (1.5× slower), each IRI encoded once.
    """
    memo: dict[Node, str] = {}
    out: list[str] = []
    append = out.append
    end = f" <{name}> .\n" if name is not None else " .\n"
    for s, p, o in triples:
        append(f"{memo.get(s) or memo.setdefault(s, nt_term(s))} {memo.get(p) or memo.setdefault(p, nt_term(p))} "
               f"{nt_term(o) if type(o) is Literal else (memo.get(o) or memo.setdefault(o, nt_term(o)))}{end}")
    return "".join(out).encode("utf-8")


def write_store(path: Path, graphs: Mapping[URIRef, Iterable[Triple]], info: dict,
                check: Callable[[ox.Store], None] | None = None) -> dict[str, int]:
    """Write a new store at ``path`` from named graphs, replacing any previous one atomically.

    ``check``, if given, is called with the new store once it is loaded and before it replaces
    the previous one; an exception from it (e.g. the graph does not conform) leaves the previous
    store as it was.

    Returns the number of triples per graph, read back from the new store. A full disk (or any
    other failure to write) is a PoleGraphError naming it, and leaves the previous store as it was.
    """
    with StoreWriter(path) as writer:
        writer.load(graphs)
        return writer.commit(info, check)


class StoreWriter:
    """A new store, written beside the current one in steps, then swapped in by ``commit``.

    Entering takes the writers' lock and makes the staging folder. ``load`` turns graphs into
    N-Quads at once and bulk-loads them in a background thread (pyoxigraph lets go of the GIL), so
    a build can reason while its asserted graphs load. ``commit`` waits for the loads, runs
    ``check`` on the new store, counts each graph, writes build.json and swaps the folders.
    Leaving the block without a commit (any error, a failed check) deletes the staging folder: the
    previous store is exactly as it was. A full disk, or any other failure to write, is a
    PoleGraphError naming it.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.staging = self.path.parent / f"{self.path.name}.new-{os.getpid()}"
        self.store: ox.Store | None = None
        self.names: list[URIRef] = []
        self._loads: list[Future] = []
        self._pool: ThreadPoolExecutor | None = None
        self._lock: contextlib.AbstractContextManager | None = None
        self._committed = False

    def __enter__(self) -> "StoreWriter":
        try:
            self._lock = writer_lock(self.path)
            self._lock.__enter__()
        except OSError as exc:
            raise write_error(self.path, exc, "the previous store is unchanged") from exc
        try:
            _recover(self.path)
            for stale in self.path.parent.glob(self.path.name + ".new-*"):  # left by writers killed mid-build: none is live, we hold the lock
                shutil.rmtree(stale, ignore_errors=True)
            self.staging.mkdir(parents=True)
            self.store = ox.Store(str(self.staging / DB_DIR))
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="pole-graph-bulk-load")
        except BaseException as exc:
            self.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def load(self, graphs: Mapping[URIRef, Iterable[Triple]]) -> None:
        """Add named graphs to the new store: serialised now, loaded in the background.

        All the graphs of one call go in one bulk load: each load builds and ingests its own files
        (three loads took 16 s at 1M triples, one 10 s)."""
        assert self.store is not None and self._pool is not None, "load() outside the with block"
        data = b"".join(graph_to_ntriples(graph, name) for name, graph in graphs.items())
        self.names += list(graphs)
        self._loads.append(self._pool.submit(self.store.bulk_load, data, ox.RdfFormat.N_QUADS))

    def commit(self, info: dict, check: Callable[[ox.Store], None] | None = None) -> dict[str, int]:
        """Wait for the loads, check, count, write build.json and swap the new store in."""
        assert self.store is not None, "commit() outside the with block"
        for load in self._loads:
            load.result()
        self.store.flush()
        if check is not None:
            check(self.store)
        counts = {str(name): _count(self.store, name) for name in self.names}
        self.store = None  # closed before the folders move
        info = dict(info, counts=counts, written=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        (self.staging / INFO_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False), encoding="utf-8")
        old = self.path.parent / f"{self.path.name}.old-{os.getpid()}"
        if self.path.exists():
            self.path.rename(old)
        self.staging.rename(self.path)
        self._committed = True
        shutil.rmtree(old, ignore_errors=True)
        return counts

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if not self._committed:
                for load in self._loads:  # a bulk load cannot be interrupted: let it end, then delete
                    load.exception()
                self.store = None  # closed before its files go, so their space comes back now
                shutil.rmtree(self.staging, ignore_errors=True)
                _recover(self.path)
        finally:
            if self._pool is not None:
                self._pool.shutdown()
            if self._lock is not None:
                self._lock.__exit__(None, None, None)
        if isinstance(exc, OSError):
            raise write_error(self.path, exc, "the previous store is unchanged") from exc


def write_error(path: Path | None, exc: OSError, state: str) -> PoleGraphError:
    """An OSError met while writing the store at ``path`` (RocksDB's come without errno, its text
    names the cause), as a message that says what happened to the store and what to do."""
    text = str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left" in text or "quota exceeded" in text:
        what, hint = "no space left on the disk", f"free some space on the disk that holds {path}, then run the command again"
    elif exc.errno == errno.EFBIG or "File too large" in text:
        what, hint = "a file grew past the size limit", "raise the file size limit (ulimit -f), then run the command again"
    else:
        what, hint = "the disk refused a write", "check the disk and the folder's permissions, then run the command again"
    error = PoleGraphError(f"{path}: cannot write the store: {what} ({exc.strerror or text}); {state}", hint=hint)
    error.http_status = 507
    return error


def mark_updated(path: Path, by: str) -> dict:
    """Record in build.json that the store changed after its build (a steward's commit, a SPARQL
    update): servers watch this file to know when to reopen the store and drop their caches."""
    import time

    info_path = Path(path) / INFO_FILE
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
    info["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    info["updated_by"] = by
    info["revision"] = int(info.get("revision", 0)) + 1
    staging = info_path.with_name(INFO_FILE + ".tmp")
    try:
        staging.write_text(json.dumps(info, indent=2, ensure_ascii=False), encoding="utf-8")
        staging.replace(info_path)
    except OSError:
        staging.unlink(missing_ok=True)  # a half-written copy (full disk): the old build.json stands
        raise
    return info


def _count(store: ox.Store, name: URIRef) -> int:
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}"
    return int(next(iter(store.query(query)))["n"].value)


@dataclass
class GraphStore:
    """A read-only handle on a built store."""

    path: Path
    db: ox.Store
    info: dict

    @classmethod
    def open(cls, path: Path | str) -> "GraphStore":
        path = Path(path)
        _recover(path)
        if not (path / DB_DIR).is_dir():
            raise StoreMissingError(f"{path}: no store here", hint="run `pole-graph build` first, or pass --store PATH")
        info_path = path / INFO_FILE
        info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
        return cls(path, ox.Store.read_only(str(path / DB_DIR)), info)

    def query(self, sparql: str):
        """Run SPARQL with the knowledge graph (asserted + inferred) as the default graph; the other
        named graphs (shapes, index, history) stay reachable with GRAPH."""
        return self.db.query(sparql, default_graph=KNOWLEDGE_GRAPH)

    def dump(self, fmt: ox.RdfFormat, graphs: tuple[URIRef, ...]) -> bytes:
        """Serialise the chosen graphs: quads formats keep graph names, triple formats merge them."""
        if fmt in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG):
            selected = ox.Store()
            for name in graphs:
                for quad in self.db.quads_for_pattern(None, None, None, ox.NamedNode(str(name))):
                    selected.add(quad)
            return selected.dump(format=fmt)
        merged = ox.Store()
        for name in graphs:
            for quad in self.db.quads_for_pattern(None, None, None, ox.NamedNode(str(name))):
                merged.add(ox.Quad(quad.subject, quad.predicate, quad.object, ox.DefaultGraph()))
        from .namespaces import PREFIXES
        return merged.dump(format=fmt, from_graph=ox.DefaultGraph(),
                           prefixes=PREFIXES if fmt in (ox.RdfFormat.TURTLE,) else None)


def open_store(settings: Any) -> Any:
    """The store the settings name: the remote SPARQL 1.1 server of ``settings.endpoint`` when one
    is set (``remote.RemoteStore``), else the embedded store at ``settings.store`` (``GraphStore``).
    Both read the same way: ``query(sparql)`` over the knowledge graph, ``info``, ``dump``, ``db``."""
    if getattr(settings, "endpoint", None):
        from .remote import RemoteStore, endpoints_from

        return RemoteStore.open(endpoints_from(settings))
    return GraphStore.open(settings.store)


KNOWLEDGE_GRAPH = [ox.NamedNode(str(g)) for g in ASSERTED_GRAPHS + (GRAPH_INFERRED,)]

GRAPH_SELECTIONS = {
    "asserted": ASSERTED_GRAPHS,
    "inferred": (GRAPH_INFERRED,),
    "shapes": (GRAPH_SHAPES,),
    "all": ASSERTED_GRAPHS + (GRAPH_INFERRED,),
}
