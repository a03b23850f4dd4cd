"""`record()` appends to the audit log; `verify()` walks the chain; `search()` reads it.

Writers on every process of a node take turns: on SQLite through `write_tx()` (the node-wide
writer flock + BEGIN IMMEDIATE), on PostgreSQL through a transaction-scoped advisory lock. Each
writer reads the last entry's `seq` and `hash` under that lock, so the chain cannot fork; the
unique `seq` is the second line of defence. The lock is held only for one indexed read and one
insert (or until the caller's own transaction ends, when `record()` runs inside one, so an event
is never logged for a change that was rolled back).

The chain makes tampering evident to anyone who holds a later hash (the last hash is printed by
`hotline audit verify` and can be noted elsewhere); it does not stop someone with write access to
the database from rewriting the whole table, nor show that entries were cut from the end.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from node import clock, db
from node.audit.models import AuditEntry
from node.db import write_tx
from node.errors import ValidationError

if TYPE_CHECKING:
    from node.auth.service import Actor

GENESIS = "0" * 64

EVENTS: dict[str, str] = {
    "auth.login": "登录成功",
    "auth.login_failed": "登录失败",
    "auth.login_throttled": "登录受限（失败过多）",
    "auth.logout": "退出登录",
    "auth.sessions_revoked": "强制下线",
    "auth.password_changed": "修改密码",
    "auth.token_issued": "签发访问令牌",
    "auth.token_revoked": "吊销访问令牌",
    "user.created": "新建用户",
    "user.enabled": "启用账号",
    "user.disabled": "停用账号",
    "user.roles_changed": "权限变更",
    "pii.phone_viewed": "查看来电人完整号码",
    "routing.changed": "修改分派规则",
    "pii.phone_search": "按来电号码查询",
    "recording.listen": "收听录音",
    "call.placed": "回访外呼",
    "data.export": "导出数据",
    "config.changed": "配置变更",
    "outbox.resent": "重新发送告知市民消息",
    "user.updated": "修改用户",
    "user.password_reset": "重置密码",
    "role.changed": "角色定义变更",
    "unit.changed": "承办单位变更",
    "catalog.changed": "代码表变更",
    "calendar.changed": "工作日历变更",
    "backup.created": "备份",
    "backup.restored": "从备份恢复",
    "portal.code_locked": "查询码锁定",
    "portal.code_failed": "查询码错误",
    "lexicon.changed": "归类词表变更",
    "stats.topic_changed": "专题报告变更",
    "federation.key_generated": "生成联网密钥",
    "federation.enrolled": "登记下级节点",
    "federation.bundle_imported": "导入登记包",
    "federation.key_rotated": "轮换签名密钥",
    "federation.key_revoked": "吊销签名密钥",
    "federation.directory_issued": "签发节点目录",
    "federation.peer_changed": "联网对端变更",
    "file.uploaded": "上传附件",
    "file.downloaded": "下载附件",
    "file.deleted": "删除附件",
    "knowledge.approved": "知识文章审核发布",
    "knowledge.returned": "知识文章退回",
    "knowledge.withdrawn": "知识文章撤回",
    "knowledge.imported": "知识库导入",
}

# The web layer sets the caller's address for the request; jobs and the CLI leave it empty.
request_address: contextvars.ContextVar[str] = contextvars.ContextVar("audit_address", default="")


def _canonical(details: Any) -> Any:
    """Details as they will read back from the JSON column (so the hash is reproducible)."""
    return json.loads(json.dumps(details or {}, ensure_ascii=False, sort_keys=True, default=str))


def entry_hash(
    *,
    seq: int,
    at: dt.datetime,
    event: str,
    actor_id: int | None,
    actor_name: str,
    address: str,
    target: str,
    details: Any,
    prev_hash: str,
) -> str:
    body = json.dumps(
        [
            seq,
            at.isoformat(timespec="microseconds"),
            event,
            actor_id,
            actor_name,
            address,
            target,
            details,
            prev_hash,
        ],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(
    actor: Actor | None,
    event: str,
    target: str = "",
    details: dict[str, Any] | None = None,
    *,
    actor_name: str | None = None,
    address: str | None = None,
) -> AuditEntry:
    """Append one event. `actor` None means an unknown or anonymous caller (name it with
    `actor_name`, e.g. the user name typed into a failed sign-in; else it reads 系统)."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    name = actor_name if actor_name is not None else (actor.username if actor else "系统")
    fields = {
        "event": event,
        "actor_id": actor.user_id if actor else None,
        "actor_name": name[:60],
        "address": (address if address is not None else request_address.get())[:64],
        "target": str(target)[:120],
        "details": _canonical(details),
    }
    with write_tx():
        db.lock_named("audit_chain")
        last = AuditEntry.select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).first()
        seq = last.seq + 1 if last else 1
        prev = last.hash if last else GENESIS
        at = clock.now().replace(tzinfo=None)
        digest = entry_hash(seq=seq, at=at, prev_hash=prev, **fields)
        return AuditEntry.create(seq=seq, at=at, prev_hash=prev, hash=digest, **fields)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    count: int
    last_hash: str
    broken_seq: int | None = None
    reason: str = ""


def verify(batch: int = 2000) -> Verdict:
    """Walk the whole chain in order; the first entry whose number, link or hash is wrong breaks it."""
    expected_seq, prev, count = 1, GENESIS, 0
    after = 0
    while True:
        rows = list(AuditEntry.select().where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(batch))
        if not rows:
            return Verdict(True, count, prev)
        for e in rows:
            if e.seq != expected_seq:
                return Verdict(
                    False, count, prev, expected_seq, f"缺少第 {expected_seq} 条记录（下一条为第 {e.seq} 条）"
                )
            if e.prev_hash != prev:
                return Verdict(False, count, prev, e.seq, f"第 {e.seq} 条记录的前序哈希与上一条不符")
            digest = entry_hash(
                seq=e.seq,
                at=e.at,
                event=e.event,
                actor_id=e.actor_id,
                actor_name=e.actor_name,
                address=e.address,
                target=e.target,
                details=_canonical(e.details),
                prev_hash=e.prev_hash,
            )
            if digest != e.hash:
                return Verdict(False, count, prev, e.seq, f"第 {e.seq} 条记录内容与哈希不符（已被改动）")
            prev, expected_seq, count = e.hash, e.seq + 1, count + 1
        after = rows[-1].seq


def search(
    actor: Actor,
    *,
    event: str | None = None,
    actor_name: str | None = None,
    target: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[AuditEntry], int]:
    actor.require("audit.view")
    if event and event not in EVENTS:
        raise ValidationError(f"未知的审计事件：{event}", details={"event": "未知事件"})
    query = AuditEntry.select()
    if event:
        query = query.where(AuditEntry.event == event)
    if actor_name:
        query = query.where(AuditEntry.actor_name == actor_name)
    if target:
        query = query.where(AuditEntry.target == target)
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    total = query.count()
    return list(query.order_by(AuditEntry.seq.desc()).paginate(page, page_size)), total


def present(e: AuditEntry) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at.isoformat(timespec="seconds"),
        "event": e.event,
        "event_name": EVENTS.get(e.event, e.event),
        "actor_id": e.actor_id,
        "actor_name": e.actor_name,
        "address": e.address,
        "target": e.target,
        "details": e.details,
        "hash": e.hash,
    }
