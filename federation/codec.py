"""Explicit maps between the node's rows (WorkOrder, OrderEvent, report counts) and protobuf.

`node/` never imports generated protobuf: this module is the only translation, and what crosses
a node boundary is decided here, field by field.

What leaves the node:
- **Upward order records** (`OrderRecord`) carry no caller data at all: no phone (cipher, digest
  or masked), no name, no address, no free text except the short title, with phone, ID-card,
  bank-card numbers and e-mail addresses in it masked (`node.text.normalize.mask_pii`). Enough to
  count, filter and drill down (type, domain, channel, region, state, times, flags, ratings).
- **Cross-region transfers** (`OrderTransfer`) carry the whole order and its history, because the
  destination handles it in its normal flow. Caller contact is reduced to what handling needs: one
  contact phone (the callback number the citizen gave, else the calling number) and the caller's
  name, so a handling unit can verify facts with the complainant — and nothing when the order is
  confidential (保密) or anonymous, when personal numbers written into the content are masked too.
  The phone digest and ciphertexts never travel (they are keyed per node); the destination
  protects the phone with its own data key. The origin keeps the
  caller relationship: the call-back and satisfaction survey happen there.
- **Order updates** (`OrderUpdate`) carry the handling node's state, note and reply, no caller data.

Transfers, updates and spot checks are sealed to the destination's key by the sender
(`federation/seal.py`): relays see their ids, nodes and order number only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from federation.v1 import federation_pb2 as pb
from node import clock
from node.text.normalize import mask_pii

BUSINESS_TYPES = {"1": pb.COMPLAINT, "2": pb.CONSULTATION, "3": pb.SUGGESTION}
BUSINESS_CODES = {v: k for k, v in BUSINESS_TYPES.items()}
SATISFACTION = {"1": pb.VERY_SATISFIED, "2": pb.SATISFIED, "3": pb.DISSATISFIED}
CATEGORIES = {"open": pb.STATE_OPEN, "pending": pb.STATE_PENDING, "closed": pb.STATE_CLOSED}
CATEGORY_NAMES = {v: k for k, v in CATEGORIES.items()}
UPDATE_KINDS = {
    "accepted": pb.OrderUpdate.TRANSFER_ACCEPTED,
    "refused": pb.OrderUpdate.TRANSFER_REFUSED,
    "signed": pb.OrderUpdate.SIGNED,
    "progress": pb.OrderUpdate.PROGRESS,
    "replied": pb.OrderUpdate.REPLIED,
    "closed": pb.OrderUpdate.CLOSED,
    "returned": pb.OrderUpdate.RETURNED,
}
UPDATE_KIND_NAMES = {v: k for k, v in UPDATE_KINDS.items()}


def ms(value: dt.datetime | None) -> int:
    return clock.to_epoch_ms(value) if value is not None else 0


def at(value: int) -> dt.datetime | None:
    return clock.from_epoch_ms(value) if value else None


# ---- upward order records ------------------------------------------------------------------------


def order_record(
    order: Any,
    *,
    handling_node: str,
    signed_at: dt.datetime | None = None,
    urge_count: int = 0,
    reviewed: bool = False,
) -> pb.OrderRecord:
    """The caller-free record of `order` (a WorkOrder) as this node reports it upward."""
    from node.workflow import states

    category = states.category(order.state)
    closed_on_time = bool(
        order.closed_at is not None and order.due_at is not None and order.closed_at <= order.due_at
    )
    return pb.OrderRecord(
        order_number=order.number,
        origin_node=order.origin_node,
        handling_node=handling_node,
        region_code=order.region_code,
        business_type=BUSINESS_TYPES.get(order.business_type, pb.BUSINESS_TYPE_UNSPECIFIED),
        domain_code=order.domain or "",
        sub_business_code=order.sub_business or "",
        channel_code=order.channel,
        state=order.state,
        state_category=CATEGORIES[category],
        accepted_at_ms=ms(order.accepted_at),
        due_at_ms=ms(order.due_at),
        signed_at_ms=ms(signed_at),
        replied_at_ms=ms(order.replied_at),
        closed_at_ms=ms(order.closed_at),
        instant_answered=bool(order.immediate_answer) or order.state == "answered",
        transferred=order.dispatched_at is not None or order.state == "transferred",
        closed_on_time=closed_on_time,
        extended=order.extension_days > 0,
        return_count=max(0, order.return_count),
        urge_count=max(0, urge_count),
        callback_done=order.callback_at is not None and bool(order.callback_result_satisfaction),
        result_satisfaction=SATISFACTION.get(order.callback_result_satisfaction, 0),
        service_satisfaction=SATISFACTION.get(order.callback_service_satisfaction, 0),
        reviewed=reviewed,
        spot_check=bool(order.is_spot_check),
        title=mask_pii(order.title or "")[:100],
        revision=order.version,
        updated_at_ms=ms(order.updated_at),
    )


def remote_order_row(record: pb.OrderRecord, reporter: str, received_at: dt.datetime) -> dict[str, Any]:
    """Column values of a RemoteOrder row for a received record."""
    return {
        "reporter": reporter,
        "number": record.order_number,
        "origin_node": record.origin_node,
        "handling_node": record.handling_node,
        "region_code": record.region_code,
        "business_type": BUSINESS_CODES.get(record.business_type, ""),
        "domain": record.domain_code[:2],
        "channel": record.channel_code[:2],
        "state": record.state[:20],
        "category": CATEGORY_NAMES.get(record.state_category, ""),
        "accepted_at": at(record.accepted_at_ms) or received_at,
        "closed_at": at(record.closed_at_ms),
        "revision": record.revision,
        "received_at": received_at,
        "record": record.SerializeToString(deterministic=True),
    }


# ---- history -------------------------------------------------------------------------------------


def history_entry(event: Any) -> pb.HistoryEntry:
    data = event.data if isinstance(event.data, dict) else {}
    return pb.HistoryEntry(
        at_ms=ms(event.at),
        node=event.node,
        actor=event.actor_name,
        action=event.action,
        from_state=event.from_state or "",
        to_state=event.to_state or "",
        note=event.reason or "",
        data={str(k): json.dumps(v, ensure_ascii=False) for k, v in data.items()},
    )


def history_rows(entries: Iterable[pb.HistoryEntry]) -> list[dict[str, Any]]:
    """OrderEvent column values for received history entries (data values were JSON-encoded)."""
    rows = []
    for h in entries:
        data: dict[str, Any] = {}
        for key, value in h.data.items():
            try:
                data[key] = json.loads(value)
            except ValueError:
                data[key] = value
        rows.append(
            {
                "at": at(h.at_ms),
                "node": h.node[:6],
                "actor_name": h.actor[:40],
                "action": h.action[:20],
                "from_state": h.from_state[:20],
                "to_state": h.to_state[:20],
                "reason": h.note,
                "data": data or None,
            }
        )
    return rows


def _result(order: Any) -> pb.HandlingResult:
    return pb.HandlingResult(
        basic=order.result_basic or "", process=order.result_process or "", basis=order.result_basis or ""
    )


# ---- transfers -----------------------------------------------------------------------------------


def order_transfer(
    order: Any,
    events: Sequence[Any],
    *,
    transfer_id: str,
    from_node: str,
    to_node: str,
    reason: str,
    requested_by: str,
    contact_phone: str,
) -> pb.OrderTransfer:
    """The whole order with its history for the node that shall handle it (see module doc for
    which caller data goes along)."""
    share_contact = not (order.confidential or order.anonymous)
    detail = pb.OrderDetail(
        record=order_record(order, handling_node=to_node),
        content=order.content if share_contact else mask_pii(order.content),
        contact_name=(order.caller_name or "") if share_contact else "",
        contact_phone=contact_phone if share_contact else "",
        confidential=bool(order.confidential),
        anonymous=bool(order.anonymous),
        address=order.address or "",
        latitude=order.latitude or 0.0,
        longitude=order.longitude or 0.0,
        respondent=pb.Respondent(
            company=order.respondent_name or "",
            plate=order.respondent_plate or "",
            route=order.respondent_route or "",
            vessel=order.respondent_vessel or "",
        ),
        immediate_answer=order.immediate_answer or "",
        result=_result(order),
        priority=order.priority,
        extra={
            "external_number": order.external_number or "",
            "road_class": order.road_class or "",
            "return_count": str(order.return_count),
            "extension_days": str(order.extension_days),
        },
    )
    return pb.OrderTransfer(
        transfer_id=transfer_id,
        order_number=order.number,
        order=detail,
        history=[history_entry(e) for e in events],
        from_node=from_node,
        to_node=to_node,
        reason=reason,
        requested_by=requested_by[:40],
        requested_at_ms=ms(clock.now()),
    )


def transfer_order_fields(transfer: pb.OrderTransfer) -> dict[str, Any]:
    """WorkOrder field values for the handling node's copy (`contact_phone` and `caller_name`
    included; the engine protects the phone with this node's key)."""
    detail, record = transfer.order, transfer.order.record

    def count(key: str) -> int:
        value = detail.extra.get(key, "0")
        return int(value) if value.isdigit() else 0

    return {
        "number": record.order_number,
        "origin_node": record.origin_node,
        "external_number": detail.extra.get("external_number", "")[:40],
        "channel": record.channel_code,
        "business_type": BUSINESS_CODES.get(record.business_type, ""),
        "domain": record.domain_code,
        "sub_business": record.sub_business_code,
        "road_class": detail.extra.get("road_class", "")[:12],
        "region_code": record.region_code,
        "address": detail.address[:200],
        "latitude": detail.latitude or None,
        "longitude": detail.longitude or None,
        "respondent_name": detail.respondent.company[:100],
        "respondent_plate": detail.respondent.plate[:20],
        "respondent_route": detail.respondent.route[:60],
        "respondent_vessel": detail.respondent.vessel[:60],
        "title": record.title[:100] or detail.content[:30],
        "content": detail.content,
        "priority": detail.priority or "normal",
        "caller_name": "" if detail.confidential or detail.anonymous else detail.contact_name[:40],
        "contact_phone": "" if detail.confidential or detail.anonymous else detail.contact_phone,
        "confidential": detail.confidential,
        "anonymous": detail.anonymous,
        "accepted_at": at(record.accepted_at_ms),
        "due_at": at(record.due_at_ms),
        "immediate_answer": detail.immediate_answer,
        "result_basic": detail.result.basic,
        "result_process": detail.result.process,
        "result_basis": detail.result.basis,
        "return_count": count("return_count"),
        "extension_days": count("extension_days"),
        "is_spot_check": record.spot_check,
    }


