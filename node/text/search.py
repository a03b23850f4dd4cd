"""Full-text search over a jieba-segmented `search_text` column (全文检索).

SQLite: an external-content FTS5 table (`unicode61` tokenizer over the space-joined tokens) kept
in step by triggers, ranked by bm25. PostgreSQL: a GIN index on `to_tsvector('simple',
search_text)`, ranked by ts_rank. Generic: any table with an integer id and a search_text column.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from node import db
from node.errors import ValidationError
from node.text.segment import query_tokens

_IDENT_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _ident(name: str) -> str:
    if not _IDENT_RE.match(name):
        raise ValidationError(f"非法的表名或列名：{name!r}")
    return name


@dataclass(frozen=True)
class SearchBackend:
    """Full-text index on `table.column`, rows identified by the integer `id_column`."""

    table: str
    id_column: str = "id"
    column: str = "search_text"

    def __post_init__(self) -> None:
        for name in (self.table, self.id_column, self.column):
            _ident(name)

    @property
    def fts_table(self) -> str:
        return f"{self.table}_fts"

    @property
    def pg_index(self) -> str:
        return f"{self.table}_{self.column}_tsv"

    def ensure(self) -> None:
        """Create the index (idempotent); on SQLite also the sync triggers and a first rebuild."""
        t, i, c, f = self.table, self.id_column, self.column, self.fts_table
        database = db.database
        if db.is_sqlite():
            exists = database.execute_sql(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (f,)
            ).fetchone()
            if exists:
                return
            statements = [
                f"CREATE VIRTUAL TABLE {f} USING fts5({c}, content='{t}', content_rowid='{i}',"
                " tokenize='unicode61 remove_diacritics 0')",
                f"CREATE TRIGGER {f}_ai AFTER INSERT ON {t} BEGIN "
                f"INSERT INTO {f}(rowid, {c}) VALUES (new.{i}, new.{c}); END",
                f"CREATE TRIGGER {f}_ad AFTER DELETE ON {t} BEGIN "
                f"INSERT INTO {f}({f}, rowid, {c}) VALUES ('delete', old.{i}, old.{c}); END",
                f"CREATE TRIGGER {f}_au AFTER UPDATE OF {c} ON {t} BEGIN "
                f"INSERT INTO {f}({f}, rowid, {c}) VALUES ('delete', old.{i}, old.{c}); "
                f"INSERT INTO {f}(rowid, {c}) VALUES (new.{i}, new.{c}); END",
                f"INSERT INTO {f}({f}) VALUES ('rebuild')",
            ]
        else:
            statements = [
                f"CREATE INDEX IF NOT EXISTS {self.pg_index} ON {t} USING gin (to_tsvector('simple', {c}))"
            ]
        with db.write_tx():
            for sql in statements:
                database.execute_sql(sql)

    def drop(self) -> None:
        f = self.fts_table
        with db.write_tx():
            if db.is_sqlite():
                for suffix in ("ai", "ad", "au"):
                    db.database.execute_sql(f"DROP TRIGGER IF EXISTS {f}_{suffix}")
                db.database.execute_sql(f"DROP TABLE IF EXISTS {f}")
            else:
                db.database.execute_sql(f"DROP INDEX IF EXISTS {self.pg_index}")

    def rebuild(self) -> None:
        """Re-read every row (SQLite; PostgreSQL's expression index is always current)."""
        if db.is_sqlite():
            with db.write_tx():
                db.database.execute_sql(f"INSERT INTO {self.fts_table}({self.fts_table}) VALUES ('rebuild')")

    @staticmethod
    def _words(query: str) -> list[str]:
        return [w for w in (w.replace('"', "") for w in query_tokens(query)) if w][:16]

    @staticmethod
    def _quoted(word: str) -> str:
        if db.is_sqlite():
            return f'"{word}"'
        return "'" + word.replace("'", "''").replace("\\", "") + "'"

    def _match(self, query: str) -> str | None:
        """`query` as an FTS5 MATCH string (SQLite) or a tsquery (PostgreSQL) that every one of its
        words must satisfy; None when it has no searchable word."""
        words = self._words(query)
        if not words:
            return None
        if db.is_sqlite():
            return " ".join(self._quoted(w) for w in words)
        return " & ".join(self._quoted(w) for w in words)

    def _boolean(self, groups: Sequence[Sequence[str]], exclude: Sequence[str]) -> str | None:
        """A MATCH string / tsquery: every group (any one of its phrases; a phrase: all its words)
        and none of the `exclude` phrases. None when no group has a searchable word."""
        sqlite = db.is_sqlite()
        and_, or_ = (" AND ", " OR ") if sqlite else (" & ", " | ")

        def phrase(text: str) -> str | None:
            words = self._words(text)
            return "(" + and_.join(self._quoted(w) for w in words) + ")" if words else None

        def any_of(phrases: Sequence[str]) -> str | None:
            parts = [p for p in (phrase(t) for t in phrases) if p]
            return "(" + or_.join(parts) + ")" if parts else None

        required = [g for g in (any_of(group) for group in groups) if g]
        if not required:
            return None
        match = and_.join(required)
        excluded = any_of(exclude)
        if excluded:
            match = f"({match}) NOT {excluded}" if sqlite else f"({match}) & !{excluded}"
        return match

    def boolean_ids_sql(
        self, groups: Sequence[Sequence[str]], exclude: Sequence[str] = ()
    ) -> tuple[str, tuple[str, ...]] | None:
        """Like `matching_ids_sql` for a keyword set: rows containing, for every group, one of its
        phrases (all the words of that phrase, as the query tokeniser cuts them), and none of the
        `exclude` phrases. None when no group has a searchable word."""
        match = self._boolean(groups, list(exclude))
        if match is None:
            return None
        return self._ids_sql(match)

    def _ids_sql(self, match: str) -> tuple[str, tuple[str, ...]]:
        if db.is_sqlite():
            return f"SELECT rowid FROM {self.fts_table} WHERE {self.fts_table} MATCH ?", (match,)
        return (
            f"SELECT {self.id_column} FROM {self.table} "
            f"WHERE to_tsvector('simple', {self.column}) @@ to_tsquery('simple', %s)",
            (match,),
        )

    def matching_ids_sql(self, query: str) -> tuple[str, tuple[str, ...]] | None:
        """A subquery (SQL, params) selecting the ids of rows that contain every word of `query`,
        to use as `id IN (…)` beside other filters, ordering and pagination; None when the query
        has no searchable word."""
        match = self._match(query)
        if match is None:
            return None
        return self._ids_sql(match)

    def search(self, query: str, limit: int = 20) -> list[tuple[int, float]]:
        """Ids of rows containing every word of `query`, best first, with a score (higher is better)."""
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("检索词不能为空")
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ValidationError("检索结果数量应在1至1000之间")
        match = self._match(query)
        if match is None:
            return []
        if db.is_sqlite():
            sql = (
                f"SELECT rowid, -bm25({self.fts_table}) AS score FROM {self.fts_table} "
                f"WHERE {self.fts_table} MATCH ? ORDER BY score DESC LIMIT ?"
            )
            rows = db.database.execute_sql(sql, (match, limit)).fetchall()
        else:
            vec = f"to_tsvector('simple', {self.column})"
            sql = (
                f"SELECT {self.id_column}, ts_rank({vec}, q) AS score FROM {self.table}, "
                f"to_tsquery('simple', %s) AS q WHERE {vec} @@ q ORDER BY score DESC LIMIT %s"
            )
            rows = db.database.execute_sql(sql, (match, limit)).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]
