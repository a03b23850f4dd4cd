"""Who is calling: bearer tokens for machines, server-side sessions for people.

`current_actor()` is the only way views learn the actor. The signed session cookie carries the
session's secret (`sid`, looked up in `UserSession`) and the CSRF token; the server ends a session
on logout, after `session_minutes` of inactivity, after `session_max_hours` in all, on a force
sign-out and when the account is disabled. JSON writes made with a session cookie need the CSRF
header. A second, long-lived signed cookie marks a device on which a user signed in before, so
password-guessing from elsewhere cannot lock the owner out (see `service._throttled`).
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, Response, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

from node.audit import service as audit
from node.auth import service
from node.auth.service import Actor
from node.errors import AuthenticationRequired, PermissionDenied

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
DEVICE_COOKIE = "hotline_device"
DEVICE_DAYS = 180


class SessionInterface(SecureCookieSessionInterface):
    """Marks the cookie Secure whenever the request came over HTTPS (directly, or through a
    trusted reverse proxy that said so in X-Forwarded-Proto)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.before_request(_load_actor)
    app.after_request(set_device_cookie)
    app.after_request(security_headers)


def _load_actor() -> None:
    g.actor = None
    g.auth_via = None
    audit.request_address.set(client_address())
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = service.user_for_token(header[7:].strip())
        g.actor, g.auth_via = service.actor_for(user), "token"
        return
    sid = session.get("sid")
    if not isinstance(sid, str):
        return
    try:
        user = service.session_user(sid)
    except AuthenticationRequired as exc:
        session.pop("sid", None)
        g.session_expired = exc.code == "session_expired"
        g.session_message = exc.message
        return
    g.actor, g.auth_via = service.actor_for(user), "session"


def passive_actor() -> Actor | None:
    """The actor of this request (bearer token or session) without touching the session: for
    the push stream, which a page holds open whether or not anyone works in it."""
    header = request.headers.get("Authorization", "")
    try:
        if header.startswith("Bearer "):
            return service.actor_for(service.user_for_token(header[7:].strip()))
        sid = session.get("sid")
        if not isinstance(sid, str):
            return None
        return service.actor_for(service.session_user(sid, touch=False))
    except AuthenticationRequired:
        return None


def client_address() -> str:
    """The caller's address (the real client's behind `trusted_proxies` reverse proxies)."""
    return (request.remote_addr or "")[:64]


def current_actor() -> Actor:
    actor = getattr(g, "actor", None)
    if actor is None:
        if getattr(g, "session_expired", False):
            raise AuthenticationRequired(getattr(g, "session_message", "登录已超时，请重新登录"))
        raise AuthenticationRequired()
    return actor  # type: ignore[no-any-return]


def optional_actor() -> Actor | None:
    return getattr(g, "actor", None)


def _device_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="hotline-device")


def device_for(username: str) -> str:
    """The device id from this browser's device cookie, if it was issued to `username`."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return ""
    try:
        data = _device_signer().loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return ""
    if not isinstance(data, dict) or data.get("u") != username or not isinstance(data.get("d"), str):
        return ""
    return data["d"][:40]  # type: ignore[no-any-return]


def authenticate(username: str, password: str) -> service.User:
    """Check a password for a browser or API client (address and device cookie taken from the request)."""
    return service.authenticate(username, password, client_address(), device_for(username))


def login(user: service.User, response: Response | None = None) -> None:
    """Start a server-side session; remember the device (cookie set on `response`, or on the
    response this request returns)."""
    session.clear()
    session["sid"] = service.start_session(user, client_address(), request.headers.get("User-Agent", ""))
    session["csrf"] = secrets.token_urlsafe(24)
    session.permanent = True
    device = device_for(user.username) or secrets.token_urlsafe(16)
    g.set_device_cookie = _device_signer().dumps({"u": user.username, "d": device})


def set_device_cookie(response: Response) -> Response:
    """after_request: store the device cookie chosen at login (if any)."""
    value = getattr(g, "set_device_cookie", None)
    if value:
        response.set_cookie(
            DEVICE_COOKIE,
            value,
            max_age=DEVICE_DAYS * 86400,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
    return response


def logout() -> None:
    """End the session on the server (a copy of the cookie no longer works), then forget it here."""
    if getattr(g, "auth_via", None) != "session":
        raise AuthenticationRequired("当前没有登录会话")
    sid = session.get("sid")
    if isinstance(sid, str):
        service.end_session(sid)
    session.clear()


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return str(token)


def check_csrf(sent: str | None) -> None:
    """Refuse a state-changing request made with a session cookie but without the CSRF token."""
    if request.method in SAFE_METHODS or getattr(g, "auth_via", None) != "session":
        return  # tokens are not sent by browsers on their own; anonymous requests carry no authority
    expected = session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise PermissionDenied("表单已失效（CSRF 校验失败），请刷新页面后重试", code="csrf")


def security_headers(response: Response) -> Response:
    """after_request: headers every response carries (see docs/SECURITY.md)."""
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Content-Security-Policy", CSP)
    if request.is_secure:
        h.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


# Scripts only from this node (no inline script, no eval: htmx is configured without eval in
# base.html's meta); inline style attributes are allowed because htmx and ECharts set them.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
