"""phone masks keep only the last four digits (issue 18: the old mask showed 7 of 11)"""
# Data only. The stored masks are rewritten from the old masks themselves (no key needed): every
# character becomes * except the trailing digits the old mask showed, at most four of them.
import re

from peewee import *

COLUMNS = [
    ("work_order", "caller_phone_masked"),
    ("work_order", "contact_phone_masked"),
    ("contact", "caller_phone_masked"),
    ("call", "caller_masked"),
    ("callback_task", "number_masked"),
]


def remask(old):
    if not old or "*" not in old:
        return old
    tail = re.search(r"[0-9]{0,4}$", old).group(0)
    return "*" * (len(old) - len(tail)) + tail


def q(name):
    return f'"{name}"'


def up(migrator, db):
    tables = set(db.get_tables())
    for table, column in COLUMNS:
        if table not in tables:
            continue
        rows = db.execute_sql(
            f"SELECT DISTINCT {q(column)} FROM {q(table)} WHERE {q(column)} LIKE {db.param}",
            ("%*%",),
        ).fetchall()
        for (old,) in rows:
            new = remask(old)
            if new != old:
                db.execute_sql(
                    f"UPDATE {q(table)} SET {q(column)} = {db.param} WHERE {q(column)} = {db.param}",
                    (new, old),
                )


def down(migrator, db):
    pass  # the digits the old masks showed are not kept
