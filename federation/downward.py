"""What flows down the tree: knowledge bulletins (知识通报) and spot-check test orders (抽检工单).

**Knowledge bulletins.** The ministry or a province publishes a bulletin for a `scope` (a region:
its own code = its whole subtree, "000000" = the nation). It is stored here and sent to the node of
the scope, or, when the scope is the publisher's own subtree, to each child. Every node that
receives it stores the latest revision (`KnowledgeBulletin`, read by operators and the knowledge
base) and, if its children are inside the scope, re-issues it to each of them signed by itself —
the issuer stays named in the payload, as a parent vouches for its children's keys. A receiver
accepts a bulletin only from an ancestor, issued by that ancestor or one above it, for a scope
that holds the receiver.

**Spot checks.** The ministry or a province sends a `SpotCheckOrder` to one node below it. The
target creates a real order through the engine (`node.workflow.service.receive_spot_check`:
numbered there, flagged `is_spot_check`, handled in its normal flow within its own time limit)
and every step of it goes back as an `OrderUpdate` whose transfer id is the check id — the same
path as a transfer's updates (the target keeps an `in` TransferLink to the issuer). The issuer
records the steps in `SpotCheck` and scores timeliness against the due time the target reported.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from google.protobuf.message import Message

from federation import codec, flows, inbox, sender
from federation.authority import Claim
from federation.envelope import Rejected, new_message_id
from federation.models import KnowledgeBulletin, Peer, SpotCheck
from federation.routing import check_node, in_subtree, level_of, node_for_region, parent_of
from federation.v1 import federation_pb2 as pb
from node import clock
from node.db import write_tx
from node.errors import DomainError, NotFound, ValidationError

log = logging.getLogger(__name__)

MAX_ID = 40
CATEGORIES = ("政策法规", "业务流程", "常见问题", "工作通知", "其他")


def install() -> None:
    """Register the inbox handlers and content checks (called by `federation.flows.install`)."""
    inbox.register(pb.KnowledgeBulletin, apply_bulletin)
    inbox.register(pb.SpotCheckOrder, apply_spot_check)
    inbox.PRECHECKS.update(
        {
            pb.KnowledgeBulletin.DESCRIPTOR.full_name: _check_bulletin,
            pb.SpotCheckOrder.DESCRIPTOR.full_name: _check_spot_check,
        }
    )


def _below(me: str, node: str) -> bool:
    """Is `node` a valid node strictly inside the subtree of `me`?"""
    try:
        return node != me and in_subtree(me, check_node(node))
    except ValidationError:
        return False


def _children(me: str) -> list[str]:
    """Enabled child peers of `me`."""
    rows = (
        Peer.select(Peer.region)
        .where((Peer.relation == "child") & (Peer.enabled == True))  # noqa: E712
        .tuples()
    )
    return sorted(region for (region,) in rows if parent_of(region) == me)


# ---- knowledge bulletins --------------------------------------------------------------------------


def publish_bulletin(
    me: str,
    scope: str,
    *,
    title: str,
    body: str,
    category: str = "",
    tags: list[str] | None = None,
    effective_date: dt.date | None = None,
    valid_until: dt.datetime | None = None,
) -> KnowledgeBulletin:
    """Write a bulletin for the subtree of `scope` (this node's own code: all below it) and queue it
    down. Only the ministry and provinces publish."""
    if level_of(me) == "city":
        raise ValidationError("市级节点没有下级节点，不能下发知识通报")
    scope = check_node(scope)
    if scope != me and not _below(me, scope):
        raise ValidationError(f"下发范围 {scope} 不在本节点（{me}）的辖区内")
    title, body = title.strip(), body.strip()
    if not title or len(title) > 200:
        raise ValidationError("通报标题不能为空，且不超过200字", details={"title": "1–200 字"})
    if not body:
        raise ValidationError("通报正文不能为空", details={"body": "必填"})
    if len(category) > 40:
        raise ValidationError("通报类别不超过40字", details={"category": "≤ 40 字"})
    now = clock.now()
    message = pb.KnowledgeBulletin(
        bulletin_id=new_message_id(),
        issuer_node=me,
        title=title,
        body=body,
        category=category,
        tags=[t.strip() for t in tags or [] if t.strip()],
        published_at_ms=codec.ms(now),
        valid_until_ms=codec.ms(valid_until),
        revision=1,
        effective_date=effective_date.isoformat() if effective_date else "",
        scope=scope,
    )
    with write_tx():
        row = KnowledgeBulletin.create(**codec.bulletin_row(message, me, now))
        _send_bulletin(me, message, _bulletin_targets(me, scope))
    return row


def withdraw_bulletin(me: str, bulletin_id: str) -> KnowledgeBulletin:
    """Withdraw a bulletin this node published: a new revision marked withdrawn goes the same way."""
    with write_tx():
        row = KnowledgeBulletin.get_or_none(KnowledgeBulletin.bulletin_id == bulletin_id)
        if row is None or row.issuer != me:
            raise NotFound(f"本节点未发布此知识通报：{bulletin_id}")
        if row.withdrawn:
            raise ValidationError(f"知识通报已撤回：{bulletin_id}")
        KnowledgeBulletin.update(withdrawn=True, revision=row.revision + 1, received_at=clock.now()).where(
            KnowledgeBulletin.id == row.id
        ).execute()
        row = KnowledgeBulletin.get_by_id(row.id)
        _send_bulletin(me, codec.bulletin_message(row), _bulletin_targets(me, row.scope))
    return row


def _bulletin_targets(me: str, scope: str) -> list[str]:
    return _children(me) if scope == me else [scope]


def _send_bulletin(me: str, message: pb.KnowledgeBulletin, targets: list[str]) -> None:
    for target in targets:
        sender.enqueue(
            message,
            origin=me,
            destination=target,
            message_id=f"{message.bulletin_id}:{message.revision}:{target}",
        )


def apply_bulletin(me: str, origin: str, bulletin: pb.KnowledgeBulletin) -> None:
    """Inbox handler: keep the latest revision and pass it on to the children inside its scope."""
    now = clock.now()
    row = KnowledgeBulletin.get_or_none(KnowledgeBulletin.bulletin_id == bulletin.bulletin_id)
    values = codec.bulletin_row(bulletin, origin, now)
    if row is not None:
        if row.revision >= bulletin.revision:
            return  # already have this revision or a later one
        KnowledgeBulletin.update(**values).where(KnowledgeBulletin.id == row.id).execute()
    else:
        KnowledgeBulletin.create(**values)
    _to_knowledge_base(bulletin.bulletin_id)
    if in_subtree(bulletin.scope, me):  # the scope holds us, hence all our children
        _send_bulletin(me, bulletin, _children(me))


def _to_knowledge_base(bulletin_id: str) -> None:
    """The node's knowledge base keeps each received bulletin as a published, read-only article
    (a federation-only relay without the node's tables keeps just the bulletin)."""
    from node.knowledge import service as knowledge
    from node.knowledge.models import Article

    if not Article.table_exists():
        return
    knowledge.apply_bulletin(KnowledgeBulletin.get(KnowledgeBulletin.bulletin_id == bulletin_id))


def _check_bulletin(claim: Claim, bulletin: Message) -> None:
    assert isinstance(bulletin, pb.KnowledgeBulletin)
    origin, destination = claim.origin, claim.destination
    if not bulletin.bulletin_id or len(bulletin.bulletin_id) > MAX_ID or bulletin.revision < 1:
        raise Rejected(pb.Ack.PAYLOAD_MALFORMED, "知识通报编号或修订号无效")
    if not bulletin.title or not bulletin.body:
        raise Rejected(pb.Ack.PAYLOAD_MALFORMED, "知识通报缺少标题或正文")
    if bulletin.effective_date:
        try:
            dt.date.fromisoformat(bulletin.effective_date)
        except ValueError:
            raise Rejected(pb.Ack.PAYLOAD_MALFORMED, "知识通报生效日期格式错误") from None
    try:
        issuer, scope = check_node(bulletin.issuer_node), check_node(bulletin.scope)
    except ValidationError:
        raise Rejected(pb.Ack.PAYLOAD_MALFORMED, "知识通报的发布节点或范围无效") from None
    if not _below(origin, destination):
        raise Rejected(pb.Ack.NOT_AUTHORISED, f"{origin} 不是 {destination} 的上级，不能下发知识通报")
    if not in_subtree(issuer, origin) or not in_subtree(issuer, scope):
        raise Rejected(pb.Ack.NOT_AUTHORISED, f"{origin} 不能转发 {issuer} 名义、范围 {scope} 的知识通报")
    if not in_subtree(scope, destination):
        raise Rejected(pb.Ack.NOT_AUTHORISED, f"{destination} 不在知识通报的下发范围 {scope} 内")


def list_bulletins(
    *, category: str | None = None, include_withdrawn: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    """Bulletins held here, newest first (the knowledge base and operators read these)."""
    from node.workflow.present import iso  # (not at import: the CLI starts faster)

    query = KnowledgeBulletin.select()
    if category:
        query = query.where(KnowledgeBulletin.category == category)
    if not include_withdrawn:
        query = query.where(KnowledgeBulletin.withdrawn == False)  # noqa: E712
    rows = query.order_by(KnowledgeBulletin.published_at.desc(), KnowledgeBulletin.id.desc()).limit(limit)
    return [
        {
            "bulletin_id": r.bulletin_id,
            "issuer": r.issuer,
            "origin": r.origin,
            "scope": r.scope,
            "title": r.title,
            "body": r.body,
            "category": r.category,
            "tags": [t for t in r.tags.split(",") if t],
            "effective_date": r.effective_date.isoformat() if r.effective_date else None,
            "valid_until": iso(r.valid_until),
            "published_at": iso(r.published_at),
            "revision": r.revision,
            "withdrawn": r.withdrawn,
            "received_at": iso(r.received_at),
        }
        for r in rows
    ]


# ---- spot checks: issuer side ---------------------------------------------------------------------


def send_spot_check(
    me: str,
    target: str,
    fields: dict[str, Any],
    *,
    due_at: dt.datetime | None = None,
    instructions: str = "",
    issued_by: str = "",
) -> SpotCheck:
    """Queue a spot-check test order for `target` (a node below this one). `fields` are order
    values: business_type, channel, region_code, content (required); domain, sub_business,
    title, caller_name, contact_phone, address, respondent_name, respondent_plate."""
    from node.catalog import service as catalog

    if not _below(me, target):
        raise ValidationError(f"抽检对象 {target} 不是本节点（{me}）的下级节点")
    fields = {k: v for k, v in fields.items() if v not in (None, "")}
    for name in ("business_type", "channel", "region_code", "content"):
        if not str(fields.get(name, "")).strip():
            raise ValidationError(f"抽检工单缺少 {name}", details={name: "必填"})
    catalog.check_codes(
        business_type=fields["business_type"],
        domain=fields.get("domain") or None,
        sub_business=fields.get("sub_business") or None,
        channel=fields["channel"],
    )
    region = fields["region_code"]
    if not in_subtree(target, node_for_region(region)):
        raise ValidationError(f"工单区划 {region} 不在抽检对象 {target} 的辖区内")
    now = clock.now()
    if due_at is not None and due_at <= now:
        raise ValidationError("抽检办结期限必须晚于当前时间")
    check_id = new_message_id()
    fields["title"] = (fields.get("title") or fields["content"].strip().splitlines()[0])[:100]
    message = codec.spot_check_order(
        check_id=check_id, issuer=me, target=target, fields=fields, due_at=due_at, instructions=instructions
    )
    with write_tx():
        row = SpotCheck.create(
            check_id=check_id,
            target=target,
            title=fields["title"],
            business_type=fields["business_type"],
            domain=fields.get("domain", ""),
            region_code=region,
            instructions=instructions,
            issued_by=issued_by[:40],
            issued_at=now,
            due_at=due_at,
            updated_at=now,
        )
        sender.enqueue(message, origin=me, destination=target, message_id=check_id)
    return row


_STATUS_AFTER = {"accepted": "accepted", "refused": "refused", "signed": "signed", "replied": "replied"}


def apply_spot_check_update(me: str, origin: str, update: pb.OrderUpdate) -> bool:
    """Record a step of a spot-check order; False if `update` is not about one of ours."""
    check = SpotCheck.get_or_none(SpotCheck.check_id == update.transfer_id)
    if check is None:
        return False
    if check.target != origin:
        raise LookupError(f"抽检工单 {check.check_id} 的对象是 {check.target}，不是 {origin}")
    if update.sequence <= check.last_sequence:
        return True  # applied before
    kind = codec.UPDATE_KIND_NAMES.get(update.kind, "")
    at = codec.at(update.at_ms) or clock.now()
    changes: dict[str, Any] = {
        "last_sequence": update.sequence,
        "remote_state": update.state[:20],
        "updated_at": clock.now(),
    }
    if update.note:
        changes["note"] = update.note
    if kind == "accepted":
        changes.update(order_number=update.order_number[:21], accepted_at=at)
        due = _reported_due(update)
        if due is not None:
            changes["due_at"] = due
    elif kind == "signed" and check.signed_at is None:
        changes["signed_at"] = at
    elif kind == "replied":
        changes["replied_at"] = at
    elif kind == "closed":
        changes["closed_at"] = at
    if kind == "closed" or (kind == "refused" and check.status != "closed"):
        changes["status"] = kind
    elif kind in _STATUS_AFTER and check.status not in ("closed", "refused"):
        changes["status"] = _STATUS_AFTER[kind]
    SpotCheck.update(**changes).where(SpotCheck.id == check.id).execute()
    return True


def _reported_due(update: pb.OrderUpdate) -> dt.datetime | None:
    """The due time the target set, from the history entry of its acceptance."""
    for entry in update.history:
        raw = entry.data.get("due_at")
        if raw:
            try:
                value = json.loads(raw)
                return dt.datetime.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                return None
    return None


def list_spot_checks(me: str, target: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Spot checks sent from here with their timeliness: on time (closed by the due time), overdue
    (still open past it), minutes to sign and hours to close."""
    from node.workflow.present import iso  # (not at import: the CLI starts faster)

    now = clock.now()
    query = SpotCheck.select()
    if target:
        query = query.where(SpotCheck.target == check_node(target))
    out = []
    for c in query.order_by(SpotCheck.issued_at.desc(), SpotCheck.id.desc()).limit(limit):
        on_time = None
        if c.closed_at is not None and c.due_at is not None:
            on_time = c.closed_at <= c.due_at
        start = c.accepted_at or c.issued_at
        out.append(
            {
                "check_id": c.check_id,
                "target": c.target,
                "title": c.title,
                "business_type": c.business_type,
                "region_code": c.region_code,
                "order_number": c.order_number,
                "status": c.status,
                "remote_state": c.remote_state,
                "issued_by": c.issued_by,
                "issued_at": iso(c.issued_at),
                "due_at": iso(c.due_at),
                "accepted_at": iso(c.accepted_at),
                "signed_at": iso(c.signed_at),
                "replied_at": iso(c.replied_at),
                "closed_at": iso(c.closed_at),
                "on_time": on_time,
                "overdue": c.closed_at is None
                and c.status != "refused"
                and c.due_at is not None
                and now > c.due_at,
                "sign_minutes": _minutes(start, c.signed_at),
                "close_hours": round(_minutes(start, c.closed_at) / 60, 2) if c.closed_at else None,
                "note": c.note,
            }
        )
    return out


def _minutes(start: dt.datetime, end: dt.datetime | None) -> float | None:
    return round((end - start).total_seconds() / 60, 1) if end is not None else None


def spot_check_summary(items: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "total": len(items),
        "closed": sum(1 for i in items if i["closed_at"]),
        "on_time": sum(1 for i in items if i["on_time"]),
        "late": sum(1 for i in items if i["on_time"] is False),
        "overdue": sum(1 for i in items if i["overdue"]),
        "refused": sum(1 for i in items if i["status"] == "refused"),
    }


# ---- spot checks: target side ---------------------------------------------------------------------


def apply_spot_check(me: str, origin: str, check: pb.SpotCheckOrder) -> None:
    """Inbox handler: create the test order here through the engine or, when this node cannot take
    it, answer TRANSFER_REFUSED with the reason."""
    from node.auth.service import SYSTEM
    from node.workflow import service as workflow

    if flows.received_before(check.check_id):
        return
    fields = codec.spot_check_fields(check)
    try:
        with write_tx():  # a savepoint: a refusal keeps only the answer
            region = fields["region_code"]
            if not in_subtree(me, node_for_region(region)):
                raise ValidationError(f"工单区划 {region} 不属于本节点（{me}）")
            workflow.receive_spot_check(
                SYSTEM, fields, from_node=origin, check_id=check.check_id, note=check.instructions
            )
    except (DomainError, KeyError, ValueError) as exc:
        log.warning("拒收抽检工单 %s：%s", check.check_id, exc)
        flows.new_link(check.check_id, "", "in", origin, "refused", last_sequence=1)
        flows.send_refusal(me, origin, check.check_id, f"抽检工单被拒收：{exc}")


def link_spot_check(order: Any, event: Any) -> None:
    """ON_CHANGE (via flows.on_change), on `receive_spot_check`: the link its updates go back by."""
    data = event.data or {}
    flows.new_link(str(data["check_id"]), order.number, "in", str(data["from"]), "accepted")


def _check_spot_check(claim: Claim, check: Message) -> None:
    assert isinstance(check, pb.SpotCheckOrder)
    origin, destination = claim.origin, claim.destination
    if check.issuer_node != origin or check.target_node != destination:
        raise Rejected(
            pb.Ack.NOT_AUTHORISED,
            f"抽检 {check.issuer_node[:6]}→{check.target_node[:6]} 与报文 {origin}→{destination} 不符",
        )
    if not _below(origin, destination):
        raise Rejected(pb.Ack.NOT_AUTHORISED, f"{origin} 不是 {destination} 的上级，不能下发抽检工单")
    if not check.check_id or len(check.check_id) > MAX_ID:
        raise Rejected(pb.Ack.PAYLOAD_MALFORMED, "缺少抽检编号或编号过长")
