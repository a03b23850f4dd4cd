"""Administration screens per role: allowed roles see and change, the others are refused."""

from __future__ import annotations

import pytest

from node.audit.models import AuditEntry
from node.auth.models import User
from node.catalog.models import Unit
from tests import factories
from tests.web.conftest import HTML

SCREENS = [
    "/admin/",
    "/admin/users",
    "/admin/users/new",
    "/admin/roles",
    "/admin/roles/new",
    "/admin/units",
    "/admin/codes?tab=sub&domain=04",
    "/admin/codes?tab=subject",
    "/admin/sla",
    "/admin/calendar?year=2027",
    "/admin/settings",
    "/admin/backups",
]


def test_admin_sees_every_screen(client, web_login):
    web_login("admin")
    for url in SCREENS:
        resp = client.get(url, headers=HTML)
        assert resp.status_code == 200, (url, resp.get_data(as_text=True)[:300])
        assert "运行管理" in resp.get_data(as_text=True)


@pytest.mark.parametrize("role", ["agent", "dispatcher", "supervisor", "auditor", "unit_staff"])
def test_other_roles_are_refused(client, web_login, role):
    _, csrf = web_login(role)
    for url in SCREENS:
        assert client.get(url, headers=HTML).status_code == 403, url
    resp = client.post(
        "/admin/units", data={"csrf_token": csrf, "code": "X1", "name": "x", "region_code": "320100"}
    )
    assert resp.status_code == 403
    assert Unit.get_or_none(Unit.code == "X1") is None
    victim = factories.make_user("agent")
    assert client.post(f"/admin/users/{victim.id}/disable", data={"csrf_token": csrf}).status_code == 403
    assert User.get_by_id(victim.id).active


def test_auditor_home_is_the_audit_log_and_export_is_audited(client, web_login):
    web_login("auditor")
    assert client.get("/", headers=HTML).headers["Location"].endswith("/audit")
    page = client.get("/audit?event=auth.login", headers=HTML).get_data(as_text=True)
    assert "审计日志" in page and "登录成功" in page
    resp = client.get("/audit/export.csv?event=auth.login")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "登录成功" in resp.get_data(as_text=True)
    assert AuditEntry.select().where(AuditEntry.event == "data.export").count() == 1
    assert "哈希链完整" in client.get("/audit?verify=1", headers=HTML).get_data(as_text=True)


def test_audit_details_read_as_chinese_with_role_and_unit_names(client, web_login, db):
    from node.audit import service as audit

    unit = factories.make_unit()
    audit.record(
        None, "user.created", "li", {"roles": ["agent", "reviewer"], "unit_id": unit.id, "active": False}
    )
    audit.record(None, "user.created", "wang", {"roles": ["agent"], "unit_id": None})
    web_login("auditor")
    page = client.get("/audit?event=user.created", headers=HTML).get_data(as_text=True)
    assert f'角色</span>：话务员、审核员；<span class="muted">承办单位</span>：{unit.name}' in page
    assert "启用</span>：否" in page and "承办单位</span>：无" in page
    assert "unit_id" not in page and "[&#39;agent&#39;]" not in page and "None" not in page
    rows = client.get("/audit/export.csv?event=user.created").get_data(as_text=True)
    assert f"启用：否；角色：话务员、审核员；承办单位：{unit.name}" in rows  # readable column
    assert '""unit_id"": null' in rows  # and the stored JSON verbatim


def test_role_homes(client, web_login):
    web_login("admin")
    assert client.get("/", headers=HTML).headers["Location"].endswith("/admin/")
    client.post("/logout", data={"csrf_token": csrf_of_page(client)})
    web_login("supervisor")
    assert client.get("/", headers=HTML).headers["Location"].endswith("/supervise")
    assert "监控概览" in client.get("/supervise", headers=HTML).get_data(as_text=True)


def csrf_of_page(client):
    from tests.web.conftest import csrf_of

    return csrf_of(client.get("/no-screen", headers=HTML).get_data(as_text=True))


def test_user_lifecycle_through_the_screens(client, web_login, app):
    _, csrf = web_login("admin")
    unit = factories.make_unit()
    resp = client.post(
        "/admin/users/new",
        data={
            "csrf_token": csrf,
            "username": "zhang.san",
            "display_name": "张三",
            "password": "short",
            "roles": ["unit_staff"],
            "unit": str(unit.id),
        },
        headers=HTML,
    )
    assert resp.status_code == 422 and "密码至少8位" in resp.get_data(as_text=True)
    resp = client.post(
        "/admin/users/new",
        data={
            "csrf_token": csrf,
            "username": "zhang.san",
            "display_name": "张三",
            "password": "longenough1",
            "roles": ["unit_staff"],
            "unit": str(unit.id),
        },
    )
    assert resp.status_code == 302
    user = User.get(User.username == "zhang.san")
    # the new user signs in elsewhere
    other = app.test_client()
    from tests.web.conftest import csrf_of

    token = csrf_of(other.get("/login").get_data(as_text=True))
    assert (
        other.post(
            "/login", data={"username": "zhang.san", "password": "longenough1", "csrf_token": token}
        ).status_code
        == 302
    )
    assert other.get("/unit", headers=HTML).status_code == 200
    # disabling ends that session at once
    assert client.post(f"/admin/users/{user.id}/disable", data={"csrf_token": csrf}).status_code == 302
    assert other.get("/unit", headers=HTML).status_code == 302
    events = [
        e.event for e in AuditEntry.select().where(AuditEntry.target == "zhang.san").order_by(AuditEntry.seq)
    ]
    assert events[:1] == ["user.created"] and "user.disabled" in events and "auth.sessions_revoked" in events
    listing = client.get("/admin/users?q=zhang&status=disabled", headers=HTML).get_data(as_text=True)
    assert "zhang.san" in listing and "停用" in listing


