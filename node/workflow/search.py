"""Full-text restriction of order queries over the jieba tokens stored in `search_text`
(FTS5 on SQLite, a tsvector GIN index on PostgreSQL: node.text.search), so two-character words
such as 拒载 are found. Plate and number prefixes are matched directly."""

from __future__ import annotations

import peewee as pw

from node.workflow.models import WorkOrder

ORDER_SEARCH_TABLE = "work_order"


def backend():  # type: ignore[no-untyped-def]
    from node.text.search import SearchBackend

    return SearchBackend(ORDER_SEARCH_TABLE)


def restrict(query: pw.ModelSelect, q: str) -> pw.ModelSelect:
    q = q.strip()
    if q.isdigit() and len(q) >= 8:
        return query.where(WorkOrder.number.startswith(q))
    subquery = backend().matching_ids_sql(q)
    plate = WorkOrder.respondent_plate == q.upper().replace(" ", "")
    if subquery is None:
        return query.where(plate)
    sql, params = subquery
    return query.where(WorkOrder.id.in_(pw.SQL(f"({sql})", params)) | plate)
