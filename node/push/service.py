"""Publishing push events and reading them back for the streams.

`publish()` is called by services inside their own write transaction, so an event exists exactly
when the change it announces was committed. Payloads carry identifiers and labels, never personal
data: a page that needs a caller's number fetches it through an authorised request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import peewee as pw

from node import clock
from node.auth.service import Actor
from node.db import write_tx
from node.push.models import PushEvent

KEEP = dt.timedelta(hours=1)
BATCH = 500


@dataclass(frozen=True)
class Event:
    id: int
    topic: str
    kind: str
    data: dict[str, Any]


def user_topic(user_id: int) -> str:
    return f"user:{user_id}"


def perm_topic(permission: str) -> str:
    """Everyone holding `permission` (e.g. `perm:monitor.view` for the wallboards)."""
    return f"perm:{permission}"


def role_topic(role: str) -> str:
    return f"role:{role}"


def topics_for(actor: Actor) -> frozenset[str]:
    """The topics an actor's stream receives: their own, their roles' and their permissions'."""
    topics = {role_topic(r) for r in actor.roles} | {perm_topic(p) for p in actor.permissions}
    if actor.user_id is not None:
        topics.add(user_topic(actor.user_id))
    return frozenset(topics)


def publish(topics: str | Iterable[str], kind: str, data: dict[str, Any] | None = None) -> None:
    """Announce `kind` to every open stream subscribed to one of `topics` (joins the caller's
    transaction, or opens one)."""
    names = [topics] if isinstance(topics, str) else list(dict.fromkeys(topics))
    if not names:
        return
    now = clock.now()
    with write_tx():
        PushEvent.insert_many(
            [{"topic": t, "kind": kind, "data": data or {}, "at": now} for t in names]
        ).execute()


def last_id() -> int:
    return int(PushEvent.select(pw.fn.MAX(PushEvent.id)).scalar() or 0)


def after(last: int, limit: int = BATCH) -> list[Event]:
    """Events newer than `last`, oldest first."""
    rows = (
        PushEvent.select(PushEvent.id, PushEvent.topic, PushEvent.kind, PushEvent.data)
        .where(PushEvent.id > last)
        .order_by(PushEvent.id)
        .limit(limit)
    )
    return [Event(r.id, r.topic, r.kind, r.data or {}) for r in rows]


def purge(now: dt.datetime | None = None) -> int:
    """Drop events older than an hour (a reconnecting page only replays the last few seconds)."""
    cutoff = (now or clock.now()) - KEEP
    with write_tx():
        return int(PushEvent.delete().where(PushEvent.at < cutoff).execute())
