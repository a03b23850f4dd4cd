"""Fixtures for federation tests: the business flows on the test database, and real node processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from federation import flows, pki
from node import settings as node_settings
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


@pytest.fixture
def flow(db: str, settings: node_settings.Settings) -> Iterator[node_settings.Settings]:
    """The flows installed on the test database; tests switch nodes with `helpers.act_as`."""
    flows.install()
    yield settings
    node_settings.configure(settings)
