"""Multi-row INSERT (and upsert) with prepared SQL text, for the tables that take received data in
bulk: order records (500 per envelope) and report counts (hundreds per report).

Peewee builds every multi-row INSERT value by value through its query tree; at the ministry of a
national day (100 k records through one inbox) that query building cost more than the database
work. Here the statement text is built once per (table, columns, row count, conflict clause) and
cached; values go through each field's own `db_value`, so what is stored is exactly what peewee's
`insert_many` stores, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import peewee as pw

from node.db import database

# Bound parameters per statement: SQLite allows 32766, PostgreSQL 65535.
MAX_PARAMS = 30_000


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@lru_cache(maxsize=256)
def _statement(
    table: str,
    columns: tuple[str, ...],
    n_rows: int,
    param: str,
    conflict: tuple[str, ...],
    update: tuple[str, ...],
    where_greater: str,
) -> str:
    row = "(" + ", ".join([param] * len(columns)) + ")"
    sql = f"INSERT INTO {_quote(table)} ({', '.join(_quote(c) for c in columns)}) VALUES " + ", ".join(
        [row] * n_rows
    )
    if conflict:
        target = ", ".join(_quote(c) for c in conflict)
        if update:
            sets = ", ".join(f"{_quote(c)} = EXCLUDED.{_quote(c)}" for c in update)
            sql += f" ON CONFLICT ({target}) DO UPDATE SET {sets}"
            if where_greater:
                col = _quote(where_greater)
                sql += f" WHERE EXCLUDED.{col} > {_quote(table)}.{col}"
        else:
            sql += f" ON CONFLICT ({target}) DO NOTHING"
    return sql


def insert_rows(
    model: type[pw.Model],
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
    where_greater: str = "",
) -> int:
    """Insert `rows` (tuples of Python values in the order of the field `names`) into `model`.

    With `conflict` (field names of a unique index): rows that collide update the `update` fields
    (only where the new `where_greater` value is larger, when given) or, without `update`, are
    skipped. Returns the number of rows sent."""
    if not rows:
        return 0
    fields = [model._meta.fields[name] for name in names]
    columns = tuple(f.column_name for f in fields)
    column_of = {name: model._meta.fields[name].column_name for name in (*conflict, *update)}
    conflict_cols = tuple(column_of[n] for n in conflict)
    update_cols = tuple(column_of[n] for n in update)
    greater = model._meta.fields[where_greater].column_name if where_greater else ""
    converters = [f.db_value for f in fields]
    step = max(1, MAX_PARAMS // len(columns))
    param = database.param
    table = model._meta.table_name
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        params: list[Any] = []
        for row in chunk:
            params.extend(conv(value) for conv, value in zip(converters, row, strict=True))
        sql = _statement(table, columns, len(chunk), param, conflict_cols, update_cols, greater)
        database.execute_sql(sql, params)
    return len(rows)
