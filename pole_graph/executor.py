"""Executor: run untrusted SPARQL in worker processes that a deadline really stops.

Part of *publish* (the SPARQL endpoint). pyoxigraph cannot be interrupted from Python once a query
runs, so each query goes to a worker process holding its own read-only handle on the store; if
the answer is not back by the deadline, the worker is killed (the work stops, its memory is given
back) and replaced. Results are serialised in the worker, with a row cap. Nothing here parses
HTTP or decides what is allowed: the caller checks the query first.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import PoleGraphError, QueryError

WORKER_NICENESS = 10  # added to the query workers' niceness (lower CPU priority than the server)


class QueryTimeout(PoleGraphError):
    http_status = 503


class WorkerDied(PoleGraphError):
    http_status = 503


@dataclass
class Answer:
    kind: str          # "table", "boolean" or "graph"
    body: bytes
    media_type: str
    truncated: bool
    rows: int
    seconds: float


def _cap_memory(extra: int) -> None:
    """Let this process's address space grow by at most ``extra`` bytes beyond what it has now: a
    query needing more fails its allocation, and the worker dies (or answers MemoryError) instead of
    the host running out of memory."""
    import resource

    size = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + extra
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))


def _worker(conn, db_path: str, memory: int = 0) -> None:  # runs in the child process
    import pyoxigraph as ox

    from .formats import RDF_FORMATS, serialize_result
    from .queries import QueryResult

    # Ad-hoc queries run below the server's priority: a query burning its whole deadline then
    # slows the pages, documents and stored queries answered in the server process far less.
    try:
        os.nice(WORKER_NICENESS)
    except OSError:  # not permitted here: run at the server's priority
        pass
    store = ox.Store.read_only(db_path)
    if memory > 0:
        try:
            _cap_memory(memory)
        except (OSError, ValueError):  # no /proc or no RLIMIT_AS here: uncapped
            pass
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        started = time.perf_counter()
        try:
            kwargs = {"base_iri": request["base_iri"]}
            if request["default_graphs"] is not None:  # [] is an empty default graph, as the protocol means it
                kwargs["default_graph"] = [ox.NamedNode(g) for g in request["default_graphs"]]
            if request["named_graphs"] is not None:
                kwargs["named_graphs"] = [ox.NamedNode(g) for g in request["named_graphs"]]
            solutions = store.query(request["query"], **kwargs)
            cap = request["max_rows"]
            if isinstance(solutions, ox.QueryBoolean):
                result = QueryResult([], [], boolean=bool(solutions))
                body = serialize_result(result, request["result_format"]).encode("utf-8")
                conn.send(("ok", "boolean", body, False, 1, time.perf_counter() - started))
            elif isinstance(solutions, ox.QueryTriples):
                out = ox.Store()
                truncated, n = False, 0
                for t in solutions:
                    if n >= cap:
                        truncated = True
                        break
                    out.add(ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()))
                    n += 1
                fmt = RDF_FORMATS[request["rdf_format"]][0]
                body = out.dump(format=fmt, from_graph=ox.DefaultGraph())
                conn.send(("ok", "graph", body, truncated, n, time.perf_counter() - started))
            else:
                columns = [v.value for v in solutions.variables]
                rows, truncated = [], False
                for s in solutions:
                    if len(rows) >= cap:
                        truncated = True
                        break
                    rows.append([s[c] for c in columns])
                body = serialize_result(QueryResult(columns, rows), request["result_format"]).encode("utf-8")
                conn.send(("ok", "table", body, truncated, len(rows), time.perf_counter() - started))
        except SyntaxError as exc:
            conn.send(("syntax", str(exc)))
        except MemoryError:  # past the memory cap in Python code: this worker is not trusted further
            conn.send(("memory",))
            return
        except Exception as exc:  # the engine's message goes back to the client
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Worker:
    def __init__(self, ctx, db_path: str, generation: int = 0, memory: int = 0) -> None:
        self.generation = generation  # the pool's restart count when it opened the store
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker, args=(child, db_path, memory), daemon=True)
        self.process.start()
        child.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


def _out_of_memory(worker: _Worker) -> bool:
    """Whether a dead worker was aborted (SIGABRT: Rust's answer to a failed allocation)."""
    import signal

    return worker.process.exitcode == -signal.SIGABRT


class QueryPool:
    """A few worker processes answering SPARQL with a deadline and a row cap."""

    def __init__(self, store_path: Path, size: int = 2, deadline: float = 30.0, max_rows: int = 10_000,
                 memory: int = 0) -> None:
        self.db_path = str(Path(store_path) / "oxigraph")
        self.size, self.deadline, self.max_rows = size, deadline, max_rows
        self.memory = memory  # bytes each worker may grow by for a query (0: no cap)
        self._ctx = mp.get_context("spawn")
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(size)
        self._closed = False
        self._generation = 0
        self.killed = 0
        for _ in range(size):
            self._idle.append(self._spawn())

    def _spawn(self) -> _Worker:
        return _Worker(self._ctx, self.db_path, self._generation, self.memory)

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                w = self._idle.pop()
                if w.process.is_alive():
                    return w
            return self._spawn()

    def _give(self, worker: _Worker) -> None:
        with self._lock:
            if not self._closed and worker.generation == self._generation:
                self._idle.append(worker)
                return
        worker.kill()  # busy while the pool restarted or closed: its handle is on a store no longer served

    def run(self, query: str, *, result_format: str = "json", rdf_format: str = "ttl",
            default_graphs: list[str] | None = None, named_graphs: list[str] | None = None,
            base_iri: str | None = None, deadline: float | None = None) -> Answer:
        """Answer one query in a worker; ``None`` graphs leave the engine's (or the query's FROM) dataset.

        Raises:
            QueryError: the query does not parse, or the engine failed on it.
            QueryTimeout: no answer by the deadline (the worker was killed).
            WorkerDied: the worker stopped before it answered.
        """
        deadline = self.deadline if deadline is None else deadline
        started = time.perf_counter()
        if not self._slots.acquire(timeout=deadline):
            raise QueryTimeout(f"the endpoint is busy: no query slot freed within {deadline:g} s",
                               hint="try again in a moment")
        request = {"query": query, "default_graphs": default_graphs, "named_graphs": named_graphs,
                   "base_iri": base_iri, "max_rows": self.max_rows, "result_format": result_format,
                   "rdf_format": rdf_format}
        try:
            while True:
                worker = self._take()
                remaining = max(0.0, deadline - (time.perf_counter() - started))
                try:
                    worker.conn.send(request)
                    answered = worker.conn.poll(remaining)
                    reply = worker.conn.recv() if answered else None
                except (EOFError, OSError):  # the worker died (out of memory, killed)
                    answered, reply = True, ("died",)
                if not answered:
                    worker.kill()
                    self.killed += 1
                    if not self._closed:
                        self._give(self._spawn())
                    raise QueryTimeout(f"the query ran past its deadline of {deadline:g} s and was stopped",
                                       hint="narrow it (a LIMIT, more selective patterns), or run it on a dump")
                # A worker of a store the pool has since left may find that snapshot gone (dropped
                # before it opened it): that is no answer, so a current worker is asked instead,
                # within the same deadline.
                retired = worker.generation != self._generation
                io_error = reply[0] == "error" and reply[1].startswith(("OSError", "FileNotFoundError"))
                if retired and (reply[0] == "died" or io_error):
                    worker.kill()
                    continue
                if reply[0] in ("died", "memory"):
                    worker.kill()
                    if reply[0] == "memory" or _out_of_memory(worker):
                        raise WorkerDied(f"the query needed more memory than a query may use ({self.memory >> 20} MB) "
                                         "and was stopped", hint="narrow it (a LIMIT, more selective patterns), "
                                         "or run it on a dump")
                    raise WorkerDied("the process answering the query stopped before it answered",
                                     hint="try again; a query needing too much memory is stopped too")
                self._give(worker)
                break
        finally:
            self._slots.release()
        if reply[0] == "syntax":
            raise QueryError(f"SPARQL syntax error: {reply[1]}")
        if reply[0] == "error":
            raise QueryError(f"the query engine failed: {reply[1]}")
        _, kind, body, truncated, rows, seconds = reply
        from .formats import RDF_FORMATS, RESULT_FORMATS

        media = RDF_FORMATS[rdf_format][1] if kind == "graph" else RESULT_FORMATS[result_format]
        return Answer(kind, body, media, truncated, rows, seconds)

    def restart(self) -> None:
        """New workers (after the store changed: they reopen it)."""
        with self._lock:
            self._generation += 1
            old, self._idle = self._idle, []
        for w in old:
            w.kill()
        for _ in range(self.size):
            self._give(self._spawn())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            old, self._idle = self._idle, []
        for w in old:
            w.kill()
