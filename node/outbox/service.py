"""Queueing citizen notifications in the business transaction, sending them from the worker, and
taking inbound SMS and WeChat text (ratings "1/2/3", anything else an intake record).

Exactly once: a message is queued once per (order, event, round, channel[, openid]) (`key` is
unique). The sender claims due rows of its channel (state `sending`, `claimed_at`) in one
transaction, submits each, and marks it `sent` with the provider's id in the next. A worker killed
after the claim leaves rows in `sending`; after LEASE they are claimed again and resent with the
same reference (SMPP user_message_reference, WeChat client_msg_id), which the provider uses to drop
a copy it already accepted (the window is between its answer and our commit). Failures back off and
give up after MAX_ATTEMPTS; a permanent refusal (e.g. the follower left) fails at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import peewee as pw

from node import clock, pii
from node.auth.service import SYSTEM, Actor
from node.db import database, insert_rows, locked, write_tx
from node.errors import Conflict, NotFound, RateLimited, ValidationError
from node.outbox.models import EVENTS, CitizenMessage, InboundMessage, WechatBinding
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


def _result(order: WorkOrder) -> str:
    """保密 orders never carry the result text, only where to read it."""
    if order.confidential or not order.result_basic:
        return "详情请凭查询码在网站查询。"
    return f"办理结果：{order.result_basic[:60]}"


def _date(value: dt.datetime | None) -> str:
    return f"{value.year}年{value.month}月{value.day}日" if value else ""


def render(order: WorkOrder, event: str) -> str:
    """The SMS text."""
    return TEMPLATES[event].format(
        number=order.number, code=order.query_code, due=_date(order.due_at), result=_result(order)
    )


RATING_PROMPT = "回复1非常满意、2满意、3不满意"


def wechat_data(order: WorkOrder, event: str) -> dict[str, dict[str, str]]:
    """The template data of a WeChat message (fields first, keyword1…, remark: docs/FOLLOWUP.md).
    The same rules as the SMS: 保密 orders get no result text."""
    at = clock.now()
    fields: dict[str, str]
    if event == "receipt":
        fields = {
            "first": "您反映的问题已受理。",
            "keyword1": order.number,
            "keyword2": order.query_code,
            "keyword3": f"{order.accepted_at:%Y-%m-%d %H:%M}" if order.accepted_at else "",
            "remark": "可凭工单编号和查询码在网站查询办理进度。",
        }
    elif event == "extension":
        fields = {
            "first": "您的工单因办理需要延期。",
            "keyword1": order.number,
            "keyword2": f"预计{_date(order.due_at)}前答复",
            "remark": "感谢您的理解。",
        }
    elif event == "closure":
        fields = {
            "first": "您的工单已办结。",
            "keyword1": order.number,
            "keyword2": _result(order),
            "keyword3": f"{at:%Y-%m-%d %H:%M}",
            "remark": "如有疑问请拨打12328。",
        }
    else:
        fields = {
            "first": "请对工单的处理结果评价。",
            "keyword1": order.number,
            "keyword2": RATING_PROMPT,
            "remark": "直接在公众号回复数字即可。",
        }
    return {k: {"value": v} for k, v in fields.items()}


def message_text(msg: CitizenMessage) -> str:
    """What the citizen reads: the SMS text, or a WeChat template's values one after another."""
    if msg.channel != "wechat":
        return str(msg.body)
    try:
        data = json.loads(msg.body)
        values = {k: str(v.get("value", "")) for k, v in data.items()}
    except (ValueError, AttributeError):
        return str(msg.body)
    keywords = "；".join(v for k, v in values.items() if k.startswith("keyword") and v)
    return f"{values.get('first', '')}{keywords}。{values.get('remark', '')}"


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


