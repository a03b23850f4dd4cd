"""Citizen notifications: queued in the business transaction with per-event templates (匿名 gets
none, 保密 no result text), sent over SMPP 3.4 to a real SMSC process on 127.0.0.1, inbound SMS
as ratings and intake records, failures retried."""

from __future__ import annotations

import datetime as dt

import pytest
import smpplib.exceptions

from node import clock
from node.followup.models import Dissatisfaction, Rating
from node.intake.models import Contact
from node.outbox import service as outbox
from node.outbox.models import CitizenMessage, InboundMessage
from tests import factories
from tests.outbox.conftest import Smsc


def _events(order) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.event for m in outbox.sms_log(order)]


def test_notices_queued_with_the_business_change(db: str) -> None:
    order = factories.make_order("accepted", caller_phone="13900001111")
    (receipt,) = outbox.sms_log(order)
    assert receipt.event == "receipt" and order.number in receipt.body and order.query_code in receipt.body
    assert receipt.to_masked == "*******1111" and "13900001111" not in receipt.to_cipher
    closed = factories.make_order("closed", caller_phone="13900001112")
    assert _events(closed) == ["receipt", "closure", "rating_invite"]
    assert "回复1非常满意、2满意、3不满意" in outbox.sms_log(closed)[2].body
    assert "办理结果：经查属实" in outbox.sms_log(closed)[1].body
    assert outbox.enqueue(closed, "closure").id == outbox.sms_log(closed)[1].id  # once per round
    secret = factories.make_order("closed", caller_phone="13900001113", confidential=True)
    assert "经查属实" not in outbox.sms_log(secret)[1].body and "网站查询" in outbox.sms_log(secret)[1].body
    anonymous = factories.make_order("closed", caller_phone="13900001114", anonymous=True)
    assert outbox.sms_log(anonymous) == []


def test_smpp_submit_and_deliver_round_trip(db: str, smsc: Smsc) -> None:
    order = factories.make_order("closed", caller_phone="13900002222")
    got = outbox.run(clock.now(), smsc.config())
    assert got == {"sent": 3, "failed": 0, "inbound": 0}
    accepted = smsc.submits()
    assert [s["to"] for s in accepted] == ["13900002222"] * 3
    assert (
        accepted[0]["text"].startswith("【12328】您反映的问题已受理") and order.number in accepted[0]["text"]
    )
    rows = outbox.sms_log(order)
    assert all(m.state == "sent" and m.provider_ref.startswith("M") for m in rows)
    assert [m.provider_ref for m in rows] == [s["message_id"] for s in accepted]
    # the citizen answers the rating invitation with 3, and writes a new complaint
    smsc.mo("a1", "13900002222", "3")
    smsc.mo("a2", "13900003333", "公交车到站不停，司机态度差")
    assert outbox.run(clock.now(), smsc.config())["inbound"] == 2
    (rating,) = Rating.select().where(Rating.order == order, Rating.source == "sms")
    assert rating.dimension == "result" and rating.value == "3"
    assert Dissatisfaction.get(Dissatisfaction.order == order).source == "sms"
    intake = InboundMessage.get(InboundMessage.outcome == "intake")
    contact = Contact.get_by_id(intake.contact_id)
    assert contact.channel == "05" and "公交车到站不停" in contact.summary and contact.outcome == "pending"
    # the same MO delivered again (same reference) is not counted twice
    assert outbox.handle_inbound("sms", "13900002222", "3", "a1").outcome == "rating"
    assert Rating.select().where(Rating.order == order, Rating.source == "sms").count() == 1


def test_refused_bind_is_retried_later(db: str, smsc: Smsc) -> None:
    order = factories.make_order("accepted", caller_phone="13900004444")
    msg = outbox.sms_log(order)[0]
    t0 = clock.now().replace(microsecond=0) + dt.timedelta(minutes=1)
    with clock.frozen(t0), pytest.raises(smpplib.exceptions.PDUError):
        outbox.run(t0, smsc.config(password="wrong"))  # the bind is refused: nothing was claimed
    assert CitizenMessage.get_by_id(msg.id).state == "pending"

    class Broken:
        def submit(self, *_: object) -> str:
            raise OSError("连接被重置")

    with clock.frozen(t0):
        assert outbox.send_due(t0, Broken()) == {"sent": 0, "failed": 1}
    row = CitizenMessage.get_by_id(msg.id)
    assert row.state == "pending" and row.attempts == 1 and "连接被重置" in row.error
    assert row.next_try_at == t0 + dt.timedelta(seconds=30)
    with clock.frozen(t0 + dt.timedelta(seconds=31)):
        assert outbox.run(clock.now(), smsc.config())["sent"] == 1
    assert CitizenMessage.get_by_id(msg.id).state == "sent"
