"""Sending, reading and receipting staff notices.

`notify()` joins the caller's write transaction (a notice exists exactly when the change it
announces was committed) and publishes one push event per recipient carrying their new unread
count, so the badge on every open page of theirs changes without a reload.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import peewee as pw

from node import clock
from node.auth.models import User
from node.auth.service import Actor
from node.db import write_tx
from node.errors import NotFound, ValidationError
from node.notices.models import Notice
from node.push import service as push

KINDS: dict[str, str] = {
    "urge": "催办",
    "supervise": "督办",
    "warning": "时限预警",
    "sign_due": "签收提醒",
    "return": "退回",
    "extension": "延期审批",
    "reply": "办理回复",
    "callback_due": "回访到期",
    "dissatisfied": "不满意整改",
    "reopen": "重办",
    "dispatch": "新派工单",
    "review": "知识审核",
    "info": "通知",
}
PUSH_KIND = "notice"
TITLE_MAX = 120
BODY_MAX = 2000


@dataclass(frozen=True)
class Receipt:
    user_id: int
    display_name: str
    read_at: dt.datetime | None


def _recipients(users: Iterable[int], roles: Iterable[str], units: Iterable[int]) -> list[int]:
    ids: dict[int, None] = dict.fromkeys(int(u) for u in users)
    role_set = {r for r in roles if r}
    if role_set:
        cond = pw.reduce(lambda a, b: a | b, [User.roles.contains(r) for r in role_set])  # type: ignore[attr-defined]
        for u in User.select(User.id, User.roles).where(User.active == True, cond):  # noqa: E712
            if role_set & set(u.role_list):
                ids.setdefault(u.id)
    unit_ids = [int(u) for u in units]
    if unit_ids:
        for u in User.select(User.id).where(User.active == True, User.unit.in_(unit_ids)):  # noqa: E712
            ids.setdefault(u.id)
    if ids:  # disabled accounts receive nothing
        live = {u.id for u in User.select(User.id).where(User.id.in_(list(ids)), User.active == True)}  # noqa: E712
        return [i for i in ids if i in live]
    return []


def _check(kind: str, title: str, link: str, body: str) -> None:
    if kind not in KINDS:
        raise ValidationError(f"未知的消息类型：{kind}", details={"kind": "未知类型"})
    if not title.strip() or len(title) > TITLE_MAX:
        raise ValidationError(f"消息标题须为1～{TITLE_MAX}个字符", details={"title": "长度不符"})
    if len(body) > BODY_MAX:
        raise ValidationError(f"消息正文不能超过{BODY_MAX}个字符", details={"body": "过长"})
    if link and (not link.startswith("/") or link.startswith("//") or "\\" in link or len(link) > 300):
        raise ValidationError("消息链接须为本站相对路径", details={"link": "应以 / 开头"})
    if "\x00" in title + body + link:
        raise ValidationError("消息内容含有非法字符", details={"title": "含空字符"})


def notify(
    kind: str,
    title: str,
    *,
    users: Iterable[int] = (),
    roles: Iterable[str] = (),
    units: Iterable[int] = (),
    link: str = "",
    body: str = "",
    ref: str = "",
    sender: str = "系统",
    exclude: Iterable[int] = (),
) -> list[int]:
    """Send a notice to the given users, every active holder of the given roles, and every
    active user of the given handling units; returns the recipients' user ids (each once)."""
    _check(kind, title, link, body)
    skip = {int(u) for u in exclude}
    now = clock.now()
    with write_tx():
        recipients = [u for u in _recipients(users, roles, units) if u not in skip]
        if not recipients:
            return []
        Notice.insert_many(
            [
                {
                    "user": uid,
                    "kind": kind,
                    "title": title.strip(),
                    "body": body,
                    "link": link,
                    "ref": ref[:60],
                    "sender": sender[:40],
                    "created_at": now,
                }
                for uid in recipients
            ]
        ).execute()
        counts = _unread_counts(recipients)
        for uid in recipients:
            push.publish(
                push.user_topic(uid),
                PUSH_KIND,
                {
                    "unread": counts.get(uid, 0),
                    "kind": kind,
                    "kind_label": KINDS[kind],
                    "title": title.strip(),
                },
            )
    return recipients


