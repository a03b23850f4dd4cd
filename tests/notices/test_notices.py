"""Staff inbox: recipients by user, role and unit; read receipts; the badge and its push events;
the inbox screen and its failure paths. Both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient

from node import clock
from node.auth import service as auth
from node.errors import NotFound, ValidationError
from node.notices import service as notices
from node.notices.models import Notice
from node.push import service as push
from tests import factories
from tests.web.conftest import HTML, csrf_of, post_login


def test_notify_users_roles_units_once_each(db: str) -> None:
    unit = factories.make_unit()
    staff = [factories.make_user("unit_staff", unit) for _ in range(2)]
    leader = factories.make_user("shift_leader")
    both = factories.make_user(["shift_leader", "agent"])
    gone = factories.make_user("shift_leader")
    gone.active = False
    gone.save()
    start = push.last_id()
    ids = notices.notify(
        "urge",
        "工单已被催办",
        users=[staff[0].id, leader.id],
        roles=["shift_leader"],
        units=[unit.id],
        link="/orders/1",
        ref="urge:1",
    )
    assert sorted(ids) == sorted([staff[0].id, staff[1].id, leader.id, both.id])
    assert gone.id not in ids  # a disabled account gets nothing
    assert Notice.select().where(Notice.ref == "urge:1").count() == 4
    events = [e for e in push.after(start) if e.kind == "notice"]
    assert {e.topic for e in events} == {f"user:{i}" for i in ids}
    assert all(e.data["unread"] == 1 and e.data["title"] == "工单已被催办" for e in events)
    assert notices.notify("info", "无人", roles=["no_such_role"]) == []


def test_read_receipts_and_counts(db: str) -> None:
    a, b = factories.make_user("agent"), factories.make_user("agent")
    actor_a = auth.actor_for(a)
    t0 = dt.datetime(2026, 12, 2, 9, 0)
    with clock.frozen(t0):
        notices.notify("urge", "催办一", users=[a.id, b.id], ref="urge:9")
        notices.notify("info", "通知二", users=[a.id])
    assert notices.unread_count(a.id) == 2 and notices.unread_count(b.id) == 1
    first = Notice.get(Notice.user == a.id, Notice.ref == "urge:9")
    start = push.last_id()
    with clock.frozen(t0 + dt.timedelta(minutes=5)):
        notices.mark_read(actor_a, first.id)
    with clock.frozen(t0 + dt.timedelta(minutes=9)):
        again = notices.mark_read(actor_a, first.id)  # idempotent: the first read time stays
    assert again.read_at == t0 + dt.timedelta(minutes=5)
    assert [e.data["unread"] for e in push.after(start)] == [1]
    summary = notices.receipt_summary("urge:9")
    assert summary["sent"] == 2 and summary["read"] == 1
    assert summary["first_read_at"] == t0 + dt.timedelta(minutes=5)
    assert [r.user_id for r in summary["receipts"]] == [b.id, a.id]  # unread first
    with pytest.raises(NotFound):  # someone else's notice
        notices.mark_read(auth.actor_for(b), first.id)
    assert notices.mark_all_read(actor_a) == 1 and notices.unread_count(a.id) == 0
    assert notices.mark_all_read(actor_a) == 0
    rows, total = notices.inbox(actor_a)
    assert total == 2 and rows[0].title in ("催办一", "通知二")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "nope", "title": "x"}, "kind"),
        ({"kind": "info", "title": " "}, "title"),
        ({"kind": "info", "title": "x" * 121}, "title"),
        ({"kind": "info", "title": "x", "link": "https://evil.example/"}, "link"),
        ({"kind": "info", "title": "x", "link": "//evil"}, "link"),
        ({"kind": "info", "title": "a\x00b"}, "title"),
        ({"kind": "info", "title": "x", "body": "y" * 2001}, "body"),
    ],
)
def test_notify_refuses_bad_input(db: str, kwargs: dict[str, str], field: str) -> None:
    user = factories.make_user("agent")
    with pytest.raises(ValidationError) as err:
        notices.notify(users=[user.id], **kwargs)  # type: ignore[arg-type]
    assert field in err.value.to_dict()["details"]


def test_badge_inbox_and_open(client: FlaskClient, db: str) -> None:
    user = factories.make_user("dispatcher")
    other = factories.make_user("dispatcher")
    assert post_login(client, user.username).status_code == 302
    page = client.get("/notices", headers=HTML).get_data(as_text=True)
    assert 'id="notice-count" hidden' in page and "没有消息" in page
    notices.notify("return", "工单被退回", users=[user.id], link="/queues", body="理由：非本单位职责")
    notices.notify("info", "别人的", users=[other.id])
    page = client.get("/notices", headers=HTML).get_data(as_text=True)
    assert 'id="notice-count">1<' in page and "工单被退回" in page and "别人的" not in page
    assert "js/notices.js" in page
    assert client.get("/notices/unread").get_json() == {"unread": 1}
    mine = Notice.get(Notice.user == user.id)
    theirs = Notice.get(Notice.user == other.id)
    token = csrf_of(page)
    assert client.post(f"/notices/{mine.id}/open").status_code == 403  # no CSRF token
    resp = client.post(f"/notices/{theirs.id}/open", data={"csrf_token": token})
    assert resp.status_code == 404 and Notice.get_by_id(theirs.id).read_at is None
    resp = client.post(f"/notices/{mine.id}/open", data={"csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/queues")
    assert client.get("/notices/unread").get_json() == {"unread": 0}
    assert client.get("/notices?kind=bogus", headers=HTML).status_code == 422
    assert client.get("/notices?unread=1", headers=HTML).status_code == 200
    resp = client.post(
        "/notices/read-all", data={"csrf_token": token}, headers={"Accept": "application/json"}
    )
    assert resp.get_json() == {"marked": 0}


def test_inbox_needs_sign_in(client: FlaskClient, db: str) -> None:
    assert client.get("/notices/unread").status_code == 401
    assert client.post("/notices/read-all").status_code in (401, 403)
