"""Sessions end on the server (logout, idle, absolute lifetime, disabled account, force sign-out);
tokens are bounded and revocable; cookies are Secure behind an HTTPS proxy; security headers."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from node import clock
from node.app import create_app
from node.audit.models import AuditEntry
from node.auth import admin
from node.auth import service as auth
from node.auth.models import ApiToken, User, UserSession
from node.errors import PermissionDenied
from tests import factories

T0 = dt.datetime(2026, 3, 2, 9, 0)


def api_login(client, user) -> str:
    resp = client.post("/api/v1/auth/login", json={"username": user.username, "password": factories.PASSWORD})
    assert resp.status_code == 200, resp.get_json()
    return str(resp.get_json()["csrf_token"])


def session_cookie(client) -> str:
    cookie = client.get_cookie("hotline_session")
    assert cookie is not None
    return cookie.value


def test_saved_cookie_is_dead_after_logout(app, client, db):
    user = factories.make_user("agent")
    csrf = api_login(client, user)
    saved = session_cookie(client)
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    thief = app.test_client()
    thief.set_cookie("hotline_session", saved)
    resp = thief.get("/api/v1/me")
    assert resp.status_code == 401
    assert UserSession.get(UserSession.user == user).end_reason == "logout"
    events = [e.event for e in AuditEntry.select().where(AuditEntry.target == user.username)]
    assert "auth.login" in events and "auth.logout" in events


def test_logout_without_a_session_is_refused(client, db, token_for):
    assert client.post("/api/v1/auth/logout").status_code == 401
    assert client.post("/api/v1/auth/logout", headers=token_for("agent")).status_code == 401


def test_session_has_an_absolute_lifetime(client, db):
    user = factories.make_user("agent")
    with clock.frozen(T0) as c:
        api_login(client, user)
        for _ in range(35):  # busy all day: a request every 20 minutes, never idle
            c.travel(minutes=20)
            if client.get("/api/v1/me").status_code != 200:
                break
        now = clock.now()
    assert dt.timedelta(hours=11, minutes=40) <= now - T0 <= dt.timedelta(hours=12)
    resp = client.get("/api/v1/me")
    assert resp.status_code == 401


def test_idle_session_ends_on_the_server(client, db):
    user = factories.make_user("agent")
    with clock.frozen(T0) as c:
        api_login(client, user)
        c.travel(minutes=29)
        assert client.get("/api/v1/me").status_code == 200
        c.travel(minutes=31)
        resp = client.get("/api/v1/me")
        assert resp.status_code == 401 and "超时" in resp.get_json()["message"]
    assert UserSession.get(UserSession.user == user).end_reason == "idle"


def test_disabling_a_user_ends_their_sessions(client, db):
    user = factories.make_user("agent")
    api_login(client, user)
    assert client.get("/api/v1/me").status_code == 200
    auth.set_active(factories.actor("admin"), user.id, False)
    assert client.get("/api/v1/me").status_code == 401
    assert UserSession.get(UserSession.user == user).ended_at is not None
    events = {e.event for e in AuditEntry.select().where(AuditEntry.target == user.username)}
    assert {"user.disabled", "auth.sessions_revoked"} <= events


def test_force_sign_out_api_and_permission(app, client, db, token_for):
    user = factories.make_user("agent")
    other = app.test_client()
    api_login(other, user)
    api_login(client, user)
    refused = client.post(f"/api/v1/users/{user.id}/sign-out", json={}, headers=token_for("shift_leader"))
    assert refused.status_code == 403
    resp = client.post(
        f"/api/v1/users/{user.id}/sign-out", json={"revoke_tokens": True}, headers=token_for("admin")
    )
    assert resp.status_code == 200 and resp.get_json() == {"sessions_ended": 2}
    assert other.get("/api/v1/me").status_code == 401 and client.get("/api/v1/me").status_code == 401
    with pytest.raises(PermissionDenied):
        auth.force_sign_out(factories.actor("agent"), user.id)


def test_token_lifetime_is_bounded_and_tokens_can_be_revoked(client, db):
    user = factories.make_user("agent")
    body = {"username": user.username, "password": factories.PASSWORD}
    too_long = client.post("/api/v1/auth/token", json={**body, "days": 3650})
    assert too_long.status_code == 422
    resp = client.post("/api/v1/auth/token", json={**body, "name": "脚本"})
    assert resp.status_code == 201
    secret = resp.get_json()["token"]
    bearer = {"Authorization": "Bearer " + secret}
    mine = client.get("/api/v1/auth/tokens", headers=bearer).get_json()
    assert len(mine) == 1 and mine[0]["name"] == "脚本"
    assert dt.datetime.fromisoformat(mine[0]["expires_at"]) - clock.now() <= dt.timedelta(days=365)
    stranger = {"Authorization": "Bearer " + auth.issue_token(factories.make_user("agent"), "x")}
    assert client.delete(f"/api/v1/auth/tokens/{mine[0]['id']}", headers=stranger).status_code == 404
    assert client.get("/api/v1/auth/tokens?user=*", headers=stranger).status_code == 403
    assert client.delete(f"/api/v1/auth/tokens/{mine[0]['id']}", headers=bearer).status_code == 200
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    with pytest.raises(auth.ValidationError):
        auth.issue_token(user, "x", 366)


def test_a_token_changed_by_another_process_is_refused_within_the_cache_time(client, db):
    """Each process keeps a token look-up for TOKEN_CACHE_SECONDS: a revocation or a disabled
    account written by another process (here: the same UPDATE the other process runs) is in force
    here once that time is over; in the process that made the change it is at once (above)."""
    user = factories.make_user("agent")
    bearer = {"Authorization": "Bearer " + auth.issue_token(user, "脚本")}
    other = factories.make_user("agent")
    other_bearer = {"Authorization": "Bearer " + auth.issue_token(other, "脚本")}
    with clock.frozen(T0) as c:
        assert client.get("/api/v1/me", headers=bearer).status_code == 200
        assert client.get("/api/v1/me", headers=other_bearer).status_code == 200
        ApiToken.update(revoked=True).where(ApiToken.user == user).execute()
        User.update(active=False).where(User.id == other.id).execute()
        c.travel(seconds=auth.TOKEN_CACHE_SECONDS)
        refused = client.get("/api/v1/me", headers=bearer)
        assert refused.status_code == 401 and "令牌" in refused.get_json()["message"]
        disabled = client.get("/api/v1/me", headers=other_bearer)
        assert disabled.status_code == 401 and "停用" in disabled.get_json()["message"]


def test_roles_changed_by_an_administrator_apply_to_a_token_at_once(client, db, token_for):
    user = factories.make_user("agent")
    bearer = {"Authorization": "Bearer " + auth.issue_token(user, "脚本")}
    assert client.get("/api/v1/me", headers=bearer).get_json()["roles"] == ["agent"]
    admin.update_user(
        factories.actor("admin"), user.id, display_name="改派", roles=["reviewer"], unit_id=None
    )
    me = client.get("/api/v1/me", headers=bearer).get_json()
    assert me["roles"] == ["reviewer"] and me["display_name"] == "改派"


@pytest.mark.parametrize("proxies", [0, 1])
def test_secure_cookie_and_client_address_behind_a_trusted_proxy(db, settings, proxies):
    app = create_app(dataclasses.replace(settings, trusted_proxies=proxies), manage_connections=False)
    client = app.test_client()
    user = factories.make_user("agent")
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    resp = client.post(
        "/api/v1/auth/login",
        json={"username": user.username, "password": factories.PASSWORD},
        headers=forwarded,
    )
    assert resp.status_code == 200
    cookies = resp.headers.getlist("Set-Cookie")
    session_cookie_header = next(c for c in cookies if c.startswith("hotline_session="))
    assert ("Secure" in session_cookie_header) == bool(proxies), "only a trusted proxy's word counts"
    assert ("Strict-Transport-Security" in resp.headers) == bool(proxies)
    session = UserSession.get(UserSession.user == user)
    assert session.address == ("203.0.113.9" if proxies else "127.0.0.1")


def test_security_headers_on_pages_and_api(client, db):
    for path in ("/login", "/api/v1/catalog", "/public/", "/healthz"):
        resp = client.get(path)
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
        assert resp.headers["X-Frame-Options"] == "DENY", path
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