def wechat_openids(order: WorkOrder, *, new: bool = False) -> list[str]:
    """The WeChat followers bound to the order: directly, through the intake record it was made
    from, or through a later WeChat message an agent linked to it (关联已有工单); each once.
    An order being created (`new`) can only be bound through the record it was made from: no
    binding or message names it yet, so an order without one costs no query at all."""
    from node.intake.models import Contact

    if new:
        if not order.contact_id:
            return []
        rows = WechatBinding.select(WechatBinding.openid).where(WechatBinding.contact_id == order.contact_id)
        return list(dict.fromkeys(r.openid for r in rows.order_by(WechatBinding.id)))
    linked = Contact.select(Contact.id).where(Contact.order_number == order.number, Contact.channel == "03")
    cond = (WechatBinding.order == order) | WechatBinding.contact_id.in_(linked)
    if order.contact_id:
        cond = cond | (WechatBinding.contact_id == order.contact_id)
    rows = WechatBinding.select(WechatBinding.openid).where(cond).order_by(WechatBinding.id)
    return list(dict.fromkeys(r.openid for r in rows))


def enqueue_wechat(
    order: WorkOrder, event: str, extra_key: str = "", *, new: bool = False
) -> list[CitizenMessage]:
    """Queue `event` as a WeChat template message to every follower bound to the order, in the
    caller's transaction (none for 匿名 orders). Idempotent per order, event, round, key, openid.
    `new`: the order is being created (see wechat_openids)."""
    if event not in EVENTS:
        raise ValueError(event)
    if order.anonymous:
        return []
    codec, now, out = pii.codec(), clock.now(), []
    # inside the caller's transaction no savepoint is needed (the order's creation runs this)
    with write_tx() if database.transaction_depth() == 0 else contextlib.nullcontext():
        for openid in wechat_openids(order, new=new):
            digest = codec.digest_id(openid)
            key = f"{order.id}:{event}:{order.reopen_count}:{extra_key}:wx:{digest[:12]}"[:60]
            existing = CitizenMessage.get_or_none(CitizenMessage.key == key)
            if existing is not None:
                out.append(existing)
                continue
            out.append(
                CitizenMessage.create(
                    key=key,
                    order=order,
                    event=event,
                    channel="wechat",
                    to_cipher=codec.encrypt_bytes(openid.encode()).decode(),
                    to_digest=digest,
                    to_masked=f"微信 {openid[:6]}…",
                    body=json.dumps(wechat_data(order, event), ensure_ascii=False),
                    next_try_at=now,
                    created_at=now,
                )
            )
    return out


def notify_citizen(order: WorkOrder, event: str, extra_key: str = "", *, new: bool = False) -> None:
    """Tell the order's citizen on every channel they can be reached on (SMS, WeChat); `new`: the
    order is being created."""
    enqueue(order, event, extra_key)
    enqueue_wechat(order, event, extra_key, new=new)


def on_change(order: WorkOrder, event: Any) -> None:
    """ON_CHANGE: which order events tell the citizen what."""
    action, data = event.action, event.data or {}
    if action == "create":
        notify_citizen(order, "receipt", new=True)
    elif action == "decide_extension" and data.get("approved"):
        notify_citizen(order, "extension", str(data.get("extension_id", "")))
    elif action in ("close", "answer"):
        notify_citizen(order, "closure")
        notify_citizen(order, "rating_invite")


def install() -> None:
    from node.workflow import service as workflow

    if on_change not in workflow.ON_CHANGE:
        workflow.ON_CHANGE.append(on_change)


# ---- sending (worker) ----------------------------------------------------------------------------


