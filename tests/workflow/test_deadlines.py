"""Deadlines on the working-day calendar: Spring Festival 2026, make-up Saturdays, frozen clock."""

from __future__ import annotations

import datetime as dt

from node import clock
from node.catalog import service as catalog
from node.catalog.calendar import WorkCalendar
from node.tracking import service as tracking
from node.workflow import deadlines, service
from node.workflow.models import Urge
from tests.factories import actor, make_order, make_unit

D = dt.datetime


def test_spring_festival_2026_and_make_up_saturdays():
    cal = WorkCalendar()
    # 2026 Spring Festival holiday runs 02-15..02-23; Saturdays 02-14 and 02-28 are make-up working days.
    assert cal.is_workday(dt.date(2026, 2, 14)) and cal.is_workday(dt.date(2026, 2, 28))
    assert not cal.is_workday(dt.date(2026, 2, 16)) and not cal.is_workday(dt.date(2026, 2, 23))
    friday = D(2026, 2, 13, 10, 0)
    # 1 working day from Friday 02-13 is the make-up Saturday 02-14
    assert cal.add_workdays(friday, 1) == D(2026, 2, 14, 23, 59, 59)
    # 2 working days skip the whole holiday to Tuesday 02-24
    assert cal.add_workdays(friday, 2) == D(2026, 2, 24, 23, 59, 59)
    # 15 working days, counted by hand: 14, 24, 25, 26, 27, 28(Sat), 3-2 … 3-6, 3-9 … 3-12
    assert cal.add_workdays(friday, 15) == D(2026, 3, 12, 23, 59, 59)
    assert cal.workdays_between(dt.date(2026, 2, 13), dt.date(2026, 3, 12)) == 15


def test_working_minutes_roll_over_evenings_and_holidays():
    cal = WorkCalendar()
    # 30 minutes to sign, dispatched at 17:20 on Friday 02-13: 10 minutes that day, 20 on the make-up Saturday
    assert cal.add_work_minutes(D(2026, 2, 13, 17, 20), 30) == D(2026, 2, 14, 8, 50)
    # dispatched at night during the holiday: the clock starts on the first working morning
    assert cal.add_work_minutes(D(2026, 2, 18, 22, 0), 30) == D(2026, 2, 24, 9, 0)
    assert cal.add_work_minutes(D(2026, 3, 2, 7, 0), 60) == D(2026, 3, 2, 9, 30)


def test_uncovered_years_fall_back_to_weekdays_and_overrides_win():
    cal = WorkCalendar()
    assert cal.is_workday(dt.date(2027, 3, 3))  # a Wednesday; the package stops at 2026
    assert not cal.is_workday(dt.date(2027, 3, 6))  # Saturday
    cal = WorkCalendar(overrides={dt.date(2027, 3, 6): True, dt.date(2027, 3, 3): False})
    assert cal.is_workday(dt.date(2027, 3, 6)) and not cal.is_workday(dt.date(2027, 3, 3))


def test_order_due_times_follow_policy_on_frozen_clock(db):
    with clock.frozen(D(2026, 2, 13, 10, 0)):
        complaint = make_order("accepted", business_type="1")
        consultation = make_order("accepted", business_type="2", domain="04", sub_business="0402")
        suggestion = make_order("accepted", business_type="3")
    assert complaint.due_at == D(2026, 3, 12, 23, 59, 59)
    assert consultation.due_at == D(2026, 2, 14, 23, 59, 59)
    assert suggestion.due_at == D(2026, 2, 27, 23, 59, 59)  # 14, 24, 25, 26, 27
    assert complaint.number[6:14] == "20260213"


def test_admin_override_moves_a_due_date(db):
    catalog.set_calendar_override(dt.date(2026, 2, 14), False, "临时调整")
    with clock.frozen(D(2026, 2, 13, 10, 0)):
        order = make_order("accepted", business_type="2", domain="04", sub_business="0402")
    assert order.due_at == D(2026, 2, 24, 23, 59, 59)


def test_deadline_states_and_automatic_urges_once_per_level(db):
    unit = make_unit()
    with clock.frozen(D(2026, 3, 2, 9, 0)) as c:
        order = make_order("dispatched", unit=unit, business_type="3")  # 5 working days → 03-09 23:59:59
        assert order.due_at == D(2026, 3, 9, 23, 59, 59)
        assert deadlines.deadline_state(order, clock.now()) == "normal"
        assert tracking.scan(clock.now()) == 0
        c.set(D(2026, 3, 6, 12, 0))
        assert deadlines.deadline_state(order, clock.now()) == "warn50"
        assert tracking.scan(clock.now()) == 1
        assert tracking.scan(clock.now()) == 0, "a level is urged once"
        c.set(D(2026, 3, 9, 10, 0))
        assert deadlines.deadline_state(order, clock.now()) == "warn80"
        assert tracking.scan(clock.now()) == 1
        c.set(D(2026, 3, 10, 8, 0))
        assert deadlines.deadline_state(order, clock.now()) == "overdue"
        assert tracking.scan(clock.now()) == 1
        overdue, _ = service.list_orders(actor("dispatcher"), service.OrderFilter(queue="overdue"))
        assert order.number in {o.number for o in overdue}
        levels = [u.level for u in Urge.select().where(Urge.order == order).order_by(Urge.id)]
        assert levels == ["warn50", "warn80", "overdue"]
        assert all(u.unit_id == unit.id for u in Urge.select().where(Urge.order == order))
        history = tracking.overdue_history(D(2026, 3, 1), D(2026, 3, 11))
        assert [e.order_id for e in history] == [order.id]
