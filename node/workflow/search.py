"""Full-text restriction of order queries. Uses the tokens stored in `search_text`
(jieba-segmented when node.text is loaded), so two-character words such as 拒载 are found."""

from __future__ import annotations

import peewee as pw

from node.workflow.models import WorkOrder


def restrict(query: pw.ModelSelect, q: str) -> pw.ModelSelect:
    words = [w for w in q.split() if w][:8]
    for word in words:
        query = query.where(
            WorkOrder.search_text.contains(word)
            | WorkOrder.number.startswith(word)
            | WorkOrder.respondent_plate.contains(word.upper())
        )
    return query
