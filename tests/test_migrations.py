"""Migrations build the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from node import db
from node.migrate import pending_diff, upgrade
from node.workflow import search as order_search
from tests import pg


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_models(backend: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else pg.create_database("t_migr")
    previous = db.database.obj
    database = db.bind(url)
    try:
        with db.connection():
            applied = upgrade(database)
            assert applied and applied[0].startswith("0001_")
            diff = pending_diff(database)
            assert not diff, f"models and migrations differ; run `hotline db makemigration NAME`: {diff!r}"
            assert upgrade(database) == [], "a second run applies nothing"
            sql, params = order_search.backend().matching_ids_sql("出租车拒载")
            assert database.execute_sql(sql, params).fetchall() == [], "the full-text index exists"
    finally:
        database.close()
        if hasattr(database, "close_all"):
            database.close_all()
        db.database.initialize(previous)
        if backend == "postgresql":
            pg.drop_database(url)


def test_phone_masks_are_rewritten_to_the_last_four_digits(tmp_path: Path) -> None:
    import importlib

    remask = importlib.import_module("node.migrations.0012_phone_masks").remask
    assert remask("138****5678") == "*******5678"
    assert remask("025******34") == "*********34"  # never more digits than the old mask showed
    assert remask("") == "" and remask("未知号码") == "未知号码"
