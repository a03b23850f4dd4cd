"""A lexicon edit made through one web process is used by another at once, without a restart.

Two real gunicorn web processes (`hotline serve-web`, one worker each) share one database, as the
workers of a node do. Both have compiled the lexicon before the edit; the edit goes through the
first, and the second must use it on its very next suggestion (the per-call version check).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from node import db
from node import settings as node_settings
from node.auth import service as auth
from node.catalog import service as catalog
from node.migrate import upgrade
from node.text import lexicon
from tests import pg
from tests.bench.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def hotline(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "node.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@contextmanager
def serve_web(home: Path, port: int) -> Iterator[None]:
    """`hotline serve-web` for a node home until the block ends (its log beside the home)."""
    log = (home.parent / f"{home.name}-web.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "node.cli", "-c", str(home), "serve-web"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (home.parent / f"{home.name}-web.log").read_text()[-2000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "web process did not start"
                time.sleep(0.1)
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def call(port: int, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else None
    finally:
        conn.close()


def prepare(home: Path) -> str:
    """Migrate and seed the node's database and give it an administrator; returns an API token."""
    settings = node_settings.load(str(home / "node.toml"))
    previous = db.database.obj
    database = db.bind(settings.database_url)
    try:
        with db.connection():
            upgrade(database)
            catalog.seed()
            lexicon.seed()
            user = auth.create_user(
                username="lexadmin", display_name="词表管理员", password="lexicon-test-1", roles=["admin"]
            )
            token = auth.issue_token(user, "test")
    finally:
        database.close()
        if hasattr(database, "close_all"):
            database.close_all()
        db.database.initialize(previous)
        catalog.invalidate()
        lexicon.reset()
    return token


@pytest.fixture(params=["sqlite", "postgresql"])
def two_processes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[int, int, str]]:
    url = pg.create_database("t_lex") if request.param == "postgresql" else ""
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    port_a, port_b = free_port(), free_port()
    args = ["init", "--level", "city", "--region", "320100", "--web-port", str(port_a)]
    hotline(*args, *(["--database-url", url] if url else []), str(home_a))
    config = (home_a / "node.toml").read_text().replace("workers = 2", "workers = 1")
    (home_a / "node.toml").write_text(config)
    # the second process: same keys and database, its own port
    shutil.copytree(home_a, home_b)
    database = url or f"sqlite:///{home_a / 'data' / 'node.db'}"
    config_b = config.replace(f"port = {port_a}", f"port = {port_b}")
    (home_b / "node.toml").write_text(re.sub(r'url = "[^"]*"', f'url = "{database}"', config_b))
    token = prepare(home_a)
    try:
        with serve_web(home_a, port_a), serve_web(home_b, port_b):
            yield port_a, port_b, token
    finally:
        if url:
            pg.drop_database(url)


def test_an_edit_through_one_process_is_used_by_the_other(two_processes: tuple[int, int, str]) -> None:
    port_a, port_b, token = two_processes
    text = {"content": "叮叮车晚点半小时，很不耐烦"}
    for port in (port_a, port_b):  # both compile the lexicon as shipped: no category word in it
        status, body = call(port, "POST", "/api/v1/text/suggest", token, text)
        assert status == 200 and body["sub_business"] == [], body
    status, entry = call(
        port_a, "POST", "/api/v1/text/lexicon", token, {"term": "叮叮车", "target": "0401", "weight": 5}
    )
    assert status == 201, entry
    status, body = call(port_b, "POST", "/api/v1/text/suggest", token, text)
    assert status == 200 and body["sub_business"][0]["code"] == "0401", body
    assert "叮叮车" in body["sub_business"][0]["words"]
    # and back: disabling it in the second process is seen by the first
    status, _ = call(port_b, "PATCH", f"/api/v1/text/lexicon/{entry['id']}", token, {"enabled": False})
    assert status == 200
    status, body = call(port_a, "POST", "/api/v1/text/suggest", token, text)
    assert status == 200 and body["sub_business"] == [], body
