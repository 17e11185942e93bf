"""Crash safety (issue 7, item 6): kill -9 during `add` and during `build`, a full disk, a second writer.

Each writer runs in a child forked from a forkserver that imported pole_graph once (a fresh
interpreter costs 1–2 s of imports per iteration), so 50 kills of each kind fit in the time limit.
The forkserver is a clean single-threaded process: no child inherits RocksDB threads or handles.
The parent opens a store only between children, never while one writes it.

After each kill: the store opens read-write without repair, a query and ``history`` work, the
writers' lock is free, and the store holds the record whole (every triple, inference, index entry
and the PROV-O activity a completed add writes) or not at all; a build leaves the previous store
intact or the new one complete, and the next build clears what the killed one left. Half of the
kills are spread over a whole run, half over the moment of writing (the commit, the store stage),
found by a mark the child sends as it enters it. Each test prints what it measured.

A full disk (a small tmpfs; RLIMIT_FSIZE where mounting is not permitted) gives a message naming
it, never a traceback, and the store holds what it held, or, when only the final flush failed, the
whole change the message says is in the store's log. A writer that finds another one at work says
the store is locked.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import math
import multiprocessing
import os
import random
import re
import shutil
import signal
import subprocess
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Iterator

import pyoxigraph as ox
import pytest

from pole_graph import GraphStore
from pole_graph.cli import main
from pole_graph.errors import PoleGraphError, StoreLockedError
from pole_graph.namespaces import GRAPH_DATA, GRAPH_HISTORY, GRAPH_INDEX, GRAPH_INFERRED
from pole_graph.store import DB_DIR, INFO_FILE, writer_lock

ITERATIONS = 50
SEED = 20240607
ID = "https://w3id.org/pole-graph/id/"
SOURCE = "https://example.org/annonce-partenariat"
RECORDS = {  # two records in one add: both go in, or neither
    "partenaire.csv": "key,kind,name_fr,name_en,country,locality,website,source\n"
                      "biotech-quebec-test,foreign-cluster,Grappe biotech du Québec (essai),Quebec biotech cluster (test),"
                      f"CAN,Québec,https://www.biotech-qc.example/,{SOURCE}\n",
    "partnerships.csv": "key,pole,partner,year,description_fr,description_en,source\n"
                        "lyonbiopole-biotech-quebec-test,lyonbiopole,biotech-quebec-test,2024,Partenariat d'essai.,"
                        f"Test partnership.,{SOURCE}\n",
}
RECORD_IRIS = (f"<{ID}org/biotech-quebec-test>", f"<{ID}partnership/lyonbiopole-biotech-quebec-test>")


# ---- children: forked from a forkserver that has imported pole_graph ------------------------------

class _Sigevent(ctypes.Structure):  # struct sigevent (64 bytes on Linux)
    _fields_ = [("value", ctypes.c_void_p), ("signo", ctypes.c_int), ("notify", ctypes.c_int), ("pad", ctypes.c_byte * 48)]


class _Timespec(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("interval", _Timespec), ("value", _Timespec)]


def arm_kill(delay: float) -> None:
    """SIGKILL this process in ``delay`` seconds, sent by the kernel (a POSIX timer): to the
    microsecond, even inside a call into RocksDB, where a kill from the parent comes too late
    (a steward's transaction takes under a millisecond; the swap of two folders, microseconds)."""
    libc = ctypes.CDLL(None, use_errno=True)
    timer = ctypes.c_void_p()
    event = _Sigevent(signo=signal.SIGKILL, notify=0)  # SIGEV_SIGNAL
    if libc.timer_create(time.CLOCK_MONOTONIC, ctypes.byref(event), ctypes.byref(timer)) != 0:
        raise OSError(ctypes.get_errno(), "timer_create")
    ns = max(1, int(delay * 1e9))
    if libc.timer_settime(timer, 0, ctypes.byref(_Itimerspec(value=_Timespec(ns // 10**9, ns % 10**9))), None) != 0:
        raise OSError(ctypes.get_errno(), "timer_settime")


def _forkserver():
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["pole_graph.cli", "pole_graph.build", "pole_graph.steward", "tests.test_crash"])
    return ctx


def _child_cli(argv: list[str], conn, hook: str | None = None, limit: int | None = None,
               kill_after: float | None = None) -> None:
    """Run ``main(argv)`` in-process; send ("mark", t) when the hooked step starts, then the outcome."""
    if limit is not None:  # the fallback for a full disk when no tmpfs can be mounted
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    if hook:
        _install_hook(hook, conn, kill_after)
    out, err = io.StringIO(), io.StringIO()
    try:
        code = main(argv, stdout=out, stderr=err)
    except BaseException:  # a traceback is a failure of the test, reported as such
        conn.send(("crashed", 70, out.getvalue(), err.getvalue() + traceback.format_exc()))
        return
    conn.send(("exit", code, out.getvalue(), err.getvalue()))


def _install_hook(hook: str, conn, kill_after: float | None = None) -> None:
    """Mark (and in the lock tests, hold) the moment a child starts writing: a steward's commit, a
    build's store stage; with ``kill_after``, SIGKILL the child that long after the commit begins.
    Test instrumentation in the child only: the code that runs is unchanged."""
    import pole_graph.store
    from pole_graph.steward import Steward

    hold = hook.startswith("hold-")
    if hook.endswith("commit"):
        original = Steward.commit

        def commit(self, *args, **kwargs):
            conn.send(("mark", time.monotonic()))
            if kill_after is not None:
                arm_kill(kill_after)
            if hold:
                conn.recv()
            activity = original(self, *args, **kwargs)
            conn.send(("committed", time.monotonic()))
            return activity
        Steward.commit = commit
    elif hook.endswith("write"):
        original_enter = pole_graph.store.StoreWriter.__enter__
        original_nt = pole_graph.store.graph_to_ntriples

        def enter(self):  # the store stage begins: the build takes the lock and starts loading
            conn.send(("mark", time.monotonic()))
            return original_enter(self)

        def graph_to_ntriples(graph, name=None):  # called under the writers' lock, in the staging folder
            if hold:
                conn.send(("holding", time.monotonic()))
                conn.recv()
                pole_graph.store.graph_to_ntriples = original_nt
            return original_nt(graph, name)
        pole_graph.store.StoreWriter.__enter__ = enter
        pole_graph.store.graph_to_ntriples = graph_to_ntriples


def _child_write(path: str, graphs: dict[str, bytes], info: dict, conn, kill_at_swap: float | None = None) -> None:
    """The build's store stage alone (``write_store``), on the graphs of a build made once up front:
    load, reason and validate write nothing, and this is the part that writes. With
    ``kill_at_swap``, SIGKILL it that long after the swap's first rename begins."""
    import pole_graph.store

    pole_graph.store.graph_to_ntriples = lambda graph, name=None: graph  # already N-Quads
    if kill_at_swap is not None:
        rename = Path.rename

        def renaming(self, target):
            if Path(target).name.startswith(Path(path).name + ".old-"):  # the swap: store -> old, then staging -> store
                conn.send(("swap", time.monotonic()))
                arm_kill(kill_at_swap)
            return rename(self, target)
        Path.rename = renaming
    conn.send(("mark", time.monotonic()))
    try:
        counts = pole_graph.store.write_store(Path(path), graphs, info)
    except BaseException:
        conn.send(("crashed", 70, "", traceback.format_exc()))
        return
    conn.send(("exit", 0, json.dumps(counts), ""))


class Child:
    """A child process and the pipe it reports on."""

    def __init__(self, ctx, target, *args, **kwargs) -> None:
        self.conn, child_conn = ctx.Pipe()
        self.started = time.monotonic()
        self.process = ctx.Process(target=target, args=(*args, child_conn), kwargs=kwargs)
        self.process.start()
        child_conn.close()
        self.mark: float | None = None
        self.holding: float | None = None
        self.committed: float | None = None
        self.swap: float | None = None
        self.outcome: tuple | None = None

    def wait_mark(self, timeout: float = 60, what: str = "mark") -> float | None:
        """When the child entered the hooked step (monotonic time), or None if it ended first;
        ``what="holding"``: when it stopped there, holding the writers' lock."""
        deadline = time.monotonic() + timeout
        while getattr(self, what) is None and self.outcome is None and time.monotonic() < deadline:
            if self.conn.poll(0.01):
                self._read()
        return getattr(self, what)

    def _read(self) -> None:
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            self.outcome = self.outcome or ("killed", -9, "", "")
            return
        if message[0] == "mark":
            self.mark = self.mark or message[1]
        elif message[0] in ("holding", "committed", "swap"):
            setattr(self, message[0], message[1])
        else:
            self.outcome = message

    def kill(self) -> bool:
        """SIGKILL the child if it still runs; True if it died of a SIGKILL (this one or its own timer)."""
        if self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(30)
        return self.process.exitcode == -signal.SIGKILL

    def result(self, timeout: float = 120) -> tuple:
        deadline = time.monotonic() + timeout
        while self.outcome is None and time.monotonic() < deadline:
            if self.conn.poll(0.05):
                self._read()
            elif not self.process.is_alive() and not self.conn.poll(0.05):
                break
        self.process.join(30)
        return self.outcome or ("died", self.process.exitcode, "", "")


# ---- reading a store back --------------------------------------------------------------------------

ACTIVITY = re.compile(r"<https://w3id\.org/pole-graph/id/activity/[^>]*>")
BNODE = re.compile(r"_:[A-Za-z0-9]+")
STARTED = "<http://www.w3.org/ns/prov#startedAtTime>"


def _normal(quad: ox.Quad) -> tuple[str, str, str, str]:
    """A quad as text, with blank node labels and the activity's name and time made anonymous
    (they differ from one add, or one load, to the next)."""
    s, p, o, g = (str(quad.subject), str(quad.predicate), str(quad.object), str(quad.graph_name))
    if p == STARTED:
        o = "TIME"
    return tuple(BNODE.sub("_:b", ACTIVITY.sub("<ACTIVITY>", t)) for t in (s, p, o, g))  # type: ignore[return-value]


def contents(path: Path) -> Counter:
    """Every quad of the store at ``path``, opened as a writer would open it (read-write, no repair
    step beyond the documented one: finishing or undoing an interrupted swap)."""
    import gc

    store = GraphStore.open(path)  # finishes or undoes an interrupted swap (store._recover)
    assert int(next(iter(store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")))["n"].value) > 0
    del store
    db = ox.Store(str(path / DB_DIR))
    try:
        return Counter(_normal(q) for q in db)
    finally:
        del db
        gc.collect()


def history_works(path: Path) -> None:
    code, out, err = run("history", "--store", path, "--format", "json")
    assert code == 0, err
    json.loads(out)


def lock_is_free(path: Path) -> bool:
    try:
        with writer_lock(path, wait=0):
            return True
    except StoreLockedError:
        return False


def run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def siblings(path: Path) -> set[str]:
    """What lies beside the store besides the store, its lock and its snapshots."""
    return {p.name for p in path.parent.iterdir()} - {path.name, path.name + ".lock"}


def reset(path: Path, source: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(source, path)


# ---- the references, made once --------------------------------------------------------------------

@pytest.fixture(scope="module")
def ctx():
    return _forkserver()


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("crash")


@pytest.fixture(scope="module")
def records(work) -> list[Path]:
    paths = []
    for name, text in RECORDS.items():
        (work / name).write_text(text, encoding="utf-8")
        paths.append(work / name)
    return paths


@pytest.fixture(scope="module")
def pristine(built, work) -> tuple[Path, Counter]:
    """A copy of the session's built store, and its quads."""
    path = work / "pristine" / "store"
    shutil.copytree(built[1].path, path)
    return path, contents(path)


@pytest.fixture(scope="module")
def added(ctx, work, pristine, records) -> dict:
    """One add run to completion on a copy of the pristine store, timed: the exact quads it adds
    (with what it infers, its index entries and its PROV-O activity), how long an add takes, and
    how long its commit takes."""
    path = work / "added" / "store"
    reset(path, pristine[0])
    child = Child(ctx, _child_cli, ["add", *map(str, records), "--store", str(path), "--by", "crash-test"], hook="commit")
    mark = child.wait_mark()
    kind, code, out, err = child.result()
    ended = time.monotonic()
    assert (kind, code) == ("exit", 0), out + err
    after = contents(path)
    assert not pristine[1] - after, "an add removes nothing"
    delta = after - pristine[1]
    graphs = Counter(q[3] for q in delta.elements())
    for graph in (GRAPH_DATA, GRAPH_INFERRED, GRAPH_INDEX, GRAPH_HISTORY):
        assert graphs[f"<{graph}>"] > 0, graph
    assert all(any(q[0] == iri for q in delta) for iri in RECORD_IRIS)
    return {"path": path, "quads": after, "delta": delta, "seconds": ended - child.started,
            "commit": child.committed - mark}


@pytest.fixture(scope="module")
def graphs(pristine) -> tuple[dict[str, bytes], dict]:
    """The named graphs a build of the project writes, as N-Quads (read back from the built store:
    the same graphs), and its build information."""
    import gc

    db = ox.Store.read_only(str(pristine[0] / DB_DIR))
    info = json.loads((pristine[0] / INFO_FILE).read_text(encoding="utf-8"))
    out = {name: ox.serialize(db.quads_for_pattern(None, None, None, ox.NamedNode(name)), format=ox.RdfFormat.N_QUADS)
           for name in info["counts"]}
    del db
    gc.collect()
    return out, {k: v for k, v in info.items() if k not in ("counts", "written", "updated", "updated_by", "revision")}


def record_state(found: Counter, before: Counter, delta: Counter) -> str:
    """'present' if the store is ``before`` plus the whole add, 'absent' if it is ``before``; fails otherwise."""
    assert not before - found, f"quads lost: {sorted((before - found).elements())[:5]}"
    extra = found - before
    if not extra:
        return "absent"
    missing = delta - extra
    surplus = extra - delta
    assert not missing and not surplus, (f"a partial record: {sum(missing.values())} quads of the add missing "
                                         f"(e.g. {sorted(missing)[:3]}), {sum(surplus.values())} unexpected "
                                         f"(e.g. {sorted(surplus)[:3]})")
    return "present"


# ---- 1. kill -9 during add --------------------------------------------------------------------------

def test_kill_9_during_add_leaves_each_record_whole_or_absent(ctx, work, pristine, added, records, capsys):
    rng = random.Random(SEED)
    path = work / "kill-add" / "store"
    reset(path, pristine[0])
    argv = ["add", *map(str, records), "--store", str(path), "--by", "crash-test"]
    tally: Counter = Counter()
    delays = []
    for i in range(ITERATIONS):
        info_before = (path / INFO_FILE).read_text(encoding="utf-8")
        if i % 2:  # kill -9 from the parent, anywhere in the add
            child = Child(ctx, _child_cli, argv, hook="commit")
            time.sleep(rng.uniform(0, 1.2 * added["seconds"]))
        else:  # from a timer armed as the commit begins (build.json, the transaction, its flush): log-uniform
            # from 50 µs to 1.2 × the commit, so that some land inside the sub-millisecond transaction
            delay = math.exp(rng.uniform(math.log(50e-6), math.log(1.2 * added["commit"])))
            child = Child(ctx, _child_cli, argv, hook="commit", kill_after=delay)
            child.result()
        killed = child.kill()
        delays.append(time.monotonic() - child.started)
        outcome = child.result(5)
        if not killed:
            assert outcome[:2] == ("exit", 0), outcome
            tally["finished before the kill"] += 1
        inside = killed and child.mark is not None and child.committed is None
        if killed and child.mark is not None:
            tally["killed inside the commit" if inside else "killed after the commit"] += 1
        assert not siblings(path) - {"store.snapshots"}, siblings(path)
        assert lock_is_free(path), "the writers' lock outlived its writer"
        if i % 10 == 9:
            history_works(path)
        info = json.loads((path / INFO_FILE).read_text(encoding="utf-8"))  # whole JSON, never half-written
        state = record_state(contents(path), pristine[1], added["delta"])
        tally[state] += 1
        tally[f"killed inside the commit, record {state}"] += inside
        marked = info.get("revision") != json.loads(info_before).get("revision")
        if state == "present":  # servers watch build.json: a change it does not announce, they never see
            assert marked, "the record went in, build.json does not say so"
            reset(path, pristine[0])
        else:
            tally["absent, build.json marked (a needless reopen)"] += marked
            assert marked or (path / INFO_FILE).read_text(encoding="utf-8") == info_before
    child = Child(ctx, _child_cli, argv)  # the next writer works, without any cleaning up
    assert child.result()[:2] == ("exit", 0)
    assert record_state(contents(path), pristine[1], added["delta"]) == "present"
    with capsys.disabled():
        print(f"\nkill -9 during add: {ITERATIONS}/{ITERATIONS} opened without repair; "
              f"present {tally['present']} / absent {tally['absent']}, never partial; "
              f"kills {min(delays):.2f}–{max(delays):.2f} s after the start (add {added['seconds']:.2f} s, "
              f"commit {added['commit'] * 1000:.1f} ms); {dict(sorted(tally.items()))}")
    assert tally["present"] + tally["absent"] == ITERATIONS
    assert tally["present"] and tally["absent"]
    assert tally["killed inside the commit"] >= 5


# ---- 2. kill -9 during build ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rebuilt(ctx, work, added, graphs) -> dict:
    """A build into a store that holds more (the pristine one plus the add): the store stage alone
    and a whole `pole-graph build`, each run to completion once and timed."""
    path = work / "rebuilt" / "store"
    reset(path, added["path"])
    child = Child(ctx, _child_write, str(path), *graphs)
    mark = child.wait_mark()
    outcome = child.result()
    write_seconds = time.monotonic() - mark
    assert outcome[:2] == ("exit", 0), outcome
    written = contents(path)
    reset(path, added["path"])
    child = Child(ctx, _child_cli, ["build", "--store", str(path), "--project", str(ROOT)], hook="write")
    mark = child.wait_mark()
    outcome = child.result()
    assert outcome[:2] == ("exit", 0), outcome
    return {"written": written, "write_seconds": write_seconds, "built": contents(path),
            "build_seconds": time.monotonic() - child.started, "store_stage_at": mark - child.started}


def build_state(path: Path, child: Child, killed: bool) -> str:
    """Where the kill landed, read from what lies on disk before anything opens the store."""
    if not killed:
        return "finished"
    if child.mark is None:
        return "before the store stage (loading the content)"
    names = siblings(path)
    pid = child.process.pid
    if not path.exists():
        return "between the two renames of the swap"
    if f"{path.name}.old-{pid}" in names:
        return "after the swap, removing the old store"
    if f"{path.name}.new-{pid}" in names:
        return "at the swap, before its first rename" if child.swap else "writing the new store in its staging folder"
    return "in the store stage, nothing on disk yet or all done"


def test_kill_9_during_build_leaves_the_previous_store_or_the_new_one(ctx, work, added, graphs, rebuilt, capsys):
    rng = random.Random(SEED + 1)
    path = work / "kill-build" / "store"
    reset(path, added["path"])
    previous, previous_info = added["quads"], (added["path"] / INFO_FILE).read_text(encoding="utf-8")
    tally: Counter = Counter()
    where: Counter = Counter()
    delays = []
    for i in range(ITERATIONS):
        whole = i % 10 == 9
        if whole:  # one in ten a whole `pole-graph build`, killed anywhere in it
            child = Child(ctx, _child_cli, ["build", "--store", str(path), "--project", str(ROOT)], hook="write")
            time.sleep(rng.uniform(0, 1.2 * rebuilt["build_seconds"]))
        elif i % 10 in (3, 6):  # two in ten at the swap, by a timer armed as its first rename begins
            child = Child(ctx, _child_write, str(path), *graphs, kill_at_swap=rng.uniform(0, 100e-6))
            child.result()
        else:  # the others: the store stage, which writes, killed anywhere in it
            child = Child(ctx, _child_write, str(path), *graphs)
            mark = child.wait_mark()
            time.sleep(max(0.0, mark + rng.uniform(0, 1.5 * rebuilt["write_seconds"]) - time.monotonic()))
        killed = child.kill()
        delays.append(time.monotonic() - child.started)
        outcome = child.result(5)
        if not killed:
            assert outcome[:2] == ("exit", 0), outcome
        where[build_state(path, child, killed)] += 1
        assert lock_is_free(path), "the writers' lock outlived its writer"
        found = contents(path)  # finishes or undoes an interrupted swap, as every open does
        new = rebuilt["built"] if whole else rebuilt["written"]
        assert found in (previous, new), "neither the previous store nor the new one"
        if i % 10 == 9:
            history_works(path)
        info = (path / INFO_FILE).read_text(encoding="utf-8")
        if found == previous:
            tally["previous"] += 1
            assert info == previous_info
        else:
            tally["new"] += 1
            counts = json.loads(info)["counts"]
            assert sum(counts.values()) == sum(found.values()), "build.json does not describe the store"
            reset(path, added["path"])
    child = Child(ctx, _child_write, str(path), *graphs)  # the next build: no cleaning up by hand
    assert child.result()[:2] == ("exit", 0)
    assert contents(path) == rebuilt["written"]
    assert not siblings(path), f"left beside the store: {sorted(siblings(path))}"
    with capsys.disabled():
        print(f"\nkill -9 during build: {ITERATIONS}/{ITERATIONS} opened; previous {tally['previous']} / "
              f"new {tally['new']}, never half; kills {min(delays):.2f}–{max(delays):.2f} s after the start "
              f"(store stage {rebuilt['write_seconds']:.2f} s, whole build {rebuilt['build_seconds']:.2f} s, "
              f"store stage from {rebuilt['store_stage_at']:.2f} s); kills landed: {dict(sorted(where.items()))}")
    assert tally["previous"] and tally["new"]
    assert where["writing the new store in its staging folder"] >= 3


# ---- 3. a full disk ---------------------------------------------------------------------------------

def size_of(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def free_bytes(folder: Path) -> int:
    stat = os.statvfs(folder)
    return stat.f_bavail * stat.f_frsize


@contextlib.contextmanager
def small_disk(folder: Path, size: int) -> Iterator[bool]:
    """A tmpfs of ``size`` bytes at ``folder`` (we run as root in CI); False where mounting is not
    permitted, and the caller falls back on RLIMIT_FSIZE."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


def fill(folder: Path, leave: int) -> Path:
    """A file that takes all the space of ``folder``'s disk but ``leave`` bytes."""
    filler = folder / "filler"
    with open(filler, "wb") as f:
        f.truncate(0)
        chunk = b"\0" * (1 << 20)
        while free_bytes(folder) > leave:
            f.write(chunk[:max(4096, min(len(chunk), free_bytes(folder) - leave))])
            f.flush()
    return filler


def assert_clear_disk_error(outcome: tuple) -> None:
    kind, code, out, err = outcome
    assert kind == "exit", f"a traceback instead of a message:\n{err}"
    assert code != 0 and "Traceback" not in err
    assert "no space left on the disk" in err or "size limit" in err, err
    assert "hint: " in err


def test_a_build_that_fills_the_disk_says_so_and_keeps_the_previous_store(ctx, work, added, graphs, rebuilt,
                                                                       monkeypatch, capsys):
    import pole_graph.store
    from pole_graph.store import write_store

    disk = work / "disk-build"
    with small_disk(disk, size_of(added["path"]) + 12 * 2**20) as mounted:
        path = disk / "store"
        reset(path, added["path"])
        previous_info = (path / INFO_FILE).read_text(encoding="utf-8")
        if not mounted:  # no tmpfs: a file size limit below the size of the store's largest table file
            child = Child(ctx, _child_cli, ["build", "--store", str(path), "--project", str(ROOT)], limit=2**19)
            assert_clear_disk_error(child.result())
            assert contents(path) == added["quads"]
            return
        # the whole command, with 2 MB free: the staging store runs out of space half-way
        filler = fill(disk, 2 * 2**20)
        free = free_bytes(disk)
        child = Child(ctx, _child_cli, ["build", "--store", str(path), "--project", str(ROOT)])
        assert_clear_disk_error(child.result())
        assert free_bytes(disk) >= free - 64 * 1024, "the failed build's staging store was left on the disk"
        assert not siblings(path) - {"filler"}
        filler.unlink()
        assert contents(path) == added["quads"] and (path / INFO_FILE).read_text(encoding="utf-8") == previous_info
        # the store stage with every amount of free space from none to enough: fails cleanly or succeeds
        monkeypatch.setattr(pole_graph.store, "graph_to_ntriples", lambda graph, name=None: graph)
        outcomes = []
        for leave in range(0, 10 * 2**20, 3 * 2**19):  # 0 to 9 MB by 1.5 MB
            filler = fill(disk, leave)
            try:
                write_store(path, *graphs)
                outcomes.append(f"{leave >> 10} KB: written")
                filler.unlink()
                assert contents(path) == rebuilt["written"]
                reset(path, added["path"])
            except PoleGraphError as exc:
                outcomes.append(f"{leave >> 10} KB: refused")
                assert "no space left on the disk" in str(exc) and "the previous store is unchanged" in str(exc)
                assert not siblings(path) - {"filler"}, siblings(path)
                filler.unlink()
                assert contents(path) == added["quads"]
                assert (path / INFO_FILE).read_text(encoding="utf-8") == previous_info
            assert lock_is_free(path)
    with capsys.disabled():
        print(f"\nfull disk during build: {', '.join(outcomes)}")
    assert any(o.endswith("refused") for o in outcomes) and any(o.endswith("written") for o in outcomes)


def test_an_add_that_fills_the_disk_says_so_and_says_what_it_wrote(ctx, work, pristine, added, records, capsys):
    disk = work / "disk-add"
    argv = ["add", *map(str, records), "--by", "crash-test", "--store"]
    with small_disk(disk, size_of(pristine[0]) + 4 * 2**20) as mounted:
        path = disk / "store"
        reset(path, pristine[0])
        if not mounted:
            child = Child(ctx, _child_cli, [*argv, str(path)], limit=4096)
            assert_clear_disk_error(child.result())
            assert record_state(contents(path), pristine[1], added["delta"]) == "absent"
            return
        outcomes = []
        for leave in (0, 128, 208, 212, 224, 240, 1024):  # KB: RocksDB's open, its log, its flush
            filler = fill(disk, leave * 1024)
            kind, code, out, err = Child(ctx, _child_cli, [*argv, str(path)]).result()
            if code != 0:
                assert_clear_disk_error((kind, code, out, err))
            filler.unlink()
            assert lock_is_free(path)
            state = record_state(contents(path), pristine[1], added["delta"])
            logged = "the change is committed to the store's log" in err  # the flush failed, the transaction stands
            full = re.search(r"(?:appending to file|persist) ?:? ?\S*?([A-Z]+|\.[a-z]+)[-0-9.a-z]*: No space", err)
            what = f"{full.group(1).strip('.') if full else 'a write'} failed"
            outcomes.append(f"{leave} KB: " + ("added" if code == 0 else f"refused ({what}, "
                                               + ("after the commit" if logged else "nothing written") + ")")
                            + f", record {state}")
            assert state == ("present" if code == 0 or logged else "absent"), err
            if state == "present":
                reset(path, pristine[0])
    with capsys.disabled():
        print(f"\nfull disk during add: {'; '.join(outcomes)}")
    assert any("refused" in o for o in outcomes) and any("added" in o for o in outcomes)


# ---- 4. a second writer -----------------------------------------------------------------------------

def test_a_build_and_an_add_each_tell_the_other_the_store_is_locked(ctx, work, pristine, added, records, rebuilt):
    """A build stopped half-way through writing the store holds the lock: an add waits (5 s), then
    says the store is locked; and the other way round. Once the first is done, the second works."""
    building, adding = work / "locked-build" / "store", work / "locked-add" / "store"
    reset(building, pristine[0])
    reset(adding, pristine[0])
    add = ["add", *map(str, records), "--by", "crash-test", "--store"]
    holders = [Child(ctx, _child_cli, ["build", "--project", str(ROOT), "--store", str(building)], hook="hold-write"),
               Child(ctx, _child_cli, [*add, str(adding)], hook="hold-commit")]
    try:
        assert holders[0].wait_mark(what="holding") is not None and holders[1].wait_mark() is not None
        assert holders[0].outcome is None and holders[1].outcome is None
        contenders = [Child(ctx, _child_cli, [*add, str(building)]),
                      Child(ctx, _child_cli, ["build", "--project", str(ROOT), "--store", str(adding)])]
        for contender, path in zip(contenders, (building, adding)):
            kind, code, out, err = contender.result()
            assert kind == "exit" and code == 2, err
            assert "another process is writing this store" in err and "hint: wait for it to finish" in err, err
            assert not siblings(path) - {f"{building.name}.new-{holders[0].process.pid}"}
        for holder in holders:
            holder.conn.send("go")
            assert holder.result()[:2] == ("exit", 0)
    finally:
        for holder in holders:
            holder.kill()
    assert contents(building) == rebuilt["built"] and not siblings(building)
    assert record_state(contents(adding), pristine[1], added["delta"]) == "present"
    assert Child(ctx, _child_cli, [*add, str(building)]).result()[:2] == ("exit", 0)  # once the build is done


def test_a_sparql_update_that_fills_the_disk_answers_507_and_the_store_stays_whole(work, pristine):
    """An authenticated SPARQL update meeting a full disk gets 507 with the store-write message (it
    was a bare 500), and the store still opens, holding exactly what it held or the update whole."""
    from starlette.testclient import TestClient

    from pole_graph.server import create_app
    from pole_graph.settings import Settings

    disk = work / "disk-update"
    literal = "x" * (1 << 20)
    update = f'INSERT DATA {{ GRAPH <urn:filler> {{ <urn:a> <urn:b> "{literal}" }} }}'
    with small_disk(disk, size_of(pristine[0]) * 2 + 8 * 2**20) as mounted:
        if not mounted:
            pytest.skip("needs a tmpfs (root): the RLIMIT_FSIZE fallback would stop the test process itself")
        path = disk / "store"
        reset(path, pristine[0])
        settings = Settings(store=path, update_token="t0ken", query_workers=0, response_cache=False,
                            budget_errors=0, max_body=8 << 20)
        with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
            filler = fill(disk, 64 * 1024)
            r = client.post("/sparql", data={"update": update}, headers={"Authorization": "Bearer t0ken"})
            filler.unlink()
        assert r.status_code == 507, r.text[:500]
        assert "no space left on the disk" in r.json()["detail"], r.text[:500]
        found = contents(path)
        assert found == pristine[1] or sum(found.values()) == sum(pristine[1].values()) + 1
        assert lock_is_free(path)