def _unread_counts(user_ids: list[int]) -> dict[int, int]:
    rows = (
        Notice.select(Notice.user, pw.fn.COUNT(Notice.id).alias("n"))
        .where(Notice.user.in_(user_ids), Notice.read_at.is_null())
        .group_by(Notice.user)
        .tuples()
    )
    return {int(u): int(n) for u, n in rows}


def unread_count(user_id: int | None) -> int:
    if user_id is None:
        return 0
    return int(Notice.select().where(Notice.user == user_id, Notice.read_at.is_null()).count())


def inbox(
    actor: Actor, *, unread_only: bool = False, kind: str = "", page: int = 1, size: int = 30
) -> tuple[list[Notice], int]:
    """The actor's notices, newest first (a user sees only their own)."""
    if actor.user_id is None:
        return [], 0
    q = Notice.select().where(Notice.user == actor.user_id)
    if unread_only:
        q = q.where(Notice.read_at.is_null())
    if kind:
        if kind not in KINDS:
            raise ValidationError(f"未知的消息类型：{kind}", details={"kind": "未知类型"})
        q = q.where(Notice.kind == kind)
    total = q.count()
    rows = list(q.order_by(Notice.created_at.desc(), Notice.id.desc()).paginate(page, size))
    return rows, int(total)


def _publish_count(user_id: int) -> None:
    push.publish(push.user_topic(user_id), PUSH_KIND, {"unread": unread_count(user_id)})


def mark_read(actor: Actor, notice_id: int) -> Notice:
    """Read receipt for one of the actor's own notices (idempotent: the first read time stays)."""
    with write_tx():
        notice = Notice.get_or_none(Notice.id == notice_id, Notice.user == actor.user_id)
        if notice is None:
            raise NotFound("消息不存在")
        if notice.read_at is None:
            notice.read_at = clock.now()
            notice.save(only=[Notice.read_at])
            _publish_count(notice.user_id)
    return notice  # type: ignore[no-any-return]


def mark_ref_read(actor: Actor, ref: str) -> int:
    """Read receipt for the actor's notices about `ref` (e.g. "urge:17" from the unit desk); the
    first read time stays. NotFound when the actor was not told of it."""
    if actor.user_id is None or not ref:
        raise NotFound("消息不存在")
    with write_tx():
        mine = Notice.select().where(Notice.user == actor.user_id, Notice.ref == ref[:60])
        if not mine.exists():
            raise NotFound("您没有收到这条消息")
        n = (
            Notice.update(read_at=clock.now())
            .where(Notice.user == actor.user_id, Notice.ref == ref[:60], Notice.read_at.is_null())
            .execute()
        )
        if n:
            _publish_count(actor.user_id)
    return int(n)


def mark_all_read(actor: Actor) -> int:
    if actor.user_id is None:
        return 0
    with write_tx():
        n = (
            Notice.update(read_at=clock.now())
            .where(Notice.user == actor.user_id, Notice.read_at.is_null())
            .execute()
        )
        if n:
            _publish_count(actor.user_id)
    return int(n)


def receipts(ref: str) -> list[Receipt]:
    """Who was told about `ref` and when each read it (unread first, then by read time)."""
    rows = (
        Notice.select(Notice.user, User.display_name, Notice.read_at)
        .join(User)
        .where(Notice.ref == ref)
        .order_by(Notice.read_at.is_null(False), Notice.read_at, User.display_name)
        .tuples()
    )
    seen: dict[int, Receipt] = {}
    for uid, name, read_at in rows:
        if uid not in seen:
            seen[uid] = Receipt(int(uid), str(name), read_at)
    return list(seen.values())


def receipt_summary(ref: str) -> dict[str, Any]:
    """{'sent': n, 'read': m, 'first_read_at': …} for a status line beside an urge or supervision."""
    rs = receipts(ref)
    read = [r.read_at for r in rs if r.read_at is not None]
    return {"sent": len(rs), "read": len(read), "first_read_at": min(read) if read else None, "receipts": rs}