# ---- updates flowing back ------------------------------------------------------------------------


def order_update(
    order: Any,
    event: Any,
    *,
    kind: str,
    transfer_id: str,
    from_node: str,
    to_node: str,
    sequence: int,
) -> pb.OrderUpdate:
    return pb.OrderUpdate(
        order_number=order.number,
        transfer_id=transfer_id,
        from_node=from_node,
        to_node=to_node,
        kind=UPDATE_KINDS[kind],
        sequence=sequence,
        at_ms=ms(event.at),
        actor=event.actor_name[:40],
        state=order.state,
        note=event.reason or "",
        result=_result(order) if kind in ("replied", "closed") else None,
        history=[history_entry(event)],
    )


def update_fields(update: pb.OrderUpdate) -> dict[str, Any]:
    """Arguments of `node.workflow.service.apply_remote_update` for a received update."""
    return {
        "kind": UPDATE_KIND_NAMES.get(update.kind, ""),
        "node": update.from_node,
        "at": at(update.at_ms) or clock.now(),
        "actor_name": update.actor,
        "remote_state": update.state,
        "note": update.note,
        "result": {
            "basic": update.result.basic,
            "process": update.result.process,
            "basis": update.result.basis,
        }
        if update.HasField("result")
        else None,
    }


# ---- daily reports -------------------------------------------------------------------------------

