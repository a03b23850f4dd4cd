"""Likely duplicates (疑似重复) for the workstation while the agent types.

`likely_duplicates(actor, draft)` is the one function the workstation calls. Once the agent has
typed some content it asks node.text's duplicate finder (TF-IDF index plus caller, respondent and
address keys). Before that a keyed look-up here finds recent orders sharing the caller, the
respondent (plate, company, route, vessel) or region + domain, scored with a character-bigram
similarity of the content.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import peewee as pw

from node import clock, pii
from node.auth.service import Actor
from node.text import service as text
from node.workflow import states
from node.workflow.models import WorkOrder

WINDOW_DAYS = 30
MAX_SCAN = 300
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass
class Draft:
    """What the agent has typed so far."""

    caller_phone: str = ""
    respondent_name: str = ""
    respondent_plate: str = ""
    respondent_route: str = ""
    respondent_vessel: str = ""
    region_code: str = ""
    domain: str = ""
    sub_business: str = ""
    content: str = ""

    @classmethod
    def from_form(cls, form: Any) -> Draft:
        return cls(
            **{name: str(form.get(name, "") or "").strip()[:2000] for name in cls.__dataclass_fields__}
        )


@dataclass
class Hit:
    number: str
    title: str
    state_label: str
    accepted_at: dt.datetime
    score: float
    reasons: list[str] = field(default_factory=list)


def bigrams(text: str) -> set[str]:
    s = _PUNCT.sub("", text.lower())
    return {s[i : i + 2] for i in range(len(s) - 1)} if len(s) > 1 else ({s} if s else set())


def similarity(a: str, b: str) -> float:
    """Dice coefficient of character bigrams: robust for Chinese without segmentation."""
    x, y = bigrams(a), bigrams(b)
    if not x or not y:
        return 0.0
    return 2 * len(x & y) / (len(x) + len(y))


def _find(actor: Actor, draft: Draft, limit: int = 6) -> list[Hit]:
    if not actor.can("order.view_all"):
        return []
    since = clock.now() - dt.timedelta(days=WINDOW_DAYS)
    keys: list[pw.Expression] = []
    digest = ""
    if draft.caller_phone and pii.valid_phone(draft.caller_phone):
        digest = pii.codec().digest(draft.caller_phone)
        keys.append(WorkOrder.caller_phone_digest == digest)
    plate = draft.respondent_plate.upper().replace("·", "").replace(" ", "")
    if len(plate) >= 5:
        keys.append(WorkOrder.respondent_plate == plate)
    if len(draft.respondent_name) >= 2:
        keys.append(WorkOrder.respondent_name == draft.respondent_name)
    if len(draft.respondent_route) >= 2:
        keys.append(WorkOrder.respondent_route == draft.respondent_route)
    if len(draft.respondent_vessel) >= 2:
        keys.append(WorkOrder.respondent_vessel == draft.respondent_vessel)
    if draft.region_code and draft.domain:
        keys.append((WorkOrder.region_code == draft.region_code) & (WorkOrder.domain == draft.domain))
    if not keys:
        return []
    cond = keys[0]
    for k in keys[1:]:
        cond = cond | k
    excluded = ["merged", "split", "rejected"]
    rows = (
        WorkOrder.select(
            WorkOrder.number,
            WorkOrder.title,
            WorkOrder.content,
            WorkOrder.state,
            WorkOrder.accepted_at,
            WorkOrder.caller_phone_digest,
            WorkOrder.respondent_plate,
            WorkOrder.respondent_name,
            WorkOrder.respondent_route,
            WorkOrder.respondent_vessel,
            WorkOrder.region_code,
            WorkOrder.domain,
            WorkOrder.sub_business,
        )
        .where(WorkOrder.accepted_at >= since, WorkOrder.state.not_in(excluded), cond)
        .order_by(WorkOrder.accepted_at.desc())
        .limit(MAX_SCAN)
    )
    hits: list[Hit] = []
    for o in rows:
        score, reasons = 0.0, []
        if digest and o.caller_phone_digest == digest:
            score += 0.35
            reasons.append("同一来电人")
        if len(plate) >= 5 and o.respondent_plate == plate:
            score += 0.35
            reasons.append(f"同一车牌 {plate}")
        for label, mine, theirs in (
            ("同一被反映单位", draft.respondent_name, o.respondent_name),
            ("同一线路", draft.respondent_route, o.respondent_route),
            ("同一船舶", draft.respondent_vessel, o.respondent_vessel),
        ):
            if len(mine) >= 2 and mine == theirs:
                score += 0.25
                reasons.append(label)
        if (
            draft.region_code
            and draft.domain
            and o.region_code == draft.region_code
            and o.domain == draft.domain
        ):
            score += 0.1
            reasons.append("同区划同领域")
            if draft.sub_business and o.sub_business == draft.sub_business:
                score += 0.05
        if len(draft.content) >= 6:
            sim = similarity(draft.content, f"{o.title} {o.content}")
            score += 0.6 * sim
            if sim >= 0.2:
                reasons.append(f"内容相似 {round(sim * 100)}%")
        if score >= 0.3:
            hits.append(
                Hit(o.number, o.title, states.label(o.state), o.accepted_at, round(score, 3), reasons)
            )
    hits.sort(key=lambda h: (-h.score, -h.accepted_at.timestamp()))
    return hits[:limit]


def likely_duplicates(actor: Actor, draft: Draft, limit: int = 6) -> list[Hit]:
    """node.text's index-backed finder, with the orders' titles and states for display; the keyed
    look-up while the content is too short to compare."""
    if not actor.can("order.view_all") or len(draft.content) < 4:
        return _find(actor, draft, limit)
    fields = {k: v for k, v in draft.__dict__.items() if v}
    found = text.find_duplicates(actor, fields, limit=limit)
    if not found:
        return []
    rows = {
        o.number: o
        for o in WorkOrder.select(
            WorkOrder.number, WorkOrder.title, WorkOrder.state, WorkOrder.accepted_at
        ).where(WorkOrder.number.in_([c.number for c in found]))
    }
    return [
        Hit(
            c.number,
            rows[c.number].title,
            states.label(rows[c.number].state),
            rows[c.number].accepted_at,
            round(c.score, 3),
            list(c.reasons),
        )
        for c in found
        if c.number in rows
    ]