def test_reset_code_screen_and_redeem(client, web_login, app):
    _, csrf = web_login("admin")
    user = factories.make_user("agent")
    page = client.post(f"/admin/users/{user.id}/reset-password", data={"csrf_token": csrf}).get_data(
        as_text=True
    )
    import re

    code = re.search(r'id="reset-code">([A-Z0-9-]+)<', page).group(1)
    other = app.test_client()
    from tests.web.conftest import csrf_of

    form = csrf_of(other.get("/password-reset").get_data(as_text=True))
    bad = other.post(
        "/password-reset",
        data={
            "csrf_token": form,
            "username": user.username,
            "code": "AAAA-BBBB-CCCC",
            "password": "newpass123",
            "password2": "newpass123",
        },
    )
    assert bad.status_code == 422 and "重置码无效" in bad.get_data(as_text=True)
    ok = other.post(
        "/password-reset",
        data={
            "csrf_token": form,
            "username": user.username,
            "code": code.lower(),
            "password": "newpass123",
            "password2": "newpass123",
        },
    )
    assert ok.status_code == 302
    again = other.post(
        "/password-reset",
        data={
            "csrf_token": form,
            "username": user.username,
            "code": code,
            "password": "another123",
            "password2": "another123",
        },
    )
    assert again.status_code == 422  # used once


def test_unit_tree_screens(client, web_login):
    _, csrf = web_login("admin")
    resp = client.post(
        "/admin/units",
        data={"csrf_token": csrf, "code": "YZC", "name": "运政处", "region_code": "999999"},
        headers=HTML,
    )
    assert resp.status_code == 422 and "未知的行政区划代码" in resp.get_data(as_text=True)
    assert (
        client.post(
            "/admin/units",
            data={"csrf_token": csrf, "code": "YZC", "name": "运政处", "region_code": "320100"},
        ).status_code
        == 302
    )
    assert (
        client.post(
            "/admin/units",
            data={
                "csrf_token": csrf,
                "code": "YZC2",
                "name": "运政二科",
                "region_code": "320100",
                "parent_code": "YZC",
            },
        ).status_code
        == 302
    )
    # moving a unit under its own child is refused
    resp = client.post(
        "/admin/units/YZC",
        data={
            "csrf_token": csrf,
            "op": "save",
            "name": "运政处",
            "region_code": "320100",
            "parent_code": "YZC2",
        },
        headers=HTML,
    )
    assert resp.status_code == 422 and "不能把单位移到" in resp.get_data(as_text=True)
    page = client.get("/admin/units", headers=HTML).get_data(as_text=True)
    assert "运政二科" in page


def test_settings_screen_validates_and_applies(client, web_login):
    _, csrf = web_login("admin")
    resp = client.post(
        "/admin/settings", data={"csrf_token": csrf, "work_start": "18:00", "work_end": "09:00"}, headers=HTML
    )
    assert resp.status_code == 422 and "下班时间须晚于上班时间" in resp.get_data(as_text=True)
    assert (
        client.post("/admin/settings", data={"csrf_token": csrf, "session_minutes": "45"}).status_code == 302
    )
    assert 'data-minutes="45"' in client.get("/admin/settings", headers=HTML).get_data(as_text=True)


def test_forged_and_hostile_input_is_refused_or_escaped(client, web_login):
    _, csrf = web_login("admin")
    victim = factories.make_user("agent")
    # no CSRF token: a cross-site form cannot disable anyone
    assert client.post(f"/admin/users/{victim.id}/disable", data={}).status_code == 403
    assert User.get_by_id(victim.id).active
    # markup in names is shown as text
    client.post(
        "/admin/units",
        data={
            "csrf_token": csrf,
            "code": "XSS",
            "name": "<script>alert(1)</script>",
            "region_code": "320100",
        },
    )
    page = client.get("/admin/units?show=all", headers=HTML).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    # an unknown operation, a malformed unit id, a year out of range
    assert (
        client.post(f"/admin/users/{victim.id}/explode", data={"csrf_token": csrf}, headers=HTML).status_code
        == 302
    )
    assert client.get("/admin/users?unit=abc", headers=HTML).status_code == 422
    assert client.get("/admin/calendar?year=3000", headers=HTML).status_code == 422