def claim(
    now: dt.datetime, limit: int = BATCH, lease: dt.timedelta = LEASE, channel: str = "sms"
) -> list[CitizenMessage]:
    """Take due messages of a channel (and ones whose sender died mid-way, after `lease`)."""
    with write_tx():
        due = (
            CitizenMessage.select()
            .where(
                CitizenMessage.channel == channel,
                ((CitizenMessage.state == "pending") & (CitizenMessage.next_try_at <= now))
                | ((CitizenMessage.state == "sending") & (CitizenMessage.claimed_at < now - lease)),
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


def deliver(
    now: dt.datetime,
    channel: str,
    send: Callable[[CitizenMessage], str],
    lease: dt.timedelta = LEASE,
    permanent: Callable[[Exception], bool] = lambda exc: False,
) -> dict[str, int]:
    """Send a channel's due messages with `send` (returns the provider's id); returns counts."""
    sent = failed = 0
    for msg in claim(now, lease=lease, channel=channel):
        try:
            provider_ref = send(msg)
        except Exception as exc:  # transport or provider error: retry later, or give up
            with write_tx():
                attempts = msg.attempts + 1
                final = attempts >= MAX_ATTEMPTS or permanent(exc)
                CitizenMessage.update(
                    state="failed" if final else "pending",
                    next_try_at=clock.now() + backoff(attempts),
                    error=str(exc)[:200],
                ).where(CitizenMessage.id == msg.id).execute()
            failed += 1
            log.warning("告知市民发送失败（%s，%s）：%s", channel, msg.id, exc)
            continue
        with write_tx():
            CitizenMessage.update(
                state="sent", sent_at=clock.now(), provider_ref=provider_ref[:80], error=""
            ).where(CitizenMessage.id == msg.id).execute()
        sent += 1
    return {"sent": sent, "failed": failed}


def send_due(now: dt.datetime, session: Any, lease: dt.timedelta = LEASE) -> dict[str, int]:
    """Send the due SMS through an open SMPP session."""

    def submit(msg: CitizenMessage) -> str:
        return str(session.submit(pii.codec().reveal(msg.to_cipher), msg.body, msg.id))

    return deliver(now, "sms", submit, lease)


def run_wechat(now: dt.datetime, client: Any, cfg: Any) -> dict[str, int]:
    """One worker run of the WeChat template messages (node.outbox.wechat_send)."""
    from node.outbox import wechat_send

    def send(msg: CitizenMessage) -> str:
        openid = pii.codec().decrypt_bytes(msg.to_cipher.encode()).decode()
        return wechat_send.send_template(client, cfg, msg, openid)

    return deliver(
        now,
        "wechat",
        send,
        dt.timedelta(seconds=cfg.lease_s),
        permanent=lambda exc: bool(getattr(exc, "permanent", False)),
    )


# ---- inbound SMS ---------------------------------------------------------------------------------


BIND_RE = re.compile(r"^(?:绑定)?\s*(\d{21})\s*[\s,，#＃]\s*(\d{6})$")


def _bind(openid: str, number: str, code: str) -> tuple[str, str]:
    """A follower binds an order by its number and query code (the portal's check: wrong codes
    are counted and lock the order's code). Returns (outcome, order number)."""
    from node.portal import service as portal

    try:
        order = portal.lookup(number, code)
    except (NotFound, ValidationError, RateLimited) as exc:
        log.info("微信绑定工单未成功：%s", exc)
        return "bind_failed", ""
    while order.master_id is not None:  # a merged order is handled (and told) as its master
        order = WorkOrder.get_by_id(order.master_id)
    if (
        not WechatBinding.select()
        .where(WechatBinding.openid == openid, WechatBinding.order == order)
        .exists()
    ):
        WechatBinding.create(openid=openid, order=order, created_at=clock.now())
    return "bound", order.number


def _rating_invite(channel: str, sender: str) -> CitizenMessage | None:
    """The latest rating invitation that reached this sender on this channel."""
    codec = pii.codec()
    q = CitizenMessage.select().where(
        CitizenMessage.event == "rating_invite",
        CitizenMessage.state == "sent",
        CitizenMessage.channel == channel,
    )
    if channel == "sms":
        q = q.join(WorkOrder).where(WorkOrder.caller_phone_digest == codec.digest(sender))
    else:
        q = q.where(CitizenMessage.to_digest == codec.digest_id(sender))
    return q.order_by(CitizenMessage.sent_at.desc(), CitizenMessage.id.desc()).first()  # type: ignore[no-any-return]


def handle_inbound(channel: str, sender: str, text: str, ref: str) -> InboundMessage:
    """A citizen's message (sender: a phone number, or a WeChat openid): "1"/"2"/"3" after a rating
    invitation on that channel rates that order (source sms or wechat, once); on WeChat "<工单编号>
    <查询码>" binds the follower to the order; anything else becomes an intake record (受理记录) for
    the agents, and a WeChat writer is told the progress of the order made from it. Idempotent per ref."""
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
        invite = _rating_invite(channel, sender) if answer in ("1", "2", "3") else None
        bind = BIND_RE.match(answer) if channel == "wechat" else None
        if invite is not None:
            order = invite.order
            try:
                followup.record_rating(
                    order, "sms" if channel == "sms" else "wechat", {"result": answer}, comment=text
                )
                row.outcome = "rating"
            except Exception as exc:  # already rated from this channel: keep the message, note it
                row.outcome = "ignored"
                log.info("短信/微信评价未记录：%s", exc)
            row.order_number = order.number
        elif bind is not None:
            row.outcome, row.order_number = _bind(sender, bind.group(1), bind.group(2))
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
            if channel == "wechat":
                WechatBinding.create(openid=sender, contact_id=contact.id, created_at=clock.now())
        row.save()
    return row


def reply_text(row: InboundMessage) -> str:
    """The passive reply to a WeChat message."""
    if row.outcome == "rating":
        return "感谢您的评价。"
    if row.outcome == "ignored" and row.order_number:
        return f"工单{row.order_number}已收到过您的评价，感谢您的反馈。"
    if row.outcome == "bound":
        return f"已关联工单{row.order_number}，办理进度将通过本公众号通知您。"
    if row.outcome == "bind_failed":
        return "工单编号或查询码不正确，请核对后重新发送“工单编号 查询码”。"
    return "您的留言已收到，我们将尽快处理；需要回电请留下手机号码。"


# ---- the 告知市民 screen: every message by state and channel; a failed one sent again ------------


def messages(
    state: str = "", channel: str = "", page: int = 1, size: int = 30
) -> tuple[list[CitizenMessage], int]:
    from node.outbox.models import CHANNELS, MESSAGE_STATES

    if state and state not in MESSAGE_STATES:
        raise ValidationError(f"未知的发送状态：{state[:20]}", details={"state": "未知"})
    if channel and channel not in CHANNELS:
        raise ValidationError(f"未知的渠道：{channel[:20]}", details={"channel": "未知"})
    q = CitizenMessage.select(CitizenMessage, WorkOrder).join(WorkOrder, pw.JOIN.LEFT_OUTER)
    if state:
        q = q.where(CitizenMessage.state == state)
    if channel:
        q = q.where(CitizenMessage.channel == channel)
    total = q.count()
    rows = list(q.order_by(CitizenMessage.created_at.desc(), CitizenMessage.id.desc()).paginate(page, size))
    return rows, int(total)


def resend(actor: Actor, message_id: int) -> CitizenMessage:
    """Send a failed message again (its attempts start over; the same id travels as its reference)."""
    from node.audit import service as audit

    actor.require("order.urge")
    with write_tx():
        msg = locked(CitizenMessage.select().where(CitizenMessage.id == message_id)).first()
        if msg is None:
            raise NotFound("消息不存在")
        if msg.state != "failed":
            raise Conflict("只有发送失败的消息可以重新发送")
        CitizenMessage.update(state="pending", attempts=0, next_try_at=clock.now(), claimed_at=None).where(
            CitizenMessage.id == msg.id
        ).execute()
        audit.record(
            actor,
            "outbox.resent",
            msg.order.number if msg.order else "",
            {"message": msg.id, "channel": msg.channel, "error": msg.error},
        )
    return CitizenMessage.get_by_id(message_id)  # type: ignore[no-any-return]


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
