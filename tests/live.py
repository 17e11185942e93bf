"""A real `pole-graph serve` process for tests: started on a free port of 127.0.0.1, stopped after.

Used by the tests that need a server over real sockets (SPARQL protocol, browser, SPARQLWrapper).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.request import urlopen


@contextmanager
def serve(store: Path, env: dict[str, str] | None = None, timeout: float = 60.0) -> Iterator[str]:
    """Run `python -m pole_graph serve --port 0 --store STORE`; yield its base URL (no trailing slash)."""
    environ = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.Popen([sys.executable, "-m", "pole_graph", "serve", "--store", str(store), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environ)
    try:
        line = process.stdout.readline() if process.stdout else ""
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not match:
            rest = process.stdout.read() if process.stdout and process.poll() is not None else ""
            raise RuntimeError(f"the server did not start: {line}{rest}")
        base = f"http://127.0.0.1:{match.group(1)}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urlopen(base + "/api/queries", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the server did not answer") from None
                time.sleep(0.1)
        yield base
    finally:
        stop(process)


def copy_store(source: Path, target: Path) -> Path:
    """A private copy of a built store (for tests that write to it)."""
    shutil.copytree(source, target)
    return target


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """Terminate a server the tests started; kill it if it does not stop within ``timeout``."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
