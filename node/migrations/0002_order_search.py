"""Full-text index over work orders (FTS5 + triggers on SQLite, tsvector GIN on PostgreSQL)."""


def up(migrator, db):
    from node.text.search import SearchBackend

    SearchBackend("work_order").ensure()


def down(migrator, db):
    from node.text.search import SearchBackend

    SearchBackend("work_order").drop()