Count = tuple[str, str, str, str, int]  # metric, business type code, domain, channel, value


def daily_report(node: str, day: dt.date, counts: Iterable[Count], revision: int) -> pb.DailyReport:
    return pb.DailyReport(
        node=node,
        report_date=day.isoformat(),
        generated_at_ms=ms(clock.now()),
        revision=revision,
        counts=[
            pb.Count(
                metric=metric,
                business_type=BUSINESS_TYPES.get(btype, pb.BUSINESS_TYPE_UNSPECIFIED),
                domain_code=domain,
                channel_code=channel,
                value=value,
            )
            for metric, btype, domain, channel, value in counts
        ],
    )


def report_counts(report: pb.DailyReport) -> list[Count]:
    return [
        (
            c.metric[:32],
            BUSINESS_CODES.get(c.business_type, ""),
            c.domain_code[:2],
            c.channel_code[:2],
            c.value,
        )
        for c in report.counts
    ]


# ---- monthly report forms -----------------------------------------------------------------------

MAX_FORM_SECTIONS = 20
MAX_FORM_ROWS = 1000
MAX_FORM_COLUMNS = 20


def monthly_form(node: str, period: str, form: dict[str, Any], revision: int) -> pb.MonthlyForm:
    return pb.MonthlyForm(
        node=node,
        period=period,
        generated_at_ms=ms(clock.now()),
        revision=revision,
        form_json=json.dumps(form, ensure_ascii=False, sort_keys=True, default=str),
    )


