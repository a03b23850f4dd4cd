"""监控概览: the stage counts and each handling unit's load with known answers."""

from __future__ import annotations

import datetime as dt

from node import clock
from node.monitoring.views import unit_load
from node.workflow.models import Assignment
from tests import factories
from tests.web.conftest import HTML

H = dt.timedelta(hours=1)


def _part(order, **times) -> Assignment:
    a = Assignment.get(Assignment.order == order, Assignment.active == True)  # noqa: E712
    for k, v in times.items():
        setattr(a, k, v)
    a.save()
    return a


def test_unit_load_counts_and_orders_units_by_what_needs_urging(db):
    now = clock.now()
    calm, late = factories.make_unit(), factories.make_unit()
    # calm: one signed in time, due in 3 days; one waiting for signature, sign-for not yet due
    _part(
        factories.make_order("handling", unit=calm),
        sign_due_at=now + H,
        signed_at=now - H,
        due_at=now + 72 * H,
    )
    _part(factories.make_order("dispatched", unit=calm), sign_due_at=now + H, due_at=now + 72 * H)
    # late: unsigned past its sign-for deadline and due within 24 h; signed late and overdue
    _part(factories.make_order("dispatched", unit=late), sign_due_at=now - H, due_at=now + 5 * H)
    _part(
        factories.make_order("handling", unit=late),
        sign_due_at=now - 3 * H,
        signed_at=now - 2 * H,
        due_at=now - H,
    )
    # a replied part and a closed order are not in hand
    factories.make_order("replied", unit=late)
    factories.make_order("closed", unit=late)
    rows = {r["unit_id"]: r for r in unit_load(now)}
    assert rows[late.id] == {
        "unit_id": late.id,
        "unit": late.name,
        "in_hand": 2,
        "to_sign": 1,
        "sign_late": 2,
        "due_soon": 1,
        "overdue": 1,
    }
    assert (rows[calm.id]["in_hand"], rows[calm.id]["to_sign"], rows[calm.id]["sign_late"]) == (2, 1, 0)
    assert rows[calm.id]["due_soon"] == rows[calm.id]["overdue"] == 0
    assert [r["unit_id"] for r in unit_load(now)][:2] == [late.id, calm.id]


def test_overview_page_lists_units_and_links_the_other_screens(client, db, web_login):
    unit = factories.make_unit()
    factories.make_order("dispatched", unit=unit)
    web_login("supervisor")
    page = client.get("/supervise", headers=HTML).get_data(as_text=True)
    assert 'id="unit-load"' in page and unit.name in page and "待归档" in page
    assert 'href="/telephony/wallboard"' in page and 'href="/stats"' in page
