"""Deadline supervision: warnings at the policy's warn_percents, sign-for and co-handler deadlines,
urges and 督办 reaching the unit's inbox with read receipts and escalating, and the lead's reply
waiting for co-handlers unless the centre waives it. Both databases, frozen clocks."""

from __future__ import annotations

import datetime as dt

import pytest

from node import clock
from node.auth import service as auth
from node.auth.models import User
from node.catalog import service as catalog
from node.catalog.models import SlaPolicy
from node.errors import InvalidTransition, ValidationError
from node.followup import supervision
from node.notices import service as notices
from node.notices.models import Notice
from node.tracking import service as tracking
from node.workflow import service as workflow
from node.workflow.models import Urge
from tests import factories

D = dt.datetime


@pytest.fixture(autouse=True)
def _supervision_hooks() -> None:
    supervision.install()


def _percents(business_type: str, raw: str) -> None:
    SlaPolicy.update(warn_percents=raw).where(SlaPolicy.business_type == business_type).execute()
    catalog.invalidate()


def test_warn_percents_parse() -> None:
    assert tracking.warn_percents("30，60, 90") == (30, 60, 90)
    assert tracking.warn_percents("") == (50, 80) and tracking.warn_percents("0,100,x") == (50, 80)


def test_order_warnings_at_policy_percents_reach_the_unit_inbox(db: str) -> None:
    _percents("3", "30,60,90")
    unit = factories.make_unit()
    staff = factories.make_user("unit_staff", unit)
    with clock.frozen(D(2026, 3, 2, 9, 0)) as c:  # 5 working days → 03-09 23:59:59
        order = factories.make_order("dispatched", unit=unit, business_type="3")
        c.set(D(2026, 3, 5, 0, 0))  # 34 % of the window
        assert tracking.scan(clock.now()) == 1
        c.set(D(2026, 3, 7, 6, 0))  # 64 %
        assert tracking.scan(clock.now()) == 1 and tracking.scan(clock.now()) == 0
        c.set(D(2026, 3, 9, 6, 0))  # 93 %
        assert tracking.scan(clock.now()) == 1
    levels = [u.level for u in Urge.select().where(Urge.order == order, Urge.level.startswith("warn"))]
    assert levels == ["warn30", "warn60", "warn90"]
    inbox = [n.title for n in Notice.select().where(Notice.user == staff.id, Notice.kind == "warning")]
    assert len(inbox) == 3 and all(order.number in t for t in inbox)


def test_sign_for_warnings_and_overdue_tell_dispatchers(db: str) -> None:
    unit = factories.make_unit()
    staff = factories.make_user("unit_staff", unit)
    dispatcher = factories.make_user("dispatcher")
    with clock.frozen(D(2026, 3, 2, 9, 0)) as c:
        order = factories.make_order(
            "dispatched", unit=unit, business_type="3"
        )  # sign within 30 working minutes
        c.set(D(2026, 3, 2, 9, 20))
        assert tracking.scan_sign(clock.now()) == 1  # 66 % ≥ 50
        c.set(D(2026, 3, 2, 9, 26))
        assert tracking.scan_sign(clock.now()) == 1  # 86 % ≥ 80
        c.set(D(2026, 3, 2, 9, 31))
        assert tracking.scan_sign(clock.now()) == 1 and tracking.scan_sign(clock.now()) == 0
    codes = [u.level for u in Urge.select().where(Urge.order == order).order_by(Urge.id)]
    assert codes == ["sign50", "sign80", "signover"]
    assert Notice.select().where(Notice.user == staff.id, Notice.kind == "sign_due").count() == 3
    assert Notice.select().where(Notice.user == dispatcher.id, Notice.kind == "sign_due").count() == 1
    # once signed, no more sign warnings
    with clock.frozen(D(2026, 3, 2, 10, 0)):
        workflow.perform(auth.actor_for(staff), order.number, "sign", {})
        assert tracking.scan_sign(clock.now()) == 0


