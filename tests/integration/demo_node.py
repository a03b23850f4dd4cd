"""A whole demo node under `hotline run --demo` on free loopback ports (SQLite or a throwaway
PostgreSQL database), for tests that need the real processes: gunicorn, worker, supervisor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests import pg
from tests.bench.harness import free_port, hotline

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DemoNode:
    home: Path
    port: int
    proc: subprocess.Popen[bytes]  # the supervisor (`hotline run`), leader of its process group


@contextmanager
def demo_node(directory: Path, backend: str, db_name: str, start_timeout: float = 180) -> Iterator[DemoNode]:
    port = free_port()
    home = directory / "node"
    url = pg.create_database(db_name) if backend == "postgresql" else None
    hotline(
        "init", "--level", "city", "--region", "320100", "--web-port", str(port),
        "--federation-port", str(free_port()), "--metrics-port", str(free_port()),
        *(["--database-url", url] if url else []), "--no-telephony", str(home),
    )  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "node.cli", "-c", str(home), "run", "--demo"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the node did not start"
                time.sleep(0.3)
        yield DemoNode(home, port, proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if url:
            pg.drop_database(url)
