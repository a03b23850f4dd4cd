"""Fixtures for federation tests that run real node processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from federation import pki
from tests import pg
from tests.conftest import BACKENDS


@pytest.fixture(scope="module")
def test_pki() -> pki.TestPki:
    return pki.TestPki.create()


@pytest.fixture(params=BACKENDS)
def node_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL for one node process (SQLite file or throwaway PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'node.db'}"
    else:
        url = pg.create_database("fed")
        try:
            yield url
        finally:
            pg.drop_database(url)