def test_co_handlers_warned_and_lead_reply_waits_unless_waived(db: str) -> None:
    lead_unit, assist_unit = factories.make_unit(), factories.make_unit()
    lead_staff = auth.actor_for(factories.make_user("unit_staff", lead_unit))
    assist_user = factories.make_user("unit_staff", assist_unit)
    dispatcher = factories.actor("dispatcher")
    with clock.frozen(D(2026, 3, 2, 9, 0)) as c:
        order = factories.make_order("pending_dispatch", business_type="3")
        workflow.perform(
            dispatcher,
            order.number,
            "dispatch",
            {"lead_unit": lead_unit.code, "assist_units": [assist_unit.code]},
        )
        assert Notice.select().where(Notice.user == assist_user.id, Notice.kind == "dispatch").exists()
        workflow.perform(lead_staff, order.number, "sign", {})
        c.set(D(2026, 3, 6, 12, 0))
        assert tracking.scan_assist(clock.now()) == 1
        assert Urge.get(Urge.order == order, Urge.level == "assist50").unit_id == assist_unit.id
        with pytest.raises(InvalidTransition, match="协办单位尚未反馈"):
            workflow.perform(lead_staff, order.number, "reply", factories.PATH_BODIES["reply"])
        with pytest.raises(ValidationError):
            supervision.waive_assist(dispatcher, order.number, "")
        supervision.waive_assist(dispatcher, order.number, "协办单位已电话反馈，同意先行回复")
        assert (
            workflow.perform(lead_staff, order.number, "reply", factories.PATH_BODIES["reply"]).state
            == "replied"
        )


def test_assist_feedback_lets_the_lead_reply(db: str) -> None:
    lead_unit, assist_unit = factories.make_unit(), factories.make_unit()
    lead_staff = auth.actor_for(factories.make_user("unit_staff", lead_unit))
    assist_staff = auth.actor_for(factories.make_user("unit_staff", assist_unit))
    order = factories.make_order("pending_dispatch")
    workflow.perform(
        factories.actor("dispatcher"),
        order.number,
        "dispatch",
        {"lead_unit": lead_unit.code, "assist_units": [assist_unit.code]},
    )
    workflow.perform(lead_staff, order.number, "sign", {})
    workflow.perform(assist_staff, order.number, "assist_reply", {"content": "已配合核查"})
    assert (
        workflow.perform(lead_staff, order.number, "reply", factories.PATH_BODIES["reply"]).state == "replied"
    )


def test_urge_reaches_the_inbox_with_read_receipts_and_supervision_escalates(db: str) -> None:
    unit = factories.make_unit()
    staff = factories.make_user("unit_staff", unit)
    boss = factories.make_user(["unit_leader"], unit)
    centre = factories.make_user("shift_leader")
    reviewer = factories.actor("reviewer")
    with clock.frozen(D(2026, 3, 2, 9, 0)) as c:
        order = factories.make_order("handling", unit=unit, business_type="3")
        workflow.perform(reviewer, order.number, "urge", {"note": "市民再次来电，请尽快办理"})
        urge = Urge.select().where(Urge.order == order, Urge.automatic == False).get()  # noqa: E712
        receipt = notices.receipt_summary(f"urge:{urge.id}")
        in_unit = User.select().where(User.unit == unit.id).count()  # its staff (and its leader)
        assert receipt["sent"] == in_unit >= 2 and receipt["read"] == 0
        mine = Notice.get(Notice.user == staff.id, Notice.ref == f"urge:{urge.id}")
        assert mine.kind == "urge" and mine.sender == reviewer.display_name
        c.set(D(2026, 3, 2, 9, 30))
        notices.mark_read(auth.actor_for(staff), mine.id)
        assert notices.receipt_summary(f"urge:{urge.id}")["read"] == 1
        with pytest.raises(ValidationError):
            supervision.supervise(reviewer, order.number, 4, "x")
        sup = supervision.supervise(reviewer, order.number, 1, "请于今日内回复")
        told = {n.user_id for n in Notice.select().where(Notice.ref == f"urge:{sup.id}")}
        assert {staff.id, boss.id} <= told and centre.id not in told
        c.set(D(2026, 3, 2, 10, 30))
        assert supervision.escalate(clock.now()) == 0  # not yet 120 working minutes
        c.set(D(2026, 3, 2, 14, 0))
        assert supervision.escalate(clock.now()) == 1  # nobody read it: level 2
        c.set(D(2026, 3, 3, 10, 0))
        assert supervision.escalate(clock.now()) == 1  # still unread: level 3 reaches the centre
        assert supervision.escalate(clock.now()) == 0
    assert Notice.select().where(Notice.user == centre.id, Notice.kind == "supervise").count() == 1
    levels = [
        u.level
        for u in Urge.select().where(Urge.order == order, Urge.level.startswith("sup")).order_by(Urge.id)
    ]
    assert levels == ["sup1", "sup2", "sup3"]
