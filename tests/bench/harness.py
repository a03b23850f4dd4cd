"""Benchmark harness: real node processes on 127.0.0.1, a bounded HTTP load, printed figures.

Benchmarks print medians, p95 and ratios measured in one run; they never assert timings.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hotline(*args: str) -> str:
    done = subprocess.run(
        [PY, "-m", "node.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return done.stdout


@dataclass
class BenchNode:
    home: Path
    port: int
    url: str


def make_node(base: Path, database_url: str, region: str = "320100", workers: int = 2) -> BenchNode:
    home = base / f"node-{region}-{'pg' if database_url.startswith('postgres') else 'sqlite'}"
    port = free_port()
    hotline(
        "init",
        "--level",
        "city",
        "--region",
        region,
        "--database-url",
        database_url,
        "--web-port",
        str(port),
        str(home),
    )
    cfg = (home / "node.toml").read_text().replace("workers = 2", f"workers = {workers}")
    (home / "node.toml").write_text(cfg)
    hotline("-c", str(home), "migrate")
    return BenchNode(home, port, f"http://127.0.0.1:{port}")


@contextmanager
def serving(
    argv: list[str], port: int, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_port(port, proc)
        yield proc
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((proc.stderr.read() if proc.stderr else b"").decode()[-3000:])
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


class Client:
    """A keep-alive JSON client, one per thread."""

    def __init__(self, port: int, headers: dict[str, str] | None = None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Content-Type": "application/json", **(headers or {})}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers=self.headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else None


@dataclass
class LoadResult:
    count: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000 if xs else float("nan")

    def line(self, label: str) -> str:
        return (
            f"{label:42} {self.rate:8.0f}/s  p50 {self.pct(0.5):6.1f} ms  p95 {self.pct(0.95):6.1f} ms"
            f"  n={self.count} errors={self.errors}"
        )


def run_load(
    port: int, headers: dict[str, str], jobs: list[Callable[[Client], int]], threads: int
) -> LoadResult:
    """Run each job (a function doing one request and returning its status) on a pool of keep-alive clients."""
    latencies: list[float] = []
    errors = 0
    clients: dict[int, Client] = {}

    def one(job: Callable[[Client], int]) -> tuple[float, int]:
        ident = threading.get_ident()
        client = clients.get(ident)
        if client is None:
            client = clients[ident] = Client(port, headers)
        t0 = time.perf_counter()
        status = job(client)
        return time.perf_counter() - t0, status

    t_start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for dt_, status in pool.map(one, jobs):
            latencies.append(dt_)
            if status >= 400:
                errors += 1
    return LoadResult(len(jobs), time.perf_counter() - t_start, latencies, errors)


@contextmanager
def pg_bench_database(prefix: str) -> Iterator[str]:
    """A throwaway PostgreSQL database for an in-process benchmark: on the way out the node's
    connections to it (the bound database and its pool) are closed, then it is dropped."""
    from node import db as node_db
    from tests import pg

    url = pg.create_database(prefix)
    try:
        yield url
    finally:
        node_db.database.close()
        if hasattr(node_db.database.obj, "close_all"):
            node_db.database.obj.close_all()
        pg.drop_database(url)
