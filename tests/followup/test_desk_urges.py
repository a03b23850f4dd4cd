"""Urges and 督办 on the unit desk (both databases): the unit's list shows each live order's open
催办/督办 (what, from whom, when, read by me or not) and can be narrowed to urged or unread ones and
sorted by the latest urge; 标为已读 from the desk or the order page records the read receipt the
跟踪督办 screen counts; nobody marks another unit's urge."""

from __future__ import annotations

import datetime as dt
import re

from flask.testing import FlaskClient

from node import clock
from node.followup import supervision
from node.notices import service as notices
from node.workflow import service as workflow
from node.workflow.models import Urge
from tests import factories
from tests.web.conftest import HTML

D = dt.datetime


def _numbers(page: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-order="(\d{21})"', page)


def test_desk_shows_filters_sorts_and_marks_urges_read(client: FlaskClient, db: str, web_login) -> None:  # type: ignore[no-untyped-def]
    unit = factories.make_unit()
    me, token = web_login("unit_staff", unit)
    reviewer = factories.actor("reviewer")
    with clock.frozen(D(2026, 3, 2, 9, 0)) as c:
        quiet = factories.make_order("handling", unit=unit)
        urged = factories.make_order("handling", unit=unit)
        supervised = factories.make_order("handling", unit=unit)
        c.set(D(2026, 3, 2, 10, 0))
        workflow.perform(reviewer, urged.number, "urge", {"note": "市民再次来电，请尽快办理"})
        c.set(D(2026, 3, 2, 11, 0))
        sup = supervision.supervise(reviewer, supervised.number, 2, "请今日内回复市民")
        urge = Urge.get(Urge.order == urged, Urge.automatic == False)  # noqa: E712

        page = client.get("/unit?tab=all", headers=HTML).get_data(as_text=True)
        assert "催办/督办" in page and "督办·二级（督办单位负责人）" in page and reviewer.display_name in page
        assert page.count("未读") >= 2 and "请今日内回复市民" in page
        assert set(_numbers(page)) >= {quiet.number, urged.number, supervised.number}
        assert _numbers(client.get("/unit?tab=all&urged=any", headers=HTML).get_data(as_text=True)) == [
            supervised.number,
            urged.number,
        ]
        assert _numbers(client.get("/unit?tab=all&sort=urged", headers=HTML).get_data(as_text=True))[:2] == [
            supervised.number,
            urged.number,
        ]

        c.set(D(2026, 3, 2, 11, 30))
        resp = client.post(
            f"/followup/urges/{urge.id}/read",
            data={"csrf_token": token, "next": "/unit?tab=all&urged=unread"},
        )
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/unit?tab=all&urged=unread")
        summary = notices.receipt_summary(f"urge:{urge.id}")
        assert summary["read"] == 1 and summary["first_read_at"] == D(2026, 3, 2, 11, 30)
        assert _numbers(client.get("/unit?tab=all&urged=unread", headers=HTML).get_data(as_text=True)) == [
            supervised.number
        ]
        # the order page shows the card, and marks the supervision read too
        order_page = client.get(f"/orders/{supervised.number}", headers=HTML).get_data(as_text=True)
        assert 'id="unit-urges"' in order_page and "1 条未读" in order_page
        client.post(
            f"/followup/urges/{sup.id}/read",
            data={"csrf_token": token, "next": f"/orders/{supervised.number}"},
        )
        assert notices.receipt_summary(f"urge:{sup.id}")["read"] == 1
        assert _numbers(client.get("/unit?tab=all&urged=unread", headers=HTML).get_data(as_text=True)) == []
        assert "已读 " in client.get(f"/orders/{supervised.number}", headers=HTML).get_data(as_text=True)
        # a supervision nobody read escalates; one read from the desk does not
        c.set(D(2026, 3, 3, 15, 0))
        assert supervision.escalate(clock.now()) == 0
    assert me.unit_id == unit.id


def test_other_units_and_closed_orders(client: FlaskClient, db: str, web_login) -> None:  # type: ignore[no-untyped-def]
    mine, other = factories.make_unit(), factories.make_unit()
    _me, token = web_login("unit_staff", mine)
    reviewer = factories.actor("reviewer")
    theirs = factories.make_order("handling", unit=other)
    workflow.perform(reviewer, theirs.number, "urge", {"note": "请尽快办理"})
    urge = Urge.get(Urge.order == theirs)
    resp = client.post(f"/followup/urges/{urge.id}/read", data={"csrf_token": token})
    assert resp.status_code == 404 and "没有收到" in resp.get_data(as_text=True)
    assert notices.receipt_summary(f"urge:{urge.id}")["read"] == 0
    assert client.post(f"/followup/urges/{urge.id}/read", data={}).status_code in (400, 403)  # no CSRF
    # urges on an order that is finished are history, not open: no longer on the desk
    done = factories.make_order("handling", unit=mine)
    workflow.perform(reviewer, done.number, "urge", {"note": "请尽快办理"})
    assert supervision.desk_urges(mine.id, [done], None)[done.id][0].label == "催办"
    finished = factories.walk(
        done,
        "closed",
        lambda role: factories.actor("unit_staff", mine) if role == "unit" else factories.actor(role),
        mine.code,
        factories.PATH_BODIES,
    )
    assert supervision.desk_urges(mine.id, [finished], None) == {}
    page = client.get("/unit?tab=all&urged=any", headers=HTML).get_data(as_text=True)
    assert done.number not in page and theirs.number not in page
    assert "有未读催办/督办" in client.get("/unit?urged=bogus", headers=HTML).get_data(as_text=True)
