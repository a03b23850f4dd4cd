"""Automatic order titles that say where, who and what: "鼓楼区 出租汽车 拒载 苏A8T123".

- where: the district (county-level region) of the order, else the start of the address;
- the category: the sub-business (else the domain) name;
- what: the words of the text that the categorisation lexicon ties both to a business type and to
  a category (拒载, 绕路, 不打表, 甩客 … — how callers name a wrong), in the order they appear;
- who: the licence plate (the respondent's or one found in the text), else the line, vessel or company.

Falls back to the first sentence when the text names neither a category nor a wrong.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from node.text.segment import plates

MAX_TITLE = 40
MAX_WHAT = 2
_lock = threading.Lock()
_issue_terms: dict[str, tuple[int, list[str]]] = {}
_SENTENCE_END = re.compile(r"[。！？!?\n；;]")


def issue_terms() -> list[str]:
    """Lexicon terms that point to a business type and to a category (longest first), cached per
    database and lexicon version (an administrator's edit is used on the next order)."""
    from node import db
    from node.text import lexicon
    from node.text.models import LexiconEntry

    version = lexicon.version()
    key = str(getattr(db.database.obj, "database", ""))
    with _lock:
        hit = _issue_terms.get(key)
        if hit and hit[0] == version:
            return hit[1]
    targets: dict[str, set[str]] = {}
    rows = LexiconEntry.select(LexiconEntry.term, LexiconEntry.target).where(
        LexiconEntry.enabled == True,  # noqa: E712
        LexiconEntry.weight >= 2,
    )
    for row in rows:
        if not row.term.startswith("〈") and len(row.term) >= 2:
            targets.setdefault(row.term, set()).add(row.target)
    terms = sorted(
        (
            t
            for t, tg in targets.items()
            if any(len(x) == 1 for x in tg) and any(len(x) in (2, 4) and x != "00" for x in tg)
        ),
        key=lambda t: (-len(t), t),
    )
    with _lock:
        _issue_terms[key] = (version, terms)
    return terms


def _what(text: str) -> list[str]:
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for term in issue_terms():
        at = text.find(term)
        if at < 0 or any(a <= at < b or a < at + len(term) <= b for a, b in taken):
            continue
        found.append((at, term))
        taken.append((at, at + len(term)))
    return [t for _, t in sorted(found)][:MAX_WHAT]


def first_sentence(content: str) -> str:
    text = content.strip()
    first = _SENTENCE_END.split(text, maxsplit=1)[0] if text else ""
    return first[:30] + ("…" if len(first) > 30 else "")


def make_title(order: Any) -> str:
    """The title of an order (a WorkOrder or anything with its attributes) without one."""
    from node.catalog import service as catalog
    from node.catalog.models import Region

    content = order.content or ""
    what = _what(content)
    category = ""
    if order.sub_business:
        category = catalog.sub_name(order.sub_business)
    elif order.domain:
        category = catalog.domain_name(order.domain)
    if not what and not category:
        return first_sentence(content)
    where = ""
    code = order.region_code or ""
    if code and not code.endswith("00"):
        where = catalog.region_name(code)
    elif order.address:
        where = order.address.strip()[:10]
    elif code:
        region = Region.get_or_none(Region.code == code)
        where = region.name if region is not None and not code.endswith("0000") else ""
    who = order.respondent_plate or next(iter(plates(content)), "")
    who = who or order.respondent_route or order.respondent_vessel or (order.respondent_name or "")[:12]
    parts = [where, category, *what, who]
    title = " ".join(p for p in parts if p)
    if not what:  # a category alone says little: add the start of the text
        title = f"{title} {first_sentence(content)}".strip()
    return title[:MAX_TITLE]
