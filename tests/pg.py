"""Throwaway PostgreSQL databases for tests and benchmarks (server on 127.0.0.1:5432, trust auth).

Starts the local cluster if it is down, creates `CREATE DATABASE t_<name>_<random>` and drops it after.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

PG_URL = os.environ.get("HOTLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


def _admin() -> psycopg.Connection:
    return psycopg.connect(PG_URL + "/postgres", autocommit=True, connect_timeout=3)


def ensure_server() -> None:
    """Start the Debian cluster if nothing answers on 127.0.0.1:5432."""
    try:
        _admin().close()
        return
    except psycopg.OperationalError:
        pass
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions:
        raise RuntimeError("PostgreSQL 未安装：运行 scripts/setup.sh --dev")
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
        check=False,
        capture_output=True,
    )
    for _ in range(50):
        try:
            _admin().close()
            return
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise RuntimeError("PostgreSQL 未能启动（127.0.0.1:5432）")


def create_database(prefix: str = "t") -> str:
    ensure_server()
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" ENCODING UTF8 TEMPLATE template0')
    return f"{PG_URL}/{name}"


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway(prefix: str = "t") -> Iterator[str]:
    url = create_database(prefix)
    try:
        yield url
    finally:
        drop_database(url)