def _scalar(value: Any) -> bool:
    return value is None or (isinstance(value, (str, int, float)) and not isinstance(value, bool))


def form_data(message: pb.MonthlyForm) -> dict[str, Any]:
    """The form a MonthlyForm carries, checked to be the shape `node.analytics.forms` renders
    (ValueError with a Chinese message otherwise): title, period equal to the message's, sections
    of headers, formats and rows whose cells are text, numbers or empty."""
    try:
        form = json.loads(message.form_json)
    except ValueError:
        raise ValueError("月报内容不是合法的 JSON") from None
    if not isinstance(form, dict) or not isinstance(form.get("title"), str):
        raise ValueError("月报缺少标题")
    if form.get("period") != message.period or not isinstance(form.get("period_label"), str):
        raise ValueError("月报的统计周期与报文不符")
    sections = form.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= MAX_FORM_SECTIONS:
        raise ValueError("月报的表格数量无效")
    for section in sections:
        if not isinstance(section, dict) or not isinstance(section.get("title"), str):
            raise ValueError("月报表格缺少标题")
        headers, formats, rows = section.get("headers"), section.get("formats"), section.get("rows")
        if not isinstance(headers, list) or not 1 <= len(headers) <= MAX_FORM_COLUMNS:
            raise ValueError("月报表头无效")
        if not isinstance(formats, list) or len(formats) != len(headers):
            raise ValueError("月报的格式与表头不符")
        if not all(isinstance(h, str) for h in headers) or not all(isinstance(f, str) for f in formats):
            raise ValueError("月报表头无效")
        if not isinstance(rows, list) or len(rows) > MAX_FORM_ROWS:
            raise ValueError("月报行数无效")
        for row in rows:
            cells = row.get("cells") if isinstance(row, dict) else None
            if not isinstance(cells, list) or len(cells) != len(headers) or not all(map(_scalar, cells)):
                raise ValueError("月报某行的单元格无效")
            base = row.get("base")
            if base is not None and (not isinstance(base, dict) or not all(map(_scalar, base.values()))):
                raise ValueError("月报某行的同比、环比基数无效")
    return dict(form)


