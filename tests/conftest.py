"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

`db` binds the node's database proxy to a prepared database of the requested backend and wraps
the test in a transaction that is rolled back, so tests never see each other's rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peewee as pw
import pytest
from flask import Flask
from flask.testing import FlaskClient

from node import db as node_db
from node import pii
from node import settings as node_settings
from node.auth import service as auth
from node.catalog import service as catalog
from node.config import service as config
from node.knowledge import search as knowledge_search
from node.knowledge import suggest as knowledge_suggest
from node.registry import all_models
from node.text import lexicon
from node.workflow import search as order_search
from tests import factories, pg

BACKENDS = [b for b in os.environ.get("HOTLINE_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


@pytest.fixture(scope="session")
def prepared_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, pw.Database]]:
    """One schema-complete, seeded database per backend for the whole session."""
    dbs: dict[str, pw.Database] = {}
    urls: dict[str, str] = {}
    if "sqlite" in BACKENDS:
        urls["sqlite"] = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    if "postgresql" in BACKENDS:
        urls["postgresql"] = pg.create_database("t_unit")
    for name, url in urls.items():
        database = node_db.bind(url)
        with node_db.connection():
            database.create_tables(all_models())
            order_search.backend().ensure()
            knowledge_search.backend().ensure()
            catalog.seed()
            lexicon.seed()
        dbs[name] = database
    yield dbs
    for database in dbs.values():
        database.close()
        if hasattr(database, "close_all"):
            database.close_all()
    if "postgresql" in urls:
        pg.drop_database(urls["postgresql"])


@pytest.fixture
def settings(tmp_path: Path) -> node_settings.Settings:
    s = node_settings.for_tests(tmp_path, f"sqlite:///{tmp_path}/unused.db")
    node_settings.configure(s)
    pii.configure(s.data_key)
    return s


@pytest.fixture(params=BACKENDS)
def db(
    request: pytest.FixtureRequest, prepared_databases: dict[str, pw.Database], settings: Any
) -> Iterator[str]:
    database = prepared_databases[request.param]
    node_db.database.initialize(database)
    catalog.invalidate()
    lexicon.reset()
    knowledge_suggest.reset()
    config.forget()  # each test's counters restart where the rolled-back one began
    auth.forget_tokens()  # users and tokens of the rolled-back test are gone
    database.connect(reuse_if_open=True)
    with database.atomic() as txn:
        yield request.param
        txn.rollback()
    catalog.invalidate()
    lexicon.reset()
    knowledge_suggest.reset()
    database.close()


@pytest.fixture
def app(db: str, settings: node_settings.Settings) -> Flask:
    from node.app import create_app

    application = create_app(settings, manage_connections=False)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def token_for(db: str) -> Any:
    """token_for(role, unit=None) -> Authorization header dict for a fresh user with that role."""

    def make(role: str | list[str], unit: Any = None) -> dict[str, str]:
        user = factories.make_user(role, unit)
        return {"Authorization": "Bearer " + auth.issue_token(user, "test")}

    return make


@pytest.fixture
def login_as(client: FlaskClient, db: str) -> Any:
    """login_as(role) signs a fresh user in through the real login endpoint; returns its CSRF token."""

    def do(role: str | list[str], unit: Any = None) -> str:
        user = factories.make_user(role, unit)
        resp = client.post(
            "/api/v1/auth/login", json={"username": user.username, "password": factories.PASSWORD}
        )
        assert resp.status_code == 200, resp.get_json()
        return str(resp.get_json()["csrf_token"])

    return do
