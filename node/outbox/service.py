"""Queueing citizen notifications in the business transaction, sending them from the worker, and
taking inbound SMS (ratings "1/2/3", anything else an intake record).

Exactly once: a message is queued once per (order, event, round, channel) (`key` is unique).
The sender claims due rows (state `sending`, `claimed_at`) in one transaction, submits each, and
marks it `sent` with the SMSC's message_id in the next. A worker killed after the claim leaves
rows in `sending`; after LEASE they are claimed again and resent with the same
`user_message_reference`, which the SMSC uses to drop a copy it already accepted (the window is
between the SMSC's submit_sm_resp and our commit). Failures back off and give up after MAX_ATTEMPTS.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Any

from node import clock, pii
from node.auth.service import SYSTEM
from node.db import database, insert_rows, write_tx
from node.outbox.models import EVENTS, CitizenMessage, InboundMessage
from node.workflow.models import WorkOrder

log = logging.getLogger(__name__)
LEASE = dt.timedelta(minutes=2)
MAX_ATTEMPTS = 8
BATCH = 50

TEMPLATES: dict[str, str] = {
    "receipt": "【12328】您反映的问题已受理，工单号{number}，查询码{code}，可凭此在网站查询办理进度。",
    "extension": "【12328】您的工单{number}因办理需要延期，预计{due}前答复，感谢您的理解。",
    "closure": "【12328】您的工单{number}已办结。{result}",
    "rating_invite": "【12328】请对工单{number}的处理结果评价：回复1非常满意、2满意、3不满意。",
}


def _phone_cipher(order: WorkOrder) -> tuple[str, str]:
    cipher = order.contact_phone_cipher or order.caller_phone_cipher
    masked = order.contact_phone_masked or order.caller_phone_masked
    return cipher, masked


def render(order: WorkOrder, event: str) -> str:
    """The message text; 保密 orders never carry the result text, only where to read it."""
    if order.confidential or not order.result_basic:
        result = "详情请凭查询码在网站查询。"
    else:
        result = f"办理结果：{order.result_basic[:60]}"
    due = order.due_at
    return TEMPLATES[event].format(
        number=order.number,
        code=order.query_code,
        due=f"{due.year}年{due.month}月{due.day}日" if due else "",
        result=result,
    )


def enqueue(order: WorkOrder, event: str, extra_key: str = "") -> CitizenMessage | None:
    """Queue `event` for the order's citizen in the caller's transaction (None for 匿名 orders or
    without a phone number). Idempotent per order, event, round and `extra_key`."""
    if event not in EVENTS:
        raise ValueError(event)
    if order.anonymous:
        return None  # 匿名: the citizen chose not to be contacted
    cipher, masked = _phone_cipher(order)
    if not cipher:
        return None
    key = f"{order.id}:{event}:{order.reopen_count}:{extra_key}:sms"[:60]
    now = clock.now()
    message = CitizenMessage(
        key=key,
        order=order,
        event=event,
        channel="sms",
        to_cipher=cipher,
        to_digest=order.caller_phone_digest if not order.contact_phone_cipher else "",
        to_masked=masked,
        body=render(order, event),
        next_try_at=now,
        created_at=now,
    )
    # one statement; inside the caller's transaction no savepoint is needed around it
    with write_tx() if database.transaction_depth() == 0 else contextlib.nullcontext():
        if insert_rows(CitizenMessage, [message], unless_exists="key"):
            return message
        return CitizenMessage.get(CitizenMessage.key == key)  # type: ignore[no-any-return]


def on_change(order: WorkOrder, event: Any) -> None:
    """ON_CHANGE: which order events tell the citizen what."""
    action, data = event.action, event.data or {}
    if action == "create":
        enqueue(order, "receipt")
    elif action == "decide_extension" and data.get("approved"):
        enqueue(order, "extension", str(data.get("extension_id", "")))
    elif action in ("close", "answer"):
        enqueue(order, "closure")
        enqueue(order, "rating_invite")


def install() -> None:
    from node.workflow import service as workflow

    if on_change not in workflow.ON_CHANGE:
        workflow.ON_CHANGE.append(on_change)


# ---- sending (worker) ----------------------------------------------------------------------------


def claim(now: dt.datetime, limit: int = BATCH, lease: dt.timedelta = LEASE) -> list[CitizenMessage]:
    """Take due messages (and ones whose sender died mid-way, after `lease`) for this run."""
    with write_tx():
        due = (
            CitizenMessage.select()
            .where(
                ((CitizenMessage.state == "pending") & (CitizenMessage.next_try_at <= now))
                | ((CitizenMessage.state == "sending") & (CitizenMessage.claimed_at < now - lease))
            )
            .order_by(CitizenMessage.id)
            .limit(limit)
        )
        rows = list(due)
        if rows:
            CitizenMessage.update(
                state="sending", claimed_at=now, attempts=CitizenMessage.attempts + 1
            ).where(CitizenMessage.id.in_([r.id for r in rows])).execute()
    return rows


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def send_due(now: dt.datetime, session: Any, lease: dt.timedelta = LEASE) -> dict[str, int]:
    """Send what is due through an open SMPP session; returns counts."""
    sent = failed = 0
    for msg in claim(now, lease=lease):
        try:
            phone = pii.codec().reveal(msg.to_cipher)
            message_id = session.submit(phone, msg.body, msg.id)
        except Exception as exc:  # transport or SMSC error: retry later
            with write_tx():
                attempts = msg.attempts + 1
                CitizenMessage.update(
                    state="failed" if attempts >= MAX_ATTEMPTS else "pending",
                    next_try_at=clock.now() + backoff(attempts),
                    error=str(exc)[:200],
                ).where(CitizenMessage.id == msg.id).execute()
            failed += 1
            log.warning("短信发送失败（%s）：%s", msg.id, exc)
            continue
        with write_tx():
            CitizenMessage.update(
                state="sent", sent_at=clock.now(), provider_ref=message_id[:80], error=""
            ).where(CitizenMessage.id == msg.id).execute()
        sent += 1
    return {"sent": sent, "failed": failed}


# ---- inbound SMS ---------------------------------------------------------------------------------


def handle_inbound(channel: str, sender: str, text: str, ref: str) -> InboundMessage:
    """A citizen's message: "1"/"2"/"3" after a rating invitation rates that order (source sms or
    wechat); anything else becomes an intake record (受理记录) for the agents. Idempotent per ref."""
    from node.followup import service as followup
    from node.intake import service as intake

    with write_tx():
        if ref:
            seen = InboundMessage.get_or_none(InboundMessage.provider_ref == ref[:80])
            if seen is not None:
                return seen  # type: ignore[no-any-return]
        protected = pii.codec().protect(sender) if channel == "sms" else None
        digest = protected.digest if protected else sender[:32]
        masked = protected.masked if protected else sender[:6] + "…"
        row = InboundMessage(
            channel=channel,
            from_digest=digest,
            from_masked=masked,
            text=text[:2000],
            received_at=clock.now(),
            provider_ref=ref[:80],
        )
        answer = text.strip().rstrip("。.")
        invite = None
        if answer in ("1", "2", "3") and protected is not None:
            invite = (
                CitizenMessage.select()
                .join(WorkOrder)
                .where(
                    CitizenMessage.event == "rating_invite",
                    CitizenMessage.state == "sent",
                    WorkOrder.caller_phone_digest == digest,
                )
                .order_by(CitizenMessage.sent_at.desc())
                .first()
            )
        if invite is not None:
            order = invite.order
            try:
                followup.record_rating(
                    order, "sms" if channel == "sms" else "wechat", {"result": answer}, comment=text
                )
                row.outcome = "rating"
            except Exception as exc:  # already rated from this channel: keep the message, note it
                row.outcome = "ignored"
                log.info("短信评价未记录：%s", exc)
            row.order_number = order.number
        else:
            contact = intake.create_contact(
                SYSTEM,
                {
                    "channel": "05" if channel == "sms" else "03",
                    "caller_phone": sender if protected else "",
                    "summary": text[:2000],
                },
            )
            row.outcome, row.contact_id = "intake", contact.id
        row.save()
    return row


def sms_log(order: WorkOrder) -> list[CitizenMessage]:
    return list(CitizenMessage.select().where(CitizenMessage.order == order).order_by(CitizenMessage.id))


def run(now: dt.datetime, cfg: Any) -> dict[str, int]:
    """One worker run: bind, send what is due, take inbound messages, unbind."""
    from node.outbox.smpp import SmppSession

    with SmppSession(cfg) as session:
        counts = send_due(now, session, dt.timedelta(seconds=cfg.lease_s))
        inbound = session.drain(0.3)
    for m in inbound:
        handle_inbound("sms", m.source, m.text, m.ref)
    return {**counts, "inbound": len(inbound)}
