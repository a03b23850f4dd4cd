"""Schema migrations (peewee's migration runner) and the check that they match the models."""

from __future__ import annotations

import tempfile
from pathlib import Path

import peewee as pw
from playhouse.migrations import Runner, template
from playhouse.schema_diff import diff_models

from node import db
from node.registry import all_models

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def runner(database: pw.Database) -> Runner:
    return Runner(database, str(MIGRATIONS_DIR))


def upgrade(database: pw.Database) -> list[str]:
    """Apply pending migrations; returns their names. Then refresh SQLite's planner statistics if
    they are missing or stale (`node.db.planner_statistics`)."""
    applied = list(runner(database).up())
    db.planner_statistics(on=database)
    return applied


def _managed_indexes() -> set[str]:
    """Indexes created by migrations outside the models (full-text search), not drift."""
    from node.knowledge.search import backend as knowledge_backend
    from node.workflow.search import backend

    return {backend().pg_index, knowledge_backend().pg_index}


def pending_diff(database: pw.Database) -> object:
    """What the models have that the database lacks, or the reverse (falsy when they match)."""
    diff = diff_models(database, all_models())
    managed = _managed_indexes()
    return diff._replace(drop_indexes=[i for i in diff.drop_indexes if i.name not in managed])


def make_migration(name: str) -> Path | None:
    """Write the next migration from the difference between the models and the migrated schema."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = pw.SqliteDatabase(str(Path(tmp) / "scratch.db"), pragmas={"foreign_keys": 1})
        db.database.initialize(scratch)
        scratch.connect()
        upgrade(scratch)
        diff = pending_diff(scratch)
        scratch.close()
    if not diff:
        return None
    body = template(diff)
    return Path(runner(pw.SqliteDatabase(":memory:")).create(name, body=f'"""{name}"""\n' + body))