# ---- flowing down: spot-check orders and knowledge bulletins -------------------------------------


def spot_check_order(
    *,
    check_id: str,
    issuer: str,
    target: str,
    fields: dict[str, Any],
    due_at: dt.datetime | None,
    instructions: str,
) -> pb.SpotCheckOrder:
    """The test order an upper node sends down (`fields`: WorkOrder-like values it chose)."""
    record = pb.OrderRecord(
        business_type=BUSINESS_TYPES.get(fields["business_type"], pb.BUSINESS_TYPE_UNSPECIFIED),
        domain_code=fields.get("domain", ""),
        sub_business_code=fields.get("sub_business", ""),
        channel_code=fields["channel"],
        region_code=fields["region_code"],
        title=fields.get("title", "")[:100],
        spot_check=True,
    )
    return pb.SpotCheckOrder(
        check_id=check_id,
        issuer_node=issuer,
        target_node=target,
        order=pb.OrderDetail(
            record=record,
            content=fields["content"],
            contact_name=fields.get("caller_name", ""),
            contact_phone=fields.get("contact_phone", ""),
            address=fields.get("address", ""),
            respondent=pb.Respondent(
                company=fields.get("respondent_name", ""), plate=fields.get("respondent_plate", "")
            ),
            priority=fields.get("priority", "normal"),
        ),
        due_at_ms=ms(due_at),
        instructions=instructions,
    )


def spot_check_fields(check: pb.SpotCheckOrder) -> dict[str, Any]:
    """Arguments (`fields`) of `node.workflow.service.receive_spot_check` for a received order."""
    detail, record = check.order, check.order.record
    return {
        "channel": record.channel_code[:2],
        "business_type": BUSINESS_CODES.get(record.business_type, ""),
        "domain": record.domain_code[:2],
        "sub_business": record.sub_business_code[:4],
        "region_code": record.region_code[:6],
        "title": record.title[:100],
        "content": detail.content,
        "caller_name": detail.contact_name[:40],
        "contact_phone": detail.contact_phone[:20],
        "address": detail.address[:200],
        "respondent_name": detail.respondent.company[:100],
        "respondent_plate": detail.respondent.plate[:20].upper(),
        "priority": detail.priority or "normal",
        "due_at": at(check.due_at_ms),
    }


def bulletin_row(bulletin: pb.KnowledgeBulletin, origin: str, received_at: dt.datetime) -> dict[str, Any]:
    """Column values of a KnowledgeBulletin row for a bulletin (ours or received)."""
    effective = None
    if bulletin.effective_date:
        effective = dt.date.fromisoformat(bulletin.effective_date)
    return {
        "bulletin_id": bulletin.bulletin_id,
        "issuer": bulletin.issuer_node,
        "origin": origin,
        "scope": bulletin.scope,
        "title": bulletin.title[:200],
        "body": bulletin.body,
        "category": bulletin.category[:40],
        "tags": ",".join(t.replace(",", " ") for t in bulletin.tags)[:400],
        "effective_date": effective,
        "valid_until": at(bulletin.valid_until_ms),
        "published_at": at(bulletin.published_at_ms) or received_at,
        "revision": bulletin.revision,
        "withdrawn": bulletin.withdrawn,
        "received_at": received_at,
    }


def bulletin_message(row: Any) -> pb.KnowledgeBulletin:
    """The bulletin as stored (a KnowledgeBulletin row), to pass on."""
    return pb.KnowledgeBulletin(
        bulletin_id=row.bulletin_id,
        issuer_node=row.issuer,
        title=row.title,
        body=row.body,
        category=row.category,
        tags=[t for t in row.tags.split(",") if t],
        published_at_ms=ms(row.published_at),
        valid_until_ms=ms(row.valid_until),
        revision=row.revision,
        withdrawn=row.withdrawn,
        effective_date=row.effective_date.isoformat() if row.effective_date else "",
        scope=row.scope,
    )
