"""Full-text search over published articles: the jieba tokens of the live version in
`knowledge_article.search_text` (FTS5 on SQLite, a tsvector GIN index on PostgreSQL, as the order
search: node.text.search), query words expanded with the editable synonym groups (网约车 =
网络预约出租汽车), and highlighted matches."""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup, escape

from node import db
from node.knowledge.models import Synonym
from node.text.normalize import normalize
from node.text.search import SearchBackend
from node.text.segment import query_tokens, search_tokens

TABLE = "knowledge_article"
MAX_WORDS = 16


def backend() -> SearchBackend:
    return SearchBackend(TABLE)


def synonym_groups() -> list[list[str]]:
    """The synonym groups, each a list of words (longest first)."""
    groups = []
    for row in Synonym.select(Synonym.words).order_by(Synonym.id):
        words = sorted({w for w in row.words.split(",") if w}, key=len, reverse=True)
        if len(words) > 1:
            groups.append(words)
    return groups


@dataclass(frozen=True)
class Query:
    """A search query as clauses: each clause is a list of alternatives, each alternative a list of
    words that must all occur (a synonym's own words)."""

    clauses: list[list[list[str]]]

    @property
    def words(self) -> list[str]:
        """Every word that may be highlighted."""
        return sorted({w for c in self.clauses for alt in c for w in alt}, key=len, reverse=True)

    @property
    def surface(self) -> list[str]:
        """Whole synonyms and words, for highlighting in the text (longest first)."""
        out: set[str] = set()
        for clause in self.clauses:
            for alt in clause:
                out.add("".join(alt))
                out.update(alt)
        return sorted((w for w in out if w), key=len, reverse=True)


def parse(q: str, groups: list[list[str]] | None = None) -> Query:
    text = normalize(q or "").lower()
    groups = synonym_groups() if groups is None else groups
    clauses: list[list[list[str]]] = []
    for group in groups:
        hit = next((w for w in group if w.lower() in text), None)
        if hit is not None:
            text = text.replace(hit.lower(), " ")
            clauses.append([_tokens(w) for w in group])
    for word in query_tokens(text):
        alts = [[word]]
        for group in groups:
            if word in (w.lower() for w in group):
                alts = [_tokens(w) for w in group]
        clauses.append(alts)
    clauses = [[a for a in c if a] for c in clauses]
    return Query([c for c in clauses if c][:MAX_WORDS])


def _tokens(word: str) -> list[str]:
    return [t.replace('"', "").replace("'", "") for t in query_tokens(word) if t.strip("\"'")]


def match_expression(query: Query) -> str | None:
    """The FTS5 MATCH string (SQLite) or tsquery (PostgreSQL) for `query`: every clause must hold,
    any alternative of a clause will do."""
    if not query.clauses:
        return None
    sqlite = db.is_sqlite()
    parts = []
    for clause in query.clauses:
        alts = []
        for alt in clause:
            if sqlite:
                alts.append("(" + " AND ".join(f'"{w}"' for w in alt) + ")")
            else:
                alts.append("(" + " & ".join("'" + w.replace("\\", "") + "'" for w in alt) + ")")
        parts.append("(" + (" OR " if sqlite else " | ").join(alts) + ")")
    return (" AND " if sqlite else " & ").join(parts)


def ranked_ids(query: Query, limit: int = 500) -> list[tuple[int, float]]:
    """Ids of live articles matching `query`, best first (bm25 / ts_rank), with the score."""
    match = match_expression(query)
    if match is None:
        return []
    b = backend()
    if db.is_sqlite():
        sql = (
            f"SELECT rowid, -bm25({b.fts_table}) AS score FROM {b.fts_table} "
            f"WHERE {b.fts_table} MATCH ? ORDER BY score DESC LIMIT ?"
        )
    else:
        vec = f"to_tsvector('simple', {b.column})"
        sql = (
            f"SELECT id, ts_rank({vec}, q) AS score FROM {b.table}, to_tsquery('simple', %s) AS q "
            f"WHERE {vec} @@ q ORDER BY score DESC, id LIMIT %s"
        )
    rows = db.database.execute_sql(sql, (match, limit)).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


def document_tokens(title: str, keywords: str, body_text: str) -> str:
    """What `search_text` holds for a live version: title and keywords count twice."""
    return search_tokens(f"{title} {keywords} {title} {keywords} {body_text}")


def highlight(text: str, words: list[str], limit: int | None = None) -> Markup:
    """`text` escaped, each occurrence of `words` in <mark>; with `limit`, a window of about that
    many characters around the first match."""
    if limit is not None and len(text) > limit:
        low = text.lower()
        first = min((i for i in (low.find(w.lower()) for w in words if w) if i >= 0), default=0)
        start = max(0, first - limit // 4)
        text = (
            ("…" if start else "") + text[start : start + limit] + ("…" if start + limit < len(text) else "")
        )
    words = [w for w in words if w]
    if not words:
        return Markup(escape(text))
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out, pos = [], 0
    for m in pattern.finditer(text):
        out.append(escape(text[pos : m.start()]))
        out.append(Markup("<mark>") + escape(m.group(0)) + Markup("</mark>"))
        pos = m.end()
    out.append(escape(text[pos:]))
    return Markup(str(Markup("").join(out)).replace("</mark><mark>", ""))  # adjacent words: one mark
